"""End to end through the installed CLI: how work flowed (conversation times, queues, team routing settings, routing
statuses, work sessions, snoozes) against the emulator's routing family (integration_tests/emulator/routing.py)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Dict, List

import pytest

from integration_tests.cli import configured_catalog, run_cli, write_json
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.emulator.routing import ENDPOINTS, NO_ROUTING_TOKEN
from source_kustomer.errors import stream_roles

START_DATE = "2024-06-01T00:00:00Z"
# {stream: (the role named to users, other roles that grant it)}: the manifest's streams a key may lack the role of.
ROLE_STREAMS = stream_roles()
ROUTING_STREAMS = sorted(ENDPOINTS)
NEW_STREAMS = ["conversation_times", *ROUTING_STREAMS]


def test_the_manifest_names_the_roles_of_every_new_stream():
    assert set(NEW_STREAMS) <= set(ROLE_STREAMS)


@pytest.fixture(scope="module")
def emulator():
    with KustomerEmulator(seed=7, counts={"customers": 300, "conversations": 300, "messages": 100,
                                          "conversation_times": 1500, "work_sessions": 450}) as running:
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("routing")


def _config(emulator: KustomerEmulator, workdir: Path, token: str = DEFAULT_TOKEN, name: str = "config.json") -> Path:
    return write_json(workdir / name, {"api_token": token, "start_date": START_DATE, "api_url": emulator.url})


@pytest.fixture(scope="module")
def catalog(emulator, workdir) -> Dict[str, Any]:
    run = run_cli(["discover", "--config", str(_config(emulator, workdir))], workdir)
    assert run.exit_code == 0, run.stdout[-2000:]
    return run.of_type("CATALOG")[0]["catalog"]


def _horizon() -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=730)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _expected_ids(emulator: KustomerEmulator, stream: str) -> set:
    """What a sync from START_DATE reads: conversation times created since (and within search's two years), other
    objects updated since."""
    since = START_DATE.replace("Z", ".000Z")
    if stream == "conversation_times":
        since = max(since, _horizon())
        return {o["id"] for o in emulator.records(stream) if o["attributes"]["createdAt"] >= since}
    return {o["id"] for o in emulator.records(stream) if o["attributes"]["updatedAt"] >= since}


def _warnings(run) -> List[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


def test_discover_lists_each_new_stream_with_its_cursor(catalog):
    streams = {s["name"]: s for s in catalog["streams"]}
    for name in NEW_STREAMS:
        assert streams[name]["source_defined_primary_key"] == [["id"]]
        assert streams[name]["default_cursor_field"] == ["created_at" if name == "conversation_times" else "updated_at"]


def test_a_full_read_delivers_every_object_of_each_new_stream(emulator, catalog, workdir):
    catalog_path = write_json(workdir / "full.json", configured_catalog(catalog, NEW_STREAMS))
    run = run_cli(["read", "--config", str(_config(emulator, workdir)), "--catalog", str(catalog_path)], workdir)

    assert run.exit_code == 0 and not run.errors(), (run.errors(), run.stderr[-2000:])
    for stream in NEW_STREAMS:
        assert set(run.id_counts(stream)) == _expected_ids(emulator, stream), stream
    queues = run.records("queues")
    assert [q["name"] for q in queues if q["system"]] == ["DEFAULT_QUEUE"]
    # some conversation times are older than search's two years: unreachable, and said once
    older = {o["id"] for o in emulator.records("conversation_times") if o["attributes"]["createdAt"] < _horizon()}
    assert older and not older & set(run.id_counts("conversation_times"))
    assert len([w for w in _warnings(run) if w.startswith("conversation_times: objects created more than two years")]) == 1
    # never sent to archive search, which refuses the context
    assert not any("archive" in endpoint for endpoint in emulator.stats()["by_endpoint"])


# The search cursor's lookback (manifest.yaml): an incremental sync reads that much before the saved end again.
LOOKBACK = datetime.timedelta(minutes=1)


def _time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_second_incremental_sync_delivers_new_conversation_times_and_sessions_that_ended(emulator, catalog, workdir):
    streams = ["conversation_times", "work_sessions"]
    config_path = _config(emulator, workdir)
    catalog_path = write_json(workdir / "incremental.json", configured_catalog(catalog, streams, incremental=True))
    first = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path)], workdir)
    assert first.exit_code == 0 and not first.errors(), first.errors()
    state_path = write_json(workdir / "state.json", first.state_messages())
    saved = first.final_states()

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    new_times = emulator.upsert("conversation_times", [{"attributes": {"createdAt": now, "handleTime": 60}} for _ in range(3)])
    active = [o for o in emulator.records("work_sessions") if o["attributes"]["active"]]
    ended = emulator.upsert("work_sessions", [{"id": active[0]["id"], "attributes": {"active": False, "signedOutAt": now}}])
    started = emulator.upsert("work_sessions", [{"attributes": {"active": True, "signedInAt": now, "signedOutAt": None}}])
    before = dict(emulator.stats()["by_endpoint"])

    second = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path), "--state", str(state_path)], workdir)

    assert second.exit_code == 0 and not second.errors(), second.errors()
    # exactly those, but for the records the next sync reads again: conversation times (read in windows, their state
    # the ranges read) created in the search cursor's lookback minute before the end saved, and the work sessions at
    # the saved cursor value itself (the next listing starts there, inclusive)
    saved_end = _time(max(piece["end"] for piece in saved["conversation_times"]["slices"]))
    boundary = {
        "conversation_times": {r["id"] for r in first.records("conversation_times") if _time(r["created_at"]) >= saved_end - LOOKBACK},
        "work_sessions": {r["id"] for r in first.records("work_sessions") if r["updated_at"] == saved["work_sessions"]["updated_at"]},
    }
    changed = {"conversation_times": {o["id"] for o in new_times}, "work_sessions": {o["id"] for o in ended + started}}
    for stream in streams:
        delivered = set(second.id_counts(stream))
        assert changed[stream] <= delivered and delivered - changed[stream] <= boundary[stream], stream
    signed_out = [r for r in second.records("work_sessions") if r["id"] == active[0]["id"]][0]
    assert signed_out["active"] is False and signed_out["signed_out_at"] == now
    # work sessions: the pages of what changed plus one, not the whole list (450 sessions, 5 pages)
    after = emulator.stats()["by_endpoint"]
    assert after["GET /v1/routing/work-sessions"] - before["GET /v1/routing/work-sessions"] == 1


def test_a_key_without_the_routing_roles_syncs_the_rest_with_one_warning_per_missing_role(emulator, catalog, workdir):
    streams = [*NEW_STREAMS, "users"]
    catalog_path = write_json(workdir / "no_routing.json", configured_catalog(catalog, streams))
    config_path = _config(emulator, workdir, NO_ROUTING_TOKEN, "no_routing_config.json")

    run = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path)], workdir)

    assert run.exit_code == 0 and not run.errors(), run.errors()
    assert set(run.id_counts("users")) == _expected_ids(emulator, "users")
    assert set(run.id_counts("conversation_times")) == _expected_ids(emulator, "conversation_times")
    lacking = [w for w in _warnings(run) if "lacks" in w]
    # one warning per role the key lacks, naming the streams that need it
    assert sorted(w.split()[4] for w in lacking) == sorted({ROLE_STREAMS[stream][0] for stream in ROUTING_STREAMS})
    for stream in ROUTING_STREAMS:
        assert len([w for w in lacking if f"lacks {ROLE_STREAMS[stream][0]} " in w and stream in w]) == 1, (stream, lacking)
        assert not run.records(stream)


def test_check_names_the_roles_the_streams_lack(emulator, workdir):
    run = run_cli(["check", "--config", str(_config(emulator, workdir, NO_ROUTING_TOKEN, "check.json"))], workdir)
    assert run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    warning = [w for w in _warnings(run) if "lacks roles some streams need" in w]
    assert len(warning) == 1
    for stream in ROUTING_STREAMS:
        assert f"{ROLE_STREAMS[stream][0]} for " in warning[0] and stream in warning[0], (stream, warning[0])
    full = run_cli(["check", "--config", str(_config(emulator, workdir))], workdir)
    assert not [w for w in _warnings(full) if "lacks roles" in w]


@pytest.mark.parametrize("kind, status", [("status", 503), ("truncated", None), ("invalid_json", None), ("drop", None)])
def test_bad_or_truncated_answers_are_retried(emulator, catalog, workdir, kind, status):
    emulator.add_fault(kind, count=1, path="/v1/routing/work-sessions", status=status)
    emulator.add_fault(kind, count=1, path="/v1/routing/queues", status=status)
    emulator.add_fault(kind, count=1, path="/v1/customers/search", method="POST", status=status)
    catalog_path = write_json(workdir / f"faults_{kind}.json", configured_catalog(catalog, ["conversation_times", "queues", "work_sessions"]))

    run = run_cli(["read", "--config", str(_config(emulator, workdir)), "--catalog", str(catalog_path)], workdir)

    assert run.exit_code == 0 and not run.errors(), run.errors()
    for stream in ("conversation_times", "queues", "work_sessions"):
        assert set(run.id_counts(stream)) == _expected_ids(emulator, stream), stream
    assert emulator.stats()["faults_applied"] >= 3


def test_a_refused_request_is_reported_naming_kustomers_reason(emulator, catalog, workdir):
    emulator.add_fault("status", count=1, path="/v1/snoozes", status=400, body={"errors": [{"detail": "pageSize is not valid"}]})
    catalog_path = write_json(workdir / "refused.json", configured_catalog(catalog, ["snoozes", "queues"]))

    run = run_cli(["read", "--config", str(_config(emulator, workdir)), "--catalog", str(catalog_path)], workdir)

    refusals = [e for e in run.errors() if "HTTP 400" in e["message"]]
    assert run.exit_code != 0 and len(refusals) == 1 and "snoozes" in refusals[0]["message"]
    assert "pageSize is not valid" in refusals[0]["message"]
    assert set(run.id_counts("queues")) == _expected_ids(emulator, "queues")


def test_conversation_times_over_the_search_cap_are_read_whole_in_any_order(workdir):
    """25,000 conversation times spread over two years and 11,000 more created within one day, the emulator ignoring
    the sort asked for (newest first): the range is read in windows planned from its count, and the window holding
    that day, over the 10,000-result cap, is split until each part fits, so nothing relies on the order."""
    with KustomerEmulator(seed=3, counts={"customers": 50, "conversations": 50, "messages": 10, "conversation_times": 25_000}) as big:
        day = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=100)).replace(hour=0, minute=0, second=0, microsecond=0)
        busy = [day + datetime.timedelta(seconds=7 * i) for i in range(11_000)]
        big.upsert("conversation_times", [{"attributes": {"createdAt": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "handleTime": 60}} for at in busy])
        discovered = run_cli(["discover", "--config", str(_config(big, workdir, name="big.json"))], workdir)
        catalog_path = write_json(workdir / "big_catalog.json", configured_catalog(discovered.of_type("CATALOG")[0]["catalog"], ["conversation_times"]))

        run = run_cli(["read", "--config", str(_config(big, workdir, name="big.json")), "--catalog", str(catalog_path)], workdir)

        assert run.exit_code == 0 and not run.errors(), run.errors()
        expected = _expected_ids(big, "conversation_times")
        assert set(run.id_counts("conversation_times")) == expected and max(run.id_counts("conversation_times").values()) == 1
        assert not [w for w in _warnings(run) if "order" in w]
        stats = big.stats()
        # windows planned from the plan's one-record search: at least one per 8,000 conversation times, read side by
        # side (a window split in two reads its halves one after the other)
        searched = [entry for entry in stats["search_log"] if entry[1] == "conversation_time"]
        assert searched[0][3] == 1, searched[0]  # the plan
        spans: Dict[str, List[float]] = {}
        for at, _context, _page, _returned, _gte, lte in searched[1:]:
            spans.setdefault(lte, [at, at])[1] = at
        windows = sorted(spans.values())
        assert len(windows) >= len(expected) // 8_000, windows
        assert any(later[0] < earlier[1] for earlier, later in zip(windows, windows[1:])), "no two windows read at once"
        # the busy day's window was split (one rejected first page per split), the others were not
        logs = [m["log"]["message"] for m in run.of_type("LOG")]
        splits = [m for m in logs if "rejected request window" in m]
        assert 1 <= len(splits) <= 12, splits
        searches = stats["by_endpoint"]["POST /v1/customers/search:conversation_time"]
        # the pages, a partly filled last page per window or part, the plan's search and each split's first page
        assert searches <= len(expected) / 500 + len(windows) + 2 * len(splits) + 1, (searches, len(windows), len(splits))
        assert not stats["status_counts"].get("400")  # never past the cap
        # the proof counts every window and part: Kustomer's count is what was read
        assert any(m.startswith(f"conversation_times: Kustomer counted {len(expected):,} records") and m.endswith("complete.") for m in logs), \
            [m for m in logs if m.startswith("conversation_times:")]
