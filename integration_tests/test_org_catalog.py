"""The rest of the org's catalog through the installed CLI against the emulator: the change history (audit_logs), the
knowledge base, SLA versions, workflows, queue rules and the smaller lists.

The streams under test are the manifest's streams that name a role in their $parameters (the ones a key may lack).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest

from integration_tests.cli import discovered_catalog, emulator_config, configured_catalog, run_cli, write_json
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.emulator.audit import add_event
from integration_tests.emulator.auth import NO_KB_WORKFLOW_TOKEN
from integration_tests.emulator.org_catalog import add_sla_version
from integration_tests.expected import ids_since
from source_kustomer.errors import stream_roles

pytestmark = pytest.mark.e2e

ORG_STREAMS = list(stream_roles())
START_DATE = "2024-06-01T00:00:00Z"
COUNTS = {"customers": 60, "conversations": 60, "messages": 60, "notes": 10, "kobjects": 10, "companies": 10}
# More events than one audit-log page (count=1000) holds: the reading pages whichever way the log is ordered.
EXTRA_EVENTS = 1100


@pytest.fixture(scope="module")
def emulator():
    with KustomerEmulator(seed=7, counts=COUNTS, tie_block=0) as running:
        conversations = [c["id"] for c in running.records("conversations")]
        for n in range(EXTRA_EVENTS):
            add_event(running, "conversations", conversations[n % len(conversations)], "update",
                      {"attributes": {"status": {"op": "replace", "before": "open", "after": "snoozed"}}})
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("org_catalog")


def _config(emulator: KustomerEmulator, workdir: Path, token: str = DEFAULT_TOKEN) -> Path:
    return emulator_config(workdir, emulator.url, START_DATE, token)


@pytest.fixture(scope="module")
def catalog(emulator, workdir) -> Dict[str, Any]:
    return discovered_catalog(_config(emulator, workdir), workdir)


def _read(emulator, workdir, catalog, streams: List[str], token: str = DEFAULT_TOKEN, state: Any = None, name: str = "read"):
    catalog_path = write_json(workdir / f"catalog-{name}.json", configured_catalog(catalog, streams, incremental=True))
    args = ["read", "--config", str(_config(emulator, workdir, token)), "--catalog", str(catalog_path)]
    if state is not None:
        args += ["--state", str(write_json(workdir / f"state-{name}.json", state))]
    return run_cli(args, workdir)


def _audit_ids(emulator: KustomerEmulator) -> List[str]:
    return sorted(ids_since(emulator, "audit_logs", START_DATE))


@pytest.fixture(scope="module")
def full_read(emulator, workdir, catalog):
    run = _read(emulator, workdir, catalog, ORG_STREAMS, name="full")
    assert run.exit_code == 0 and not run.errors(), (run.errors(), run.stderr[-2000:])
    return run


def test_the_org_streams_are_the_manifests_streams_with_a_role(catalog):
    assert {"audit_logs", "kb_articles", "sla_versions", "workflows", "queue_rules", "saved_searches"} <= set(ORG_STREAMS)
    assert set(ORG_STREAMS) <= {s["name"] for s in catalog["streams"]}


@pytest.mark.parametrize("stream", ORG_STREAMS)
def test_a_full_read_equals_the_emulators_ids_and_validates(full_read, catalog, emulator, stream):
    counts = full_read.id_counts(stream)
    schema = next(s["json_schema"] for s in catalog["streams"] if s["name"] == stream)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    records = full_read.records(stream)

    assert counts and set(counts) == ids_since(emulator, stream, START_DATE)
    assert all(count == 1 for count in counts.values())
    problems = [f"{r.get('id')}: {e.json_path}: {e.message}" for r in records for e in validator.iter_errors(r)]
    assert not problems, problems[:10]


def test_audit_events_keep_kustomers_changes_and_expiry(full_read, emulator):
    events = {r["id"]: r for r in full_read.records("audit_logs")}
    with emulator.store.lock:
        raw = {e["id"]: e["attributes"] for e in emulator.store.audit}

    changed = [r for r in events.values() if r["changes"]]
    assert changed
    for record in changed:
        assert record["changes"] == raw[record["id"]]["changes"]  # field names of one word: snake_casing keeps them
        assert record["expires_at"] == raw[record["id"]]["expiresAt"]
        assert record["object_id"] == raw[record["id"]]["objectId"]


def test_soft_deleted_articles_carry_their_deletion_and_bodies_are_kept_where_given(full_read, emulator):
    articles = {r["id"]: r for r in full_read.records("kb_articles")}
    raw = {o["id"]: o["attributes"] for o in emulator.records("kb_articles")}

    deleted = [i for i, a in raw.items() if a["deleted"]]
    assert deleted and len(deleted) < len(raw)
    assert all(articles[i]["_ab_cdc_deleted_at"] == articles[i]["updated_at"] for i in deleted)
    assert all(articles[i].get("_ab_cdc_deleted_at") is None for i in raw if i not in deleted)  # nulls are left out of records
    with_body = [i for i, a in raw.items() if "htmlBody" in a]
    assert with_body and len(with_body) < len(raw)
    assert all(articles[i]["html_body"] == raw[i]["htmlBody"] for i in with_body)
    assert all("html_body" not in articles[i] for i in raw if i not in with_body)


def test_workflow_variables_are_never_synced(full_read, emulator):
    secrets = [o["attributes"]["variables"]["apiKey"]["value"] for o in emulator.records("workflows")]

    assert secrets
    assert all("variables" not in r for r in full_read.records("workflows"))
    assert not any(secret in full_read.stdout for secret in secrets)
    assert not any("variables" in path for path in emulator.stats()["by_endpoint"])


def test_sla_versions_come_from_the_per_sla_route_and_join_to_their_sla(full_read, emulator):
    versions = full_read.records("sla_versions")

    assert {r["sla_id"] for r in versions} == {s["id"] for s in emulator.records("slas")}
    assert all(r["sla_data"]["id"] == r["sla_id"] for r in versions)


@pytest.mark.parametrize("order", ["newest_first_before", "newest_first", "oldest_first"])
def test_audit_logs_twice_emit_each_event_exactly_once(emulator, workdir, catalog, order):
    emulator.configure(audit_order=order)
    try:
        first = _read(emulator, workdir, catalog, ["audit_logs"], name=f"audit-1-{order}")
        assert first.exit_code == 0 and not first.errors(), first.stderr[-2000:]
        conversations = [c["id"] for c in emulator.records("conversations")]
        new = [add_event(emulator, "conversations", conversations[n], "update",
                         {"attributes": {"status": {"op": "replace", "before": "snoozed", "after": "done"}}})["id"] for n in range(5)]
        second = _read(emulator, workdir, catalog, ["audit_logs"], state=first.state_messages(), name=f"audit-2-{order}")
        assert second.exit_code == 0 and not second.errors(), second.stderr[-2000:]
    finally:
        emulator.configure(audit_order="newest_first")

    first_ids = [r["id"] for r in first.records("audit_logs")]
    assert len(first_ids) > 1000 and sorted(first_ids) == sorted(set(_audit_ids(emulator)) - set(new))
    assert sorted(r["id"] for r in second.records("audit_logs")) == sorted(new)


def test_a_version_added_to_an_sla_appears_in_the_next_sync(emulator, workdir, catalog):
    before = _read(emulator, workdir, catalog, ["sla_versions"], name="sla-1")
    sla = emulator.records("slas")[0]["id"]
    added = add_sla_version(emulator, sla)
    after = _read(emulator, workdir, catalog, ["sla_versions"], state=before.state_messages(), name="sla-2")

    assert added["id"] not in set(before.id_counts("sla_versions"))
    assert set(after.id_counts("sla_versions")) == set(before.id_counts("sla_versions")) | {added["id"]}


def test_a_key_without_the_kb_and_workflow_roles_syncs_the_rest_with_one_warning_per_role(emulator, workdir, catalog):
    run = _read(emulator, workdir, catalog, ORG_STREAMS, token=NO_KB_WORKFLOW_TOKEN, name="no-kb-workflow")
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    refused = {stream for stream, roles in stream_roles().items() if roles[0] in ("org.permission.kb.read", "org.permission.workflow.read")}

    assert run.exit_code == 0 and not run.errors(), (run.errors(), run.stderr[-2000:])
    assert refused == {"kb_articles", "kb_categories", "kb_tags", "kb_knowledge_bases", "workflows"}
    for stream in ORG_STREAMS:
        assert bool(run.records(stream)) is (stream not in refused), stream
    for role in ("org.permission.kb.read", "org.permission.workflow.read"):
        assert len([w for w in warnings if f"lacks {role}" in w]) == 1, (role, warnings)
    assert NO_KB_WORKFLOW_TOKEN not in run.stdout + run.stderr


def test_check_names_the_roles_the_key_lacks(emulator, workdir):
    run = run_cli(["check", "--config", str(_config(emulator, workdir, NO_KB_WORKFLOW_TOKEN))], workdir)
    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    warnings = " ".join(m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN")

    assert status["status"] == "SUCCEEDED"
    assert "org.permission.kb.read for kb_articles, kb_categories, kb_tags, kb_knowledge_bases" in warnings
    assert "org.permission.workflow.read for workflows" in warnings
    assert "audit_logs" not in warnings and NO_KB_WORKFLOW_TOKEN not in run.stdout + run.stderr
