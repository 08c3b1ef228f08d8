"""Where the connector relies on airbyte-cdk internals (checked against airbyte-cdk 7.39.1), each with its reason.

Each reliance is guarded: it applies only to the CDK code it knows (airbyte-cdk is pinned to 7.39.*), and a unit test
in `unit_tests/test_cdk_internals.py` fails when it stops applying, so an upgrade of the CDK is this one file to read.

## A checkpoint at every search-cap restart

The CDK saves a search-backed stream's state when a whole window has been read. A first sync of a large org reads
millions of records per window, so a sync stopped after hours would resume from its `start_date`. Records arrive in
ascending `updated_at`, and every 10,000 of them the search restarts at the last `updated_at` read
(`PaginationTracker.reduce_slice_range_if_possible`): everything before that time has been read. The tracker's own
cursor is a stateless copy, so `install()` also has the component factory hand each tracker the stream's cursor
(`ModelToComponentFactory._create_pagination_tracker_factory`), and makes the restart record `[window start, last updated_at)` as done in the stream's `ConcurrentCursor` and emit its
state, through the cursor's own lock, merge and message path. The state only moves when the interval joins what is
already done (the CDK's contiguous-interval rule), so a window read in parallel never moves it past an unread one; and
the message goes onto the same queue after the records read before it. Measured: a sync killed after 60,000 of
100,000 customers re-reads at most about 10,000 when it resumes (`integration_tests/test_resume.py`); without it, all
60,000. No public API serves: neither the manifest's `PaginationReset` nor the cursor offers a checkpoint hook.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.declarative.retrievers.pagination_tracker import PaginationTracker
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.types import StreamSlice

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


def installed() -> bool:
    return (
        PaginationTracker.reduce_slice_range_if_possible is checkpointing_reduce
        and ModelToComponentFactory._create_pagination_tracker_factory is tracker_factory_knowing_the_stream_cursor
    )


def install() -> None:
    """Applies every patch of this module, once; leaves anything it does not recognise alone."""
    if PaginationTracker.reduce_slice_range_if_possible is ORIGINAL_REDUCE:
        PaginationTracker.reduce_slice_range_if_possible = checkpointing_reduce  # type: ignore[method-assign]
    if ModelToComponentFactory._create_pagination_tracker_factory is ORIGINAL_TRACKER_FACTORY:
        ModelToComponentFactory._create_pagination_tracker_factory = tracker_factory_knowing_the_stream_cursor  # type: ignore[method-assign]
