"""Rate limits, faults and bad input, through the installed CLI against the emulator.

The connector's promise: never lose data, never hang, always say why. Every read here is compared with the
emulator's own records, and no output may carry the API token.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set

import pytest

from integration_tests.cli import Run, configured_catalog, console_script, instant_backoff_env, parse_message, run_cli, write_json
from integration_tests.emulator import KustomerEmulator
from integration_tests.expected import ids_since
from integration_tests.test_search_windows import SearchLog

pytestmark = pytest.mark.e2e

TOKEN = "sk-resilience-4f9c2e7a1b"
START_DATE = "2026-01-01T00:00:00Z"  # about four 90-day search windows of the emulator's data
SEARCH_PATH = "^/v1/customers/search"
# The emulator's defaults for these tests: no rate limits, and one-second windows so that every 429 (even an
# injected one) asks for a wait of about a second.
QUIET = dict(rate_limit=None, search_rate_limit=None, window_seconds=1, latency_ms=0, reset_header_mode="epoch")


@pytest.fixture(scope="module")
def running_emulator() -> Iterator[KustomerEmulator]:
    with KustomerEmulator(seed=21, counts={"customers": 5_000}, tie_block=500, token=TOKEN, **QUIET) as running:
        yield running


@pytest.fixture
def emulator(running_emulator: KustomerEmulator) -> Iterator[KustomerEmulator]:
    """The module's emulator with no faults, no rate limits and fresh counters for each test."""
    running_emulator.configure(**QUIET)
    running_emulator.reset()
    yield running_emulator
    running_emulator.reset()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("resilience")


@pytest.fixture(scope="module")
def catalog(running_emulator: KustomerEmulator, workdir: Path) -> Dict[str, Any]:
    run = run_cli(["discover", "--config", str(_config(workdir, running_emulator.url))], workdir)
    assert run.exit_code == 0, run.stdout[-2000:]
    return run.of_type("CATALOG")[0]["catalog"]


def _config(workdir: Path, api_url: str, token: str = TOKEN, **options: Any) -> Path:
    config = {"api_token": token, "start_date": options.pop("start_date", START_DATE), "api_url": api_url, **options}
    return write_json(workdir / "config.json", config)


def _read(workdir: Path, config: Path, catalog: Dict[str, Any], streams: List[str], timeout: float = 240) -> Run:
    catalog_path = write_json(workdir / "catalog.json", configured_catalog(catalog, streams))
    return run_cli(["read", "--config", str(config), "--catalog", str(catalog_path)], workdir, timeout=timeout)


def _assert_every_record_arrived(run: Run, emulator: KustomerEmulator, streams: List[str]) -> None:
    assert run.exit_code == 0 and not run.errors(), ([e["message"] for e in run.errors()], run.stderr[-2000:])
    for stream in streams:
        expected, delivered = ids_since(emulator, stream, START_DATE), set(run.id_counts(stream))
        assert expected, f"the emulator has no {stream} since {START_DATE}"
        assert delivered == expected, f"{stream}: {len(expected - delivered)} missing, {len(delivered - expected)} unexpected"


def _assert_token_never_printed(run: Run, token: str = TOKEN) -> None:
    assert token not in run.stdout and token not in run.stderr


def _error_text(run: Run) -> str:
    return " ".join(error["message"] for error in run.errors())


def _rate_counts(emulator: KustomerEmulator) -> Dict[str, int]:
    stats = emulator.stats()
    return {"requests": stats["requests"], "429": stats["status_counts"].get("429", 0)}


# -- 1. Kustomer's rate limits -------------------------------------------------------------------------------

RATE_LIMITED_STREAMS = ["customers", "conversations", "tags", "users"]


# KustomerAPIBudget reads x-ratelimit-reset in both forms; with the CDK's own budget the seconds form would put the
# reset in 1970 and switch pacing off (measured: 36 of 77 requests answered 429).
@pytest.mark.parametrize("reset_header_mode", ["epoch", "seconds"])
def test_small_rate_limit_windows_are_waited_out_with_few_429s(emulator, catalog, workdir, reset_header_mode):
    emulator.configure(search_rate_limit=4, rate_limit=10, window_seconds=1, reset_header_mode=reset_header_mode)

    started = time.monotonic()
    run = _read(workdir, _config(workdir, emulator.url, page_size=100), catalog, RATE_LIMITED_STREAMS)
    counts = _rate_counts(emulator)
    print(f"x-ratelimit-reset as {reset_header_mode}: {counts} in {time.monotonic() - started:.1f} s")

    _assert_every_record_arrived(run, emulator, RATE_LIMITED_STREAMS)
    assert counts["requests"] >= 5 * 4, "too little data to span several windows"
    # Paced by x-ratelimit-remaining/-reset: the few 429s are requests released together as a window opens, before
    # a response has brought the budget that window's remaining count.
    assert counts["429"] <= counts["requests"] * 0.25, counts
    _assert_token_never_printed(run)


def test_a_storm_of_429s_on_search_and_list_endpoints_loses_no_record(emulator, catalog, workdir):
    emulator.add_fault("rate_limit", count=5, path=SEARCH_PATH, method="POST")
    emulator.add_fault("rate_limit", count=4, path="^/v1/(tags|users)")
    streams = ["customers", "conversations", "tags", "users"]

    run = _read(workdir, _config(workdir, emulator.url), catalog, streams)

    _assert_every_record_arrived(run, emulator, streams)
    assert emulator.stats()["status_counts"].get("429") == 9
    _assert_token_never_printed(run)


# -- 2. Transient faults ------------------------------------------------------------------------------------

ON_SEARCH = dict(path=SEARCH_PATH, method="POST")
ON_TAGS = dict(path="^/v1/tags")
# Each fault hits the search endpoint (two requests) and a list endpoint (one); every retry waits a few seconds.
TRANSIENT_FAULTS = {
    "http_500_502_503": [
        dict(kind="status", status=500, **ON_SEARCH),
        dict(kind="status", status=503, **ON_SEARCH),
        dict(kind="status", status=502, **ON_TAGS),
    ],
    "dropped_connection": [dict(kind="drop", count=2, **ON_SEARCH), dict(kind="drop", **ON_TAGS)],
    "truncated_body": [dict(kind="truncated", count=2, **ON_SEARCH), dict(kind="truncated", **ON_TAGS)],
    "invalid_json_body": [dict(kind="invalid_json", count=2, **ON_SEARCH), dict(kind="invalid_json", **ON_TAGS)],
    "latency_spike": [dict(kind="latency", latency_ms=3_000, count=2, **ON_SEARCH), dict(kind="latency", latency_ms=3_000, **ON_TAGS)],
}


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS)
def test_a_transient_fault_is_retried_until_every_record_arrives(emulator, catalog, workdir, fault):
    for spec in TRANSIENT_FAULTS[fault]:
        emulator.add_fault(**spec)
    streams = ["customers", "tags", "users"]

    run = _read(workdir, _config(workdir, emulator.url), catalog, streams)

    _assert_every_record_arrived(run, emulator, streams)
    assert emulator.stats()["faults_applied"] == 3
    _assert_token_never_printed(run)


def test_a_retry_is_logged_with_its_reason_not_as_a_rate_limit(emulator, catalog, workdir):
    emulator.add_fault("status", count=1, path="^/v1/tags", status=503)
    emulator.add_fault("invalid_json", count=1, path="^/v1/users")
    streams = ["tags", "users"]

    run = _read(workdir, _config(workdir, emulator.url), catalog, streams)

    _assert_every_record_arrived(run, emulator, streams)
    logs = " ".join(m["log"]["message"] for m in run.of_type("LOG"))
    assert "(server error)" in logs and "not JSON" in logs
    assert "Rate limit exceeded" not in logs


def test_custom_attribute_metadata_that_is_not_json_is_retried(emulator, catalog, workdir):
    streams = ["customers", "tags"]
    _read(workdir, _config(workdir, emulator.url), catalog, streams)
    unfaulted = emulator.stats()["by_endpoint"]["GET /v1/metadata/customer"]
    emulator.reset()
    emulator.add_fault("invalid_json", count=1, path="^/v1/metadata/customer")

    run = _read(workdir, _config(workdir, emulator.url), catalog, streams)

    _assert_every_record_arrived(run, emulator, streams)
    assert emulator.stats()["faults_applied"] == 1
    # The answer that is not JSON, then its retry: one request more than the same read without the fault.
    assert emulator.stats()["by_endpoint"]["GET /v1/metadata/customer"] == unfaulted + 1


# -- 3. Retries that never succeed ---------------------------------------------------------------------------


def _assert_fails_naming(run: Run, emulator: KustomerEmulator, stream: str, *reasons: str) -> None:
    assert run.exit_code != 0, "the read exited 0 with a stream missing"
    assert stream in {(e.get("stream_descriptor") or {}).get("name") for e in run.errors()}, run.errors()
    message = _error_text(run)
    for reason in (stream, *reasons):
        assert reason in message, message
    assert not run.records(stream)
    for other in set(run.records_by_stream()) - {stream}:
        assert set(run.id_counts(other)) == ids_since(emulator, other, START_DATE), other


def test_a_stream_refused_with_429_until_retries_run_out_fails_naming_stream_and_status(emulator, catalog, workdir):
    emulator.add_fault("rate_limit", count=1_000, path="^/v1/tags")

    started = time.monotonic()
    run = _read(workdir, _config(workdir, emulator.url), catalog, ["customers", "tags", "users"])
    print(f"429 on every /v1/tags request: failed after {time.monotonic() - started:.1f} s")

    _assert_fails_naming(run, emulator, "tags", "HTTP 429", "/v1/tags")
    assert emulator.stats()["by_endpoint"]["GET /v1/tags"] == 1 + 8  # max_retries
    assert set(run.records_by_stream()) == {"customers", "users"}
    _assert_token_never_printed(run)


def test_a_stream_refused_with_503_until_retries_run_out_fails_naming_stream_and_status(emulator, catalog, workdir):
    emulator.add_fault("status", count=1_000, path="^/v1/tags", status=503)
    waits_file = workdir / "backoff-waits.txt"
    waits_file.unlink(missing_ok=True)
    catalog_path = write_json(workdir / "catalog.json", configured_catalog(catalog, ["customers", "tags", "users"]))

    # The CDK's backoff (1, 2, 4 ... 128 s: 255 s in all) is written down instead of slept.
    run = run_cli(["read", "--config", str(_config(workdir, emulator.url)), "--catalog", str(catalog_path)], workdir,
                  env=instant_backoff_env(waits_file))

    _assert_fails_naming(run, emulator, "tags", "/v1/tags", "server error")
    assert emulator.stats()["by_endpoint"]["GET /v1/tags"] == 1 + 8  # max_retries
    waits = [float(line) for line in waits_file.read_text().split()]
    assert len(waits) == 8 and waits == sorted(waits) and waits[-1] >= 60, waits  # growing, minutes in all
    assert set(run.records_by_stream()) == {"customers", "users"}
    _assert_token_never_printed(run)


# -- 4. Bad input ---------------------------------------------------------------------------------------------


class _NotKustomer(BaseHTTPRequestHandler):
    """A web server that is not Kustomer's API: every path answers 200 with an HTML page."""

    def _page(self) -> None:
        body = b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _page

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def html_server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotKustomer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# case: (token, where the api_url points, what the check's message must say, what the read's message must say)
BAD_INPUT = {
    "wrong_token": ("sk-not-this-org-8d1e5a", "emulator", ["HTTP 401", "Invalid or missing API token"], ["HTTP 401", "Invalid or missing API token"]),
    "wrong_region": ("wrong-region-token", "emulator", ["HTTP 401", "pod prod2", "api_url"], ["HTTP 401", "pod prod2", "api_url"]),
    "no_roles": ("no-roles-token", "emulator", ["org.permission.search.create", "customers, conversations"], ["HTTP 403", "org.permission.search.create"]),
    "closed_port": (TOKEN, "closed", ["Could not reach Kustomer", "api_url"], ["Could not reach Kustomer", "api_url"]),
    "not_kustomer": (TOKEN, "html", ["not Kustomer's API", "api_url"], ["api_url"]),
}


@pytest.fixture
def api_urls(emulator, html_server_url, closed_port_url) -> Dict[str, str]:
    return {"emulator": emulator.url, "html": html_server_url, "closed": closed_port_url}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_check_fails_within_a_minute_saying_why(workdir, api_urls, case):
    token, where, reasons, _read_reasons = BAD_INPUT[case]

    run = run_cli(["check", "--config", str(_config(workdir, api_urls[where], token=token))], workdir, timeout=60)

    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED"
    for reason in reasons:
        assert reason in status["message"], status["message"]
    if where != "emulator":
        assert api_urls[where] in status["message"]
    _assert_token_never_printed(run, token)



@pytest.mark.parametrize("case", ["closed_port", "not_kustomer", "wrong_token"])
def test_discover_fails_within_30_seconds_with_the_checks_reason(workdir, api_urls, case):
    token, where, check_reasons, _read_reasons = BAD_INPUT[case]
    config = _config(workdir, api_urls[where], token=token)
    check = run_cli(["check", "--config", str(config)], workdir, timeout=60)

    started = time.monotonic()
    run = run_cli(["discover", "--config", str(config)], workdir, timeout=60)
    took = time.monotonic() - started
    print(f"discover against {case}: failed in {took:.1f} s")

    assert took < 30
    assert run.exit_code != 0 and not run.of_type("CATALOG")
    assert _error_text(run) == check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["message"]
    for reason in check_reasons:  # the check's reason, as this module expects it (not only as check printed it)
        assert reason in _error_text(run), _error_text(run)
    _assert_token_never_printed(run, token)


# case: token -> (check status, what its message must say); the emulator lists the roles of each key but one
ROLE_CASES = {
    "no-search-role-token": ("FAILED", ["org.permission.search.create", "HTTP 403", "customers, conversations, messages, notes, kobjects, companies"]),
    "no-search-role-unlisted-token": ("FAILED", ["org.permission.search.create", "HTTP 403", "customers, conversations"]),
    # every role under its legacy name (org.user.search.read, org.user.metadata.read, ...)
    "legacy-roles-token": ("SUCCEEDED", []),
    "no-metadata-token": ("SUCCEEDED", []),
    TOKEN: ("SUCCEEDED", []),
}


@pytest.mark.parametrize("token", ROLE_CASES)
def test_check_says_which_role_the_key_lacks_for_search_and_passes_without_optional_roles(emulator, workdir, token):
    expected_status, reasons = ROLE_CASES[token]

    run = run_cli(["check", "--config", str(_config(workdir, emulator.url, token=token))], workdir, timeout=60)

    status = run.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == expected_status, status
    for reason in reasons:
        assert reason in status["message"], status["message"]
    if expected_status == "SUCCEEDED":
        assert not status.get("message")
        # The roles came with the token: no search spent on asking.
        assert "POST /v1/customers/search:customer" not in emulator.stats()["by_endpoint"]
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert any("org.permission.metadata.read" in w for w in warnings) == (token == "no-metadata-token"), warnings
    _assert_token_never_printed(run, token)


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_read_fails_within_a_minute_with_an_error_trace_saying_why(workdir, catalog, api_urls, case):
    token, where, _check_reasons, reasons = BAD_INPUT[case]

    run = _read(workdir, _config(workdir, api_urls[where], token=token), catalog, ["customers", "users", "tags"], timeout=60)

    assert run.exit_code != 0
    assert run.errors() and not run.records()
    message = _error_text(run)
    for reason in reasons:
        assert reason in message, message
    if where != "emulator":
        assert api_urls[where] in message
    _assert_token_never_printed(run, token)


# -- 5. A read killed mid-way -----------------------------------------------------------------------------------


def _read_up_to(stream_state: Dict[str, Any]) -> str:
    """Up to when a state says its stream is read from the start: `updated_at` (1.0.0's form), or the end of the
    first of the ranges read (the date-range form of search-backed streams)."""
    ranges = stream_state.get("slices") or [{}]
    return stream_state.get("updated_at") or ranges[0].get("end", "")


def _read_until_checkpoint(command: List[str], workdir: Path, stream: str, start: str, timeout: float = 60) -> Dict[str, Any]:
    """Starts a read and kills it at the first STATE of `stream` past `start`: that state, and the records before it.

    STATE messages that still hold the start date (windows finish out of order) are read past: resuming from
    them would prove nothing.
    """
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watchdog = threading.Timer(timeout, process.kill)  # never hang on a read that emits no state
    watchdog.start()
    checkpointed: Set[str] = set()
    since_checkpoint: Set[str] = set()
    state: Optional[Dict[str, Any]] = None
    output: List[str] = []
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            output.append(line)
            message = parse_message(line)
            if message is None:
                continue
            if message["type"] == "RECORD" and message["record"]["stream"] == stream:
                since_checkpoint.add(message["record"]["data"]["id"])
            elif message["type"] == "STATE" and message["state"]["stream"]["stream_descriptor"]["name"] == stream:
                checkpointed |= since_checkpoint
                since_checkpoint = set()
                if _read_up_to(message["state"]["stream"]["stream_state"]) > start:
                    state = message["state"]
                    break
    finally:
        process.kill()
        process.wait()
        watchdog.cancel()
    return {"state": state, "checkpointed": checkpointed, "exit_code": process.returncode, "output": "".join(output)}


def _kill_then_resume(emulator, workdir: Path, config: Path, catalog_path: Path, start_date: str):  # type: ignore[no-untyped-def]
    """A read killed at its first checkpoint past the start, then a read from that checkpoint (at full speed)."""
    command = [console_script(), "read", "--config", str(config), "--catalog", str(catalog_path)]
    first = _read_until_checkpoint(command, workdir, "customers", start=start_date.replace("Z", ".000Z"))
    emulator.configure(latency_ms=0)
    state_path = write_json(workdir / "resume_state.json", [first["state"]] if first["state"] else [])
    second = run_cli(["read", "--config", str(config), "--catalog", str(catalog_path), "--state", str(state_path)], workdir)
    return first, second


def test_a_killed_read_resumes_from_its_last_state_without_losing_a_record(emulator, catalog, workdir):
    start_date = "2025-01-01T00:00:00Z"  # every customer, through the tie block of 500 sharing one updatedAt
    config = _config(workdir, emulator.url, page_size=100, start_date=start_date)
    catalog_path = write_json(workdir / "resume_catalog.json", configured_catalog(catalog, ["customers"], incremental=True))
    # State is saved at each search-cap restart: a cap of 1,000 makes several of them among 5,000 customers.
    emulator.configure(latency_ms=150, search_cap=1_000)
    try:
        first, second = _kill_then_resume(emulator, workdir, config, catalog_path, start_date)
    finally:
        emulator.configure(latency_ms=0, search_cap=10_000)

    assert first["state"] is not None, first["output"][-2000:]
    assert first["exit_code"] != 0, "the first read finished before it was killed"
    expected = ids_since(emulator, "customers", start_date)
    assert len(first["checkpointed"]) < len(expected)
    assert TOKEN not in first["output"]
    assert second.exit_code == 0 and not second.errors(), second.errors()
    resumed = set(second.id_counts("customers"))
    assert expected <= first["checkpointed"] | resumed, f"{len(expected - first['checkpointed'] - resumed)} customers lost"
    assert len(resumed) < len(expected), "the second read started over instead of resuming"
    _assert_token_never_printed(second)


# -- 6. Sharing the org's rate limits ----------------------------------------------------------------------------


class _Trickle(threading.Thread):
    """Another integration of the same org: one search every `every` seconds with its own key, until stopped."""

    def __init__(self, url: str, every: float) -> None:
        super().__init__(daemon=True)
        self.host, self.port = url.split("//", 1)[1].split(":")
        self.every = every
        self.statuses: List[int] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        import http.client

        body = json.dumps({"queryContext": "customer", "and": [{"customer_updated_at": {"gte": START_DATE}}]})
        headers = {"Authorization": "Bearer second-client-token", "Content-Type": "application/json"}
        while not self.stopped.wait(self.every):
            connection = http.client.HTTPConnection(self.host, int(self.port), timeout=10)
            try:
                connection.request("POST", "/v1/customers/search?page=1&pageSize=1", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                self.statuses.append(response.status)
            finally:
                connection.close()


def test_with_a_share_of_50_the_connector_leaves_half_of_each_window_to_another_integration(emulator, catalog, workdir):
    window, search_limit, general_limit = 2, 12, 8
    emulator.configure(search_rate_limit=search_limit, rate_limit=general_limit, window_seconds=window, latency_ms=100)
    streams = ["customers", "conversations", "tags", "users"]
    trickle = _Trickle(emulator.url, every=0.7)  # about 3 searches a window: inside the 6 kept for the org

    trickle.start()
    started = time.monotonic()
    try:
        with SearchLog(emulator) as log:
            run = _read(workdir, _config(workdir, emulator.url, page_size=50, rate_limit_share=50), catalog, streams)
    finally:
        trickle.stopped.set()
        trickle.join()
    took = time.monotonic() - started
    assert len(log.windows("customers")) > 1  # several windows of a stream in flight

    _assert_every_record_arrived(run, emulator, streams)
    windows = emulator.stats()["windows"]
    used = {  # the connector's requests in each window where it made any, in order
        budget: [counts["default"]["allowed"] for _n, counts in sorted(windows[budget].items(), key=lambda w: int(w[0])) if "default" in counts]
        for budget in ("search", "general")
    }
    refused = sum(c.get("refused", 0) for budget in windows.values() for counts in budget.values() for c in counts.values())
    print(
        f"share 50 of {search_limit} searches / {general_limit} requests per {window} s window, read in {took:.1f} s: "
        f"connector's searches per window {used['search']}, requests per window {used['general']}; "
        f"other integration {len(trickle.statuses)} searches, statuses {sorted(set(trickle.statuses))}; refused {refused}"
    )
    assert len(used["search"]) >= 4, "too few windows to show anything"
    assert len(trickle.statuses) >= 5 and set(trickle.statuses) == {200}, trickle.statuses
    assert max(used["search"]) <= search_limit // 2, used["search"]
    assert max(used["general"]) <= general_limit // 2, used["general"]
    assert refused == 0
    # The connector does use its half: windows in the middle of the read are full.
    assert max(used["search"]) >= search_limit // 2 - 3, used["search"]
    _assert_token_never_printed(run)
