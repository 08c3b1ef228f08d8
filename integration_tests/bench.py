"""`make bench`: the connector's throughput, rate-limit efficiency and memory, measured through the real CLI.

    python -m integration_tests.bench [--scale 1.0] [--scenarios cpu,budget,budget_early,memory,latency,windows,...]
        [--output bench-results.json] [--num-workers 6] [--baseline-cli /path/to/other/.venv/bin/source-kustomer]

The Kustomer emulator runs as a separate process (its CPU and memory are not the connector's), and every
scenario runs `source-kustomer read` as a subprocess writing to a file; the connector's peak RSS and CPU time
come from the kernel's rusage of that process (`os.wait4`).

- cpu      no limits, no latency, full refresh of every stream; beside it a plain `requests` loop fetching the
           same pages (search in 90-day windows of 500, the list endpoints) and parsing them with `response.json()`,
           and the same loop doing the work no connector can skip (orjson parse, the connector's record flattener,
           one JSON line written per record, the connector's garbage-collector settings): the most one Python
           process gets out of one core without a framework.
- budget   Kustomer-shaped limits scaled down in time (20 searches and 200 requests per 2 s window, 100 ms latency):
           customers, conversations, messages and conversation times against the bound of the connector's share of them
           (`rate_limit_share`, default 80%: 16 x 500 records per 2 s = 4,000 records/s).
- budget_early  the same from a start_date seven years before the first record ("give me everything"): no search may
           be spent on the empty years.
- memory   peak RSS of the full read, and of the same read over a tenth of the data (a second emulator).
- latency  100 ms per request, no limits: the full read's throughput against the cpu scenario's.
- windows  several windows of one stream in flight, limits as in budget: messages alone at 100, 250 and 500 ms per
           search (Kustomer's 0.6, 1.5 and 3 s, scaled like the limits), conversation_times alone at 250 ms, then the
           big search streams at 250 ms from the data's first month and from seven years before it; each against the share's bound, with the records
           emitted twice per stream and the connector's CPU seconds per wall second (near the CPU the machine could
           give it: CPU-bound, not budget-bound).
- cpu_vs_baseline  CPU per record of the three big streams, this connector and `--baseline-cli` (another checkout's
           console script) in turns, twice each: at Kustomer's limits with 250 ms per search (the target), and without
           limits (for information); skipped without `--baseline-cli`.

Records are counted once per id (a search-cap restart delivers the records sharing its updated_at again), so
every records/s figure is of distinct records. The budget and windows scenarios read the budget from the first to the
last search the emulator answered, over the rate-limit windows they fell in (the connector's start-up is not scaled
like the windows and latency, so it is left out), and print the whole run's figure beside it. Prints a table and writes the figures as JSON (`--output`). The
emulator processes are stopped on exit, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import orjson
import requests

from integration_tests import streams
from integration_tests.cli import configured_catalog, console_script, parse_messages, write_json
from integration_tests.emulator import CONNECTOR_STREAM
from source_kustomer.cdk_internals import share_of_window
from source_kustomer.records import KustomerRecordFlattener
from source_kustomer.config import DEFAULT_RATE_LIMIT_SHARE
from source_kustomer.run import tune_gc

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("cpu", "budget", "budget_early", "memory", "latency", "windows", "cpu_vs_baseline")
# Scenario windows: one big search stream alone at emulator latencies standing for 0.6, 1.5 and 3 s of Kustomer's time
# (limits and latency scaled 30x alike), then the three big streams together at 1.5 s, from the data's first month and
# from seven years before it.
WINDOW_LATENCIES_MS = (100, 250, 500)
DEFAULT_GC_THRESHOLDS = gc.get_threshold()

# The dataset: the big three and conversation times at this size, the other streams at the emulator's defaults.
FULL_COUNTS = {"customers": 100_000, "conversations": 50_000, "messages": 100_000, "conversation_times": 50_000}
BUDGET_STREAMS = ["customers", "conversations", "messages", "conversation_times"]
BIG_STREAMS = ["customers", "conversations", "messages"]  # cpu_vs_baseline: streams every version of the connector has
START_DATE = "2024-01-01T00:00:00Z"  # before every generated record (the emulator's data starts in 2025)
# All of the three streams' data, as a first sync reads it with start_date at the org's first month: 250,000 records
# at full scale, ~500 searches = 25 windows of 2 s. (From 2025-10-01, 150,000 records, the 1.4 s start-up alone was
# 4% of the run; from 2024-01-01 each stream also searches four empty 90-day windows, 2% of the searches.)
BUDGET_START_DATE = "2025-01-01T00:00:00Z"
# "Give me everything": a start_date seven years before the org's first object (archive search included).
EARLY_START_DATE = "2018-01-01T00:00:00Z"

# Kustomer's limits (100 searches and 1,000 requests a minute) scaled down in time, with a network's latency.
BUDGET_LIMITS = {"search_rate_limit": 20, "rate_limit": 200, "window_seconds": 2.0, "latency_ms": 100}
NO_LIMITS = {"search_rate_limit": None, "rate_limit": None, "window_seconds": 60.0, "latency_ms": 0}
# cpu_vs_baseline: at Kustomer's limits with a search answered in 1.5 s of Kustomer's time (the target), and without
# limits or latency, where the connector is CPU-bound and reads with every window in flight at once.
CPU_CONDITIONS = {
    "at Kustomer's limits": (dict(BUDGET_LIMITS, latency_ms=250), BUDGET_START_DATE),
    "without limits": (NO_LIMITS, START_DATE),
}
CPU_TARGET_CONDITION = "at Kustomer's limits"
LATENCY_MS = 100

# What the search-backed streams send (manifest.yaml, search_stream): 90-day windows, 500 a page, updated_at asc.
SEARCH_PATH = "/v1/customers/search"
# The updated_at searches (the raw loop's); conversation times are searched by created_at (append-only, no
# updated_at), in windows split until each fits under the search cap.
SEARCH_CONTEXTS = {name: context for name, context in streams.SEARCH_CONTEXTS.items() if streams.stream(name).cursor_attribute == "updated_at"}
SEARCH_PAGE_SIZE = streams.search_page_size()
SEARCH_CAP = streams.search_restart_records()
WINDOW = timedelta(days=90)
# What the list-backed streams ask of each endpoint: its path and their largest page (manifest.yaml).
LIST_PAGE_SIZES = {streams.LIST_PATHS[stream]: size for stream, size in streams.LIST_MAX_PAGE.items()}
METADATA_RESOURCES = tuple(streams.metadata_objects())

TARGETS = {
    "cpu_records_per_s": 10_000,
    "budget_share_of_bound": 0.90,
    "memory_peak_rss_mb": 250,
    "memory_growth_ratio": 1.20,
    "latency_share_of_cpu": 0.70,
    "cpu_per_record_vs_baseline": 1.05,  # the best of two runs each, back to back: no worse, within noise
}

_children: List[subprocess.Popen] = []


# ---------------------------------------------------------------------------------------------------------------
# processes


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop_children() -> None:
    while _children:
        _stop(_children.pop())


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the emulators


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc (0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Emulator:
    """`python -m integration_tests.emulator` in its own process, reconfigured between scenarios."""

    def __init__(self, counts: Dict[str, int], log_path: Path) -> None:
        arguments = ",".join(f"{stream}={count}" for stream, count in counts.items())
        started = time.perf_counter()
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "integration_tests.emulator", "--counts", arguments],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        _children.append(self.process)
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if "listening on" not in line:
            self.process.wait(timeout=10)
            raise RuntimeError(f"the emulator did not start (exit {self.process.returncode}); see {log_path}")
        url_part, _, token_part = line.split("listening on ", 1)[1].partition(" token=")
        self.url = url_part.strip()
        self.token = token_part.strip()
        self.startup_seconds = time.perf_counter() - started
        self.session = requests.Session()
        self.counts: Dict[str, int] = self.session.get(self.url + "/_emulator/info", timeout=30).json()["counts"]

    def configure(self, settings: Dict[str, Any]) -> None:
        self.session.post(self.url + "/_emulator/config", json=settings, timeout=30).raise_for_status()
        self.session.post(self.url + "/_emulator/reset", timeout=30).raise_for_status()  # counters and windows

    def totals_since(self, start_date: str, names: List[str]) -> Dict[str, int]:
        """Records each stream holds from start_date on: the search's own total for search-backed streams."""
        totals = {}
        for stream in names:
            context = streams.SEARCH_CONTEXTS.get(stream)
            if context is None:
                if stream in self.counts:
                    totals[CONNECTOR_STREAM.get(stream, stream)] = self.counts[stream]  # list streams: start_date precedes every record
                continue
            body = {"queryContext": context, "and": [{f"{context}_{streams.stream(stream).cursor_attribute}": {"gte": start_date}}],
                    "includeDeleted": True}
            response = self.session.post(self.url + SEARCH_PATH, params={"pageSize": 1}, json=body,
                                         headers={"Authorization": f"Bearer {self.token}"}, timeout=60)
            response.raise_for_status()
            totals[stream] = response.json()["meta"]["total"]
        return totals

    def stats(self) -> Dict[str, Any]:
        return self.session.get(self.url + "/_emulator/stats", timeout=30).json()

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.session.close()
        _stop(self.process)
        if self.process in _children:
            _children.remove(self.process)
        self.log.close()


# ---------------------------------------------------------------------------------------------------------------
# the connector


@dataclass
class Read:
    exit_code: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    records: int  # distinct ids
    records_by_stream: Dict[str, int]
    first_to_last_record_seconds: float
    emitted: int = 0  # RECORD messages, repeats after a search-cap restart included
    errors: List[str] = field(default_factory=list)


def wait_with_rusage(process: subprocess.Popen, timeout: float) -> Tuple[int, Any]:
    """Waits for the process and returns (exit code, its own rusage): RUSAGE_CHILDREN would mix in earlier runs."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        if time.monotonic() > deadline:
            process.kill()
            _pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        time.sleep(0.02)


def scan_output(path: Path) -> Tuple[Dict[str, int], int, float, List[str]]:
    """Distinct records per stream, RECORD messages, seconds from the first to the last record (emitted_at) and the
    error messages of a read."""
    ids: Dict[str, set] = {}
    repeated: Dict[str, int] = {}
    emitted = 0
    first = last = None
    errors = []
    with open(path, "rb") as output:
        for line in output:
            if line.startswith(b'{"type":"RECORD"'):
                record = orjson.loads(line)["record"]
                seen = ids.setdefault(record["stream"], set())
                if record["data"].get("id") in seen:
                    repeated[record["stream"]] = repeated.get(record["stream"], 0) + 1
                seen.add(record["data"].get("id"))
                emitted += 1
                first = record["emitted_at"] if first is None else first
                last = record["emitted_at"]
            elif line.startswith(b'{"type":"TRACE"') and b'"type":"ERROR"' in line:
                errors.append(json.loads(line)["trace"]["error"]["message"])
    span = (last - first) / 1000 if first is not None and last is not None else 0.0
    SCAN_REPEATS.clear()
    SCAN_REPEATS.update({stream: repeated.get(stream, 0) for stream in ids})
    return {stream: len(found) for stream, found in ids.items()}, emitted, span, errors


SCAN_REPEATS: Dict[str, int] = {}  # records emitted more than once, per stream, in the last read scanned


def read(cli: List[str], config: Dict[str, Any], catalog: Dict[str, Any], workdir: Path, label: str, timeout: float,
         keep_output: bool) -> Read:
    config_path = write_json(workdir / f"{label}-config.json", config)
    catalog_path = write_json(workdir / f"{label}-catalog.json", catalog)
    output_path = workdir / f"{label}.jsonl"
    with open(output_path, "wb") as output, open(workdir / f"{label}.stderr", "wb") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*cli, "read", "--config", str(config_path), "--catalog", str(catalog_path)],
            cwd=workdir, stdout=output, stderr=errors,
        )
        _children.append(process)
        try:
            exit_code, usage = wait_with_rusage(process, timeout)
        except BaseException:  # Ctrl-C, SIGTERM: the read goes with the bench
            _stop(process)
            raise
        finally:
            _children.remove(process)
        wall = time.perf_counter() - started
    counts, emitted, span, messages = scan_output(output_path)
    if not keep_output:
        output_path.unlink()
    return Read(
        exit_code=exit_code,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        records=sum(counts.values()),
        records_by_stream=dict(sorted(counts.items())),
        first_to_last_record_seconds=span,
        errors=messages[:5],
        emitted=emitted,
    )


def startup_seconds(cli: List[str], workdir: Path) -> float:
    """Wall time of `source-kustomer spec`: the interpreter, CDK import and manifest load every read pays first."""
    started = time.perf_counter()
    subprocess.run([*cli, "spec"], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def discover(cli: List[str], config: Dict[str, Any], workdir: Path) -> Dict[str, Any]:
    config_path = write_json(workdir / "discover-config.json", config)
    completed = subprocess.run([*cli, "discover", "--config", str(config_path)], cwd=workdir, capture_output=True, text=True,
                               timeout=600, check=False)
    catalogs = [m["catalog"] for m in parse_messages(completed.stdout) if m["type"] == "CATALOG"]
    if completed.returncode != 0 or not catalogs:
        raise RuntimeError(f"discover failed: {completed.stdout[-2000:]}{completed.stderr[-2000:]}")
    return catalogs[0]


def share_of_bound(figures: Dict[str, Any], bound: float) -> float:
    """Records/s from the first to the last search against the share's bound (0 where no search was made)."""
    return (figures["records_per_second_of_searches"] or 0.0) / bound


def missing_records(delivered: Dict[str, int], expected: Dict[str, int]) -> Dict[str, int]:
    """Streams that delivered fewer distinct records than the emulator holds."""
    return {s: n - delivered.get(s, 0) for s, n in expected.items() if delivered.get(s, 0) < n}


# ---------------------------------------------------------------------------------------------------------------
# the raw requests loop


def _kustomer_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def search_windows(start: datetime, end: datetime) -> Iterator[Tuple[datetime, datetime]]:
    """The connector's slices: 90-day windows, each ending 1 ms before the next one starts, the last at `end`."""
    lower = start
    while lower < end:
        upper = min(lower + WINDOW, end)
        yield lower, (upper if upper == end else upper - timedelta(milliseconds=1))
        lower = upper


def raw_read(url: str, token: str, start_date: str, output: Optional[Path] = None) -> Dict[str, Any]:
    """Every page the connector reads, fetched and parsed with nothing else: the ceiling for this machine.

    With `output`, each page is parsed with orjson, each search record flattened by the connector's own
    `KustomerRecordFlattener` and every record written to `output` as a JSON line: the per-record work a connector
    cannot skip, without any framework around it.
    """
    flattener = KustomerRecordFlattener()
    sink = open(output, "wb") if output is not None else None
    if sink:
        tune_gc()  # the connector's garbage-collector settings: with Python's defaults this loop runs at half speed
    seen: set = set()

    def write(page_records: List[Dict[str, Any]]) -> None:
        if sink:
            for record in page_records:
                flattener.transform(record)
                sink.write(orjson.dumps(record) + b"\n")

    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
    start = datetime.strptime(start_date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)
    records = pages = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    # one kobjects_<klass> stream per klass: queryContext kobject_<klass name>, criteria on kobject_updated_at
    klass_names = [k["attributes"]["name"] for k in session.get(f"{url}/v1/klasses", params={"pageSize": 100}, timeout=60).json()["data"]]
    pages += 1
    for context in [*SEARCH_CONTEXTS.values(), *(f"kobject_{name}" for name in klass_names)]:
        field_name = "kobject_updated_at" if context.startswith("kobject_") else f"{context}_updated_at"
        for lower, upper in search_windows(start, now):
            gte, page = _kustomer_time(lower), 1
            while True:
                body = {"queryContext": context, "and": [{field_name: {"gte": gte}}, {field_name: {"lte": _kustomer_time(upper)}}],
                        "sort": [{field_name: "asc"}], "includeDeleted": True}
                response = session.post(url + SEARCH_PATH, params={"page": page, "pageSize": SEARCH_PAGE_SIZE}, json=body, timeout=60)
                response.raise_for_status()
                document = orjson.loads(response.content) if sink else response.json()
                last_updated_at = document["data"][-1]["attributes"]["updatedAt"] if document["data"] else None
                seen.update((context, record["id"]) for record in document["data"])
                write(document["data"])
                pages += 1
                if not document["links"].get("next"):
                    break
                if page * SEARCH_PAGE_SIZE >= SEARCH_CAP:  # like the connector: restart at the last updated_at read
                    gte, page = last_updated_at, 1
                else:
                    page += 1
    for path, size in LIST_PAGE_SIZES.items():
        page = 1
        while True:
            response = session.get(f"{url}{path}", params={"page": page, "pageSize": size}, timeout=60)
            response.raise_for_status()
            document = orjson.loads(response.content) if sink else response.json()
            records += len(document["data"])
            write(document["data"])
            pages += 1
            if not document["links"].get("next"):
                break
            page += 1
    # the custom_attributes stream: one row per attribute of each object type and of each klass
    for resource in [*METADATA_RESOURCES, *(f"kobject.{name}" for name in klass_names)]:
        response = session.get(f"{url}/v1/metadata/{resource}", timeout=60)
        response.raise_for_status()
        records += len(response.json()["data"]["attributes"].get("properties") or {})
        pages += 1
    records += len(seen)
    wall = time.perf_counter() - started
    session.close()
    if sink:
        sink.close()
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
    return {"records": records, "requests": pages, "wall_seconds": wall, "cpu_seconds": time.process_time() - cpu_started,
            "records_per_second": records / wall, "requests_per_second": pages / wall}


# ---------------------------------------------------------------------------------------------------------------
# scenarios


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.counts = {stream: max(1, round(count * args.scale)) for stream, count in FULL_COUNTS.items()}
        self.emulator: Optional[Emulator] = None
        self.catalog: Optional[Dict[str, Any]] = None
        self.full_read: Optional[Dict[str, Any]] = None

    def config(self, emulator: Emulator, start_date: str = START_DATE) -> Dict[str, Any]:
        config = {"api_token": emulator.token, "start_date": start_date, "api_url": emulator.url}
        if self.args.num_workers is not None:  # otherwise the connector's default, what users get
            config["num_workers"] = self.args.num_workers
        return config

    def main_emulator(self) -> Emulator:
        if self.emulator is None:
            print(f"starting the emulator: {self.counts} (other streams at the emulator's defaults) ...", flush=True)
            self.emulator = Emulator(self.counts, self.workdir / "emulator.log")
            print(f"  ready in {self.emulator.startup_seconds:.0f} s on {self.emulator.url}", flush=True)
            self.catalog = discover(self.args.cli, self.config(self.emulator), self.workdir)
        return self.emulator

    def run_read(self, emulator: Emulator, label: str, settings: Dict[str, Any], streams: Optional[List[str]] = None,
                 start_date: str = START_DATE, cli: Optional[List[str]] = None) -> Dict[str, Any]:
        """One `source-kustomer read` (full refresh) with the emulator configured as given; its figures."""
        emulator.configure(NO_LIMITS)
        expected = emulator.totals_since(start_date, streams or list(emulator.counts))
        emulator.configure(settings)
        catalog = configured_catalog(self.catalog, streams)  # type: ignore[arg-type]
        emulator_cpu = emulator.cpu_seconds()
        result = read(cli or self.args.cli, self.config(emulator, start_date), catalog, self.workdir, label, self.args.timeout, self.args.keep_output)
        stats = emulator.stats()
        searches = sum(n for key, n in stats["by_endpoint"].items() if key.startswith(f"POST {SEARCH_PATH}"))
        searched_at = [entry[0] for entry in stats.get("search_log", [])]
        search_span = max(searched_at) - min(searched_at) if len(searched_at) > 1 else 0.0
        figures = asdict(result)
        # The budget is read from the first to the last search: the connector's start-up (not scaled like the
        # emulator's windows and latency) is left out. Under a rate limit the span gets the last search's own share
        # of time (1 / the searches allowed a second), so that searches paced evenly at the bound read 100%; a
        # window's share spent at its start, as the budget allows, can read a little more in a short read.
        # Beside it, more strictly: the searches against every window they fell in, first and last counted whole.
        window = settings.get("window_seconds") if settings.get("search_rate_limit") else None
        figures["windows_touched"] = None
        if window and searched_at:
            allowed = share_of_window(settings["search_rate_limit"], DEFAULT_RATE_LIMIT_SHARE) / window
            search_span += 1 / allowed
            figures["windows_touched"] = int(max(searched_at) // window) - int(min(searched_at) // window) + 1
            figures["share_of_windows_touched"] = len(searched_at) / (figures["windows_touched"] * allowed * window)
        figures["first_to_last_search_seconds"] = search_span
        figures["records_per_second_of_searches"] = result.records / search_span if search_span else None
        figures["searches_answered"] = len(searched_at)
        if self.args.keep_output:  # where the searches went: [epoch seconds, context, page, returned, gte, lte] each
            write_json(self.workdir / f"{label}-searches.json", stats.get("search_log", []))
        figures["records_per_search"] = result.records / len(searched_at) if searched_at else None
        figures["repeated_by_stream"] = dict(SCAN_REPEATS)
        figures.update(
            records_per_second=result.records / result.wall_seconds,
            records_per_cpu_second=result.records / result.cpu_seconds if result.cpu_seconds else None,
            requests=stats["requests"],
            search_requests=searches,
            requests_per_second=stats["requests"] / result.wall_seconds,
            search_requests_per_second=searches / result.wall_seconds,
            rate_limited=stats["rate_limited"],
            status_counts=stats["status_counts"],
            emulator_cpu_seconds=emulator.cpu_seconds() - emulator_cpu,
            emulator_settings=settings,
        )
        # Search-cap restarts may deliver a record twice; fewer than the emulator holds is a lost record.
        figures["missing_records"] = missing_records(result.records_by_stream, expected)
        ok = result.exit_code == 0 and not result.errors and not figures["missing_records"]
        figures["succeeded"] = ok
        repeats = f" (+{result.emitted - result.records:,} repeated after search-cap restarts)" if result.emitted > result.records else ""
        print(f"  {label}: {result.records:,} records{repeats} in {result.wall_seconds:.1f} s "
              f"({figures['records_per_second']:,.0f}/s), peak RSS {result.peak_rss_mb:.0f} MB"
              + ("" if ok else f", FAILED (exit {result.exit_code}): {result.errors[:1]} missing {figures['missing_records']}"), flush=True)
        return figures

    def full(self) -> Dict[str, Any]:
        """The full refresh of every stream without limits: scenario cpu, and the baseline of latency and memory."""
        if self.full_read is None:
            emulator = self.main_emulator()
            self.full_read = self.run_read(emulator, "full-read", NO_LIMITS)
        return self.full_read

    def cpu(self) -> Dict[str, Any]:
        full = self.full()
        emulator = self.main_emulator()
        emulator.configure(NO_LIMITS)
        raw = raw_read(emulator.url, emulator.token, START_DATE)
        print(f"  raw requests loop: {raw['records']:,} records in {raw['wall_seconds']:.1f} s ({raw['records_per_second']:,.0f}/s)", flush=True)
        floor = raw_read(emulator.url, emulator.token, START_DATE, output=self.workdir / "one-core-floor.jsonl")
        (self.workdir / "one-core-floor.jsonl").unlink()
        print(f"  loop + parse, flatten, write: {floor['records']:,} records in {floor['wall_seconds']:.1f} s "
              f"({floor['records_per_second']:,.0f}/s)", flush=True)
        ratio = full["records_per_second"] / raw["records_per_second"]
        met = full["succeeded"] and full["records_per_second"] >= TARGETS["cpu_records_per_s"]
        return {"connector": full, "raw_requests_loop": raw, "ratio_connector_to_raw": ratio,
                "one_core_floor_loop": floor, "ratio_connector_to_one_core_floor": full["records_per_second"] / floor["records_per_second"],
                "target": f">= {TARGETS['cpu_records_per_s']:,} records/s", "met": met}

    def latency(self) -> Dict[str, Any]:
        baseline = self.full()
        result = self.run_read(self.main_emulator(), "latency-read", {**NO_LIMITS, "latency_ms": LATENCY_MS})
        ratio = result["records_per_second"] / baseline["records_per_second"]
        met = result["succeeded"] and ratio >= TARGETS["latency_share_of_cpu"]
        return {"connector": result, "latency_ms": LATENCY_MS, "ratio_to_cpu": ratio,
                "target": f">= {TARGETS['latency_share_of_cpu']:.0%} of the cpu scenario's records/s", "met": met}

    def budget(self, start_date: str = BUDGET_START_DATE, label: str = "budget-read") -> Dict[str, Any]:
        emulator = self.main_emulator()
        result = self.run_read(emulator, label, BUDGET_LIMITS, BUDGET_STREAMS, start_date)
        window = BUDGET_LIMITS["window_seconds"]
        # The connector spends its share of each window (the default, as users get it) and leaves the rest to the org.
        searches = share_of_window(BUDGET_LIMITS["search_rate_limit"], DEFAULT_RATE_LIMIT_SHARE)
        bound = searches * SEARCH_PAGE_SIZE / window
        share = share_of_bound(result, bound)
        met = result["succeeded"] and share >= TARGETS["budget_share_of_bound"]
        return {
            "connector": result,
            "bound_records_per_second": bound,
            "share_of_bound": share,
            "share_of_bound_wall": result["records_per_second"] / bound,
            "share_of_bound_first_to_last_record": (result["records"] / result["first_to_last_record_seconds"] / bound
                                                    if result["first_to_last_record_seconds"] else None),
            "records_per_search": result["records"] / result["search_requests"] if result["search_requests"] else None,
            "windows": result["wall_seconds"] / window,
            "rate_limit_share": DEFAULT_RATE_LIMIT_SHARE,
            "allowed_search_requests_per_second": searches / window,
            "allowed_requests_per_second": share_of_window(BUDGET_LIMITS["rate_limit"], DEFAULT_RATE_LIMIT_SHARE) / window,
            "target": f">= {TARGETS['budget_share_of_bound']:.0%} of {bound:,.0f} records/s", "met": met,
            "start_date": start_date,
        }

    def windows(self) -> Dict[str, Any]:
        """Several windows of one stream in flight: messages alone at three latencies, then the big three together."""
        emulator = self.main_emulator()
        window = BUDGET_LIMITS["window_seconds"]
        searches = share_of_window(BUDGET_LIMITS["search_rate_limit"], DEFAULT_RATE_LIMIT_SHARE)
        bound = searches * SEARCH_PAGE_SIZE / window
        runs = [(f"messages alone, {ms} ms (Kustomer {ms * 6 / 1000:.1f} s)", ["messages"], ms, BUDGET_START_DATE) for ms in WINDOW_LATENCIES_MS]
        runs += [("conversation_times alone, 250 ms (Kustomer 1.5 s)", ["conversation_times"], 250, BUDGET_START_DATE),
                 ("the four search streams of budget, 250 ms (Kustomer 1.5 s)", BUDGET_STREAMS, 250, BUDGET_START_DATE),
                 ("the same from 2018 (seven years before the data)", BUDGET_STREAMS, 250, EARLY_START_DATE)]
        results = []
        for label, streams, latency_ms, start_date in runs:
            settings = {**BUDGET_LIMITS, "latency_ms": latency_ms}
            result = self.run_read(emulator, label.split(",")[0].replace(" ", "-") + f"-{latency_ms}-{start_date[:4]}", settings, streams, start_date)
            share = share_of_bound(result, bound)
            results.append({"label": label, "connector": result, "latency_ms": latency_ms, "start_date": start_date,
                            "share_of_bound": share, "share_of_bound_wall": result["records_per_second"] / bound,
                            "bound_records_per_second": bound,
                            "allowed_search_requests_per_second": searches / window,
                            "met": result["succeeded"] and share >= TARGETS["budget_share_of_bound"]
                            and not any(result["repeated_by_stream"].values())})
            print(f"    {share:.0%} of {bound:,.0f} records/s from the first to the last search "
                  f"({result['records_per_search'] / SEARCH_PAGE_SIZE:.0%} of each search's {SEARCH_PAGE_SIZE} records used, "
                  f"{result['searches_answered'] / result['first_to_last_search_seconds'] / (searches / window):.0%} of the searches allowed; "
                  f"{result['share_of_windows_touched']:.0%} of those of the {result['windows_touched']} windows touched), "
                  f"{result['records_per_second'] / bound:.0%} over the whole run; repeated per stream: {result['repeated_by_stream']}; "
                  f"CPU {result['cpu_seconds']:.1f} s in {result['wall_seconds']:.1f} s; load average {os.getloadavg()[0]:.1f}", flush=True)
        return {"runs": results, "target": f">= {TARGETS['budget_share_of_bound']:.0%} of the share, 0 repeated",
                "met": all(r["met"] for r in results)}

    def cpu_vs_baseline(self) -> Dict[str, Any]:
        """CPU per record of the three big streams, this connector and `--baseline-cli` in turns: at Kustomer's limits
        (the target: every real sync meets them) and without any (CPU-bound, for information)."""
        if not self.args.baseline_cli:
            print("  skipped: give --baseline-cli (e.g. another checkout's .venv/bin/source-kustomer)", flush=True)
            return {"skipped": True, "met": True}
        emulator = self.main_emulator()
        conditions = {}
        for condition, (settings, start_date) in CPU_CONDITIONS.items():
            runs: Dict[str, List[Dict[str, Any]]] = {"connector": [], "baseline": []}
            slug = "-".join(condition.replace("'", "").split())  # for file names: at-Kustomers-limits
            for turn in range(2):
                for name, cli in (("baseline", self.args.baseline_cli), ("connector", self.args.cli)):
                    label = f"cpu-{slug}-{name}-{turn}"
                    runs[name].append(self.run_read(emulator, label, settings, BIG_STREAMS, start_date, cli))
            # per record written: a search-cap restart's repeats (1.0.0) are written too
            per_record = {name: min(r["cpu_seconds"] / r["emitted"] for r in results) * 1e6 for name, results in runs.items()}
            ratio = per_record["connector"] / per_record["baseline"]
            print(f"    {condition}: CPU per record: connector {per_record['connector']:.0f} us, baseline "
                  f"{per_record['baseline']:.0f} us ({ratio:.2f} x)", flush=True)
            conditions[condition] = {"runs": runs, "cpu_us_per_record": per_record, "ratio": ratio,
                                     "succeeded": all(r["succeeded"] for results in runs.values() for r in results)}
        target = conditions[CPU_TARGET_CONDITION]
        met = all(c["succeeded"] for c in conditions.values()) and target["ratio"] <= TARGETS["cpu_per_record_vs_baseline"]
        return {"conditions": conditions, "ratio": target["ratio"], "baseline_cli": self.args.baseline_cli,
                "target": f"<= {TARGETS['cpu_per_record_vs_baseline']:.2f} x the baseline's, {CPU_TARGET_CONDITION}", "met": met}

    def budget_early(self) -> Dict[str, Any]:
        """The budget scenario from a start_date years before the org's first object: no search spent on empty time."""
        return self.budget(EARLY_START_DATE, "budget-early-read")

    def memory(self) -> Dict[str, Any]:
        full = self.full()
        tenth_counts = {stream: max(1, count // 10) for stream, count in self.counts.items()}
        print(f"starting a second emulator with a tenth of the data: {tenth_counts} ...", flush=True)
        tenth_emulator = Emulator(tenth_counts, self.workdir / "emulator-tenth.log")
        try:
            tenth = self.run_read(tenth_emulator, "tenth-read", NO_LIMITS)
        finally:
            tenth_emulator.stop()
        growth = full["peak_rss_mb"] / tenth["peak_rss_mb"]
        met = (full["succeeded"] and tenth["succeeded"] and full["peak_rss_mb"] < TARGETS["memory_peak_rss_mb"]
               and growth <= TARGETS["memory_growth_ratio"])
        return {"full": full, "tenth": tenth, "data_ratio": full["records"] / max(tenth["records"], 1), "rss_ratio": growth,
                "target": f"< {TARGETS['memory_peak_rss_mb']} MB, x10 data <= +{TARGETS['memory_growth_ratio'] - 1:.0%} RSS",
                "met": met}


# ---------------------------------------------------------------------------------------------------------------
# report


def machine() -> Dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0) if Path("/proc/meminfo").exists() else 0

    def version(package: str) -> Optional[str]:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {"nproc": os.cpu_count(), "cpu_model": model, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "airbyte_cdk": version("airbyte-cdk"),
            "connector": version("airbyte-source-kustomer"), "platform": platform.platform(),
            "load_average_at_start": os.getloadavg()}


def rows(results: Dict[str, Any]) -> List[List[str]]:
    def yes(flag: bool) -> str:
        return "yes" if flag else "NO"

    table = []
    if "cpu" in results:
        r = results["cpu"]
        c, raw = r["connector"], r["raw_requests_loop"]
        table.append(["cpu: connector, all streams", f"{c['records']:,}", f"{c['wall_seconds']:.1f}", f"{c['records_per_second']:,.0f}",
                      f"{c['requests_per_second']:.1f}/s (no limit)", str(c["rate_limited"]), f"{c['peak_rss_mb']:.0f}",
                      f"{r['ratio_connector_to_raw']:.2f} of raw", r["target"], yes(r["met"])])
        table.append(["cpu: raw requests loop", f"{raw['records']:,}", f"{raw['wall_seconds']:.1f}", f"{raw['records_per_second']:,.0f}",
                      f"{raw['requests_per_second']:.1f}/s (no limit)", "0", "-", "-", "-", "-"])
        floor = r["one_core_floor_loop"]
        table.append(["cpu: loop + flatten + write", f"{floor['records']:,}", f"{floor['wall_seconds']:.1f}",
                      f"{floor['records_per_second']:,.0f}", f"{floor['requests_per_second']:.1f}/s (no limit)", "0", "-",
                      f"{r['ratio_connector_to_one_core_floor']:.2f} of this", "-", "-"])
    for key, label in (("budget", f"budget: {len(BUDGET_STREAMS)} search streams"), ("budget_early", "budget: same, from 2018")):
        if key not in results:
            continue
        r = results[key]
        c = r["connector"]
        table.append([label, f"{c['records']:,}", f"{c['wall_seconds']:.1f}", f"{c['records_per_second']:,.0f}",
                      f"search {c['search_requests_per_second']:.1f}/{r['allowed_search_requests_per_second']:.0f}, "
                      f"all {c['requests_per_second']:.1f}/{r['allowed_requests_per_second']:.0f}",
                      str(c["rate_limited"]), f"{c['peak_rss_mb']:.0f}", f"{r['share_of_bound']:.0%} of bound (whole run {r['share_of_bound_wall']:.0%})", r["target"], yes(r["met"])])
    if "windows" in results:
        for r in results["windows"]["runs"]:
            c = r["connector"]
            repeats = sum(c["repeated_by_stream"].values())
            table.append([f"windows: {r['label']}", f"{c['records']:,}", f"{c['wall_seconds']:.1f}", f"{c['records_per_second']:,.0f}",
                          f"search {c['search_requests_per_second']:.1f}/{r['allowed_search_requests_per_second']:.0f}",
                          str(c["rate_limited"]), f"{c['peak_rss_mb']:.0f}", f"{r['share_of_bound']:.0%} of bound (whole run {r['share_of_bound_wall']:.0%}), {repeats} repeated",
                          results["windows"]["target"], yes(r["met"])])
    if "cpu_vs_baseline" in results and not results["cpu_vs_baseline"].get("skipped"):
        r = results["cpu_vs_baseline"]
        for condition, figures in r["conditions"].items():
            targeted = condition == CPU_TARGET_CONDITION
            for name in ("baseline", "connector"):
                c = min(figures["runs"][name], key=lambda run: run["cpu_seconds"] / run["records"])
                table.append([f"cpu per record {condition}: {name}", f"{c['records']:,}", f"{c['wall_seconds']:.1f}", f"{c['records_per_second']:,.0f}",
                              f"{figures['cpu_us_per_record'][name]:.0f} us CPU/record", str(c["rate_limited"]), f"{c['peak_rss_mb']:.0f}",
                              f"{figures['ratio']:.2f} x baseline" if name == "connector" else "-",
                              (r["target"] if targeted else "for information") if name == "connector" else "-",
                              (yes(r["met"]) if targeted else "-") if name == "connector" else "-"])
    if "memory" in results:
        r = results["memory"]
        for label, c in (("memory: full data", r["full"]), ("memory: 1/10 data", r["tenth"])):
            table.append([label, f"{c['records']:,}", f"{c['wall_seconds']:.1f}", f"{c['records_per_second']:,.0f}",
                          f"{c['requests_per_second']:.1f}/s (no limit)", str(c["rate_limited"]), f"{c['peak_rss_mb']:.0f}",
                          f"RSS x{r['rss_ratio']:.2f}" if label.endswith("full data") else "-",
                          r["target"] if label.endswith("full data") else "-", yes(r["met"]) if label.endswith("full data") else "-"])
    if "latency" in results:
        r = results["latency"]
        c = r["connector"]
        table.append([f"latency: {r['latency_ms']} ms, all streams", f"{c['records']:,}", f"{c['wall_seconds']:.1f}",
                      f"{c['records_per_second']:,.0f}", f"{c['requests_per_second']:.1f}/s (no limit)", str(c["rate_limited"]),
                      f"{c['peak_rss_mb']:.0f}", f"{r['ratio_to_cpu']:.0%} of cpu", r["target"], yes(r["met"])])
    return table


def print_table(table: List[List[str]]) -> None:
    header = ["scenario", "records", "wall s", "records/s", "requests/s vs allowed", "429s", "peak RSS MB", "ratio", "target", "met"]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    numeric = {1, 2, 3, 5, 6}
    for index, row in enumerate([header, *table]):
        print("  ".join(cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m integration_tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies the dataset (100,000 customers, 50,000 conversations, 100,000 messages); 0.1 for a quick run")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, from {', '.join(SCENARIOS)}")
    parser.add_argument("--output", default="bench-results.json", help="where the figures are written as JSON")
    parser.add_argument("--num-workers", type=int, default=None, help="the connector's num_workers (1-16); default: the connector's own")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a read is killed")
    parser.add_argument("--cli", type=shlex.split, default=None,
                        help="the connector command (default: the installed source-kustomer), e.g. to measure a scratch copy")
    parser.add_argument("--baseline-cli", type=shlex.split, default=None,
                        help="scenario cpu_vs_baseline: the connector to compare CPU per record with, e.g. main's checkout")
    parser.add_argument("--keep-output", action="store_true",
                        help="keep the reads' output files, and each read's searches as the emulator served them, in the work directory")
    args = parser.parse_args(argv)
    args.cli = args.cli or [console_script()]
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown or not args.scenarios:
        parser.error(f"--scenarios takes {', '.join(SCENARIOS)}; got {', '.join(sorted(unknown)) or 'nothing'}")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where started with SIGINT ignored (`cmd &`)
    workdir = Path(tempfile.mkdtemp(prefix="kustomer-bench-"))
    bench = Bench(args, workdir)
    report: Dict[str, Any] = {"machine": machine(), "scale": args.scale, "counts": bench.counts,
                              "num_workers": args.num_workers or "connector default", "targets": TARGETS, "scenarios": {}}
    started = time.perf_counter()
    try:
        report["startup_seconds"] = startup_seconds(args.cli, workdir)
        for scenario in args.scenarios:
            print(f"scenario {scenario}", flush=True)
            report["scenarios"][scenario] = getattr(bench, scenario)()
    except KeyboardInterrupt:
        print("interrupted: stopping the emulators", file=sys.stderr)
        return 130
    finally:
        if bench.emulator is not None:
            report["emulator_startup_seconds"] = bench.emulator.startup_seconds
            report["emulator_counts"] = bench.emulator.counts
            bench.emulator.stop()
        stop_children()
        if not args.keep_output:
            shutil.rmtree(workdir, ignore_errors=True)
    report["machine"]["load_average_at_end"] = os.getloadavg()
    report["bench_seconds"] = time.perf_counter() - started
    output = Path(args.output)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print_table(rows(report["scenarios"]))
    m = report["machine"]
    print(f"\n{m['nproc']} cores ({m['cpu_model']}), {m['ram_gb']} GB, Python {m['python']}, airbyte-cdk {m['airbyte_cdk']}; "
          f"CLI start-up {report['startup_seconds']:.1f} s; load average {m['load_average_at_start'][0]:.2f} at start, "
          f"{m['load_average_at_end'][0]:.2f} at end")
    print(f"figures written to {output.resolve()}")
    if args.keep_output:
        print(f"read outputs kept in {workdir}")
    return 0 if all(result.get("met") for result in report["scenarios"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
