"""Airbyte's own connector checks (metadata schema, connectors QA, changelog, CDK schema, acceptance-test spec rules),
as ../shared/airbyte-qa/check.py re-implements them offline, stay green.

check.py runs on this checkout with this interpreter (the dev dependencies hold what it needs: jsonschema,
referencing, pyyaml, markdown-it-py, pydantic, the CDK). Where check.py is not there the test skips, saying where it
looked; AIRBYTE_QA_CHECK names another copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECK = Path(os.environ.get("AIRBYTE_QA_CHECK") or REPO.parent / "shared" / "airbyte-qa" / "check.py")

# The failures the project's layout decides, as check.py's README names them: a Dockerfile kept for `docker run`
# users (QA-S2, X-9), manifest.yaml and schemas/ kept at the top level (QA-M2, X-10), and no upstream pull request to
# cite in the changelog's Pull Request column (DOC-CL).
BY_DESIGN = {"QA-S2", "X-9", "QA-M2", "X-10", "DOC-CL"}
# check.py's own extra rule, not one of Airbyte's: the manifest before the CDK resolves its `$ref`s. The streams
# list is `$ref`s to definitions (as the Connector Builder writes it), which validate only once resolved; CDK-3
# checks the resolved manifest, as the CDK does.
ACCEPTED_WARNINGS = {"CDK-2"}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> List[Dict[str, Any]]:
    if not CHECK.is_file():
        pytest.skip(f"Airbyte's checks are not on this machine ({CHECK}); set AIRBYTE_QA_CHECK to check.py's path")
    out = tmp_path_factory.mktemp("airbyte-qa") / "results.json"
    # This checkout's package first, as pytest imports it: check.py builds the source from the manifest, whose custom
    # components it imports (the interpreter's installed copy may be another checkout's).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, str(CHECK), str(REPO), "--json", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert out.is_file(), f"check.py wrote no results (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


def described(results: List[Dict[str, Any]], statuses: set) -> Dict[str, str]:
    return {r["id"]: f"{r['check']}: {r['evidence']}" for r in results if r["status"] in statuses}


def cursor_fields() -> Dict[str, Optional[str]]:
    """{schema file name: the cursor field of the stream it serves (None for full refresh)}, from the manifest."""
    from integration_tests.streams import resolved_manifest

    fields: Dict[str, Optional[str]] = {}
    for stream in resolved_manifest()["streams"]:
        parameters = stream.get("$parameters") or {}
        name = parameters.get("schema_name") or parameters.get("name") or stream.get("name")
        fields[f"{name}.json"] = (stream.get("incremental_sync") or {}).get("cursor_field")
    return fields


def false_cursor_alarms(evidence: str) -> bool:
    """CDK-5 assumes every stream has an `updated_at` cursor: an append-only stream's is `created_at`, a full refresh one has none. True when each
    problem CDK-5 names is that alarm, for a stream whose real cursor field (and `id`) its schema does declare."""
    fields = cursor_fields()
    problems = evidence.split("; ")
    for problem in problems:
        file_name, _, what = problem.partition(": ")
        cursor = fields.get(file_name)
        properties = json.loads((REPO / "schemas" / file_name).read_text(encoding="utf-8")).get("properties", {})
        if what != "primary key/cursor field not in schema" or cursor == "updated_at" or not {"id", cursor or "id"} <= set(properties):
            return False
    return bool(problems)


def test_no_check_fails_but_the_ones_the_layout_decides(results):
    failing = described(results, {"FAIL", "ERROR"})
    cdk5 = next((r for r in results if r["id"] == "CDK-5"), None)
    if cdk5 is not None and cdk5["status"] == "FAIL" and false_cursor_alarms(cdk5["evidence"]):
        failing.pop("CDK-5")

    assert set(failing) - BY_DESIGN == set(), {k: v for k, v in failing.items() if k not in BY_DESIGN}


def test_every_schema_declares_its_streams_primary_key_and_cursor_field():
    for file_name, cursor in cursor_fields().items():
        properties = json.loads((REPO / "schemas" / file_name).read_text(encoding="utf-8")).get("properties", {})
        assert {"id", cursor or "id"} <= set(properties), file_name


def test_the_changelog_fails_only_for_its_pull_request_column(results):
    changelog = next(r for r in results if r["id"] == "DOC-CL")
    problems = changelog["evidence"].split(": ", 1)[1].split("; ")

    assert [p for p in problems if not p.startswith("Pull Request cell")] == [], changelog["evidence"]


def test_no_check_warns(results):
    warning = described(results, {"WARN"})

    assert set(warning) - ACCEPTED_WARNINGS == set(), warning


def test_every_check_ran(results):
    """A check that skips for a missing dependency checks nothing: only the network-bound ones may skip."""
    skipped = described(results, {"SKIP"})

    assert all("needs" in evidence and ("network" in evidence or "Docker Hub" in evidence) for evidence in skipped.values()), skipped
