"""List-backed streams: users, teams, tags, shortcuts, slas, klasses, brands, business_schedules and satisfaction_forms
(no server-side filter: every sync reads the whole list and incremental syncs keep what changed since the state)."""

from typing import Dict, List

import pytest

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.test.state_builder import StateBuilder

from unit_tests.builders import API_URL, LIST_MAX_PAGE, LIST_PATHS, OBJECT_TYPES, TOKEN, ConfigBuilder, catalog, kustomer_object, records_of
from unit_tests.conftest import read_source

LIST_STREAMS = sorted(LIST_PATHS)


def objects(stream: str, updated: List[str]) -> List[Dict]:
    return [kustomer_object(OBJECT_TYPES[stream], f"{stream[0]}{i:04d}", at) for i, at in enumerate(updated)]


def day(n: int) -> str:
    return f"2025-03-{n:02d}T08:00:00.000Z"


def requests_to(kustomer, stream: str):
    """The stream's requests; of klasses, those for enabled klasses (the stream asks for each status in turn); of users,
    those without a status filter (the stream also lists deleted=true and pending=true)."""
    return [
        r
        for r in kustomer.mocker.request_history
        if r.path == LIST_PATHS[stream] and r.qs.get("status", ["enabled"]) == ["enabled"] and not {"deleted", "pending"} & set(r.qs)
    ]


def cursor_value(stream_state: Dict) -> Dict:
    """A list stream's state; klasses (one partition per klass status) keep the cursor of all partitions in `state`."""
    return stream_state.get("state", stream_state)


def incremental(stream: str, state: Dict = None):  # type: ignore[assignment]
    configured = catalog(stream, sync_mode=SyncMode.incremental)
    return configured, (StateBuilder().with_stream_state(stream, state).build() if state else None)


@pytest.mark.parametrize("stream", LIST_STREAMS)
def test_each_list_stream_gets_its_path_with_the_endpoints_largest_page(kustomer, stream):
    kustomer.add(stream, objects(stream, [day(1)]))

    output = read_source(ConfigBuilder().build(), catalog(stream))

    assert [r["id"] for r in records_of(output, stream)] == [f"{stream[0]}0000"]
    (request,) = requests_to(kustomer, stream)
    assert request.method == "GET"
    assert request.qs["pagesize"] == [str(LIST_MAX_PAGE[stream])]
    assert request.qs.get("page", ["1"]) == ["1"]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("stream", LIST_STREAMS)
def test_pages_are_numbered_from_1_and_followed_until_links_next_is_null(kustomer, stream):
    page = LIST_MAX_PAGE[stream]
    everything = objects(stream, [day(1 + i % 28) for i in range(2 * page + 1)])
    kustomer.add(stream, everything)

    output = read_source(ConfigBuilder().build(), catalog(stream))

    got = [r["id"] for r in records_of(output, stream)]
    # users: three listings read at once (no filter, deleted=true, pending=true), each user written once
    assert (sorted(got) if stream == "users" else got) == [o["id"] for o in everything]
    assert [r.qs.get("page", ["1"]) for r in requests_to(kustomer, stream)] == [["1"], ["2"], ["3"]]


def test_a_full_page_whose_links_next_is_null_is_the_last_one(kustomer):
    kustomer.add("tags", objects("tags", [day(1)] * LIST_MAX_PAGE["tags"]))

    output = read_source(ConfigBuilder().build(), catalog("tags"))

    assert len(records_of(output, "tags")) == LIST_MAX_PAGE["tags"]
    assert len(requests_to(kustomer, "tags")) == 1


def test_page_size_from_config_is_used_up_to_each_endpoints_maximum(kustomer):
    kustomer.add("users", objects("users", [day(1)] * 301))
    kustomer.add("tags", objects("tags", [day(1)] * 101))

    output = read_source(ConfigBuilder().set("page_size", 300).build(), catalog("users", "tags"))

    assert len(records_of(output, "users")) == 301 and len(records_of(output, "tags")) == 101
    assert {r.qs["pagesize"][0] for r in requests_to(kustomer, "users")} == {"300"}
    assert {r.qs["pagesize"][0] for r in requests_to(kustomer, "tags")} == {"100"}


def test_records_are_flattened_with_updated_at_at_the_top_level(kustomer):
    kustomer.add("teams", [kustomer_object("team", "tm1", day(3), attributes={"displayName": "Tier 1", "memberIds": ["u1"]})])

    (record,) = records_of(read_source(ConfigBuilder().build(), catalog("teams")), "teams")

    assert record["display_name"] == "Tier 1" and record["member_ids"] == ["u1"]
    assert record["updated_at"] == day(3)
    assert record["org"] == {"type": "org", "id": "org1"}


@pytest.mark.parametrize("stream", LIST_STREAMS)
def test_full_refresh_returns_every_record_updated_since_start_date(kustomer, stream):
    everything = objects(stream, [day(9), day(1), day(20), day(5)])
    kustomer.add(stream, everything)

    output = read_source(ConfigBuilder().with_start_date("2025-01-01").build(), catalog(stream))

    assert [r["id"] for r in records_of(output, stream)] == [o["id"] for o in everything]


def test_records_updated_before_start_date_are_not_replicated(kustomer):
    kustomer.add("shortcuts", objects("shortcuts", ["2024-12-31T23:59:59.999Z", "2025-01-01T00:00:00.000Z", day(2)]))

    output = read_source(ConfigBuilder().with_start_date("2025-01-01").build(), catalog("shortcuts"))

    assert [r["id"] for r in records_of(output, "shortcuts")] == ["s0001", "s0002"]


@pytest.mark.parametrize("stream", LIST_STREAMS)
def test_incremental_with_state_emits_only_records_updated_at_or_after_the_state(kustomer, stream):
    kustomer.add(stream, objects(stream, [day(1), day(12), day(10), day(9), day(15)]))
    configured, state = incremental(stream, {"updated_at": day(10)})

    output = read_source(ConfigBuilder().build(), configured, state)

    assert sorted(r["updated_at"] for r in records_of(output, stream)) == [day(10), day(12), day(15)]
    assert kustomer.list_requests and all(r["stream"] == stream for r in kustomer.list_requests)


@pytest.mark.parametrize("stream", LIST_STREAMS)
def test_incremental_state_out_is_the_greatest_updated_at_read(kustomer, stream):
    kustomer.add(stream, objects(stream, [day(3), day(27), day(14), day(8)]))
    configured, _ = incremental(stream)

    output = read_source(ConfigBuilder().build(), configured)

    assert len(records_of(output, stream)) == 4
    assert cursor_value(output.most_recent_state.stream_state.__dict__) == {"updated_at": day(27)}


@pytest.mark.parametrize("stream", ["users", "klasses"])
def test_the_next_incremental_sync_emits_only_what_changed_since_the_last(kustomer, stream):
    kustomer.add(stream, objects(stream, [day(3), day(7), day(5)]))
    kustomer.objects[stream][2]["attributes"]["status"] = "disabled"  # of klasses, one partition each
    configured, _ = incremental(stream)
    first = read_source(ConfigBuilder().build(), configured)
    state = first.most_recent_state.stream_state.__dict__

    kustomer.objects[stream][0]["attributes"]["updatedAt"] = day(21)
    kustomer.objects[stream][2]["attributes"]["updatedAt"] = day(22)
    second = read_source(ConfigBuilder().build(), configured, StateBuilder().with_stream_state(stream, state).build())

    first_letter = stream[0]
    # the second record shares the state's updated_at
    assert sorted(r["id"] for r in records_of(second, stream)) == [f"{first_letter}0000", f"{first_letter}0001", f"{first_letter}0002"]
    assert cursor_value(second.most_recent_state.stream_state.__dict__) == {"updated_at": day(22)}


def test_a_state_ahead_of_every_record_emits_nothing_and_keeps_the_state(kustomer):
    kustomer.add("tags", objects("tags", [day(1), day(2)]))
    configured, state = incremental("tags", {"updated_at": day(25)})

    output = read_source(ConfigBuilder().build(), configured, state)

    assert records_of(output, "tags") == []
    assert output.most_recent_state.stream_state.__dict__ == {"updated_at": day(25)}


def test_users_are_listed_without_a_filter_then_deactivated_then_invited_and_each_written_once(kustomer):
    """Kustomer's reference documents `deleted` and `pending` without their default; this fake ignores both (every
    listing answers every user): the three listings are asked for, and no user is written twice."""
    kustomer.add("users", objects("users", [day(1 + i % 28) for i in range(30)]))

    output = read_source(ConfigBuilder().build(), catalog("users"))

    asked = {tuple(sorted((k, v[0]) for k, v in r.qs.items() if k in ("deleted", "pending"))) for r in kustomer.mocker.request_history if r.path == "/v1/users"}
    assert asked == {(), (("deleted", "true"),), (("pending", "true"),)}
    ids = [r["id"] for r in records_of(output, "users")]
    assert len(ids) == len(set(ids)) == 30


def test_a_read_builds_only_the_streams_its_catalog_selects_and_a_substream_its_parent(kustomer, monkeypatch):
    # The CDK builds every stream of the manifest for a read; building the other 30-odd costs each sync start-up CPU.
    built: List[str] = []
    build = ConcurrentDeclarativeSource._create_streams

    def spy(source, selected_configs, all_configs):  # type: ignore[no-untyped-def]
        streams = build(source, selected_configs, all_configs)
        built.extend(stream.name for stream in streams)
        return streams

    monkeypatch.setattr(ConcurrentDeclarativeSource, "_create_streams", spy)
    kustomer.add("tags", [kustomer_object("tag", "t1", "2025-03-01T00:00:00.000Z", {"name": "vip"})])
    kustomer.mocker.get(f"{API_URL}/v1/slas", json={"data": [kustomer_object("sla", "s1", "2025-03-01T00:00:00.000Z", {"name": "first reply"})], "links": {}})
    kustomer.mocker.get(f"{API_URL}/v1/slas/s1", json={"data": {}, "included": [{"type": "sla-version", "id": "s1-v1", "attributes": {"version": 1}}]})

    output = read_source(ConfigBuilder().build(), catalog("tags", "sla_versions"))

    assert sorted(built) == ["sla_versions", "tags"]
    assert [r["id"] for r in records_of(output, "tags")] == ["t1"]
    assert [r["id"] for r in records_of(output, "sla_versions")] == ["s1-v1"]


def test_a_list_read_in_no_updated_at_order_saves_no_state_before_it_is_read_whole(kustomer):
    # 2,500 tags listed newest first: a checkpoint after 1,000 records would save as read everything updated before
    # the 1,000th, and a sync failing after it would skip the older ones not read yet next time.
    times = [f"2025-03-{1 + i // 100:02d}T{(i % 100) // 60:02d}:{i % 60:02d}:00.000Z" for i in range(2_500)][::-1]
    kustomer.add("tags", [kustomer_object("tag", f"t{i:05d}", at, {"name": f"tag {i}"}) for i, at in enumerate(times)])
    configured, _ = incremental("tags")

    output = read_source(ConfigBuilder().build(), configured)

    assert len(records_of(output, "tags")) == 2_500
    saved = [cursor_value(m.state.stream.stream_state.__dict__).get("updated_at") for m in output.state_messages]
    assert saved and all(value in (None, max(times)) for value in saved), sorted(set(saved))[:3]
