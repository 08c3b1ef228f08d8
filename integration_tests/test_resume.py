"""A first sync killed late resumes from its last state and re-reads at most about 10,000 records per stream.

A search-backed stream reads several windows at once; its state saves every finished window, and each window in
flight checkpoints at every search-cap restart and every 1,000 records (`source_kustomer.cdk_internals`), so a sync
killed at any point re-reads about 1,000 records per window in flight when it resumes, whatever its date range.
(A start date years before the first object: `test_search_windows.py`.)
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from integration_tests.cli import configured_catalog, console_script, parse_message, run_cli, write_json
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.test_search_windows import SearchLog

pytestmark = pytest.mark.e2e

CUSTOMERS = 100_000
KILL_AFTER = 60_000
START_DATE = "2019-01-01T00:00:00Z"  # years before the org's first object


@pytest.fixture(scope="module")
def emulator():
    with KustomerEmulator(seed=31, counts={"customers": CUSTOMERS}, tie_block=0) as running:
        yield running


def _read_until_killed(args: List[str], workdir: Path, kill_after: int) -> tuple:
    """Runs `read`, kills it (SIGKILL) once `kill_after` customers were written; returns (ids written, last state)."""
    process = subprocess.Popen([console_script(), *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    ids: List[str] = []
    last_state: Optional[Dict[str, Any]] = None
    states_seen = 0
    for line in process.stdout:
        message = parse_message(line)
        if message is None:
            continue
        if message["type"] == "RECORD" and message["record"]["stream"] == "customers":
            ids.append(message["record"]["data"]["id"])
            if len(ids) >= kill_after:
                process.send_signal(signal.SIGKILL)
                break
        elif message["type"] == "STATE" and message["state"].get("stream"):
            last_state = message["state"]
            states_seen += 1
    process.wait(timeout=60)
    return ids, last_state, states_seen


def test_a_first_sync_killed_late_resumes_from_its_last_checkpoint(emulator, tmp_path):
    config = write_json(tmp_path / "config.json", {"api_token": DEFAULT_TOKEN, "start_date": START_DATE, "api_url": emulator.url})
    discovered = run_cli(["discover", "--config", str(config)], tmp_path).of_type("CATALOG")[0]["catalog"]
    catalog = write_json(tmp_path / "catalog.json", configured_catalog(discovered, ["customers"], incremental=True))

    with SearchLog(emulator) as log:
        first_ids, last_state, states_seen = _read_until_killed(["read", "--config", str(config), "--catalog", str(catalog)], tmp_path, KILL_AFTER)
    windows = len(log.windows("customers"))

    assert len(first_ids) == KILL_AFTER
    assert last_state is not None and states_seen >= KILL_AFTER // 10_000 - 1, states_seen
    state = write_json(tmp_path / "state.json", [last_state])
    second = run_cli(["read", "--config", str(config), "--catalog", str(catalog), "--state", str(state)], tmp_path)

    assert second.exit_code == 0 and not second.errors(), second.errors()
    second_ids = set(second.id_counts("customers"))
    expected = {o["id"] for o in emulator.records("customers")}
    assert set(first_ids) | second_ids == expected  # no id missing
    read_twice = len(set(first_ids) & second_ids)
    print(f"killed after {len(first_ids):,} customers ({windows} windows, {states_seen} states); resumed: {len(second_ids):,}, read twice {read_twice:,}")
    assert windows > 1  # several windows were in flight
    assert read_twice <= 10_500
