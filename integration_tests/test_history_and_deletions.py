"""The warehouse equals the org: objects older than the two-year search horizon, soft and hard deletions.

The installed CLI against the emulator, which models Kustomer's horizon (search matches the last two years, archive
search the older objects and not notes), `includeDeleted`, soft deletes (`deleted: true`), hard deletes and the audit
log that records them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest

from integration_tests.cli import discovered_catalog, emulator_config, Run, configured_catalog, run_cli, write_json
from integration_tests.emulator import DEFAULT_TOKEN, NO_AUDIT_TOKEN, KustomerEmulator
from integration_tests.emulator.search import ARCHIVE_CONTEXTS
from integration_tests.expected import ids_since
from integration_tests.streams import SEARCH_CONTEXTS, SEARCH_STREAMS
from integration_tests.test_end_to_end import _expected_record

pytestmark = pytest.mark.e2e

ARCHIVED_STREAMS = [s for s in SEARCH_STREAMS if SEARCH_CONTEXTS[s] in ARCHIVE_CONTEXTS]  # archive search refuses notes
COUNTS = {"customers": 400, "conversations": 300, "messages": 500, "notes": 150, "kobjects": 120, "companies": 60}
OLD_PER_STREAM = 25
AUDIT_ROLE = "org.permission.audit_logs.read"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


NOW = datetime.now(timezone.utc)
START_DATE = (NOW - timedelta(days=3 * 365)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def emulator():
    with KustomerEmulator(seed=23, counts=COUNTS, tie_block=0) as running:
        # Objects last updated 2.1 to 2.9 years ago: only archive search serves them.
        for stream in SEARCH_STREAMS:
            old = []
            for i in range(OLD_PER_STREAM):
                updated = NOW - timedelta(days=770 + i * 11, seconds=i)
                old.append({"attributes": {"name": f"archived {i}", "updatedAt": _iso(updated),
                                           "createdAt": _iso(updated - timedelta(days=30))}})
            running.upsert(stream, old)
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("history")


def _config(emulator: KustomerEmulator, workdir: Path, token: str = DEFAULT_TOKEN) -> Path:
    return emulator_config(workdir, emulator.url, START_DATE, token)


@pytest.fixture(scope="module")
def catalog(emulator, workdir) -> Dict[str, Any]:
    return discovered_catalog(_config(emulator, workdir), workdir)


@pytest.fixture(scope="module")
def full_read(emulator, catalog, workdir) -> Run:
    emulator.reset()
    catalog_path = write_json(workdir / "catalog_full.json", configured_catalog(catalog, SEARCH_STREAMS))
    run = run_cli(["read", "--config", str(_config(emulator, workdir)), "--catalog", str(catalog_path)], workdir)
    assert run.exit_code == 0 and not run.errors(), (run.errors(), run.stderr[-2000:])
    return run


def _warnings(run: Run) -> List[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


@pytest.mark.parametrize("stream", ARCHIVED_STREAMS)
def test_a_full_read_from_three_years_back_delivers_objects_older_than_two_years(full_read, emulator, stream):
    horizon = emulator.search_horizon()
    expected = ids_since(emulator, stream, START_DATE)
    old = {o["id"] for o in emulator.records(stream) if o["attributes"]["updatedAt"] < horizon}

    delivered = set(full_read.id_counts(stream))

    assert len(old) >= OLD_PER_STREAM
    assert old <= delivered
    assert delivered == expected


def test_archive_search_is_used_for_the_old_part_of_the_range_only(full_read, emulator):
    endpoints = emulator.stats()["by_endpoint"]

    # the sync's one window starts three years back: one archive search (25 old objects, one page) per stream, then
    # the searches of the last two years
    for stream, context in (("customers", "customer"), ("kobjects", "kobject")):
        assert endpoints.get(f"POST /v1/customers/archive/search:{context}") == 1, stream
        assert endpoints.get(f"POST /v1/customers/search:{context}", 0) >= 1, stream


def test_a_stream_archive_search_refuses_exits_0_with_one_warning_naming_it(full_read, emulator):
    warnings = [w for w in _warnings(full_read) if "more than two years ago" in w]

    assert len(warnings) == 1
    assert warnings[0].startswith("notes:") and "HTTP 400" in warnings[0] and "note" in warnings[0]
    recent = ids_since(emulator, "notes", emulator.search_horizon())
    assert recent <= set(full_read.id_counts("notes"))


@pytest.mark.parametrize("stream", ARCHIVED_STREAMS)
def test_archived_records_have_the_shape_and_schema_of_searched_ones(full_read, emulator, catalog, stream):
    horizon = emulator.search_horizon()
    schema = next(s["json_schema"] for s in catalog["streams"] if s["name"] == stream)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    records = full_read.records(stream)
    old = [r for r in records if r["updated_at"] < horizon]
    recent = [r for r in records if r["updated_at"] >= horizon and not r.get("deleted")]

    assert old and recent
    assert not [e.message for r in records for e in validator.iter_errors(r)][:5]
    # the record shape of test_end_to_end, whichever search served the object
    originals = {o["id"]: o for o in emulator.records(stream)}
    for record in old + recent[:50]:
        expected = _expected_record(originals[record["id"]])
        if expected.get("deleted") is True:
            expected["_ab_cdc_deleted_at"] = expected["updated_at"]
        assert record == expected, record["id"]


def test_every_search_stream_declares_ab_cdc_deleted_at(catalog):
    for stream in catalog["streams"]:
        if stream["name"] in SEARCH_STREAMS:
            column = stream["json_schema"]["properties"]["_ab_cdc_deleted_at"]
            assert column == {**column, "type": ["null", "string"], "format": "date-time"}, stream["name"]


def test_deleted_at_is_set_exactly_on_deleted_objects(full_read):
    records = [r for s in SEARCH_STREAMS for r in full_read.records(s)]

    assert any(r.get("deleted") is True for r in records)  # the sample org has soft-deleted objects
    for record in records:
        if record.get("deleted") is True:
            assert record["_ab_cdc_deleted_at"] == record["updated_at"], record["id"]
        else:
            assert record.get("_ab_cdc_deleted_at") is None, record["id"]


def _deletions_scenario(emulator: KustomerEmulator, catalog: Dict[str, Any], workdir: Path, token: str, tag: str):
    """Run 1, then soft deletes and hard deletes in the org, then an incremental run 2 from run 1's state."""
    config_path = _config(emulator, workdir, token)
    catalog_path = write_json(workdir / f"catalog_incremental_{tag}.json", configured_catalog(catalog, SEARCH_STREAMS, incremental=True))
    first = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path)], workdir)
    assert first.exit_code == 0 and not first.errors(), first.errors()
    state_path = write_json(workdir / f"state_{tag}.json", first.state_messages())

    soft: Dict[str, set] = {}
    for stream in ("conversations", "messages", "notes"):
        live = [o for o in emulator.records(stream) if not o["attributes"].get("deleted")][:4]
        soft[stream] = {o["id"] for o in emulator.upsert(stream, [{"id": o["id"], "attributes": {"deleted": True}} for o in live])}
    hard: Dict[str, set] = {}
    for stream in ("customers", "companies"):
        hard[stream] = set(emulator.hard_delete(stream, [o["id"] for o in emulator.records(stream)[5:9]]))
    # a live change too, so run 2 has something besides deletions
    changed = {o["id"] for o in emulator.upsert("customers", [{"id": emulator.records("customers")[0]["id"], "attributes": {"name": "changed"}}])}

    emulator.reset()
    second = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path), "--state", str(state_path)], workdir)
    return first, second, soft, hard, changed


@pytest.fixture(scope="module")
def deletions(emulator, catalog, workdir, full_read):
    return _deletions_scenario(emulator, catalog, workdir, DEFAULT_TOKEN, "audit")


def test_soft_and_hard_deletes_reach_the_next_incremental_sync(deletions, emulator):
    _first, second, soft, hard, changed = deletions

    assert second.exit_code == 0 and not second.errors(), second.errors()
    for stream, ids in {**soft, **hard}.items():
        rows = [r for r in second.records(stream) if r["id"] in ids]
        assert {r["id"] for r in rows} == ids, stream
        assert all(r["deleted"] is True and r["_ab_cdc_deleted_at"] for r in rows), stream
    # a tombstone: the deleted id, its deletion time, and nothing that could move the cursor past unread records
    for stream, ids in hard.items():
        tombstones = [r for r in second.records(stream) if r["id"] in ids]
        assert all(r["_ab_cdc_deleted_at"] == r["updated_at"] for r in tombstones)
        assert len(tombstones) == len(ids), f"{stream}: one tombstone per deleted object"
    assert changed <= set(second.id_counts("customers"))


def test_no_live_record_ever_carries_a_deletion_time(deletions):
    first, second, _soft, _hard, _changed = deletions

    for run in (first, second):
        for stream in SEARCH_STREAMS:
            for record in run.records(stream):
                assert (record.get("_ab_cdc_deleted_at") is not None) == (record.get("deleted") is True), (stream, record["id"])


def test_an_incremental_sync_from_recent_state_never_calls_archive_search(deletions, emulator):
    endpoints = emulator.stats()["by_endpoint"]

    assert not [e for e in endpoints if "archive" in e]
    assert any(e.startswith("GET /v1/audit-logs") for e in endpoints)


def test_without_the_audit_role_soft_deletes_still_arrive_and_one_warning_names_the_role(emulator, catalog, workdir, deletions):
    first, second, soft, hard, _changed = _deletions_scenario(emulator, catalog, workdir, NO_AUDIT_TOKEN, "no_audit")

    assert second.exit_code == 0 and not second.errors(), second.errors()
    for stream, ids in soft.items():
        assert ids <= {r["id"] for r in second.records(stream) if r.get("_ab_cdc_deleted_at")}, stream
    for stream, ids in hard.items():
        assert not ids & set(second.id_counts(stream)), stream
    warnings = [w for w in _warnings(second) if AUDIT_ROLE in w]
    # one per stream the audit log would cover
    assert sorted(w.split(":")[0] for w in warnings) == ["companies", "conversations", "customers", "messages"]


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503, "count": 2, "path": "/v1/audit-logs"},
        {"kind": "rate_limit", "count": 1, "path": "/v1/audit-logs"},
        {"kind": "invalid_json", "count": 1, "path": "/v1/audit-logs"},
        {"kind": "status", "status": 502, "count": 2, "path": "/archive/search"},
        {"kind": "truncated", "count": 1, "path": "/archive/search"},
    ],
    ids=["audit-503", "audit-429", "audit-malformed", "archive-502", "archive-truncated"],
)
def test_a_failing_audit_log_or_archive_answer_is_retried(emulator, catalog, workdir, deletions, fault):
    stream = "customers"
    config_path = _config(emulator, workdir)
    catalog_path = write_json(workdir / "catalog_customers.json", configured_catalog(catalog, [stream], incremental=True))
    hard = set(emulator.hard_delete(stream, [o["id"] for o in emulator.records(stream)[20:22]]))
    old_state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"updated_at": START_DATE.replace("Z", ".000Z")}}}]
    state_path = write_json(workdir / "state_fault.json", old_state)
    emulator.reset()
    emulator.add_fault(**fault)

    run = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path), "--state", str(state_path)], workdir)

    assert run.exit_code == 0 and not run.errors(), run.errors()
    assert emulator.stats()["faults_applied"] >= 1
    assert hard <= {r["id"] for r in run.records(stream) if r.get("_ab_cdc_deleted_at")}
    assert ids_since(emulator, stream, START_DATE) <= set(run.id_counts(stream))


def test_an_audit_log_error_that_cannot_be_retried_fails_the_stream_with_kustomers_reason(emulator, catalog, workdir, deletions):
    stream = "companies"
    config_path = _config(emulator, workdir)
    catalog_path = write_json(workdir / "catalog_companies.json", configured_catalog(catalog, [stream], incremental=True))
    recent = {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"updated_at": _iso(NOW - timedelta(days=2))}}}
    state_path = write_json(workdir / "state_failing.json", [recent])
    emulator.reset()
    emulator.add_fault("status", count=1, path="/v1/audit-logs", status=400)

    run = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path), "--state", str(state_path)], workdir)

    assert run.exit_code != 0 and run.errors()
    assert any("HTTP 400" in e["message"] and "audit-logs" in e["message"] for e in run.errors()), run.errors()
