"""The connector runs through PyAirbyte: installed in its own virtualenv, reading the emulator into its default cache.

PyAirbyte (`airbyte` on PyPI) pins its own airbyte-cdk and many other packages, so it gets a virtualenv of its own:
`.venv-pyairbyte` at the repository root (or `$PYAIRBYTE_VENV`), created on first use (a fresh install takes about a
minute) and reused while it holds the pinned version, whoever made it (the README's commands make the same one).
Where PyAirbyte cannot be installed (no network, pip fails) the test is skipped with pip's reason; with
`PYAIRBYTE_REQUIRED=1` (set by CI) it fails instead.

PyAirbyte runs this repository's installed `source-kustomer` console script (`local_executable`), as a user with
`pip install airbyte-source-kustomer` would, and the test compares the DuckDB cache with the emulator's own data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import requests

from integration_tests.cli import console_script, write_json
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.expected import ids_since, metadata_properties

pytestmark = pytest.mark.pyairbyte

REPO = Path(__file__).resolve().parents[1]
PYAIRBYTE_VERSION = "0.71.3"  # `airbyte` on PyPI, the newest release at the time of writing; Python 3.10 to 3.12
SCRIPT = Path(__file__).with_name("pyairbyte_read.py")
STREAMS = ["customers", "conversations", "messages", "notes", "users", "tags", "custom_attributes"]
START_DATE = "2025-06-01T00:00:00Z"  # the emulator's data starts on 2025-01-01: some records are older
INSTALL_TIMEOUT = 900


def _unavailable(reason: str) -> None:
    message = f"PyAirbyte {PYAIRBYTE_VERSION} is not available: {reason}"
    if os.environ.get("PYAIRBYTE_REQUIRED") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip() and not line.startswith("WARNING: Location")]
    return " / ".join(lines[-count:]) or "(no output)"


def _installed_version(python: Path) -> Optional[str]:
    """The version of PyAirbyte installed for `python`, None if none is (or the interpreter does not run)."""
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version; print(version('airbyte'))"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


@pytest.fixture(scope="module")
def pyairbyte_python() -> Path:
    """The python of a virtualenv holding the pinned PyAirbyte: reused as it is, else created or updated with pip."""
    venv = Path(os.environ.get("PYAIRBYTE_VENV") or REPO / ".venv-pyairbyte")
    python = venv / "bin" / "python"
    if _installed_version(python) == PYAIRBYTE_VERSION:
        return python

    if not python.exists():
        created = subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True, check=False
        )
        if created.returncode != 0:
            _unavailable(f"`python -m venv {venv}` exited {created.returncode}: {_last_lines(created.stderr)}")
    requirement = f"airbyte=={PYAIRBYTE_VERSION}"
    try:
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
            capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False,
        )
    except subprocess.TimeoutExpired:
        _unavailable(f"`pip install {requirement}` did not finish within {INSTALL_TIMEOUT} s")
    if installed.returncode != 0:
        _unavailable(f"`pip install {requirement}` exited {installed.returncode}: {_last_lines(installed.stderr)}")
    assert _installed_version(python) == PYAIRBYTE_VERSION, "pip succeeded but PyAirbyte is not importable"
    return python


@pytest.fixture(scope="module")
def emulator():
    counts = {"customers": 400, "conversations": 300, "messages": 500, "notes": 150, "users": 30, "tags": 40}
    with KustomerEmulator(seed=14, counts=counts, tie_block=100) as running:
        yield running


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    """PyAirbyte's working directory: its default cache (`.cache/`) and its logs go here."""
    return tmp_path_factory.mktemp("pyairbyte")


def read_with_pyairbyte(python: Path, project_dir: Path, emulator: KustomerEmulator, run: str) -> Dict[str, Any]:
    request = write_json(
        project_dir / f"request-{run}.json",
        {
            "executable": console_script(),
            "config": {"api_token": DEFAULT_TOKEN, "start_date": START_DATE, "api_url": emulator.url},
            "streams": STREAMS,
        },
    )
    result = project_dir / f"result-{run}.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRBYTE_", "PYTHON", "VIRTUAL_ENV"))},
        "DO_NOT_TRACK": "1",  # no telemetry
        "AIRBYTE_OFFLINE_MODE": "1",  # no connector registry look-up: the executable is given
        "AIRBYTE_LOGGING_ROOT": str(project_dir / "logs"),
    }
    completed = subprocess.run(
        [str(python), "-I", str(SCRIPT), str(request), str(result)],
        cwd=project_dir, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert completed.returncode == 0, (completed.stdout[-3000:], completed.stderr[-3000:])
    return json.loads(result.read_text(encoding="utf-8"))


def cached_ids(result: Dict[str, Any], stream: str) -> List[str]:
    return [row["id"] for row in result["rows"][stream]]


def upsert(emulator: KustomerEmulator, stream: str, records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    response = requests.post(f"{emulator.url}/_emulator/records/{stream}", json={"records": records}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


@pytest.fixture(scope="module")
def first_read(pyairbyte_python, project_dir, emulator) -> Dict[str, Any]:
    return read_with_pyairbyte(pyairbyte_python, project_dir, emulator, "first")


def test_pyairbyte_reads_into_its_default_duckdb_cache(first_read, project_dir):
    cache = Path(first_read["cache_path"])

    assert cache == project_dir / ".cache" / "default_cache" / "default_cache.duckdb"
    assert cache.is_file() and cache.stat().st_size > 0
    assert first_read["pyairbyte_version"] == PYAIRBYTE_VERSION


@pytest.mark.parametrize("stream", [s for s in STREAMS if s != "custom_attributes"])
def test_the_cache_holds_every_record_updated_since_start_date_once(first_read, emulator, stream):
    ids = cached_ids(first_read, stream)
    expected = ids_since(emulator, stream, START_DATE)

    assert expected and len(expected) < len(emulator.records(stream)), f"start_date does not split the {stream}"
    assert len(ids) == len(expected), f"{stream}: {len(ids)} rows in the cache, {len(expected)} in the emulator"
    assert set(ids) == expected


def test_the_cache_holds_every_custom_attribute_definition(first_read, emulator):
    declared = {f"customer.{name}" for name in metadata_properties(emulator, "customer")}
    ids = cached_ids(first_read, "custom_attributes")

    assert declared and declared <= set(ids)
    assert len(ids) == len(set(ids))


def test_a_second_read_is_incremental_and_merges_changes_into_the_cache(
    first_read, pyairbyte_python, project_dir, emulator
):
    existing = cached_ids(first_read, "customers")[0]
    changed = upsert(emulator, "customers", [{"id": existing, "attributes": {"name": "changed through PyAirbyte"}}])
    added = upsert(emulator, "customers", [{"attributes": {"name": "new through PyAirbyte"}}])

    second = read_with_pyairbyte(pyairbyte_python, project_dir, emulator, "second")

    first_total = sum(len(rows) for rows in first_read["rows"].values())
    assert second["processed_records"] < first_total / 2, "the second read was not incremental"
    customers = {row["id"]: row["name"] for row in second["rows"]["customers"]}
    assert len(customers) == len(second["rows"]["customers"]), "a changed record was appended, not merged"
    assert set(customers) == set(cached_ids(first_read, "customers")) | {added[0]["id"]}
    assert customers[changed[0]["id"]] == "changed through PyAirbyte"
    assert customers[added[0]["id"]] == "new through PyAirbyte"
