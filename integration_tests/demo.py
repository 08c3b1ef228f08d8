"""`make demo`: the installed connector against the bundled Kustomer emulator, from spec to a full read.

Starts the emulator with sample data (including objects older than Kustomer's two-year search horizon), runs
`source-kustomer spec`, `check`, `discover` and `read` of every stream through the real CLI, shows a progress line
while reading (records read of those Kustomer counted, from the connector's ESTIMATE traces) and a per-stream table
(with Kustomer's count, the records archive search served and the deleted ones), then deletes
objects in the org and shows what an incremental second read delivers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List

from integration_tests.cli import console_script, parse_message, parse_messages
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.expected import custom_attribute_ids, ids_since
from integration_tests.streams import SEARCH_STREAMS, emulator_stream

START_DATE = "2024-01-01T00:00:00Z"


def cli() -> List[str]:
    try:
        return [console_script()]
    except RuntimeError:
        sys.exit("source-kustomer is not installed: run `make demo` (it installs the connector into .venv)")


def run_command(args: List[str]) -> List[Dict[str, Any]]:
    completed = subprocess.run(cli() + args, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-3000:] + completed.stderr[-3000:])
        sys.exit(f"source-kustomer {args[0]} failed with exit code {completed.returncode}")
    return parse_messages(completed.stdout)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="kustomer-demo-"))
    with KustomerEmulator(seed=42) as emulator:
        config = {"api_token": DEFAULT_TOKEN, "start_date": START_DATE, "api_url": emulator.url}
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(config))
        print(f"Kustomer emulator on {emulator.url} (sample org, seed 42)")
        add_history(emulator)

        spec = next(m for m in run_command(["spec"]) if m["type"] == "SPEC")
        print(f"spec      {len(spec['spec']['connectionSpecification']['properties'])} config fields: "
              + ", ".join(spec["spec"]["connectionSpecification"]["properties"]))

        status = next(m for m in run_command(["check", "--config", str(config_path)]) if m["type"] == "CONNECTION_STATUS")
        print(f"check     {status['connectionStatus']['status']}")
        if status["connectionStatus"]["status"] != "SUCCEEDED":
            sys.exit(status["connectionStatus"].get("message"))

        catalog = next(m for m in run_command(["discover", "--config", str(config_path)]) if m["type"] == "CATALOG")["catalog"]
        names = [s["name"] for s in catalog["streams"]]
        print(f"discover  {len(names)} streams: {', '.join(names)}")

        configured = {
            "streams": [
                {
                    "stream": stream,
                    "sync_mode": "incremental" if "incremental" in stream["supported_sync_modes"] else "full_refresh",
                    "destination_sync_mode": "append_dedup",
                    "cursor_field": stream.get("default_cursor_field") or [],
                    "primary_key": [["id"]],
                }
                for stream in catalog["streams"]
            ]
        }
        catalog_path = workdir / "catalog.json"
        catalog_path.write_text(json.dumps(configured))
        states = read_all(config_path, catalog_path, names, emulator)
        read_deletions(config_path, catalog_path, workdir, states, emulator)
    shutil.rmtree(workdir, ignore_errors=True)


def is_search_backed(stream: str) -> bool:
    return stream in SEARCH_STREAMS or stream.startswith("kobjects_")


def add_history(emulator: KustomerEmulator) -> None:
    """Twenty objects per search-backed stream last updated 2.1 to 2.7 years ago: only archive search serves them."""
    now = datetime.now(timezone.utc)
    for stream in SEARCH_STREAMS:
        old = []
        for i in range(20):
            updated = now - timedelta(days=770 + 9 * i)
            old.append({"attributes": {"updatedAt": updated.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                       "createdAt": (updated - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}})
        emulator.upsert(emulator_stream(stream), old)


def read_deletions(config_path: Path, catalog_path: Path, workdir: Path, states: List[Any], emulator: KustomerEmulator) -> None:
    """Soft-deletes conversations, messages and notes and deletes customers and companies for good, then reads again
    from the first read's state: every deletion arrives as a record with `_ab_cdc_deleted_at` set."""
    deleted = Counter()
    for stream in ("conversations", "messages", "notes"):
        live = [o for o in emulator.records(stream) if not o["attributes"].get("deleted")][:5]
        deleted[stream] = len(emulator.upsert(stream, [{"id": o["id"], "attributes": {"deleted": True}} for o in live]))
    for stream in ("customers", "companies"):
        deleted[stream] = len(emulator.hard_delete(stream, [o["id"] for o in emulator.records(stream)[:3]]))
    state_path = workdir / "state.json"
    state_path.write_text(json.dumps(states))
    output = run_command(["read", "--config", str(config_path), "--catalog", str(catalog_path), "--state", str(state_path)])
    rows = Counter()
    for message in output:
        if message["type"] == "RECORD" and message["record"]["data"].get("_ab_cdc_deleted_at"):
            rows[message["record"]["stream"]] += 1
    print()
    print("incremental read after deleting objects in the org (soft: conversations, messages, notes; for good: customers, companies)")
    print(f"{'stream':<18}{'deleted in org':>16}{'deleted rows read':>19}")
    for stream in sorted(deleted):
        print(f"{stream:<18}{deleted[stream]:>16,}{rows[stream]:>19,}")


def read_all(config_path: Path, catalog_path: Path, names: List[str], emulator: KustomerEmulator) -> List[Any]:
    """Reads every stream, prints the per-stream table and returns the last state message of each stream."""
    counts: Counter = Counter()
    estimated: Dict[str, int] = {}  # Kustomer's count per stream, from the connector's ESTIMATE traces
    archived: Counter = Counter()
    deleted: Counter = Counter()
    warnings: List[str] = []
    state_messages: Dict[str, Any] = {}
    horizon = emulator.search_horizon()
    states: Dict[str, Any] = {}
    errors: List[str] = []
    started = time.monotonic()
    process = subprocess.Popen(
        cli() + ["read", "--config", str(config_path), "--catalog", str(catalog_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    last_progress = 0.0
    for line in process.stdout:
        message = parse_message(line)
        if message is None:
            continue
        if message["type"] == "RECORD":
            record = message["record"]
            counts[record["stream"]] += 1
            if is_search_backed(record["stream"]) and (record["data"].get("updated_at") or horizon) < horizon:
                archived[record["stream"]] += 1
            if record["data"].get("_ab_cdc_deleted_at"):
                deleted[record["stream"]] += 1
        elif message["type"] == "STATE" and message["state"].get("stream"):
            descriptor = message["state"]["stream"]
            states[descriptor["stream_descriptor"]["name"]] = descriptor.get("stream_state")
            state_messages[descriptor["stream_descriptor"]["name"]] = message["state"]
        elif message["type"] == "LOG" and message["log"]["level"] == "WARN":
            warnings.append(message["log"]["message"])
        elif message["type"] == "TRACE" and message["trace"].get("type") == "ERROR":
            errors.append(message["trace"]["error"]["message"])
        elif message["type"] == "TRACE" and message["trace"].get("type") == "ESTIMATE":
            estimate = message["trace"]["estimate"]
            estimated[estimate["name"]] = estimate["row_estimate"]
        now = time.monotonic()
        if now - last_progress > 0.5:
            last_progress = now
            # What Airbyte's sync view shows: records read of the records Kustomer counted (streams counted so far).
            print(f"\rread      {sum(counts.values()):>8,} of {sum(estimated.values()):,} records  {now - started:5.1f} s",
                  end="", flush=True)
    exit_code = process.wait()
    elapsed = time.monotonic() - started
    total = sum(counts.values())
    print(f"\rread      {total:>8,} records  {elapsed:5.1f} s  ({total / elapsed:,.0f} records/s)")
    print()
    width = max(18, max(len(name) for name in names) + 2)
    print(f"{'stream':<{width}}{'records':>10}{'Kustomer count':>16}{'in emulator':>14}{'from archive':>14}{'deleted':>9}  final state")
    for name in names:
        expected = expected_count(emulator, name)
        searched = is_search_backed(name)
        kustomer = f"{estimated[name]:,}" if name in estimated else "-"
        print(f"{name:<{width}}{counts[name]:>10,}{kustomer:>16}{expected:>14,}{archived[name] if searched else '-':>14}"
              f"{deleted[name] if searched else '-':>9}  {summarize_state(states.get(name))}")
    for warning in warnings:
        print(f"warning   {warning}")
    if errors or exit_code != 0:
        sys.exit(f"read failed (exit code {exit_code}): {'; '.join(errors)}")
    return list(state_messages.values())


def expected_count(emulator: KustomerEmulator, stream: str) -> int:
    """The emulator's objects a read from START_DATE delivers (each of them: the sample data is younger)."""
    return len(custom_attribute_ids(emulator) if stream == "custom_attributes" else ids_since(emulator, stream, START_DATE))


def summarize_state(state: Any) -> str:
    if not state or state.get("__ab_no_cursor_state_message"):
        return "- (full refresh)"
    for cursor in ("updated_at", "created_at"):  # created_at: the append-only streams (audit_logs, conversation_times)
        if cursor in state:
            return f"{cursor}={state[cursor]}"
    if "slices" in state:
        ends = [s.get("most_recent_cursor_value") or s.get("end") for s in state["slices"]]
        return f"updated_at={max(ends)}" if ends else "-"
    if "states" in state:  # one cursor per partition (klasses: one per klass status)
        ends = [p["cursor"]["updated_at"] for p in state["states"] if (p.get("cursor") or {}).get("updated_at")]
        return f"updated_at={max(ends)} ({len(state['states'])} partitions)" if ends else "-"
    return json.dumps(state)[:60]


if __name__ == "__main__":
    main()
