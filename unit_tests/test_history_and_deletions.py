"""Archive search for the part of a sync older than two years, deletions as `_ab_cdc_deleted_at`, tombstones."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateType, AirbyteStreamState, StreamDescriptor, SyncMode
from airbyte_cdk.models import AirbyteStateBlob

from source_kustomer.search import saved_cursor_values
from integration_tests.emulator.audit import AUDIT_MAX_COUNT, AUDIT_PATH, LAST_LINK_NONE, LAST_LINK_PAST_THE_END, LAST_LINK_REPEATED
from integration_tests.emulator.search import ARCHIVE_PATH
from unit_tests.builders import API_URL, ConfigBuilder, catalog, kustomer_error, kustomer_object, records_of
from unit_tests.conftest import read_source

NOW = datetime.now(timezone.utc)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _days_ago(days: float) -> str:
    return _ts(NOW - timedelta(days=days))


def _refuse_archive(kustomer) -> None:  # type: ignore[no-untyped-def]
    """Archive search refusing a context Kustomer's reference says it serves (the fake refuses notes by itself)."""

    def answer(request, context):  # type: ignore[no-untyped-def]
        kustomer.archive_requests.append({"body": request.json()})
        context.status_code = 400
        return kustomer_error(400, f"queryContext {request.json()['queryContext']} is not supported by archive search")

    kustomer.mocker.post(f"{API_URL}{ARCHIVE_PATH}", json=answer)


def _archive_bodies(kustomer) -> List[Dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [r["body"] for r in kustomer.archive_requests]


def _window(body: Dict[str, Any]) -> tuple:
    bounds = {op: v for c in body["and"] for cond in c.values() for op, v in cond.items()}
    return bounds["gte"], bounds["lte"]


def test_windows_older_than_two_years_read_archive_search_then_search(kustomer):
    kustomer.add("customers", [kustomer_object("customer", "old", _days_ago(760)), kustomer_object("customer", "new", _days_ago(3))])
    start = (NOW - timedelta(days=800)).strftime("%Y-%m-%dT%H:%M:%SZ")

    output = read_source(ConfigBuilder().with_start_date(start).build(), catalog("customers"))

    assert sorted({r["id"] for r in records_of(output, "customers")}) == ["new", "old"]
    archive_requests = _archive_bodies(kustomer)
    archive_windows = sorted(_window(b) for b in archive_requests)
    search_windows = sorted(_window(r["body"]) for r in kustomer.search_requests)
    assert archive_windows[0][0] == start.replace("Z", ".000Z")
    # archive search only for windows that start before the horizon; search for every window reaching into it
    assert all(gte < _days_ago(729) for gte, _ in archive_windows)
    assert all(lte >= _days_ago(732) for _, lte in search_windows)
    assert archive_windows[-1] in search_windows  # the window across the horizon is read by both
    assert all(b["includeDeleted"] is True for b in archive_requests)


def test_a_recent_start_never_calls_archive_search(kustomer):
    kustomer.add("customers", [kustomer_object("customer", "new", _days_ago(3))])

    read_source(ConfigBuilder().with_start_date(_days_ago(700)[:10]).build(), catalog("customers"))

    assert kustomer.archive_requests == [] and kustomer.search_requests


def test_an_archive_refusal_warns_once_and_the_window_goes_on_with_search(kustomer):
    kustomer.add("notes", [kustomer_object("note", f"n{i}", _days_ago(700 - i)) for i in range(3)])
    start = (NOW - timedelta(days=1000)).strftime("%Y-%m-%dT%H:%M:%SZ")

    output = read_source(ConfigBuilder().with_start_date(start).build(), catalog("notes"))

    assert sorted(r["id"] for r in records_of(output, "notes")) == ["n0", "n1", "n2"]
    assert len(kustomer.archive_requests) == 1  # the sync's one window starts before the horizon
    warnings = [m.log.message for m in output.logs if m.log.level.value == "WARN" and "two years" in m.log.message]
    assert len(warnings) == 1
    assert warnings[0].startswith("notes:") and "HTTP 400" in warnings[0] and "not supported by archive search" in warnings[0]
    assert not output.errors


def test_an_archive_refusal_of_a_context_the_reference_says_it_serves_fails_the_stream_saying_why(kustomer):
    _refuse_archive(kustomer)
    kustomer.add("customers", [kustomer_object("customer", "new", _days_ago(3))])
    start = (NOW - timedelta(days=1000)).strftime("%Y-%m-%dT%H:%M:%SZ")

    output = read_source(ConfigBuilder().with_start_date(start).build(), catalog("customers"), expecting_exception=True)

    assert len(kustomer.archive_requests) == 1
    (error,) = [e.trace.error for e in output.errors if e.trace.error.stream_descriptor]
    assert error.stream_descriptor.name == "customers"
    assert "HTTP 400" in error.message and "queryContext customer is not supported by archive search" in error.message
    assert "customer objects updated more than two years ago" in error.message and "start_date" in error.message


def _audit(kustomer, events: List[Dict[str, Any]], per_page: int = AUDIT_MAX_COUNT, last_link: str = LAST_LINK_NONE) -> List[Dict[str, List[str]]]:  # type: ignore[no-untyped-def]
    """The audit log on the fake: `events` in the order they happened, answered newest first, `per_page` a page."""
    kustomer.add_audit_events(events)
    kustomer.audit_max_count, kustomer.audit_last_link = per_page, last_link
    return kustomer.audit_requests


def _event(verb: str, object_id: str, at: str, object_type: str = "customer") -> Dict[str, Any]:
    return {"type": "audit_log", "id": f"e-{object_id}-{verb}", "attributes": {
        "eventName": f"kustomer.{object_type}.{verb}", "eventVerb": verb, "objectType": object_type,
        "objectId": object_id, "createdAt": at}}


def _state(stream: str, updated_at: str) -> List[AirbyteStateMessage]:
    return [AirbyteStateMessage(type=AirbyteStateType.STREAM, stream=AirbyteStreamState(
        stream_descriptor=StreamDescriptor(name=stream), stream_state=AirbyteStateBlob(updated_at=updated_at)))]


def test_an_incremental_sync_emits_a_tombstone_per_deleted_object_from_every_audit_page(kustomer):
    since = _days_ago(5)
    kustomer.add("customers", [kustomer_object("customer", "live", _days_ago(1))])
    deleted_at_a, deleted_at_c = _days_ago(4), _days_ago(2)
    requests = _audit(kustomer, [
        _event("delete", "a", deleted_at_a), _event("update", "b", _days_ago(3)),
        _event("delete", "c", deleted_at_c), _event("delete", "x", _days_ago(2), object_type="conversation"),
    ], per_page=2)

    output = read_source(ConfigBuilder().build(), catalog("customers", sync_mode=SyncMode.incremental), _state("customers", since))

    records = {r["id"]: r for r in records_of(output, "customers")}
    assert set(records) == {"live", "a", "c"}
    assert records["a"]["deleted"] is True and records["a"]["_ab_cdc_deleted_at"] == records["a"]["updated_at"] == deleted_at_a
    assert records["c"]["_ab_cdc_deleted_at"] == deleted_at_c
    assert records["live"].get("_ab_cdc_deleted_at") is None
    assert [q["filter[objectType]"] for q in requests] == [["customer"], ["customer"]]
    assert requests[0]["filter[start]"] == [since] and requests[1]["after"] == ["e-b-update"]  # pages c, b; then a
    # tombstones come last, in the order of their deletion
    assert [r["id"] for r in records_of(output, "customers")][-2:] == ["a", "c"]


@pytest.mark.parametrize("repeat_last_link", [False, True], ids=["an empty page ends", "a repeated link ends"])
def test_an_audit_log_whose_links_next_is_never_null_is_read_to_its_end_and_no_further(kustomer, repeat_last_link):
    kustomer.search_next_always = True  # the search's last page is known by its meta, as the reference types links.next
    kustomer.add("customers", [kustomer_object("customer", "live", _days_ago(1))])
    last_link = LAST_LINK_REPEATED if repeat_last_link else LAST_LINK_PAST_THE_END
    requests = _audit(kustomer, [_event("delete", "a", _days_ago(4)), _event("delete", "c", _days_ago(2))], per_page=1, last_link=last_link)

    output = read_source(ConfigBuilder().build(), catalog("customers", sync_mode=SyncMode.incremental), _state("customers", _days_ago(5)))

    assert {r["id"] for r in records_of(output, "customers")} == {"live", "a", "c"}
    assert len(requests) == (2 if repeat_last_link else 3)
    assert not output.errors


@pytest.mark.parametrize("days_since_last_sync, warned", [(400, True), (300, False)])
def test_a_last_sync_older_than_the_audit_logs_year_warns_that_some_deletions_may_be_missed(kustomer, days_since_last_sync, warned):
    kustomer.add("customers", [kustomer_object("customer", "live", _days_ago(1))])
    _audit(kustomer, [_event("delete", "a", _days_ago(4))])

    output = read_source(ConfigBuilder().build(), catalog("customers", sync_mode=SyncMode.incremental), _state("customers", _days_ago(days_since_last_sync)))

    assert {r["id"] for r in records_of(output, "customers")} == {"live", "a"}
    warnings = [m.log.message for m in output.logs if m.log.level.value == "WARN" and "keeps events about a year" in m.log.message]
    assert len(warnings) == (1 if warned else 0)


def test_without_the_audit_role_one_warning_names_it_and_the_sync_goes_on(kustomer):
    kustomer.add("customers", [kustomer_object("customer", "live", _days_ago(1))])
    kustomer.mocker.get(f"{API_URL}{AUDIT_PATH}", status_code=403, json=kustomer_error(403, "Missing required role org.permission.audit_logs.read"))

    output = read_source(ConfigBuilder().build(), catalog("customers", sync_mode=SyncMode.incremental), _state("customers", _days_ago(5)))

    assert [r["id"] for r in records_of(output, "customers")] == ["live"]
    warnings = [m.log.message for m in output.logs if m.log.level.value == "WARN" and "audit" in m.log.message]
    assert len(warnings) == 1 and "org.permission.audit_logs.read" in warnings[0] and warnings[0].startswith("customers:")
    assert not output.errors


def test_a_sync_without_state_or_of_a_stream_the_audit_log_does_not_cover_reads_no_audit_log(kustomer):
    kustomer.add("customers", [kustomer_object("customer", "live", _days_ago(1))])
    kustomer.add("notes", [kustomer_object("note", "n", _days_ago(1))])
    requests = _audit(kustomer, [_event("delete", "a", _days_ago(1))])

    read_source(ConfigBuilder().build(), catalog("customers", sync_mode=SyncMode.incremental))
    read_source(ConfigBuilder().build(), catalog("notes", sync_mode=SyncMode.incremental), _state("notes", _days_ago(5)))

    assert requests == []


def test_soft_deleted_objects_carry_their_update_time_as_deletion_time(kustomer):
    kustomer.add("conversations", [
        kustomer_object("conversation", "gone", _days_ago(2), {"deleted": True}),
        kustomer_object("conversation", "here", _days_ago(2), {"deleted": False}),
    ])

    output = read_source(ConfigBuilder().build(), catalog("conversations"))

    records = {r["id"]: r for r in records_of(output, "conversations")}
    assert records["gone"]["_ab_cdc_deleted_at"] == records["gone"]["updated_at"]
    assert records["here"].get("_ab_cdc_deleted_at") is None


def test_saved_cursor_values_read_both_state_shapes():
    sequential = _state("customers", "2026-01-01T00:00:00.000Z")
    concurrent = [AirbyteStateMessage(type=AirbyteStateType.STREAM, stream=AirbyteStreamState(
        stream_descriptor=StreamDescriptor(name="companies"),
        stream_state=AirbyteStateBlob(state_type="date-range", slices=[{"start": "2025-01-01T00:00:00.000Z", "end": "2026-02-01T00:00:00.000Z"}])))]

    assert saved_cursor_values(sequential + concurrent) == {"customers": "2026-01-01T00:00:00.000Z", "companies": "2026-02-01T00:00:00.000Z"}


def test_the_manifest_starts_archive_search_at_the_horizon_the_components_assume():
    from source_kustomer.search import ARCHIVE_BEFORE_DAYS, SEARCH_FROM_DAYS
    from source_kustomer.source import load_manifest

    url = load_manifest()["definitions"]["search_stream"]["retriever"]["requester"]["url"]

    assert f"day_delta(-{ARCHIVE_BEFORE_DAYS}," in url
    # "Two years" back from each day of a leap-year cycle is 730 or 731 days: archive search starts a day (of clock
    # difference) before the shorter, search reaches a day past the longer.
    days = [date(2023, 1, 1) + timedelta(days=n) for n in range(4 * 366)]
    spans = {(day - _two_years_before(day)).days for day in days}
    assert ARCHIVE_BEFORE_DAYS == min(spans) - 1
    assert SEARCH_FROM_DAYS == max(spans) + 1


def _two_years_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 2)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 2, day=28)


def test_tombstones_keep_to_the_window_and_write_times_as_the_cursor_reads_them(kustomer):
    since = _days_ago(5)
    kustomer.add("customers", [kustomer_object("customer", "live", _days_ago(1))])
    deleted_at = NOW - timedelta(days=2)
    events = [
        _event("delete", "in", deleted_at.strftime("%Y-%m-%dT%H:%M:%S+00:00")),  # another ISO 8601 form
        _event("delete", "before", _days_ago(9)),  # older than the state: a server that ignored filter[start]
    ]
    kustomer.mocker.get(f"{API_URL}{AUDIT_PATH}", json={"data": events, "links": {"next": None}})

    output = read_source(ConfigBuilder().build(), catalog("customers", sync_mode=SyncMode.incremental), _state("customers", since))

    records = {r["id"]: r for r in records_of(output, "customers")}
    assert set(records) == {"live", "in"}
    assert records["in"]["updated_at"] == deleted_at.strftime("%Y-%m-%dT%H:%M:%S.000Z") == records["in"]["_ab_cdc_deleted_at"]
    assert not output.errors
