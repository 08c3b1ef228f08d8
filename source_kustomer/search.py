"""The search-backed streams' own components: history older than two years, and hard deletes.

Kustomer's search only matches objects updated in the last two years; older ones are served by archive search
(`POST /v1/customers/archive/search`, same body, envelope and 100-page limit). A search window is therefore read in
up to two phases, archive search first, then search, both in ascending `updated_at`, so the search-cap restart (which
continues from the last `updated_at` read) stays correct across them:

- the manifest's requester picks the first phase of a window from its start (`ARCHIVE_BEFORE_DAYS`);
- `SearchPagination` pages through a phase and moves from archive search to search when the window reaches into the
  last two years (`SEARCH_FROM_DAYS`).

Hard-deleted objects (customers, companies, ...) vanish from both searches; Kustomer records their deletion in the
audit log. `SearchRecordExtractor` turns the delete events since the stream's saved state into tombstone records of
the stream itself, after the last page of the sync's window.

Pages are offsets into a live index. An object that leaves a window's results while the window is read (it is
updated past the window's end, or deleted) from a place before the next page's offset moves every later result one
place down: the first result of the next page slides onto the page already read, and no later sync reads it either
(its updatedAt did not change). Each page's `meta.total` is Kustomer's count of the search at that moment, so a page
counting fewer than the page before shows that results left; `SearchRecordExtractor` then searches the gap between
the two pages (from the last updatedAt of the one to the first of the other) and yields what it has not yet yielded.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Sequence, Set, Tuple, Union
from urllib.parse import urlsplit

import orjson
import requests

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateType, FailureType
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.streams.http.request_window_split_exception import RequestWindowSplitRequiredException
from airbyte_cdk.sources.types import Record, StreamSlice

from source_kustomer import progress
from source_kustomer.audit_log import AUDIT_ROLE, audit_pages, audit_params, delete_event, next_link, parse_time
from source_kustomer.pages import KustomerDataExtractor, PageNumbers, kustomer_reason, page_body, page_number, page_records
from source_kustomer.config import NormalizedConfig

LOGGER = logging.getLogger("airbyte")

ARCHIVE_PATH = "/archive/search"
# Kustomer's horizon is "two years" (730 or 731 days, by its clock): a window starting less than 729 days ago holds
# nothing archive search could serve; one ending more than 732 days ago nothing search could. Inside that margin
# both are read, and the primary key dedupes the overlap.
ARCHIVE_BEFORE_DAYS = 729  # the manifest's requester uses the same figure (day_delta(-729))
SEARCH_FROM_DAYS = 732

# What the source adds to the config for its components (see `with_sync_context`).
SYNC_STATES = "_kustomer_sync_states"
SYNC_CONTEXT = (SYNC_STATES, progress.PROGRESS_KEY)

# Kustomer's reference shows audit events expiring a year after they happen (`expiresAt`); a shorter margin warns.
AUDIT_RETENTION = datetime.timedelta(days=360)

# The search of a gap between two pages (`SearchRecordExtractor`): search's largest page, and at most as many
# searches as reach Kustomer's 10,000-result cap (a gap that large is a tie block, which the cap refuses anyway).
GAP_PAGE_SIZE = 500
GAP_SEARCHES = 20


def with_sync_context(config: Optional[Mapping[str, Any]], state: Optional[List[AirbyteStateMessage]]) -> Optional[Dict[str, Any]]:
    """The config plus what the search extractor needs to know and the manifest cannot tell it: each stream's saved
    cursor value (`SYNC_STATES`), from which the audit log is read (a stream without state has nothing in the
    destination to delete)."""
    if config is None:
        return None
    # A validated config stays marked validated (the CDK hands the source's own config back to `check`).
    context = NormalizedConfig(config) if isinstance(config, NormalizedConfig) else dict(config)
    context[SYNC_STATES] = saved_cursor_values(state or [])
    return context


def without_sync_context(context: Mapping[str, Any]) -> Dict[str, Any]:
    """The config without what the source added for the sync (`SYNC_CONTEXT`); a validated config stays marked
    validated."""
    config = {key: value for key, value in context.items() if key not in SYNC_CONTEXT}
    return NormalizedConfig(config, saved=context.saved) if isinstance(context, NormalizedConfig) else config


def saved_cursor_values(state: List[AirbyteStateMessage]) -> Dict[str, str]:
    """{stream name: the updated_at (or created_at) the stream resumes from}, for per-stream states that hold one."""
    values: Dict[str, str] = {}
    for message in state:
        if getattr(message, "type", None) != AirbyteStateType.STREAM or message.stream is None:
            continue
        blob = message.stream.stream_state
        stream_state = dict(blob.__dict__) if blob is not None and hasattr(blob, "__dict__") else dict(blob or {})
        value = stream_state.get("updated_at") or stream_state.get("created_at")
        slices = stream_state.get("slices")
        if not value and isinstance(slices, list) and slices and isinstance(slices[0], dict):
            value = slices[0].get("most_recent_cursor_value") or slices[0].get("end")
        if isinstance(value, str) and value:
            values[message.stream.stream_descriptor.name] = value
    return values


def earlier_in_time(first: str, second: str) -> bool:
    """Whether `first` is before `second`, as times where both read as times (one may have milliseconds, the other
    not), else as strings."""
    first_time, second_time = parse_time(first), parse_time(second)
    return first_time < second_time if first_time and second_time else first < second


def is_archive(response: requests.Response) -> bool:
    return ARCHIVE_PATH in urlsplit(response.request.url or "").path if response.request is not None else False


ARCHIVE_REFUSAL = "_kustomer_archive_refusal"


# The contexts Kustomer's reference documents for archive search (its filterable attributes: ids, created and updated
# times, `*_deleted` of customer, conversation, message, company and kobject, and `kobject_<klass>_updated_at`).
ARCHIVED_CONTEXTS = ("customer", "conversation", "message", "company", "kobject")


def archive_context(response: requests.Response) -> Optional[str]:
    """The queryContext of an archive search, None for any other request."""
    request = response.request
    if request is None or "/archive/search" not in (request.url or ""):
        return None
    try:
        body = orjson.loads(request.body or b"{}")
    except (orjson.JSONDecodeError, TypeError):
        return None
    context = body.get("queryContext") if isinstance(body, dict) else None
    return context if isinstance(context, str) else None


def refused_archive_of_an_archived_context(response: requests.Response) -> Optional[ErrorResolution]:
    """A failure, for archive search refusing a context the reference says it serves: skipping the stream's objects
    older than two years with a warning would lose them quietly. (A context it does not serve, notes, is let through.)"""
    context = archive_context(response)
    if context is None or response.status_code == 200:
        return None
    if context not in ARCHIVED_CONTEXTS and not context.startswith("kobject_"):
        return None
    return ErrorResolution(
        response_action=ResponseAction.FAIL,
        failure_type=FailureType.system_error,
        error_message=(
            f"Kustomer's archive search refused the {context} objects updated more than two years ago "
            f"(HTTP {response.status_code} on {response.request.url}): {kustomer_reason(page_body(response), response.reason)}. "
            "The stream stopped rather than skip them; a start_date within the last two years syncs the rest."
        ),
    )


def refused_archive_as_last_page(response: requests.Response) -> None:
    """An archive search the error handler let through (IGNORE) reads as an empty last page, its refusal kept.

    The retriever ends a window's pagination on any response that is not OK, so a refused archive search would also
    drop the window's search phase: as an empty 200 page, the pagination strategy moves on to search (and says, once
    per stream, what was refused: `ARCHIVE_REFUSAL` holds the status and Kustomer's reason).
    """
    request = response.request
    if request is None or "/archive/search" not in (request.url or "") or response.status_code == 200:
        return
    setattr(response, ARCHIVE_REFUSAL, (response.status_code, kustomer_reason(page_body(response))))
    response.status_code = 200
    response._kustomer_body = {"data": [], "links": {"next": None}}  # type: ignore[attr-defined]



class _Once:
    """Keys a component already warned about: one warning per stream, however many windows or restarts hit the cause."""

    def __init__(self) -> None:
        self._seen: Set[str] = set()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True


@dataclass
class SearchPagination(PageNumbers):
    """Kustomer's page numbers over the two phases of a search window: archive search, then search.

    `CursorPagination` pages through one endpoint; here the page after archive search's last one is search's first,
    when the window reaches into the last two years. An archive answer other than 200 (Kustomer refuses a context
    it does not archive, notes for instance) is let through by the error handler: the stream goes on with search and
    one warning says what it cannot reach. The token is `{"page": n, "archive": bool}`; the requester reads both.
    """

    page_size: Union[int, str] = 500

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._warned = _Once()

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any],
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        archive = is_archive(response)
        page = last_page_token_value.get("page", 1) if isinstance(last_page_token_value, dict) else 1
        if self._parameters.get("archive_search") is False:
            self._warn_beyond_search()
        if next_link(page_body(response)):
            return {"page": page + 1, "archive": archive}
        refusal = getattr(response, ARCHIVE_REFUSAL, None)
        if refusal is not None:
            self._warn_refused(*refusal)
        if archive and reaches_search(stream_slice):
            return {"page": 1, "archive": False}
        return None

    def _warn_beyond_search(self) -> None:
        """For a context archive search does not serve (conversation times): once, on a sync without saved state whose
        start_date is older than search's two years, what it cannot read (the cursor starts no window before that)."""
        stream = self._parameters.get("name") or "a stream"
        start = parse_time(self.config.get("start_date"))
        horizon = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=ARCHIVE_BEFORE_DAYS)
        if start is None or start >= horizon or (self.config.get(SYNC_STATES) or {}).get(stream):
            return
        if self._warned.first(f"beyond:{stream}"):
            LOGGER.warning(
                f"{stream}: objects created more than two years ago cannot be read: Kustomer's search serves the last two "
                "years only, and its archive search does not serve them. The stream reads the last two years."
            )

    def _warn_refused(self, status: int, reason: str) -> None:
        stream = self._parameters.get("name") or self._parameters.get("query_context") or "a stream"
        if self._warned.first(stream):
            LOGGER.warning(
                f"{stream}: objects updated more than two years ago cannot be read: Kustomer's archive search answered "
                f"HTTP {status}: {reason}. The stream goes on with the last two years."
            )


def reaches_search(stream_slice: Optional[StreamSlice]) -> bool:
    """Whether the window ends inside search's two years (or its end is unknown: then search is read too)."""
    end = parse_time((stream_slice.cursor_slice or {}).get("end_time")) if stream_slice is not None else None
    horizon = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=SEARCH_FROM_DAYS)
    return end is None or end >= horizon


@dataclass
class SearchRecordExtractor(KustomerDataExtractor):
    """A search page's objects, then, after the last page of the sync's last window, the stream's tombstones.

    No built-in turns another endpoint's events into records of a stream. For the object types the audit log covers
    (`audit_object_type`), an incremental sync reads the delete events since the stream's saved state and yields one
    record per deleted object: `id`, `type`, `deleted: true` and `updated_at` = the event time, which the flattener
    turns into `_ab_cdc_deleted_at`. They come after the window's last search page (the sync reads one window), when
    every object has been read, and carry times inside it, so they never move the cursor past records not yet read. All audit pages are read within this one search page
    so that a search-cap restart cannot fall between them. Without the audit role (403, let through by the audit
    requester's error handler) one warning names the role and the sync goes on.

    A page after the first of a search (same phase, `gte` and `lte`) whose `meta.total` is lower than the page
    before it shows that objects left the search's results in between; any of them placed before this page's offset
    slid a result past both pages. Before this page's records come those of one search of the gap (the stream's own
    requester, `search_requester`, set by `cdk_internals.read_in_windows`: ascending, 500 a page, more while full)
    from the previous page's last updatedAt to this page's first (the window's end if the page is empty) that the
    window has not yielded: the ids read at that last updatedAt (`RestartDuplicates`) and this page's ids are left out.
    One INFO line says what each repair found, and the sync's proof counts it (`progress.observe_recovered`).
    Only the updated_at searches, whose order the restart relies on too: a created_at search (conversation times)
    has no order to locate a gap by, and its objects never change their created_at (only a deletion moves them).
    """

    audit_requester: Optional[Requester] = None
    audit_object_type: str = ""
    # The end of the stream's last window (`SearchWindows`): with several windows, only that one reads tombstones.
    tombstones_until: Optional[str] = None
    # The stream's own search requester, for the search of a gap between two pages (set once the stream is built).
    search_requester: Optional[Requester] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._object_type = self.audit_object_type or (parameters or {}).get("audit_object_type", "")
        self._warned = _Once()
        # Only the updated_at searches restart after 9,000 records from the last value read; a created_at search
        # (cursor_attribute) splits its window until the results fit instead (manifest: search_window_split_error_handler).
        self.restarts_at_cap = not (parameters or {}).get("cursor_attribute")
        # Whether the pages came in ascending updatedAt so far: the checkpoints within a window rely on it
        # (`cdk_internals.checkpointing_observe`); a page out of order stops them for the rest of the sync.
        self.in_cursor_order = self.restarts_at_cap
        self._restarts = RestartDuplicates()

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        objects = list(super().extract_records(response))  # counted for the sync's progress there
        lower, upper = search_bounds(response)
        recovered: List[MutableMapping[Any, Any]] = []
        if self.restarts_at_cap:
            self._check_order(objects)
            recovered = self._recover_gap(response, objects, lower, upper)
        kept, listed_again = self._restarts.new(objects, lower, upper, recovered)
        if listed_again:  # records a gap's search yielded that this page lists too: served once, by the search
            progress.observe_recovered(self.config, self._stream, response, -listed_again)
        yield from kept
        window = self._tombstone_window(response)
        if window is not None:
            tombstones = list(self._tombstones(*window))
            sync_progress = progress.of(self.config)
            if sync_progress is not None:
                sync_progress.tombstones(self._stream, len(tombstones))
            yield from tombstones

    def _check_order(self, objects: List[MutableMapping[Any, Any]]) -> None:
        """Warns once if a page is not in ascending `updatedAt`, the order every search asks for.

        Kustomer's reference lists the sortable attributes of search for customers only (archive search lists
        `<context>_updated_at` for every context it serves); the search-cap restart relies on the order.
        """
        times = [(o.get("attributes") or {}).get("updatedAt") for o in objects if isinstance(o, dict)]
        times = [t for t in times if isinstance(t, str)]
        out_of_order = any(later < earlier and earlier_in_time(later, earlier) for earlier, later in zip(times, times[1:]))
        if out_of_order:
            self.in_cursor_order = False
        if out_of_order and self._warned.first(f"order:{self._stream}"):
            LOGGER.warning(
                f"{self._stream}: Kustomer returned search results out of updated_at order, although the connector asks for "
                "ascending order. A window of up to 10,000 records is still read whole, but past Kustomer's 10,000-result "
                "cap records may be missed: keep syncs frequent enough to stay under it, and report this."
            )

    def _recover_gap(self, response: requests.Response, objects: List[MutableMapping[Any, Any]], lower: Optional[str],
                     upper: Optional[str]) -> List[MutableMapping[Any, Any]]:
        """The records of the gap before this page that the window has not yielded, when its count fell since the
        previous page of the same search; none otherwise (no request)."""
        archive = is_archive(response)
        total, _earliest = search_extent(page_body(response), None)
        page = page_number(response)
        fell = self._restarts.fell(upper, (archive, lower), page, total)
        if fell is None or self.search_requester is None or response.status_code != 200:
            return []
        since, known, dropped = fell
        first = updated_at(objects[0]) if objects else upper
        if not isinstance(first, str) or earlier_in_time(first, since):
            return []  # pages out of order (warned once): nothing tells where the gap is
        known.update(record.get("id") for record in objects if isinstance(record, dict))
        recovered = self._gap(since, first, archive, known)
        LOGGER.info(
            f"{self._stream}: Kustomer's count for the window {lower} to {upper} fell by {dropped:,} between pages "
            f"{page - 1} and {page}; a search of the gap between them ({since} to {first}) recovered "
            f"{len(recovered):,} {'record' if len(recovered) == 1 else 'records'} that slid past the page boundary."
        )
        progress.observe_recovered(self.config, self._stream, response, len(recovered))
        return recovered

    def _gap(self, since: str, until: str, archive: bool, known: Set[Any]) -> List[MutableMapping[Any, Any]]:
        """The objects updated from `since` to `until` (both included) whose ids are not in `known`, in ascending
        updatedAt. A full page (`GAP_PAGE_SIZE`) is followed by the first page from its last updatedAt (whose records
        are read again and left out), so what leaves the gap meanwhile moves nothing past a page; only a page all at one
        updatedAt is followed by the next page of the same search."""
        found: List[MutableMapping[Any, Any]] = []
        page = 1
        for _search in range(GAP_SEARCHES):
            response = self.search_requester.send_request(  # type: ignore[union-attr]
                stream_slice=StreamSlice(partition={}, cursor_slice={WINDOW_START: since, WINDOW_END: until}),
                next_page_token={"next_page_token": {"page": page, "archive": archive}},
                request_params={"pageSize": GAP_PAGE_SIZE},
            )
            body = page_body(response) if response is not None and response.status_code == 200 else None
            if not isinstance(body, dict):
                break
            data = page_records(body)
            for record in data:
                object_id = record.get("id") if isinstance(record, dict) else None
                if object_id is not None and object_id not in known:
                    known.add(object_id)
                    found.append(record)
            if len(data) < GAP_PAGE_SIZE or not next_link(body):
                break
            last = updated_at(data[-1])
            if last is not None and last != since and earlier_in_time(since, last):
                since, page = last, 1
            else:
                page += 1
        else:
            if self._warned.first(f"gap:{self._stream}"):
                LOGGER.warning(
                    f"{self._stream}: the gap up to {until} between two search pages holds more records than "
                    f"{GAP_SEARCHES} searches read; records of it may be missing: refresh the stream, and report this."
                )
        return sorted(found, key=lambda record: updated_at(record) or "")

    def _tombstone_window(self, response: requests.Response) -> Optional[tuple]:
        if not self._object_type or self.audit_requester is None or is_archive(response):
            return None
        since = (self.config.get(SYNC_STATES) or {}).get(self._stream)
        if not since:
            return None
        body = page_body(response)
        if response.status_code != 200 or not isinstance(body, dict) or next_link(body):
            return None
        upper = search_upper_bound(response)
        if self.tombstones_until is not None and upper != self.tombstones_until:
            return None
        return (since, upper) if parse_time(upper) is not None else None

    def _tombstones(self, since: str, until: str) -> Iterable[MutableMapping[str, Any]]:
        # The audit log's time filters are documented by name, not format: events are also kept to the window here.
        lowest, highest = parse_time(since), parse_time(until)
        if lowest and highest and highest - lowest > AUDIT_RETENTION and self._warned.first(f"retention:{self._stream}"):
            LOGGER.warning(
                f"{self._stream}: the last sync was at {since}, and Kustomer's audit log keeps events about a year: objects "
                "deleted permanently in the oldest part of that time may get no tombstone. Refresh the stream to drop them "
                "from the destination."
            )
        deleted: Dict[str, datetime.datetime] = {}
        for response in audit_pages(self.audit_requester, audit_params(since, until, self._object_type)):  # type: ignore[arg-type]
            if response is None or response.status_code != 200:  # 403 or 404, let through by the error handler
                if self._warned.first(self._stream):
                    status = "no answer" if response is None else f"HTTP {response.status_code}"
                    LOGGER.warning(
                        f"{self._stream}: objects deleted permanently since the last sync are not marked deleted: the API "
                        f"key may not read Kustomer's audit log ({status}). Give the key the {AUDIT_ROLE} role to get a "
                        "tombstone record (`_ab_cdc_deleted_at` set) for each of them."
                    )
                return
            body = page_body(response)
            for event in body.get("data") or [] if isinstance(body, dict) else []:
                object_id, at = delete_event(event, self._object_type)
                if object_id is None or at is None or (lowest and at < lowest) or (highest and at > highest):
                    continue
                if object_id not in deleted or at > deleted[object_id]:
                    deleted[object_id] = at
        for object_id, at in sorted(deleted.items(), key=lambda item: (item[1], item[0])):
            yield {"type": self._object_type, "id": object_id, "attributes": {"deleted": True, "updatedAt": kustomer_time(at)}}


def updated_at(record: Any) -> Optional[str]:
    attributes = record.get("attributes") if isinstance(record, dict) else None
    at = attributes.get("updatedAt") if isinstance(attributes, dict) else None
    return at if isinstance(at, str) else None


def kustomer_time(moment: datetime.datetime) -> str:
    """`2026-11-29T08:09:51.390Z`: Kustomer's form, the one the cursor reads."""
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def search_upper_bound(response: requests.Response) -> Optional[str]:
    """The `lte` bound on updated_at of the search this page answers (the window's end)."""
    return search_bounds(response)[1]


def search_bounds(response: requests.Response) -> tuple:
    """The (`gte`, `lte`) bounds on updated_at of the search this page answers (None where absent)."""
    request = response.request
    request_body = request.body if request is not None else None
    try:
        query = orjson.loads(request_body) if request_body else None
    except orjson.JSONDecodeError:
        return None, None
    bounds: Dict[str, str] = {}
    for criterion in query.get("and") or [] if isinstance(query, dict) else []:
        for attribute, condition in criterion.items() if isinstance(criterion, dict) else []:
            if attribute.endswith("_updated_at") and isinstance(condition, dict):
                bounds.update({op: str(value) for op, value in condition.items() if op in ("gte", "lte")})
    return bounds.get("gte"), bounds.get("lte")


# -- several windows of one stream in flight ---------------------------------------------------------------------------

WINDOW_START, WINDOW_END = "start_time", "end_time"  # the manifest's cursor slice fields (stream_interval)
# A window is worth reading apart from its neighbours only if it holds this many pages: each window ends on a partly
# filled page, half a search wasted on average.
MIN_PAGES_PER_WINDOW = 4
# Windows planned per worker. Windows uniform in time hold uneven counts where an org's activity grew, and the last
# one to finish may run alone (one page per search's latency). With two per worker a worker that finishes early takes
# the next one, so that tail is half as long; each window also ends on a partly filled page (half a search wasted).
# Measured (messages alone, 100,000 records, 250 ms, a loaded machine): 1 per worker 0.77-0.78 of the share, 3 per
# worker 0.72-0.79 with 4% more searches; the emulator's data is uniform in time, so its tail is short either way.
WINDOWS_PER_WORKER = 2
# A created_at search (conversation_times) is read one window at a time per worker: its windows are read whole (no
# restart, no checkpoint inside) and each ends on a partly filled page, while a shorter tail matters less than for the
# updated_at searches (they checkpoint inside a window, these do not). Measured (conversation_times alone, 48,512 records, 250 ms, make bench): two windows
# per worker used 90% of each search's 500 records and read 89-96% of the share; one per worker 97%, 98-100%.
CREATED_AT_WINDOWS_PER_WORKER = 1
MILLISECOND = datetime.timedelta(milliseconds=1)
# A created_at search window holds this many records on average at most: under the search cap (10,000), which a
# window of a stream without restarts must not pass, with room for the unevenness of uniform-in-time windows.
RECORDS_PER_CREATED_AT_WINDOW = 8_000
SEARCH_CAP = 10_000  # the most results one search serves (the manifest's split rule and restart say the same)
# The windows after the archive part start this long after the requester's threshold (a start `ARCHIVE_BEFORE_DAYS`
# ago, as of each request): a window starting exactly there would go to archive search a few milliseconds later (the
# plan's one-record search included). The archive window reads that day through search, its second phase.
SEARCH_ONLY_AFTER = datetime.timedelta(days=1)


def search_extent(body: Any, attribute: Optional[str] = "updatedAt") -> tuple:
    """(meta.total, `attribute` of the first record) of a search answer: how many objects match the search and, sorted
    ascending by it, the earliest value (None for `attribute` None). (None, None) where Kustomer's answer does not say."""
    if not isinstance(body, dict):
        return None, None
    total = (body.get("meta") or {}).get("total")
    data = body.get("data") or []
    first = data[0] if data and isinstance(data[0], dict) else {}
    earliest = (first.get("attributes") or {}).get(attribute) if attribute else None
    return (total if isinstance(total, int) and not isinstance(total, bool) else None), (earliest if isinstance(earliest, str) else None)


class SearchWindows:
    """The stream's slicer (the CDK's `ConcurrentCursor`), with each range it yields split into windows read at once.

    A stream reads from its saved state (or start_date) to the sync's start. One search of one record over that range
    (the stream's own requester: its budget, error handler and archive rule) gives how many objects it holds
    (`meta.total`) and when the earliest was updated. A range of a few pages stays one window; a larger one is split
    uniformly in time from its earliest object into at most `WINDOWS_PER_WORKER` x `max_windows` (num_workers)
    windows of at least `MIN_PAGES_PER_WINDOW` pages, so no search is spent on the empty time before it. Windows do not overlap: each ends 1 ms before the next
    starts (Kustomer's `gte` and `lte` are both inclusive; the cursor's state merges intervals 1 ms apart). The part of
    a range older than search's two years is one window, read through archive search first as before.

    The CDK reads the windows as partitions, up to `num_workers` at a time, and the cursor saves each finished window
    (and each search-cap restart, `cdk_internals.checkpoint`) as an interval of its state: the state never passes a
    window that is not finished.

    An append-only stream searched by `created_at` (`by_created_at`) has no restart at the search cap and no archive
    search, and nothing says its results are sorted: its range is never cut for archive search, its windows run from
    the range's start, one per worker (`CREATED_AT_WINDOWS_PER_WORKER`), and at least enough of them to hold
    `RECORDS_PER_CREATED_AT_WINDOW` each on average
    (a window over the cap is still split in two by the manifest's `request_window_splitting`, one half after the other).
    """

    def __init__(self, slicer: Any, requester: Requester, max_windows: int, page_size: int, on_planned: Any = None,
                 by_created_at: bool = False) -> None:
        self._slicer = slicer
        self._requester = requester
        self._max_windows = max(1, int(max_windows))
        self._page_size = max(1, int(page_size))
        self._on_planned = on_planned
        self._by_created_at = by_created_at

    def stream_slices(self) -> Iterable[StreamSlice]:
        previous = None
        for stream_slice in self._slicer.stream_slices():
            if previous is not None:
                yield from self.windows(previous)
            previous = stream_slice
        if previous is not None:  # the last range ends at the sync's start: its last window reads the tombstones
            if self._on_planned is not None:
                self._on_planned(previous.cursor_slice.get(WINDOW_END))
            yield from self.windows(previous)

    def __getattr__(self, name: str) -> Any:  # everything else is the cursor's
        return getattr(self._slicer, name)

    def windows(self, stream_slice: StreamSlice) -> Iterable[StreamSlice]:
        lower, upper = parse_time(stream_slice.cursor_slice.get(WINDOW_START)), parse_time(stream_slice.cursor_slice.get(WINDOW_END))
        if lower is None or upper is None or lower >= upper:
            yield stream_slice
            return
        horizon = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=ARCHIVE_BEFORE_DAYS) + SEARCH_ONLY_AFTER
        horizon = horizon.replace(microsecond=horizon.microsecond // 1000 * 1000)
        if lower < horizon and not self._by_created_at:  # archive search, then search: one window up to search's two years
            if upper <= horizon:
                yield stream_slice
                return
            yield self._window(stream_slice, stream_slice.cursor_slice[WINDOW_START], kustomer_time(horizon - MILLISECOND))
            lower = horizon
            stream_slice = self._window(stream_slice, kustomer_time(horizon), stream_slice.cursor_slice[WINDOW_END])
        yield from self._split(stream_slice, lower, upper)

    def _split(self, stream_slice: StreamSlice, lower: datetime.datetime, upper: datetime.datetime) -> Iterable[StreamSlice]:
        per_worker = CREATED_AT_WINDOWS_PER_WORKER if self._by_created_at else WINDOWS_PER_WORKER
        count = self._max_windows * per_worker if self._max_windows > 1 else 0
        if count or self._by_created_at:
            try:
                response = self._requester.send_request(stream_slice=stream_slice, request_params={"pageSize": 1})
                body = page_body(response) if response is not None else None
                total, earliest = search_extent(body, None if self._by_created_at else "updatedAt")
            except RequestWindowSplitRequiredException:
                # The manifest's split rule took the plan for a first page over the search cap: Kustomer answered more
                # than the one record asked (its reference documents no `pageSize` for search). Over the cap, then.
                total, earliest = SEARCH_CAP + 1, None
            first = parse_time(earliest)
            count = min(count, (total or 0) // (self._page_size * MIN_PAGES_PER_WINDOW))
            if self._by_created_at:
                count = max(count, math.ceil((total or 0) / RECORDS_PER_CREATED_AT_WINDOW))
            lower = max(lower, first) if first is not None else lower
        if count < 2:
            yield stream_slice
            return
        step = (upper - lower) / count
        bounds = [lower + step * i for i in range(1, count)]
        bounds = [bound.replace(microsecond=bound.microsecond // 1000 * 1000) for bound in bounds]
        start = stream_slice.cursor_slice[WINDOW_START]
        for bound in bounds:
            if parse_time(start) is not None and bound <= parse_time(start):  # type: ignore[operator]
                continue
            yield self._window(stream_slice, start, kustomer_time(bound - MILLISECOND))
            start = kustomer_time(bound)
        yield self._window(stream_slice, start, stream_slice.cursor_slice[WINDOW_END])

    @staticmethod
    def _window(stream_slice: StreamSlice, start: str, end: str) -> StreamSlice:
        return StreamSlice(partition=stream_slice.partition, cursor_slice={WINDOW_START: start, WINDOW_END: end},
                           extra_fields=stream_slice.extra_fields)


class _Boundary:
    """What `RestartDuplicates` keeps of one window."""

    __slots__ = ("latest", "ids", "again", "page")

    def __init__(self) -> None:
        self.latest: Optional[str] = None  # the latest updated_at read
        self.ids: Set[Any] = set()  # the ids read at it
        self.again: Set[Any] = set()  # those of them a gap's search yielded, which a later page may list again
        self.page: Optional[tuple] = None  # the last page read: ((phase, gte), page number, meta.total)


class RestartDuplicates:
    """The records a search-cap restart or the search of a gap reads again, left out: a window that restarts at the
    last `updated_at` read (`gte`) gets the records sharing it a second time, and in Full Refresh those would be
    duplicate rows; and where a page counts fewer results than the page before, `fell` says from which `updated_at`
    and around which ids the gap between them is to be searched.

    Per window (the search's `lte`: a restarted window keeps its end; windows of one stream never share one), the ids
    read at the window's latest `updated_at` so far, and only those, and the number and count of its last page:
    memory stays flat (the ids of one tie, 1,200 in a bulk update's block). A page of a search whose `gte` is exactly
    that `updated_at` drops the ids already read at it; so does any page for the ids a gap's search yielded at it. (A
    record filter cannot do this: the CDK refuses one beside the search-cap restart, whose count of 10,000 records
    must be of records read.) A window is read by one thread at a time; the map of windows is under a lock.
    """

    def __init__(self) -> None:
        self._boundaries: Dict[Any, _Boundary] = {}
        self._lock = threading.Lock()

    def _boundary(self, upper: Optional[str]) -> _Boundary:
        with self._lock:
            boundary = self._boundaries.get(upper)
            if boundary is None:
                boundary = self._boundaries[upper] = _Boundary()
            return boundary

    def fell(self, upper: Optional[str], search: Any, page: int, total: Optional[int]) -> Optional[Tuple[str, Set[Any], int]]:
        """Notes page `page` of `search` (its phase and `gte`) of the window ending at `upper`, counting `total`.
        When the previous page of the same search counted more: (the latest updated_at read, a copy of the ids read
        at it, by how much the count fell). None otherwise."""
        boundary = self._boundary(upper)
        previous, boundary.page = boundary.page, (search, page, total)
        if previous is None or total is None or boundary.latest is None:
            return None
        last_search, last_page, last_total = previous
        if last_search != search or last_page != page - 1 or last_total is None or total >= last_total:
            return None
        return boundary.latest, set(boundary.ids), last_total - total

    def new(self, objects: List[MutableMapping[Any, Any]], lower: Optional[str], upper: Optional[str],
            recovered: Sequence[MutableMapping[Any, Any]] = ()) -> Tuple[List[MutableMapping[Any, Any]], int]:
        """`recovered` (a gap's records, none yielded yet, all before `objects`), then the `objects` not yielded yet;
        and how many of `objects` were left out as records a gap's search yielded before."""
        boundary = self._boundary(upper)
        latest, ids, again = boundary.latest, boundary.ids, boundary.again
        restarted_here = latest is not None and lower is not None and (lower == latest or parse_time(lower) == parse_time(latest))
        kept = list(recovered)
        listed_again = 0
        for record in recovered:
            at, object_id = updated_at(record), record.get("id")
            if at is None or object_id is None:
                continue
            if at == latest:
                ids.add(object_id)
                again.add(object_id)
            elif latest is None or (at > latest if len(at) == len(latest) else earlier_in_time(latest, at)):
                latest, ids, again = at, {object_id}, {object_id}
        for record in objects:
            attributes = record.get("attributes") if isinstance(record, dict) else None
            at = attributes.get("updatedAt") if isinstance(attributes, dict) else None
            object_id = record.get("id") if isinstance(record, dict) else None
            if at is not None and object_id is not None:
                if at == latest:
                    if (restarted_here or (again and object_id in again)) and object_id in ids:
                        listed_again += object_id in again
                        continue
                    ids.add(object_id)
                # Kustomer's times are all of one length (milliseconds, UTC): compared as strings without parsing,
                # which matters at one comparison per record
                elif latest is None or (at > latest if len(at) == len(latest) else earlier_in_time(latest, at)):
                    latest, ids = at, {object_id}
                    if again:
                        again = set()
            kept.append(record)
        boundary.latest, boundary.ids, boundary.again = latest, ids, again
        return kept, listed_again
