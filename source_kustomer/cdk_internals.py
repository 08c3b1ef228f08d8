"""Every reliance of the connector on airbyte-cdk internals, in one module, each with its reason.

Checked against airbyte-cdk 7.39.1 (pinned to 7.39.*). Each reliance is guarded or fails loudly, and
`unit_tests/test_cdk_internals.py` (with `test_cdk_fast_paths.py` and `test_rate_limit_share.py`) fails when one stops
applying, so an upgrade of the CDK is this one file to read. No public API of the CDK serves any of them.

1. **Record queue size** (`limit_record_queue`): `ConcurrentSource._queue`, sized at 10,000 by the CDK. At ~20 kB a
   Kustomer object in memory that is 200 MB whenever the writer falls behind; 250 keeps the writer busy. Measured in
   `make bench`: same speed at 250 as at 1,000, peak RSS about 20 MB lower.
2. **The rate-limit budget** (`KustomerAPIBudget`, installed by `use_kustomer_budget` in the factory's
   `_api_budget`): the manifest's `HTTPAPIBudget` reads `x-ratelimit-reset` only as a whole epoch time (seconds to
   wait would switch pacing off), spends a window to its last request and forgets requests in flight. This subclass
   reads both forms, keeps the org's reserve (`rate_limit_share`), adjusts the policy's window under its lock
   (`_lock`, `_call_limit`, `_next_reset_ts`, `_calls_num`, `_offset`) and gives each request a turn, so a window's
   calls go at even intervals instead of all at its start (`_paced`, reading the same fields before the policy's own
   `acquire_call`). Measured: seconds-form 429s down from ~48% to ~16% of requests; 94% of the bound in `make bench`'s
   budget scenario (answers out of order no longer counted twice); at Kustomer's limits, CPU per record 1.14-1.20x
   1.0.0's before the turns, and half the peak memory after them.
3. **The source's config** (`source_config`, `streams_built_from`, `migrated_config`): the CDK's `CheckStream` builds
   streams from the config the source was constructed with (`_config`), not the one `check` receives. The constructor
   of `ConcurrentDeclarativeSource` makes `_config` with `_migrate_and_transform_config(config_path, config)`: it runs
   the manifest's config migrations on a copy of the config given and, when they change it, writes it to
   `config_path` and prints it in a CONTROL message (the platform saves it); the concurrency level and the streams are
   built from what it returns. The source overrides it to hand the migrations the config as the user saved it (not
   the normalised one with its defaults, nor the sync context), and keeps its validated config unless they changed
   it, so the config is validated once per process.
4. **The CDK's words for a tie block over the search cap** (`SAME_SLICE_AGAIN`): the text of the error
   `PaginationTracker` raises when a restart gets the same window back, so the source can say what happened.
5. **A checkpoint at every search-cap restart** (`checkpointing_reduce`, `tracker_factory_knowing_the_stream_cursor`):
   the CDK saves a search stream's state only when its window is read, and a sync reads one window. Records arrive in
   ascending `updated_at`, and every 10,000 of them the search restarts at the last `updated_at` read
   (`PaginationTracker.reduce_slice_range_if_possible`): everything before it has been read. The tracker's own cursor
   is a stateless copy, so the component factory (`_create_pagination_tracker_factory`) also hands each tracker the
   stream's cursor, and the restart records `[window start, last updated_at)` as done in that `ConcurrentCursor`
   (`_concurrent_state`, `_merge_partitions`, `_emit_state_message`, under `_lock`). The state only moves when the
   interval joins what is already done, and the message goes onto the queue after the records read before it.
   With several windows in flight (7.) each window of an updated_at search also checkpoints every `CHECKPOINT_EVERY`
   records (`checkpointing_observe`, `PaginationTracker.observe`) while its pages come in ascending order
   (`IN_CURSOR_ORDER`), so lists, created_at searches and a search seen out of order are saved window by window. Measured (`integration_tests/test_resume.py`): a first
   sync of 100,000 customers killed after 60,000 re-reads at most 10,000 of them when it resumes.
6. **Two per-record costs** (`fast_parse`, `cached_hash`): every record of an incremental stream goes through
   `ConcurrentCursor.observe`, which parses `updated_at` with `DatetimeParser.parse` (`strptime`, ~12 us) and hashes
   its slice with `StreamSlice.__hash__` (JSON + SHA-256, up to twice per call). Profiled (py-spy) that is 29% of the
   connector's CPU. `fast_parse` takes the ISO 8601 UTC forms Kustomer uses through `datetime.fromisoformat` (the same
   datetime `strptime` returns; anything else goes to the CDK's code) and a `StreamSlice` (immutable) computes its
   hash once. Measured: a full read 5,096 -> 6,650-7,450 records/s.
7. **Several windows of one search stream in flight** (`read_in_windows`): the CDK reads the partitions its stream
   slicer yields concurrently, and the declarative `DatetimeBasedCursor` becomes a `ConcurrentCursor` that is that
   slicer; without a `step` it yields one slice per sync, and a `step` cuts calendar steps whatever the data. The
   manifest cannot name another slicer for an incremental stream, so the built stream's partition generator
   (`DefaultStream._stream_partition_generator._stream_slicer`) is wrapped in `search.SearchWindows`, which splits
   each slice from what Kustomer says about it, with the stream's own requester
   (`_partition_factory._retriever.requester`). The cursor's state converter is switched to the date-range form
   (`_is_sequential_state`): the sequential form saves only the intervals joined to the start, so a killed sync
   would re-read every window but the first; the date-range form saves every finished window and restart interval,
   and the next sync reads only the gaps (`ConcurrentCursor.stream_slices`). Measured in `make bench`: one stream
   alone 0.32 -> 1.0 of the search budget at 250 ms per search (0.97 at 500 ms). The same requester also becomes the
   record extractor's `search_requester` (`_retriever.record_selector.extractor`, one per stream, shared by its
   partitions), which searches the gap between two pages where a page shows that results left the window. The
   manifest could give the extractor a requester of its own, but not the stream's: a second definition to keep in
   step with every stream's requester and its overrides.
8. **Only the selected streams built for a read** (`SourceKustomer._create_streams`, where 7. is applied too): the
   CDK's `read` builds every stream of the manifest through `_create_streams(selected_configs, all_configs)` and reads
   those its catalog selects; the source passes on only the selected configs (`all_configs` whole, for the CDK's
   parent-stream caching). Measured: 0.3 s of start-up and up to 1.9 s of a 250,000-record read's CPU.
   `unit_tests/test_list_streams.py` fails when a read builds more than its catalog's streams.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import threading
import time
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Pattern, Tuple, Union

import requests

from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.declarative.retrievers.pagination_tracker import PaginationTracker
from airbyte_cdk.sources.streams.call_rate import FixedWindowCallRatePolicy, HttpAPIBudget
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.types import StreamSlice

from source_kustomer.rate_limits import seconds_until_reset

# -- 1. record queue size ---------------------------------------------------------------------------------------------

RECORD_QUEUE_SIZE = 250


def limit_record_queue(source: Any, size: int = RECORD_QUEUE_SIZE) -> None:
    """Workers hand records to the main thread through this queue; each already holds its whole page."""
    source._concurrent_source._queue.maxsize = size


def record_queue_size(source: Any) -> int:
    return int(source._concurrent_source._queue.maxsize)


# -- 2. the rate-limit budget -----------------------------------------------------------------------------------------


def use_kustomer_budget(source: Any, rate_limit_share: int) -> None:
    """Streams take the component factory's budget when they are built, right after `_prepare_for_stream_build`."""
    budget = getattr(source._constructor, "_api_budget", None)
    if isinstance(budget, HttpAPIBudget) and not isinstance(budget, KustomerAPIBudget):
        source._constructor._api_budget = KustomerAPIBudget.like(budget, rate_limit_share=rate_limit_share)


def factory_budget(source: Any) -> Optional[HttpAPIBudget]:
    """The budget the component factory gives the streams it builds."""
    return getattr(source._constructor, "_api_budget", None)


class KustomerAPIBudget(HttpAPIBudget):
    """The manifest's `HTTPAPIBudget`, reading `x-ratelimit-reset` as epoch seconds or as seconds to wait, and
    leaving the org a reserve of every window (`rate_limit_share`).

    The CDK's budget takes the header for a whole-number epoch time: seconds to wait would put the reset in 1970 and
    silently switch pacing off, and a decimal value would fail every request. It also spends a window to its last
    request, and forgets requests still in flight when a response lowers the count. The manifest cannot name a
    budget class, so `SourceKustomer` rebuilds the manifest's budget as this one, with the same policies and headers.

    The share: with `x-ratelimit-limit` L, the connector spends at most `max(1, L * share // 100)` requests of a
    window (its policy's call limit), so it waits for `x-ratelimit-reset` once `x-ratelimit-remaining` is at or below
    the reserve `L - that` (at or below `(1 - share/100) * L`, rounded up to whole requests). Kustomer counts every
    key of the org, so requests of other integrations use up the connector's part first. A response without
    `x-ratelimit-limit` gives no reserve to compute: its `remaining` is taken as is, as the CDK does (share 100).
    """

    # Pacing waits for the window's end plus this: Kustomer's reset is a whole-second epoch time (exact for a
    # 60-second window on the minute), so only a clock difference is covered; a 429 still falls back on
    # RateLimitResetBackoff's wider margin. 0.5 s here cost 5 points of budget in `make bench` (2-second windows).
    PACING_MARGIN_SECONDS = 0.1
    LIMIT_HEADER = "x-ratelimit-limit"
    # The calls of a window go at even intervals over this part of it (`_paced`). Measured (messages alone, 500 ms per
    # search, three runs each): 0.8 read 90-92% of the share (93-95% of the searches allowed went); 0.6 read 96-98%
    # (99-101%), as without pacing.
    PACING_SPREAD = 0.6

    def __init__(self, *, rate_limit_share: int = 100, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._share = rate_limit_share
        # id(request) -> (its policy, when it was sent, in which order): requests sent and not answered yet, which
        # the next `remaining` may not count. Shared by the workers, under the lock.
        self._in_flight: Dict[int, Tuple[FixedWindowCallRatePolicy, float, int]] = {}
        self._in_flight_lock = threading.Lock()
        self._sent = 0
        # id(policy) -> when its next request may go, and how many requests wait for their turn (`_paced`)
        self._turns: Dict[int, float] = {}
        self._waiting: Dict[int, int] = {}
        self._told_reset: Dict[int, datetime.datetime] = {}  # id(policy) -> the last reset Kustomer gave it
        self._window_seconds: Dict[int, float] = {}  # id(policy) -> the length of its window, from its resets

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        policy = self.get_matching_policy(request)
        if block and isinstance(policy, FixedWindowCallRatePolicy):
            wait = self._paced(policy)
            try:
                if wait > 0:
                    time.sleep(wait)
                super().acquire_call(request, block=block, timeout=timeout)
            finally:
                with self._in_flight_lock:
                    self._waiting[id(policy)] -= 1
        else:
            super().acquire_call(request, block=block, timeout=timeout)
        if isinstance(policy, FixedWindowCallRatePolicy):
            with self._in_flight_lock:
                self._sent += 1
                self._in_flight[id(request)] = (policy, time.monotonic(), self._sent)

    def _paced(self, policy: FixedWindowCallRatePolicy) -> float:
        """Seconds this request waits for its turn, so that the calls of a window go at even intervals.

        Without it, the calls of a window all went at its start (the workers waiting for the reset were let go at
        once), their answers came back together and were parsed side by side: 14-20% more CPU per record and twice
        the memory at Kustomer's limits in `make bench`. Turns are `PACING_SPREAD` x the window's length (the
        longest time to one of Kustomer's resets) / the calls the connector may spend in it apart; once every call of
        the window is taken or promised to a request waiting for its turn (`_waiting`), the next turn is no earlier
        than Kustomer's reset. Until Kustomer's headers have given a window's length, requests are not paced (the policy alone limits
        them, as before). The caller counts itself out of `_waiting` once the policy gave it its call.
        """
        key = id(policy)
        with policy._lock:
            left = policy._call_limit - policy._calls_num
            reset = policy._next_reset_ts
            limit = policy._call_limit
        # Only Kustomer's reset times the window: one the policy rolled on by itself is its `period` later, a guess.
        until = (reset - datetime.datetime.now()).total_seconds() if self._told_reset.get(key) == reset else 0.0
        with self._in_flight_lock:
            now = time.monotonic()
            turn = max(now, self._turns.get(key, now))
            window = self._window_seconds.get(key)
            if window and left - self._waiting.get(key, 0) <= 0 and until > 0:
                turn = max(turn, now + until)
            self._turns[key] = turn + (self.PACING_SPREAD * window / limit if window else 0.0)
            self._waiting[key] = self._waiting.get(key, 0) + 1
        return turn - now

    def _told(self, policy: FixedWindowCallRatePolicy, reset_ts: datetime.datetime) -> None:
        """Kustomer's reset for the policy's window. The longest time to a reset seen is the window's length (the
        reset may be whole seconds to wait, which moves by up to a second between answers of one window), and no
        window is longer than the policy's period (Kustomer's documented minute)."""
        key = id(policy)
        until = min((reset_ts - datetime.datetime.now()).total_seconds(), policy._offset.total_seconds())
        with self._in_flight_lock:
            self._told_reset[key] = reset_ts
            self._window_seconds[key] = max(self._window_seconds.get(key, 0.0), until)

    def _answered(self, request: Any, policy: FixedWindowCallRatePolicy) -> int:
        """Forgets `request` as in flight; the number of requests of `policy` sent after it and still in flight.

        Those may reach Kustomer after this one was counted (`update_from_response` keeps them counted where other
        keys spend the window too). The ones sent before it most likely reached Kustomer first and are in its
        `remaining` already: counting them again would leave calls of the window unused whenever answers come back
        out of order (5-7% of the budget in `make bench`). A request that failed
        without a response is never answered here: it is forgotten after a window's length.
        """
        now = time.monotonic()
        stale = policy._offset.total_seconds()
        with self._in_flight_lock:
            _policy, _when, order = self._in_flight.pop(id(request), (policy, now, self._sent))
            for key in [k for k, (_p, when, _o) in self._in_flight.items() if now - when > stale]:
                del self._in_flight[key]
            return sum(1 for p, _when, o in self._in_flight.values() if p is policy and o > order)

    def update_from_response(self, request: Any, response: Any) -> None:
        policy = self.get_matching_policy(request)
        if not isinstance(policy, FixedWindowCallRatePolicy) or not isinstance(response, requests.Response):
            super().update_from_response(request, response)
            return
        sent_since = self._answered(request, policy)
        reset_ts = self.get_reset_ts_from_response(response)
        margin = datetime.timedelta(seconds=self.PACING_MARGIN_SECONDS)
        if reset_ts is not None and reset_ts <= datetime.datetime.now() + margin:
            return  # counted in a window that has ended since: its `remaining` says nothing about the current one
        available = self.get_calls_left_from_response(response)
        window_share = self.window_share(response)
        with policy._lock:
            if window_share is not None:
                policy._call_limit = window_share  # a new window opens with the connector's share, not the ceiling
            if available is not None and sent_since and available < policy._call_limit - policy._calls_num:
                # Kustomer counted more than the connector has sent this window: other keys are spending it too. The
                # connector's requests sent after this one may reach Kustomer after it was counted: keep them
                # counted. (Where the count is within what the connector sent, the policy's own count already holds
                # them: taking them off again whenever answers came back in another order than sent left up to a
                # third of each window unused in `make bench`.)
                available = max(available - sent_since, 0)
            # Kustomer's window turned before ours (our reset carries a margin): the CDK's policy ignores a count that
            # goes up, and would stay empty until the new window's end. Take Kustomer's count for the new window.
            if reset_ts is not None and reset_ts > policy._next_reset_ts + margin and available is not None:
                policy._next_reset_ts = reset_ts
                policy._calls_num = max(policy._call_limit - available, 0)
                self._told(policy, reset_ts)
                return
        policy.update(available_calls=available, call_reset_ts=reset_ts)
        if reset_ts is not None:
            self._told(policy, reset_ts)

    def window_share(self, response: requests.Response) -> Optional[int]:
        """The requests of a window the connector may spend; None without a usable `x-ratelimit-limit`."""
        return share_of_window(_header_int(response, self.LIMIT_HEADER), self._share)

    def get_calls_left_from_response(self, response: requests.Response) -> Optional[int]:
        """`x-ratelimit-remaining` less the org's reserve (0 once it is reached); as is without `x-ratelimit-limit`."""
        remaining = _header_int(response, self._ratelimit_remaining_header)
        if remaining is None:
            return 0 if response.status_code in self._status_codes_for_ratelimit_hit else None
        limit = _header_int(response, self.LIMIT_HEADER)
        window_share = share_of_window(limit, self._share)
        if limit is None or window_share is None:
            return remaining
        return max(remaining - (limit - window_share), 0)

    def get_reset_ts_from_response(self, response: requests.Response) -> Optional[datetime.datetime]:
        wait = seconds_until_reset(response.headers.get(self._ratelimit_reset_header), margin=self.PACING_MARGIN_SECONDS)
        return None if wait is None else datetime.datetime.now() + datetime.timedelta(seconds=wait)

    @classmethod
    def like(cls, budget: HttpAPIBudget, rate_limit_share: int = 100) -> "KustomerAPIBudget":
        return cls(
            policies=budget._policies,
            ratelimit_reset_header=budget._ratelimit_reset_header,
            ratelimit_remaining_header=budget._ratelimit_remaining_header,
            status_codes_for_ratelimit_hit=budget._status_codes_for_ratelimit_hit,
            rate_limit_share=rate_limit_share,
        )


def share_of_window(limit: Optional[int], share: int) -> Optional[int]:
    """The requests of a window of `limit` that `share` percent allows: at least one, so a sync always moves on."""
    if limit is None or limit <= 0:
        return None
    return max(1, limit * share // 100)


def _header_int(response: requests.Response, name: str) -> Optional[int]:
    try:
        return int(float(response.headers[name]))
    except (KeyError, TypeError, ValueError):
        return None


# -- 3. checking with the given config --------------------------------------------------------------------------------


def source_config(source: Any) -> Mapping[str, Any]:
    """The config the source's streams are built from (`_config`: the constructor's, after the CDK's migrations, or the
    one `streams_built_from` put in place). The CDK has no public accessor for it."""
    return source._config


def migrated_config(
    migrate: Callable[[Optional[str], Optional[Mapping[str, Any]]], Optional[Mapping[str, Any]]],
    config_path: Optional[str],
    context: Optional[Mapping[str, Any]],
) -> Optional[Mapping[str, Any]]:
    """The config the streams are built from, for the source's `_migrate_and_transform_config`: `context` (the config
    given, with the sync context) once `migrate` (the CDK's own) has run the manifest's config migrations on the config
    as saved. A config they left unchanged is `context` itself, still marked validated; one they changed is validated
    again, as migrated (a config not validated yet stays so), with the sync context back."""
    from source_kustomer.config import NormalizedConfig, normalize_config
    from source_kustomer.search import SYNC_CONTEXT, without_sync_context

    if not context:
        return migrate(config_path, context)
    given = without_sync_context(context)
    saved = without_sync_context(given.saved) if isinstance(given, NormalizedConfig) else given
    migrated = migrate(config_path, saved)
    if migrated == saved:
        return context
    config = normalize_config(migrated) if isinstance(given, NormalizedConfig) else dict(migrated or {})
    config.update({key: context[key] for key in SYNC_CONTEXT if key in context})
    return config


@contextlib.contextmanager
def streams_built_from(source: Any, config: Mapping[str, Any]) -> Iterator[None]:
    """Within the block, the source builds its streams from `config` instead of the constructor's."""
    constructed, source._config = source._config, config
    try:
        yield
    finally:
        source._config = constructed


# -- 4. the CDK's words for a restart that got the same window back ---------------------------------------------------

SAME_SLICE_AGAIN = "attempts with the same slice"


# -- 5. a checkpoint at every search-cap restart ----------------------------------------------------------------------

ORIGINAL_REDUCE: Callable[..., StreamSlice] = PaginationTracker.reduce_slice_range_if_possible
ORIGINAL_TRACKER_FACTORY: Callable[..., Callable[[], PaginationTracker]] = ModelToComponentFactory._create_pagination_tracker_factory
_STREAM_CURSOR = "_kustomer_stream_cursor"


def tracker_factory_knowing_the_stream_cursor(self: ModelToComponentFactory, model: Any, cursor: Any) -> Callable[[], PaginationTracker]:
    """The CDK's tracker factory; each tracker also knows the stream's cursor (its own cursor is a stateless copy)."""
    make = ORIGINAL_TRACKER_FACTORY(self, model, cursor)
    if not isinstance(cursor, ConcurrentCursor):
        return make

    def tracker() -> PaginationTracker:
        made = make()
        setattr(made, _STREAM_CURSOR, cursor)
        return made

    return tracker


def checkpointing_reduce(self: PaginationTracker, previous_stream_slice: StreamSlice, original_stream_slice: StreamSlice) -> StreamSlice:
    new_slice = ORIGINAL_REDUCE(self, previous_stream_slice, original_stream_slice)
    cursor = getattr(self, _STREAM_CURSOR, None)
    if isinstance(cursor, ConcurrentCursor):
        checkpoint(cursor, original_stream_slice, new_slice)
    return new_slice


ORIGINAL_OBSERVE: Callable[..., None] = PaginationTracker.observe
# With several windows of a stream in flight a restart (every 9,000 records of a window) is too rare a checkpoint: a
# killed sync would re-read up to 9,000 records per window. Every this many records of a window, the records before
# the one observed (not yet handed on: `observe` comes first) are saved as read.
CHECKPOINT_EVERY = 1000


# Set on the cursor of an updated_at search stream (by `read_in_windows`): its record extractor, whose
# `in_cursor_order` says whether the pages came in ascending updatedAt so far. Only then does a record's cursor value
# say that everything before it was read (Kustomer's reference lists the sortable attributes of search for customers
# only). Lists, created_at searches (no order) and a search seen out of order save a window only when it is read whole.
IN_CURSOR_ORDER = "_kustomer_records_in_cursor_order"


def checkpointing_observe(self: PaginationTracker, record: Any) -> None:
    ORIGINAL_OBSERVE(self, record)
    cursor = getattr(self, _STREAM_CURSOR, None)
    if self._record_count % CHECKPOINT_EVERY or not isinstance(cursor, ConcurrentCursor):
        return
    if not getattr(getattr(cursor, IN_CURSOR_ORDER, None), "in_cursor_order", False):
        return
    window = getattr(record, "associated_slice", None)
    try:
        at = cursor._cursor_field.extract_value(record)
    except (KeyError, TypeError, ValueError):
        return
    if isinstance(window, StreamSlice) and at:
        start_field, _end_field = cursor._slice_boundary_fields_wrapper
        checkpoint(cursor, window, StreamSlice(partition=window.partition, cursor_slice={**window.cursor_slice, start_field: at}))


def checkpoint(cursor: ConcurrentCursor, window: StreamSlice, restarted: StreamSlice) -> bool:
    """Records `[window start, restarted start)` as read in the cursor's state and emits it; True if it did."""
    start_field, _end_field = cursor._slice_boundary_fields_wrapper
    converter = cursor._connector_state_converter
    try:
        start = converter.parse_value(window.cursor_slice[start_field])
        reached = converter.parse_value(restarted.cursor_slice[start_field])
    except (KeyError, TypeError, ValueError):
        return False
    # Records at exactly `reached` may not all be read (a tie): the interval ends just before it.
    granularity = cursor._cursor_granularity or datetime.timedelta(milliseconds=1)
    done_until = reached - granularity
    if done_until < start:
        return False
    with cursor._lock:
        cursor._concurrent_state.setdefault("slices", []).append(
            {
                converter.START_KEY: start,
                converter.END_KEY: done_until,
                converter.MOST_RECENT_RECORD_KEY: done_until,
            }
        )
        cursor._merge_partitions()
        cursor._emit_state_message()
    return True


# -- 6. two per-record costs ------------------------------------------------------------------------------------------

# The year, month, day, hour, minute and second as strptime reads them from Kustomer's timestamps (always two or
# four ASCII digits; anything else takes the CDK's path), then the fraction and the `Z` of each format.
_DATE_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
_WITH_FRACTION = re.compile(_DATE_TIME + r"\.[0-9]{1,6}Z")
_WHOLE_SECONDS = re.compile(_DATE_TIME + r"Z")
FAST_FORMATS: Dict[str, Pattern[str]] = {
    "%Y-%m-%dT%H:%M:%S.%_msZ": _WITH_FRACTION,
    "%Y-%m-%dT%H:%M:%S.%fZ": _WITH_FRACTION,
    "%Y-%m-%dT%H:%M:%SZ": _WHOLE_SECONDS,
}

ORIGINAL_PARSE: Callable[..., datetime.datetime] = DatetimeParser.parse
ORIGINAL_HASH: Callable[[StreamSlice], int] = StreamSlice.__hash__
_HASH_KEY = "_kustomer_hash"


def fast_parse(self: DatetimeParser, date: Union[str, int], format: str) -> datetime.datetime:
    pattern = FAST_FORMATS.get(format)
    if pattern is not None and type(date) is str and pattern.fullmatch(date):
        # Python 3.11+ reads the `Z` as UTC and a 1-6 digit fraction as strptime's %f does.
        return datetime.datetime.fromisoformat(date)
    return ORIGINAL_PARSE(self, date, format)


def cached_hash(self: StreamSlice) -> int:
    cached: Any = self.__dict__.get(_HASH_KEY)
    if cached is None:
        cached = self.__dict__[_HASH_KEY] = ORIGINAL_HASH(self)
    return int(cached)


# -- installing the patches (5 and 6) ---------------------------------------------------------------------------------


def installed() -> bool:
    return (
        PaginationTracker.reduce_slice_range_if_possible is checkpointing_reduce
        and PaginationTracker.observe is checkpointing_observe
        and ModelToComponentFactory._create_pagination_tracker_factory is tracker_factory_knowing_the_stream_cursor
        and DatetimeParser.parse is fast_parse
        and StreamSlice.__hash__ is cached_hash
    )


def install() -> None:
    """Applies every patch of this module, once; leaves anything it does not recognise alone."""
    if PaginationTracker.reduce_slice_range_if_possible is ORIGINAL_REDUCE:
        PaginationTracker.reduce_slice_range_if_possible = checkpointing_reduce  # type: ignore[method-assign]
    if PaginationTracker.observe is ORIGINAL_OBSERVE:
        PaginationTracker.observe = checkpointing_observe  # type: ignore[method-assign]
    if ModelToComponentFactory._create_pagination_tracker_factory is ORIGINAL_TRACKER_FACTORY:
        ModelToComponentFactory._create_pagination_tracker_factory = tracker_factory_knowing_the_stream_cursor  # type: ignore[method-assign]
    if DatetimeParser.parse is ORIGINAL_PARSE:
        DatetimeParser.parse = fast_parse  # type: ignore[method-assign]
    if StreamSlice.__hash__ is ORIGINAL_HASH:
        StreamSlice.__hash__ = cached_hash  # type: ignore[method-assign]


# -- 7. several windows of a search stream in flight -----------------------------------------------------------------


def read_in_windows(stream: Any, max_windows: int) -> bool:
    """Wraps a built search stream's slicer in `SearchWindows` and keeps its state as date ranges; True if it did.

    A stream is search-backed when its record extractor is `SearchRecordExtractor`; anything else is left alone. The
    extractor gets the stream's requester for its searches of a gap between two pages."""
    from source_kustomer.search import SearchRecordExtractor, SearchWindows

    generator = getattr(stream, "_stream_partition_generator", None)
    retriever = getattr(getattr(generator, "_partition_factory", None), "_retriever", None)
    slicer = getattr(generator, "_stream_slicer", None)
    extractor = getattr(getattr(retriever, "record_selector", None), "extractor", None)
    if not isinstance(extractor, SearchRecordExtractor):
        return False
    extractor.search_requester = retriever.requester
    if not isinstance(slicer, ConcurrentCursor):
        return False
    setattr(slicer, IN_CURSOR_ORDER, extractor)  # whether its pages come in ascending updatedAt
    strategy = getattr(getattr(retriever, "paginator", None), "pagination_strategy", None)
    page_size = strategy.get_page_size() if strategy is not None else None
    slicer._connector_state_converter._is_sequential_state = False
    generator._stream_slicer = SearchWindows(
        slicer,
        retriever.requester,
        max_windows=max_windows,
        page_size=page_size or 500,
        on_planned=lambda end: setattr(extractor, "tombstones_until", end),
        by_created_at=not extractor.restarts_at_cap,  # conversation_times
    )
    return True
