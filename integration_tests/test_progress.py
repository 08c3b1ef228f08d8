"""Progress and proof of completeness, through the installed CLI against the emulator: ESTIMATE traces, the line
each stream ends with, and the emulator's models of what no source settles about Kustomer (criteria it ignores,
pages out of order, users' default filters, a search index that finds updates late, a cap on meta.total)."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

from airbyte_cdk.models import AirbyteMessageSerializer, EstimateType, TraceType, Type
from integration_tests.cli import Run, configured_catalog, run_cli, write_json
from integration_tests.demo import expected_count
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator

pytestmark = pytest.mark.e2e

START_DATE = "2015-01-01T00:00:00Z"  # before every object of the emulator: Kustomer's count is the stream's
SEARCH_STREAMS = ["customers", "conversations", "messages", "notes", "kobjects", "companies"]
PROOF = re.compile(
    r"^(?P<stream>\S+): Kustomer counted (?P<at_least>at least )?(?P<counted>[\d,]+) (?:\(.*?\) )?records for the range synced; "
    r"emitted (?P<emitted>[\d,]+) records \((?P<unique>[\d,]+) unique ids\)"
)
WARNING = re.compile(r"^(?P<stream>\S+) may be incomplete: Kustomer counted (?P<counted>[\d,]+) records .* the sync emitted (?P<emitted>[\d,]+)")


def number(text: str) -> int:
    return int(text.replace(",", ""))


def logs(run: Run, level: str) -> List[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == level]


def proofs(run: Run) -> Dict[str, Dict[str, Any]]:
    found = {}
    for line in logs(run, "INFO"):
        match = PROOF.match(line)
        if match:
            found[match["stream"]] = {"counted": number(match["counted"]), "at_least": bool(match["at_least"]),
                                      "emitted": number(match["emitted"]), "unique": number(match["unique"]), "line": line}
    return found


def warnings_of_shortfall(run: Run) -> Dict[str, Tuple[int, int]]:
    return {m["stream"]: (number(m["counted"]), number(m["emitted"])) for m in map(WARNING.match, logs(run, "WARN")) if m}


def estimates(run: Run) -> List[Tuple[int, Dict[str, Any]]]:
    """(position in the output, the message) of every ESTIMATE trace."""
    return [(i, m) for i, m in enumerate(run.messages) if m["type"] == "TRACE" and m["trace"]["type"] == "ESTIMATE"]


def connect(emulator: KustomerEmulator, workdir: Path, tag: str) -> Tuple[Path, Dict[str, Any]]:
    """A config for the emulator from START_DATE, and the catalog discover answers with it."""
    config_path = write_json(workdir / f"config_{tag}.json", {"api_token": DEFAULT_TOKEN, "start_date": START_DATE, "api_url": emulator.url})
    run = run_cli(["discover", "--config", str(config_path)], workdir)
    assert run.exit_code == 0, run.stdout[-2000:]
    return config_path, run.of_type("CATALOG")[0]["catalog"]


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    """The emulator (seed 19, the default counts), a work directory, a config and the discovered catalog."""
    workdir = tmp_path_factory.mktemp("progress")
    with KustomerEmulator(seed=19) as running:
        yield (running, workdir, *connect(running, workdir, "org"))


@pytest.fixture(scope="module")
def emulator(org) -> KustomerEmulator:
    return org[0]


@pytest.fixture(scope="module")
def workdir(org) -> Path:
    return org[1]


@pytest.fixture(scope="module")
def config_path(org) -> Path:
    return org[2]


@pytest.fixture(scope="module")
def catalog(org) -> Dict[str, Any]:
    return org[3]


def read(config_path: Path, catalog: Dict[str, Any], workdir: Path, streams: Optional[List[str]] = None,
         state: Optional[List[Any]] = None, tag: str = "run") -> Run:
    catalog_path = write_json(workdir / f"catalog_{tag}.json", configured_catalog(catalog, streams, incremental=True))
    args = ["read", "--config", str(config_path), "--catalog", str(catalog_path)]
    if state is not None:
        args += ["--state", str(write_json(workdir / f"state_{tag}.json", state))]
    return run_cli(args, workdir)


@pytest.fixture(scope="module")
def ordinary(config_path, catalog, workdir) -> Run:
    run = read(config_path, catalog, workdir, tag="ordinary")
    assert run.exit_code == 0 and not run.errors(), (run.errors(), run.stderr[-2000:])
    return run


# -- an ordinary run ----------------------------------------------------------------------------------------------


def test_estimates_are_valid_airbyte_messages_of_stream_row_estimates(ordinary, catalog):
    found = estimates(ordinary)
    names = {s["name"] for s in catalog["streams"]}
    assert {m["trace"]["estimate"]["name"] for _i, m in found} >= set(SEARCH_STREAMS) | {"users", "tags"}
    for _i, message in found:
        parsed = AirbyteMessageSerializer.load(message)  # the protocol's own model
        assert parsed.type == Type.TRACE and parsed.trace.type == TraceType.ESTIMATE
        assert parsed.trace.estimate.type == EstimateType.STREAM and parsed.trace.estimate.name in names
        assert isinstance(parsed.trace.estimate.row_estimate, int) and parsed.trace.estimate.row_estimate >= 0


def test_the_first_estimate_of_a_stream_comes_before_most_of_its_records(ordinary):
    first_estimate: Dict[str, int] = {}
    for position, message in estimates(ordinary):
        first_estimate.setdefault(message["trace"]["estimate"]["name"], position)
    records: Dict[str, List[int]] = {}
    for position, message in enumerate(ordinary.messages):
        if message["type"] == "RECORD":
            records.setdefault(message["record"]["stream"], []).append(position)
    for stream, position in first_estimate.items():
        after = sum(1 for p in records.get(stream, []) if p > position)
        assert after > len(records.get(stream, [])) / 2, (stream, position, records.get(stream, [])[:3])


def test_the_final_estimate_of_each_stream_is_the_number_of_records_it_wrote(ordinary):
    final = {m["trace"]["estimate"]["name"]: m["trace"]["estimate"]["row_estimate"] for _i, m in estimates(ordinary)}
    assert final
    for stream, estimate in final.items():
        assert estimate == len(ordinary.id_counts(stream)), stream


def test_each_stream_ends_with_a_line_of_kustomers_count_and_what_was_emitted_matching_the_emulator(ordinary, emulator, catalog):
    found = proofs(ordinary)
    counted_streams = [s["name"] for s in catalog["streams"] if s["name"] != "custom_attributes"]
    assert set(found) == set(counted_streams)
    for stream in counted_streams:
        expected = expected_count(emulator, stream)
        line = found[stream]
        # users: Kustomer counts the deactivated users under the default listing and under deleted=true
        assert line["counted"] >= expected if stream == "users" else line["counted"] == expected, line["line"]
        assert line["unique"] == expected == len(ordinary.id_counts(stream)), line["line"]
        assert line["line"].endswith(": complete."), line["line"]
    assert "custom_attributes: emitted" in " ".join(logs(ordinary, "INFO"))


def test_each_line_comes_after_the_streams_last_record_and_before_its_complete_status(ordinary):
    last_record: Dict[str, int] = {}
    line_at: Dict[str, int] = {}
    complete_at: Dict[str, int] = {}
    for position, message in enumerate(ordinary.messages):
        if message["type"] == "RECORD":
            last_record[message["record"]["stream"]] = position
        elif message["type"] == "LOG" and PROOF.match(message["log"]["message"]):
            line_at[PROOF.match(message["log"]["message"])["stream"]] = position
        elif message["type"] == "TRACE" and message["trace"]["type"] == "STREAM_STATUS" and message["trace"]["stream_status"]["status"] == "COMPLETE":
            complete_at[message["trace"]["stream_status"]["stream_descriptor"]["name"]] = position
    assert line_at
    for stream, position in line_at.items():
        assert last_record[stream] < position < complete_at[stream], stream


def test_an_ordinary_run_has_no_shortfall_warning(ordinary):
    assert not warnings_of_shortfall(ordinary)
    assert not [w for w in logs(ordinary, "WARN") if "incomplete" in w or "out of updated_at order" in w]


def test_progress_costs_no_request(emulator, config_path, catalog, workdir, ordinary):
    """The counts come with the pages the sync reads anyway: the same requests as the records need."""
    emulator.reset()
    run = read(config_path, catalog, workdir, ["customers", "tags"], tag="requests")
    by_endpoint = emulator.stats()["by_endpoint"]
    horizon = emulator.search_horizon()
    old = sum(1 for r in run.records("customers") if r["updated_at"] < horizon)
    new = len(run.records("customers")) - old
    assert proofs(run)["customers"]["counted"] == len(run.id_counts("customers"))
    assert by_endpoint.get("POST /v1/customers/archive/search:customer", 0) == max(1, -(-old // 500))
    assert by_endpoint.get("POST /v1/customers/search:customer", 0) == max(1, -(-new // 500))


# -- what Kustomer may do otherwise ------------------------------------------------------------------------------


@pytest.fixture
def configured(emulator):
    """Sets emulator settings for one test, and puts the previous ones back."""
    before = dict(emulator.config)
    yield emulator.configure
    emulator.configure(**{key: before[key] for key in ("ignored_criteria", "search_order", "users_default",
                                                       "index_lag_seconds", "total_cap", "search_cap")})


def complete_or_warned(run: Run, emulator: KustomerEmulator, stream: str) -> str:
    """A run never exits 0 short and silent: every record arrived, or a WARN names the stream with both figures."""
    assert run.exit_code == 0 and not run.errors(), run.errors()
    wrote = len(run.id_counts(stream))
    expected = expected_count(emulator, stream)
    if wrote >= expected:
        return "complete"
    warned = warnings_of_shortfall(run)
    assert stream in warned, (stream, wrote, expected, logs(run, "WARN"))
    counted, emitted = warned[stream]
    assert counted >= expected and emitted == len(run.records(stream)) and emitted < counted
    return "warned"


def test_search_criteria_kustomer_ignores_still_sync_every_company(emulator, configured, config_path, catalog, workdir):
    configured(ignored_criteria=["company_updated_at"])
    first = read(config_path, catalog, workdir, ["companies"], tag="ignored1")
    assert complete_or_warned(first, emulator, "companies") == "complete"
    second = read(config_path, catalog, workdir, ["companies"], state=first.state_messages(), tag="ignored2")
    assert second.exit_code == 0 and not warnings_of_shortfall(second)


def test_search_pages_out_of_order_past_the_search_cap_warn_with_both_figures(emulator, configured, config_path, catalog, workdir):
    """Out of order, the restart after the cap continues from an updated_at that is not the last one: records go
    missing, and the sync says so."""
    configured(search_order="shuffled", search_cap=300)
    run = read(config_path, catalog, workdir, ["customers"], tag="shuffled")
    assert complete_or_warned(run, emulator, "customers") == "warned"


def test_a_capped_meta_total_is_read_as_at_least_and_never_warns(configured, workdir):
    with KustomerEmulator(seed=3, counts={"customers": 12_000}) as big:
        big.configure(total_cap=10_000)
        config, catalog = connect(big, workdir, "capped")
        run = read(config, catalog, workdir, ["customers"], tag="capped")
        assert complete_or_warned(run, big, "customers") == "complete"
        line = proofs(run)["customers"]
        assert line["at_least"] and line["counted"] == 10_000 and line["unique"] == 12_000, line["line"]
        final = [m["trace"]["estimate"]["row_estimate"] for _i, m in estimates(run)]
        assert final[-1] == 12_000 and not warnings_of_shortfall(run)


@pytest.mark.parametrize("default", ["all", "active_only", "ignored"])
def test_deactivated_and_invited_users_arrive_exactly_once_whatever_the_default(emulator, configured, config_path, catalog, workdir, default):
    invited = emulator.upsert("users", [{"attributes": {"pending": True, "name": f"Invited {default} {n}"}} for n in range(3)])
    deactivated = emulator.upsert("users", [{"attributes": {"deletedAt": "2026-01-01T00:00:00.000Z", "name": f"Gone {default}"}}])
    configured(users_default=default)
    run = read(config_path, catalog, workdir, ["users"], tag=f"users_{default}")
    ids = run.id_counts("users")
    assert set(ids) == {u["id"] for u in emulator.records("users")}
    assert {u["id"] for u in invited + deactivated} <= set(ids)
    assert max(ids.values()) == 1
    assert complete_or_warned(run, emulator, "users") == "complete"
    assert proofs(run)["users"]["unique"] == len(ids) and not warnings_of_shortfall(run)


def test_an_update_search_finds_late_is_read_by_the_next_incremental_sync(emulator, configured, config_path, catalog, workdir):
    """Search finds one update 5 s late, a later one at once: a sync in between reads the later one, and its state
    passes the first. The next sync reads the minute before that state again, and gets the late update."""
    first = read(config_path, catalog, workdir, ["conversations"], tag="lag1")
    configured(index_lag_seconds=5)
    late = emulator.upsert("conversations", [{"attributes": {"subject": "found late"}}])[0]
    configured(index_lag_seconds=0)
    time.sleep(0.01)
    prompt = emulator.upsert("conversations", [{"attributes": {"subject": "found at once"}}])[0]
    second = read(config_path, catalog, workdir, ["conversations"], state=first.state_messages(), tag="lag2")
    assert late["id"] not in second.id_counts("conversations") and prompt["id"] in second.id_counts("conversations")
    assert second.final_states()["conversations"]["updated_at"] > late["attributes"]["updatedAt"]
    time.sleep(5.5)
    third = read(config_path, catalog, workdir, ["conversations"], state=second.state_messages(), tag="lag3")
    assert late["id"] in third.id_counts("conversations")
    # The cost: the records updated in the minute before the saved state are read again (the prompt one).
    assert sorted(third.id_counts("conversations")) == sorted([late["id"], prompt["id"]])


def test_the_lookback_re_reads_the_records_of_the_minute_before_the_state_and_no_more(emulator, config_path, catalog, workdir):
    now = datetime.now(timezone.utc)
    stamps = [now - timedelta(seconds=s) for s in (170, 130, 90, 50, 30, 10)]
    emulator.upsert("notes", [{"attributes": {"updatedAt": t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}} for t in stamps])
    first = read(config_path, catalog, workdir, ["notes"], tag="cost1")
    saved = datetime.fromisoformat(first.final_states()["notes"]["updated_at"].replace("Z", "+00:00"))
    again = read(config_path, catalog, workdir, ["notes"], state=first.state_messages(), tag="cost2")
    within = sum(1 for t in stamps if t >= saved - timedelta(minutes=1))
    assert len(again.records("notes")) == within
    assert Counter(r["id"] for r in again.records("notes")).most_common(1)[0][1] == 1 if within else True
