"""A sync's progress and its proof of completeness, from the counts Kustomer gives with every page.

Every search and list page carries `meta.total`: how many objects the query matches. For each stream the connector
keeps a tally (one `StreamTally` per stream, one `Progress` per sync):

- **counted**: Kustomer's count for each window the stream reads (search windows and archive phases are disjoint;
  list partitions may overlap: users are listed under each status filter, and what the connector's filters leave
  out is subtracted at the end). The first page of a window tells it
  (`Progress.counted`), and an Airbyte `TRACE` `ESTIMATE` (stream `row_estimate`) goes out at once, updated when a
  later window adds to it, so Airbyte's sync view and PyAirbyte can show "n of N records".
- **served / left / recovered**: how many records Kustomer's pages held, and how far a window's `meta.total` fell
  while it was read (`Progress.page`): objects updated or deleted during the sync leave the window (updated ones come
  with the next sync). One that leaves from before the next page's offset slides a record past the page boundary;
  the search of that gap (`search.SearchRecordExtractor`) reads it, and those records (`Progress.recovered`) count as
  served and not as left: what is left is what the sync did not read.
- **emitted**: the records the sync wrote (`Progress.emitted`, in the main thread, one dict lookup), the tombstones
  among them (`Progress.tombstones`) and the ids written twice (a bounded memo of recent ids: search-cap restarts
  read the records sharing the boundary `updated_at` again).

When a stream completes (`Progress.finish`, on the CDK's COMPLETE stream status) one INFO line states the figures,
and a WARN names the stream, both figures and the likely causes when Kustomer's pages held fewer records than it
counted by more than the objects that left the range during the sync. The check never warns on a complete read:
every figure it compares is a lower bound of what was read. A `meta.total` of `TOTAL_CAP` or more may be Kustomer's
cap on counting (search engines stop counting at 10,000): the line says "at least", and the check uses it as such.

The hooks: `KustomerDataExtractor` (and so `SearchRecordExtractor`, `DistinctRecordsExtractor`) calls
`observe_page` for every page, which calls `counted` on the first page of a window (a page asked with `page=1` for a
range not counted yet) and `page` on each; `SearchRecordExtractor` reports its tombstones (`tombstones`) and the
records a gap's search recovered (`observe_recovered`). A window is
keyed by what fixes its range: a search's phase, context and `lte` bound (a search-cap restart keeps all three and
only moves `gte`, its segment), a list's query parameters other than paging. Windows that split one range without
overlapping (each with its own `lte`) are counted each by its first page; a probe of a whole range may instead call
`counted` once with the range's key before its windows are read, if its windows' first pages then skip `counted`.
`SourceKustomer.read` passes the CDK's messages through `passing`: estimates go out before the next message (so before
the records of the page that told them), and each stream's proof just before the CDK's COMPLETE status of it.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
import weakref
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

import orjson
import requests

from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    EstimateType,
    Level,
    TraceType,
    Type,
)

# Where the config carries the sync's Progress (the config is copied by the CDK; a key survives every copy).
PROGRESS_KEY = "_kustomer_progress"
# A `meta.total` this high may be a cap on counting, not the count (Kustomer's reference does not say; search
# engines commonly stop counting at 10,000): read as "at least".
TOTAL_CAP = 10_000
# Ids remembered per stream to notice a record written twice (restart ties, archive overlap): a bounded memo, so
# memory stays flat on any org; duplicates further apart go uncounted (the check only gets less strict).
RECENT_IDS = 20_000
PAGE_PARAMETERS = frozenset({"page", "pageSize"})
# What the connector's own filters leave out of what the pages held: a search that restarts at the cap from the last
# updated_at read lists the records already written at that time again (search.RestartDuplicates), users come under
# each status filter, and a list stream's records older than its saved state are not due.
FILTERED_CAUSES = "already written where a search restarted at the search cap, listed under two filters, or older than the saved state"

LIKELY_CAUSES = (
    "a search criterion Kustomer ignored or answered differently (e.g. `<context>_updated_at` outside customers), "
    "search pages not in ascending updated_at order (then the restart after 10,000 records skips some), "
    "a list filtered by Kustomer by default (e.g. users by status), or pages lost in transit"
)

_REGISTRY: "weakref.WeakValueDictionary[str, Progress]" = weakref.WeakValueDictionary()


def attach(config: Dict[str, Any]) -> "Progress":
    """A new Progress for one sync, reachable from `config` (and its copies) by `of`; the caller keeps it alive."""
    progress = Progress()
    config[PROGRESS_KEY] = progress.key
    _REGISTRY[progress.key] = progress
    return progress


def of(config: Optional[Mapping[str, Any]]) -> Optional["Progress"]:
    key = config.get(PROGRESS_KEY) if config is not None else None
    return _REGISTRY.get(key) if isinstance(key, str) else None


class Window:
    """One window of a stream: Kustomer's count at its first page, and its segments (a search-cap restart reads the
    rest of the window as a new search, counted again by Kustomer: `{gte: [first total, latest total]}`)."""

    __slots__ = ("total", "served", "recovered", "segments", "served_before_segment")

    def __init__(self, total: int) -> None:
        self.total = total
        self.served = 0
        self.recovered = 0  # served by the search of a gap between two pages
        self.segments: Dict[Any, List[int]] = {}
        self.served_before_segment: Tuple[int, int] = (0, total)  # (served before the latest segment, its total)

    @property
    def capped(self) -> bool:
        return self.total >= TOTAL_CAP

    def estimate(self) -> int:
        """The window's count; past a capped count, what was read before the latest restart plus its count."""
        if not self.capped:
            return self.total
        before, latest = self.served_before_segment
        return max(self.total, before + latest)

    def left(self) -> int:
        """How far the window's count fell while it was read, less the records the search of a gap recovered: objects
        that left its range during the sync and were not read (each one that left after it was read slid one record
        past a page boundary, which a gap's search read)."""
        fell = sum(max(first - latest, 0) for first, latest in self.segments.values())
        return max(fell - self.recovered, 0)


class StreamTally:
    __slots__ = ("windows", "rows", "tombstones", "duplicates", "recent", "estimated", "finished")

    def __init__(self) -> None:
        self.windows: Dict[Any, Window] = {}
        self.rows = 0
        self.tombstones = 0
        self.duplicates = 0
        self.recent: "collections.OrderedDict[Any, None]" = collections.OrderedDict()
        self.estimated: Optional[int] = None
        self.finished = False

    @property
    def counted(self) -> int:
        return sum(window.total for window in self.windows.values())

    @property
    def served(self) -> int:
        return sum(window.served for window in self.windows.values())

    @property
    def left(self) -> int:
        return sum(window.left() for window in self.windows.values())

    @property
    def recovered(self) -> int:
        return sum(window.recovered for window in self.windows.values())

    @property
    def capped(self) -> bool:
        return any(window.capped for window in self.windows.values())

    def estimate(self) -> int:
        return sum(window.estimate() for window in self.windows.values())


class Progress:
    """The tallies of one sync's streams. Pages are observed by worker threads (under the lock); records by the main
    thread, which alone reads `rows` and drains the messages."""

    def __init__(self) -> None:
        self.key = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._streams: Dict[str, StreamTally] = {}
        self._messages: List[AirbyteMessage] = []

    def tally(self, stream: str) -> StreamTally:
        tally = self._streams.get(stream)
        if tally is None:
            with self._lock:
                tally = self._streams.setdefault(stream, StreamTally())
        return tally

    # -- what the pages say (worker threads) -----------------------------------------------------------------

    def counted(self, stream: str, window: Any, total: int) -> None:
        """Kustomer's count for a window of `stream` (the first page of the window, or a probe of its range)."""
        with self._lock:
            tally = self._streams.setdefault(stream, StreamTally())
            if window in tally.windows:
                return
            tally.windows[window] = Window(total)
            self._estimate(stream, tally)

    def page(self, stream: str, window: Any, segment: Any, total: Optional[int], served: int, first: bool) -> None:
        """A page of `window` (of the search `segment`, its `gte`): its `meta.total` and how many records it held."""
        with self._lock:
            tally = self._streams.get(stream)
            counted = tally.windows.get(window) if tally is not None else None
            if counted is None:
                return
            counted.served += served
            if total is None:
                return
            totals = counted.segments.get(segment)
            if totals is None:
                counted.segments[segment] = [total, total]
                if len(counted.segments) > 1 and first:
                    counted.served_before_segment = (counted.served - served, total)
                    if counted.capped:
                        self._estimate(stream, tally)
            else:
                totals[1] = total

    def recovered(self, stream: str, window: Any, count: int) -> None:
        """Records of `window` a gap's search read (served, not left); negative for those a later page listed too."""
        with self._lock:
            tally = self._streams.get(stream)
            counted = tally.windows.get(window) if tally is not None else None
            if counted is not None:
                counted.served += count
                counted.recovered += count

    def tombstones(self, stream: str, count: int) -> None:
        if count:
            with self._lock:
                self._streams.setdefault(stream, StreamTally()).tombstones += count

    def _estimate(self, stream: str, tally: StreamTally) -> None:
        estimate = tally.estimate()
        if estimate == 0 and tally.estimated is None:
            return  # an empty window (archive search of a recent range) tells nothing yet; the stream's end will
        if estimate != tally.estimated and not tally.finished:
            tally.estimated = estimate
            self._messages.append(estimate_message(stream, estimate))

    # -- what the sync wrote (main thread) ---------------------------------------------------------------------

    def emitted(self, stream: str, record: Mapping[str, Any]) -> None:
        tally = self._streams.get(stream) or self.tally(stream)
        tally.rows += 1
        recent = tally.recent
        key = record.get("id")
        if key in recent:
            tally.duplicates += 1
            return
        recent[key] = None
        if len(recent) > RECENT_IDS:
            recent.popitem(last=False)

    def messages(self) -> List[AirbyteMessage]:
        """The messages waiting to go out (estimates), oldest first."""
        if not self._messages:
            return []
        with self._lock:
            out, self._messages = self._messages, []
        return out

    def finish(self, stream: str) -> List[AirbyteMessage]:
        """The stream's last estimate (if it changed), its proof line and, when it is short, the warning."""
        with self._lock:
            tally = self._streams.setdefault(stream, StreamTally())
            tally.finished = True
            pending, self._messages = self._messages, []
            proof = proof_of(stream, tally)
            if tally.windows and proof.expected != tally.estimated:
                tally.estimated = proof.expected
                pending.append(estimate_message(stream, proof.expected))
        pending.append(log_message(Level.INFO, proof.line()))
        if proof.warning():
            pending.append(log_message(Level.WARN, proof.warning()))
        return pending


class Proof:
    """The figures of one finished stream, and what they say."""

    def __init__(self, stream: str, counted: Optional[int], capped: bool, served: int, left: int, rows: int,
                 tombstones: int, duplicates: int, recovered: int = 0) -> None:
        self.stream, self.counted, self.capped, self.served, self.left = stream, counted, capped, served, left
        self.recovered = recovered  # among `served`: read by the search of a gap between two pages
        self.rows, self.tombstones, self.duplicates = rows, tombstones, duplicates
        self.objects = rows - tombstones  # the records of Kustomer's count (tombstones come from the audit log)
        # What the pages held that the sync did not write: the connector's own filters (FILTERED_CAUSES).
        self.filtered = max(served - self.objects, 0)

    @property
    def expected(self) -> int:
        """The records the sync should write by Kustomer's count: its count, less the objects that left the range
        during the sync and those the connector's filters leave out (on an ordinary run, what it wrote)."""
        if self.counted is None:
            return self.objects
        expected = max(self.counted - self.left - self.filtered, 0)
        # Past a capped count, what was read says more: the records written, each id once.
        return max(expected, self.objects - self.duplicates) if self.capped else expected

    @property
    def short(self) -> int:
        """How many records Kustomer counted and did not serve, beyond those that left the range during the sync."""
        if self.counted is None:
            return 0
        return max(self.counted - self.left - self.served, 0)

    def line(self) -> str:
        written = f"{self.objects:,} records ({self.objects - self.duplicates:,} unique ids)"
        if self.tombstones:
            written += f" and {self.tombstones:,} tombstones of objects deleted for good"
        if self.counted is None:
            return f"{self.stream}: emitted {written}; Kustomer gives no count for this stream."
        counted = f"at least {self.counted:,} (Kustomer stops counting at {TOTAL_CAP:,})" if self.capped else f"{self.counted:,}"
        explained = []
        if self.recovered:
            explained.append(
                f"{self.recovered:,} read by a search of the gap between two pages (objects that left the range after "
                "they were read slid them past a page boundary)"
            )
        if self.left:
            explained.append(f"{self.left:,} left the range during the sync (updated ones come with the next sync, deleted ones as deletions)")
        if self.filtered:
            explained.append(f"{self.filtered:,} left out by the connector ({FILTERED_CAUSES})")
        if self.duplicates:
            explained.append(f"{self.duplicates:,} written twice (records sharing the updated_at where a search restarts, or in both archive search and search)")
        status = "short, see the warning" if self.short else "complete"
        return (
            f"{self.stream}: Kustomer counted {counted} records for the range synced; emitted {written}"
            + (f"; {'; '.join(explained)}" if explained else "")
            + f": {status}."
        )

    def warning(self) -> Optional[str]:
        if not self.short:
            return None
        return (
            f"{self.stream} may be incomplete: Kustomer counted {self.counted:,} records for the range synced, its pages "
            f"held {self.served:,} and the sync emitted {self.objects:,}"
            + (f" ({self.left:,} left the range during the sync)" if self.left else "")
            + f": {self.short:,} missing. Likely causes: {LIKELY_CAUSES}. "
            "See Troubleshooting in the connector's docs: refresh the stream, and report it with this line."
        )


def proof_of(stream: str, tally: StreamTally) -> Proof:
    return Proof(
        stream,
        tally.counted if tally.windows else None,
        tally.capped,
        tally.served,
        tally.left,
        tally.rows,
        tally.tombstones,
        tally.duplicates,
        tally.recovered,
    )


def estimate_message(stream: str, rows: int) -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.TRACE,
        trace=AirbyteTraceMessage(
            type=TraceType.ESTIMATE,
            emitted_at=time.time() * 1000,
            estimate=AirbyteEstimateTraceMessage(name=stream, type=EstimateType.STREAM, row_estimate=max(int(rows), 0)),
        ),
    )


def log_message(level: Level, text: str) -> AirbyteMessage:
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=text))


# -- the hooks of the extractors --------------------------------------------------------------------------------------


def observe_page(config: Optional[Mapping[str, Any]], stream: str, response: requests.Response, body: Any, served: int) -> None:
    """What one page of `stream` tells: on a window's first page Kustomer's count, on every page its current count and
    how many records it held. Nothing without a sync's Progress (check, discover) or without a request."""
    progress = of(config)
    if progress is None or not stream or response.request is None or response.status_code != 200:
        return
    meta = body.get("meta") if isinstance(body, dict) else None
    total = meta.get("total") if isinstance(meta, dict) else None
    if isinstance(total, bool) or not isinstance(total, int):
        total = None
    window, segment, first = window_of(response.request)
    if first and total is not None:
        progress.counted(stream, window, total)
    progress.page(stream, window, segment, total, served, first)


def observe_recovered(config: Optional[Mapping[str, Any]], stream: str, response: requests.Response, count: int) -> None:
    """`count` records of the window of `response`'s search read by a search of the gap before that page (negative:
    records such a search read that this page lists too, left out here, so each is counted as served once)."""
    progress = of(config)
    if progress is None or not stream or response.request is None or not count:
        return
    progress.recovered(stream, window_of(response.request)[0], count)


def window_of(request: requests.PreparedRequest) -> Tuple[Any, Any, bool]:
    """(window, segment, whether this is a first page) of a request: a search is keyed by its phase and `lte` bound
    (segment: its `gte`), a list by its query parameters other than paging."""
    parts = urlsplit(request.url or "")
    query = dict(parse_qsl(parts.query))
    first = query.get("page", "1") == "1"
    if request.method == "POST" and request.body:
        try:
            search = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            search = None
        bounds: Dict[str, Any] = {}
        for criterion in search.get("and") or [] if isinstance(search, dict) else []:
            for attribute, condition in criterion.items() if isinstance(criterion, dict) else []:
                if attribute.endswith(("_updated_at", "_created_at")) and isinstance(condition, dict):
                    bounds.update(condition)
        phase = "archive" if "/archive/" in parts.path else "search"
        return (phase, search.get("queryContext") if isinstance(search, dict) else None, bounds.get("lte")), bounds.get("gte"), first
    key = tuple(sorted((k, v) for k, v in query.items() if k not in PAGE_PARAMETERS))
    return (parts.path, key), None, first


def passing(progress: Optional[Progress], messages: Iterable[AirbyteMessage]) -> Iterator[AirbyteMessage]:
    """The CDK's `messages`, each after what is waiting to go out (estimates); RECORDs tallied, a stream's COMPLETE
    status preceded by its proof. (One generator for the whole read: a record costs a type test and `emitted`.)"""
    if progress is None:
        yield from messages
        return
    record_type = Type.RECORD
    for message in messages:
        if progress._messages:
            yield from progress.messages()
        if message.type is record_type:
            record = message.record
            progress.emitted(record.stream, record.data)  # type: ignore[union-attr]
        elif message.type == Type.TRACE and message.trace is not None and message.trace.type == TraceType.STREAM_STATUS:
            status = message.trace.stream_status
            if status is not None and status.status.value == "COMPLETE":
                yield from progress.finish(status.stream_descriptor.name)
        yield message
