"""Search-backed streams: customers, conversations, messages, notes and kobjects."""

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.http.request_window_split_exception import RequestWindowSplitRequiredException
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.test.state_builder import StateBuilder

from source_kustomer.search import MIN_PAGES_PER_WINDOW, WINDOWS_PER_WORKER, SearchWindows
from unit_tests.builders import SEARCH_CONTEXTS, TOKEN, ConfigBuilder, catalog, kustomer_object, records_of, search_start_for
from unit_tests.conftest import read_source


def _ts(base: datetime, seconds: float = 0) -> str:
    moment = base + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


BASE = datetime(2025, 3, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("stream,context", sorted(SEARCH_CONTEXTS.items()))
def test_each_search_stream_posts_its_query_context_with_an_ascending_updated_at_window(kustomer, stream, context):
    kustomer.add(stream, [kustomer_object(context, "a1", _ts(BASE))])

    output = read_source(ConfigBuilder().build(), catalog(stream))

    assert [r["id"] for r in records_of(output, stream)] == ["a1"]
    first = min(kustomer.search_requests, key=lambda r: r["body"]["and"][0][f"{context}_updated_at"]["gte"])
    assert first["body"]["queryContext"] == context
    assert first["body"]["and"][0] == {f"{context}_updated_at": {"gte": "2025-01-01T00:00:00.000Z"}}
    assert list(first["body"]["and"][1]) == [f"{context}_updated_at"]
    assert list(first["body"]["and"][1][f"{context}_updated_at"]) == ["lte"]
    assert first["body"]["sort"] == [{f"{context}_updated_at": "asc"}]
    assert first["page"] == 1 and first["page_size"] == 500
    assert first["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_windows_cover_start_date_to_now_without_gaps(kustomer):
    read_source(ConfigBuilder().with_start_date("2025-01-01").build(), catalog("customers"))

    windows = sorted((r["body"]["and"][0]["customer_updated_at"]["gte"], r["body"]["and"][1]["customer_updated_at"]["lte"]) for r in kustomer.search_requests)
    assert windows[0][0] == "2025-01-01T00:00:00.000Z"
    for (_, end), (start, _) in zip(windows, windows[1:]):
        end_dt = datetime.strptime(end, "%Y-%m-%dT%H:%M:%S.%fZ")
        start_dt = datetime.strptime(start, "%Y-%m-%dT%H:%M:%S.%fZ")
        assert start_dt - end_dt == timedelta(milliseconds=1)
    assert datetime.strptime(windows[-1][1], "%Y-%m-%dT%H:%M:%S.%fZ") >= datetime.utcnow() - timedelta(minutes=5)


def test_pages_follow_links_next_until_it_is_null(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"c{i:05d}", _ts(BASE, i)) for i in range(1_201)])

    output = read_source(ConfigBuilder().build(), catalog("customers"))

    assert len(records_of(output, "customers")) == 1_201
    pages_by_window = {}
    for request in kustomer.search_requests:
        pages_by_window.setdefault(request["body"]["and"][0]["customer_updated_at"]["gte"], []).append(request["page"])
    assert sorted(pages_by_window.values(), key=len)[-1] == [1, 2, 3]
    assert all(pages == [1] for pages in sorted(pages_by_window.values(), key=len)[:-1])


def test_page_size_from_config_is_used_and_capped_at_the_endpoint_maximum(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"c{i}", _ts(BASE, i)) for i in range(600)])
    kustomer.add("tags", [kustomer_object("tag", f"t{i}", _ts(BASE, i)) for i in range(250)])

    # 250: within search's largest page (500), beyond the tags list's (100).
    output = read_source(ConfigBuilder().set("page_size", 250).build(), catalog("customers", "tags"))

    assert len(records_of(output, "customers")) == 600
    assert len(records_of(output, "tags")) == 250
    assert {r["page_size"] for r in kustomer.search_requests} == {250}
    assert {r["asked"] for r in kustomer.list_requests} == {100}


def test_a_page_size_under_100_is_raised_to_100_for_search_so_no_search_goes_past_kustomers_100_pages(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"c{i:05d}", _ts(BASE, i)) for i in range(12_000)])
    kustomer.add("tags", [kustomer_object("tag", f"t{i}", _ts(BASE, i)) for i in range(120)])

    output = read_source(ConfigBuilder().set("page_size", 50).build(), catalog("customers", "tags"))

    assert {r["id"] for r in records_of(output, "customers")} == {f"c{i:05d}" for i in range(12_000)}
    assert {r["page_size"] for r in kustomer.search_requests} == {100}
    assert max(r["page"] for r in kustomer.search_requests) <= 100
    assert {r["asked"] for r in kustomer.list_requests} == {50}  # the list endpoints keep the configured size
    assert not output.errors


@pytest.mark.parametrize("with_meta", [True, False], ids=["meta numbers the last page", "an empty page ends"])
def test_when_links_next_is_never_null_the_window_still_ends_with_every_record(kustomer, with_meta):
    kustomer.search_next_always, kustomer.search_meta = True, with_meta
    kustomer.add("customers", [kustomer_object("customer", f"c{i:05d}", _ts(BASE, i)) for i in range(1_201)])

    output = read_source(ConfigBuilder().build(), catalog("customers"))

    assert sorted(r["id"] for r in records_of(output, "customers")) == [f"c{i:05d}" for i in range(1_201)]
    assert [r["page"] for r in kustomer.search_requests] == ([1, 2, 3] if with_meta else [1, 2, 3, 4])
    assert not output.errors


@pytest.mark.parametrize("unsorted", [True, False])
def test_search_results_out_of_updated_at_order_are_read_whole_with_one_warning(kustomer, unsorted):
    kustomer.search_unsorted = unsorted
    # ids in the opposite order of updatedAt; whole seconds and milliseconds mixed, as strings they would misorder
    kustomer.add("companies", [kustomer_object("company", f"co{i:04d}", _ts(BASE, 1_200 - i)) for i in range(1_200)])
    kustomer.add("companies", [kustomer_object("company", "co_whole", "2025-03-01T00:10:00Z"), kustomer_object("company", "co_ms", "2025-03-01T00:10:00.500Z")])

    output = read_source(ConfigBuilder().build(), catalog("companies"))

    assert len({r["id"] for r in records_of(output, "companies")}) == 1_202
    warnings = [m.log.message for m in output.logs if m.log.level.value == "WARN" and "out of updated_at order" in m.log.message]
    assert len(warnings) == (1 if unsorted else 0)
    assert all(w.startswith("companies:") for w in warnings)


def test_a_window_past_the_search_cap_is_read_in_full_without_requesting_past_the_cap(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"c{i:06d}", _ts(BASE, i * 0.5)) for i in range(23_456)])

    output = read_source(ConfigBuilder().build(), catalog("customers"))

    ids = Counter(r["id"] for r in records_of(output, "customers"))
    assert set(ids) == {f"c{i:06d}" for i in range(23_456)}
    assert sum(ids.values()) == len(ids)  # the records a restart reads again are not delivered twice
    assert not any((r["page"] - 1) * r["page_size"] >= 10_000 for r in kustomer.search_requests)


def test_a_tie_block_of_thousands_sharing_one_updated_at_is_read_in_full_and_the_read_ends(kustomer):
    before = [kustomer_object("conversation", f"b{i:05d}", _ts(BASE, i)) for i in range(8_000)]
    tie = [kustomer_object("conversation", f"t{i:05d}", _ts(BASE, 9_000)) for i in range(4_000)]
    after = [kustomer_object("conversation", f"z{i:05d}", _ts(BASE, 10_000 + i)) for i in range(500)]
    kustomer.add("conversations", before + tie + after)

    output = read_source(ConfigBuilder().build(), catalog("conversations"))

    ids = {r["id"] for r in records_of(output, "conversations")}
    assert ids == {o["id"] for o in before + tie + after}


def test_incremental_state_covers_the_window_read_and_the_next_run_starts_at_its_end_less_the_lookback(kustomer):
    kustomer.add("notes", [kustomer_object("note", f"n{i}", _ts(BASE, i * 3600)) for i in range(10)])
    config = ConfigBuilder().build()

    first = read_source(config, catalog("notes", sync_mode=SyncMode.incremental))

    assert len(records_of(first, "notes")) == 10
    state = first.most_recent_state.stream_state.__dict__
    assert _state_cursor(state) >= _ts(BASE, 9 * 3600)  # the window read: up to the sync's start

    kustomer.search_requests.clear()
    new_at = datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # updated after the first run
    kustomer.add("notes", [kustomer_object("note", "n-new", new_at)])
    second = read_source(config, catalog("notes", sync_mode=SyncMode.incremental), StateBuilder().with_stream_state("notes", state).build())

    assert "n-new" in {r["id"] for r in records_of(second, "notes")}
    assert {r["id"] for r in records_of(second, "notes")} <= {"n9", "n-new"}
    saved_end = max(s["end"] for s in state["slices"]) if "slices" in state else state["updated_at"]
    assert min(r["body"]["and"][0]["note_updated_at"]["gte"] for r in kustomer.search_requests) == search_start_for(saved_end)


def test_start_date_bounds_the_first_run(kustomer):
    kustomer.add("messages", [kustomer_object("message", "old", "2024-06-01T00:00:00.000Z"), kustomer_object("message", "new", _ts(BASE))])

    output = read_source(ConfigBuilder().with_start_date("2025-01-01").build(), catalog("messages", sync_mode=SyncMode.incremental))

    assert [r["id"] for r in records_of(output, "messages")] == ["new"]


def _state_cursor(state):
    if "updated_at" in state:
        return state["updated_at"]
    return max(s.get("most_recent_cursor_value") or s["end"] for s in state["slices"])


def test_a_tie_block_larger_than_the_search_cap_fails_the_stream_saying_why(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"t{i:05d}", _ts(BASE)) for i in range(10_050)])

    output = read_source(ConfigBuilder().build(), catalog("customers"), expecting_exception=True)

    stream_errors = [e.trace.error for e in output.errors if e.trace.error.stream_descriptor]
    assert stream_errors and stream_errors[0].stream_descriptor.name == "customers"
    assert "more than 10,000 records share one updated_at" in stream_errors[0].message


def test_every_search_asks_for_soft_deleted_objects_too(kustomer):
    kustomer.add("conversations", [kustomer_object("conversation", "a1", _ts(BASE))])

    read_source(ConfigBuilder().build(), catalog("conversations"))

    assert kustomer.search_requests and all(r["body"].get("includeDeleted") is True for r in kustomer.search_requests)


def test_a_tie_block_straddling_a_search_cap_restart_is_delivered_exactly_once(kustomer):
    before = [kustomer_object("conversation", f"b{i:05d}", _ts(BASE, i)) for i in range(8_500)]
    tie = [kustomer_object("conversation", f"t{i:05d}", _ts(BASE, 9_000)) for i in range(1_200)]
    after = [kustomer_object("conversation", f"z{i:05d}", _ts(BASE, 10_000 + i)) for i in range(700)]
    kustomer.add("conversations", before + tie + after)

    output = read_source(ConfigBuilder().set("num_workers", 1).build(), catalog("conversations"))

    ids = Counter(r["id"] for r in records_of(output, "conversations"))
    assert set(ids) == {o["id"] for o in before + tie + after}
    assert [i for i, n in ids.items() if n > 1] == []
    # The proof names why the restart's pages held more than was written.
    (proof,) = _logs(output, "INFO", "Kustomer counted")
    assert "left out by the connector (already written where a search restarted at the search cap" in proof and proof.endswith(": complete."), proof


def test_a_large_range_is_read_in_several_windows_that_do_not_overlap_and_deliver_each_id_once(kustomer):
    kustomer.add("messages", [kustomer_object("message", f"m{i:05d}", _ts(BASE, i * 600)) for i in range(12_000)])

    output = read_source(ConfigBuilder().set("num_workers", 4).build(), catalog("messages"))

    ids = Counter(r["id"] for r in records_of(output, "messages"))
    assert len(ids) == 12_000 and set(ids.values()) == {1}
    assert len(kustomer.one_record_searches) == 1  # one one-record search planned the windows
    windows = sorted({(r["body"]["and"][1]["message_updated_at"]["lte"], r["body"]["and"][0]["message_updated_at"]["gte"])
                      for r in kustomer.search_requests if r["page"] == 1}, key=lambda w: w[0])
    ends = sorted({end for end, _start in windows})
    # two windows per worker (4 workers), each of at least four pages of 500: 12,000 records make six
    assert len(ends) == min(4 * WINDOWS_PER_WORKER, 12_000 // (500 * MIN_PAGES_PER_WINDOW)) > 4, ends
    starts = sorted({min(start for end, start in windows if end == e) for e in ends})
    for end, next_start in zip(ends, starts[1:]):
        gap = datetime.strptime(next_start, "%Y-%m-%dT%H:%M:%S.%fZ") - datetime.strptime(end, "%Y-%m-%dT%H:%M:%S.%fZ")
        assert gap == timedelta(milliseconds=1)


def _gap_searches(kustomer, context):
    """The searches of a gap between two pages: page-reading searches whose `lte` is no window's end (a record's time)."""
    attribute = f"{context}_updated_at"
    ends = {r["body"]["and"][1][attribute]["lte"] for r in kustomer.one_record_searches}
    return [r for r in kustomer.search_requests if r["body"]["and"][1][attribute]["lte"] not in ends]


def _logs(output, level, text):
    return [m.log.message for m in output.logs if m.log.level.value == level and text in m.log.message]


def test_a_page_counting_fewer_than_the_page_before_is_followed_by_one_search_of_the_gap_and_each_id_is_emitted_once(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"c{i:04d}", _ts(BASE, i)) for i in range(1_000)])
    # Before page 2, c0000 is updated (it leaves the window): c0500 slides onto page 1, already read.
    kustomer.search_churn = 1

    output = read_source(ConfigBuilder().build(), catalog("customers"))

    ids = Counter(r["id"] for r in records_of(output, "customers"))
    assert set(ids) == {f"c{i:04d}" for i in range(1_000)} and set(ids.values()) == {1}
    # one search of the gap, from page 1's last updatedAt to page 2's first: c0499 and c0501, emitted with their
    # pages, and c0500, emitted by the search alone
    (gap,) = _gap_searches(kustomer, "customer")
    assert gap["body"]["and"] == [{"customer_updated_at": {"gte": _ts(BASE, 499)}}, {"customer_updated_at": {"lte": _ts(BASE, 501)}}]
    assert gap["body"]["sort"] == [{"customer_updated_at": "asc"}] and gap["page"] == 1 and gap["page_size"] == 500
    assert len(kustomer.search_requests) == 3  # pages 1 and 2, and the gap
    (repair,) = _logs(output, "INFO", "a search of the gap between them")
    assert repair.startswith("customers:") and "fell by 1 between pages 1 and 2" in repair and "recovered 1 record " in repair
    (proof,) = _logs(output, "INFO", "Kustomer counted")
    assert "emitted 1,000 records (1,000 unique ids); 1 read by a search of the gap" in proof and proof.endswith(": complete.")
    assert "left the range during the sync" not in proof and not _logs(output, "WARN", "incomplete")


def test_without_a_page_counting_fewer_no_search_of_a_gap_is_made(kustomer):
    kustomer.add("customers", [kustomer_object("customer", f"c{i:04d}", _ts(BASE, i)) for i in range(1_000)])

    output = read_source(ConfigBuilder().build(), catalog("customers"))

    assert len(records_of(output, "customers")) == 1_000
    assert [r["page"] for r in kustomer.search_requests] == [1, 2] and not _gap_searches(kustomer, "customer")
    assert not _logs(output, "INFO", "a search of the gap between them")


def test_a_gap_inside_a_tie_block_longer_than_a_page_is_read_and_its_records_are_not_emitted_again_by_the_next_page(kustomer):
    before = [kustomer_object("conversation", f"b{i:03d}", _ts(BASE, i)) for i in range(400)]
    tie = [kustomer_object("conversation", f"t{i:03d}", _ts(BASE, 1_000)) for i in range(700)]
    after = [kustomer_object("conversation", f"z{i:03d}", _ts(BASE, 2_000 + i)) for i in range(400)]
    kustomer.add("conversations", before + tie + after)
    # Page 2 is all tie: the gap is the whole tie, and what its search finds past page 2 comes again on page 3. Every
    # page after a first one, the gap's second page too, moves one more object out.
    kustomer.search_churn = 1

    output = read_source(ConfigBuilder().build(), catalog("conversations"))

    ids = Counter(r["id"] for r in records_of(output, "conversations"))
    assert set(ids) == {o["id"] for o in before + tie + after}
    assert [i for i, n in ids.items() if n > 1] == []
    assert _gap_searches(kustomer, "conversation")
    (proof,) = _logs(output, "INFO", "Kustomer counted")
    assert "read by a search of the gap" in proof and "left out by the connector" not in proof and proof.endswith(": complete."), proof
    assert not _logs(output, "WARN", "incomplete") and not _logs(output, "WARN", "may be missing")


def test_a_gap_in_archive_search_is_searched_in_archive_search(kustomer):
    old = datetime(2023, 6, 1, tzinfo=timezone.utc)  # more than two years ago: archive search serves it
    kustomer.add("customers", [kustomer_object("customer", f"a{i:04d}", _ts(old, i)) for i in range(1_000)])
    kustomer.search_churn = 1

    output = read_source(ConfigBuilder().with_start_date("2023-01-01").build(), catalog("customers"))

    ids = Counter(r["id"] for r in records_of(output, "customers"))
    assert set(ids) == {f"a{i:04d}" for i in range(1_000)} and set(ids.values()) == {1}
    gaps = [r for r in kustomer.archive_requests if r["body"]["and"][1]["customer_updated_at"]["lte"] == _ts(old, 501)]
    assert [(r["body"]["and"][0], r["page"], r["page_size"]) for r in gaps] == [({"customer_updated_at": {"gte": _ts(old, 499)}}, 1, 500)]
    assert len(_logs(output, "INFO", "a search of the gap between them")) == 1


class _PlanTakenForAnOversizedPage:
    """A search requester whose one-record plan the manifest's split rule refuses (Kustomer answering a full page)."""

    def send_request(self, **_kwargs):
        raise RequestWindowSplitRequiredException(stream_name="conversation_times")


def test_a_created_at_plan_refused_as_over_the_cap_still_plans_windows():
    plan = SearchWindows(slicer=None, requester=_PlanTakenForAnOversizedPage(), max_windows=1, page_size=500, by_created_at=True)
    whole = StreamSlice(partition={}, cursor_slice={"start_time": "2025-01-01T00:00:00.000Z", "end_time": "2026-01-01T00:00:00.000Z"})

    windows = list(plan.windows(whole))

    assert len(windows) >= 2, windows  # over the cap, not one window the CDK must halve
    assert windows[0].cursor_slice["start_time"] == whole.cursor_slice["start_time"]
    assert windows[-1].cursor_slice["end_time"] == whole.cursor_slice["end_time"]


class _PlanAnswering:
    """A search requester whose one-record plan answers `total` records, the earliest at the range's start."""

    def __init__(self, total: int) -> None:
        self.total = total

    def send_request(self, **_kwargs):
        answer = requests.Response()
        answer.status_code = 200
        answer._content = json.dumps({"meta": {"total": self.total}, "data": [{"attributes": {}}]}).encode()
        return answer


@pytest.mark.parametrize("by_created_at", [True, False])
def test_a_created_at_range_is_read_in_one_window_per_worker_an_updated_at_range_in_more(by_created_at):
    # A created_at window is read whole and ends on a partly filled page: two per worker used 90% of each search's
    # records in make bench, one per worker 97%. An updated_at range takes more, shorter windows for a shorter tail.
    plan = SearchWindows(slicer=None, requester=_PlanAnswering(48_000), max_windows=8, page_size=500, by_created_at=by_created_at)
    whole = StreamSlice(partition={}, cursor_slice={"start_time": "2025-01-01T00:00:00.000Z", "end_time": "2026-01-01T00:00:00.000Z"})

    assert len(list(plan.windows(whole))) == 8 * (1 if by_created_at else WINDOWS_PER_WORKER)


def _states_of(output, stream):
    return [m.state.stream.stream_state.__dict__ for m in output.state_messages if m.state.stream.stream_descriptor.name == stream]


def test_conversation_times_in_no_order_are_read_whole_up_to_the_cap_and_saved_only_when_their_window_is(kustomer):
    # 9,500 created within one minute: one window under the search cap (not split), answered in id order, the newest
    # first. A restart after 9,000 records from the latest created_at read would miss the older ones not read yet,
    # and a checkpoint after 1,000 would save as read everything created before the 1,000th.
    kustomer.search_unsorted = True
    created = [kustomer_object("conversation_time", f"t{i:05d}", _ts(BASE, (9_500 - i) * 0.005)) for i in range(9_500)]
    kustomer.add("conversation_times", created)

    output = read_source(ConfigBuilder().set("num_workers", 1).build(), catalog("conversation_times", sync_mode=SyncMode.incremental))

    ids = Counter(r["id"] for r in records_of(output, "conversation_times"))
    assert set(ids) == {o["id"] for o in created} and max(ids.values()) == 1
    window_start = min(r["body"]["and"][0]["conversation_time_created_at"]["gte"] for r in kustomer.search_requests)
    states = _states_of(output, "conversation_times")
    assert states and states[-1]["slices"]
    for state in states:
        for done in state.get("slices", []):  # no range saved that starts at the window and ends inside it
            assert not (done["start"] <= window_start < done["end"] < _ts(BASE, 9_500 * 0.005)), state


def test_a_search_answered_out_of_updated_at_order_saves_no_progress_inside_its_window(kustomer):
    # Kustomer's reference lists sortable search attributes for customers only: answered in id order (the newest
    # first here), a checkpoint after 1,000 records would save as read everything updated before the 1,000th.
    kustomer.search_unsorted = True
    companies = [kustomer_object("company", f"co{i:04d}", _ts(BASE, 2_500 - i)) for i in range(2_500)]
    kustomer.add("companies", companies)

    output = read_source(ConfigBuilder().set("num_workers", 1).build(), catalog("companies", sync_mode=SyncMode.incremental))

    assert len({r["id"] for r in records_of(output, "companies")}) == 2_500
    states = _states_of(output, "companies")
    assert states and states[-1]["slices"]
    for state in states:
        for done in state.get("slices", []):  # nothing saved that ends inside the data before it was read whole
            assert not (_ts(BASE, 1) <= done["end"] < _ts(BASE, 2_500)), state
