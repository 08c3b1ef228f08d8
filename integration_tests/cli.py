"""Runs the installed `source-kustomer` console script and parses its Airbyte protocol output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional


def console_script() -> str:
    """The console script installed next to this interpreter (what `pip install .` creates), else the one on PATH."""
    beside = Path(sys.executable).parent / "source-kustomer"
    if beside.exists():
        return str(beside)
    found = shutil.which("source-kustomer")
    if not found:
        raise RuntimeError("source-kustomer is not installed: `pip install .` (make test does it)")
    return found


def parse_message(line: str) -> Optional[Dict[str, Any]]:
    """One line of a connector's stdout as an Airbyte message; None for a line that is not one."""
    if not line.startswith("{"):
        return None
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def parse_messages(stdout: str) -> List[Dict[str, Any]]:
    """The Airbyte messages of a connector's stdout, in order."""
    return [m for m in map(parse_message, stdout.splitlines()) if m is not None]


@dataclass
class Run:
    """One run of the connector (the console script, in-process or in a container): its exit code, output and the
    Airbyte messages of its stdout. The one parser of Airbyte output the tests and tooling use."""

    exit_code: int
    stdout: str
    stderr: str
    messages: List[Dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, exit_code: int, stdout: str, stderr: str = "") -> "Run":
        return cls(exit_code, stdout, stderr, parse_messages(stdout))

    def of_type(self, message_type: str) -> List[Dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == message_type]

    def records(self, stream: Optional[str] = None) -> List[Dict[str, Any]]:
        return [m["record"]["data"] for m in self.of_type("RECORD") if stream is None or m["record"]["stream"] == stream]

    def records_by_stream(self) -> Dict[str, List[Dict[str, Any]]]:
        grouped: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        for message in self.of_type("RECORD"):
            grouped[message["record"]["stream"]].append(message["record"]["data"])
        return grouped

    def ids_by_stream(self) -> Dict[str, List[str]]:
        return {stream: [record["id"] for record in records] for stream, records in self.records_by_stream().items()}

    def connection_status(self) -> Dict[str, Any]:
        """The run's one CONNECTION_STATUS."""
        (status,) = self.of_type("CONNECTION_STATUS")
        return status["connectionStatus"]

    def tail(self, chars: int = 3000) -> str:
        return f"exit code {self.exit_code}\n--- stdout ---\n{self.stdout[-chars:]}\n--- stderr ---\n{self.stderr[-chars:]}"

    def id_counts(self, stream: str) -> Counter:
        return Counter(record["id"] for record in self.records(stream))

    def errors(self) -> List[Dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"].get("type") == "ERROR"]

    def final_states(self) -> Dict[str, Any]:
        states: Dict[str, Any] = {}
        for message in self.of_type("STATE"):
            stream = message["state"].get("stream")
            if stream:
                states[stream["stream_descriptor"]["name"]] = stream.get("stream_state")
        return states

    def state_messages(self) -> List[Dict[str, Any]]:
        """The last STATE message of each stream, ready to be passed back as --state."""
        last: Dict[str, Dict[str, Any]] = {}
        for message in self.of_type("STATE"):
            stream = message["state"].get("stream")
            if stream:
                last[stream["stream_descriptor"]["name"]] = message["state"]
        return list(last.values())


def run_cli(args: List[str], workdir: Path, timeout: float = 600, env: Optional[Mapping[str, str]] = None) -> Run:
    completed = subprocess.run(
        [console_script(), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=None if env is None else dict(env),
    )
    return Run.of(completed.returncode, completed.stdout, completed.stderr)


def instant_backoff_env(waits_file: Path) -> Dict[str, str]:
    """The environment for a CLI run whose retries do not wait: each backoff is written to `waits_file` instead
    (see integration_tests/instant_backoff/sitecustomize.py)."""
    env = dict(os.environ)
    hook = str(Path(__file__).resolve().parent / "instant_backoff")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (hook, env.get("PYTHONPATH")) if p)
    env["KUSTOMER_TEST_WAITS_FILE"] = str(waits_file)
    return env


def configured_catalog(catalog: Mapping[str, Any], streams: Optional[List[str]] = None, incremental: bool = False) -> Dict[str, Any]:
    """A configured catalog for the discovered streams (all, or the named ones), incremental where supported."""
    configured = []
    for stream in catalog["streams"]:
        if streams is not None and stream["name"] not in streams:
            continue
        can_increment = incremental and "incremental" in stream["supported_sync_modes"]
        configured.append(
            {
                "stream": stream,
                "sync_mode": "incremental" if can_increment else "full_refresh",
                "destination_sync_mode": "append_dedup" if can_increment else "overwrite",
                "cursor_field": stream.get("default_cursor_field") or [] if can_increment else [],
                "primary_key": [["id"]],
            }
        )
    return {"streams": configured}


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value))
    return path


def emulator_config(workdir: Path, api_url: str, start_date: str, token: str) -> Path:
    """A config file for the emulator at `api_url`, one per token."""
    return write_json(workdir / f"config-{token}.json", {"api_token": token, "start_date": start_date, "api_url": api_url})


def discovered_catalog(config_path: Path, workdir: Path) -> Dict[str, Any]:
    """The catalog `discover` prints (the discover must succeed)."""
    run = run_cli(["discover", "--config", str(config_path)], workdir)
    assert run.exit_code == 0, run.stdout[-2000:]
    return run.of_type("CATALOG")[0]["catalog"]
