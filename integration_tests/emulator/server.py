"""A local emulator of the Kustomer REST API v1 (stdlib only): the HTTP server, rate limits, faults and dispatch.

It follows what the project's API notes record of the real API.  The emulator serves deterministic
data (``generate.py`` and its family modules) through the real envelope, pagination, search, auth, error and
rate-limit behaviour, and offers test controls under ``/_emulator/`` (no auth, ``admin.py``).  Every endpoint
lives in the module of its family and registers itself in the route table (``routes.py``); importing them here
is what registers them.
"""

from __future__ import annotations

import json
import math
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import admin, audit, lists, org_catalog, routing, search  # noqa: F401  (each registers its routes)
from .admin import _Fault, checked_config, parse_fault
from .auth import CLIENT_NAMES, DEFAULT_TOKEN, ROLE_RESOURCE, authenticate
from .errors import RATE_LIMIT_BODY, ApiError, error_body
from .generate import generate
from .records import STREAMS, dumps
from .routes import Request, dispatch
from .search import ARCHIVE_PATH, DEFAULT_SEARCH_HORIZON_DAYS, SEARCH_PATH, horizon
from .store import Store

MAX_BODY_BYTES = 100 * 1024  # the real API answers 413 over 100 kB
_HEX24 = re.compile(r"^[0-9a-f]{24}$")


class _Bucket:
    """One budget of the org (search or general) in the current window: every token of the org draws from it."""

    __slots__ = ("window", "count")

    def __init__(self) -> None:
        self.window: int | None = None
        self.count = 0


# ---------------------------------------------------------------------------------------------------------
# HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, handler, emu: "KustomerEmulator") -> None:
        self.emu = emu
        self.active: set[socket.socket] = set()
        self.active_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        with self.active_lock:
            self.active.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.active_lock:
            self.active.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self.active_lock:
            socks = list(self.active)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):  # client went away, socket closed by a fault, ...
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120
    server_version = "kustomer-emulator/1.0"
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # no per-request logging
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ---------------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(n)
                self.rfile.readline(65537)
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
              content_length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        for k, v in headers or ():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        emu = self.server.emu
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if path.startswith("/_emulator"):
            try:
                status, out = emu._control(method, path, query, body)
            except ApiError as e:
                status, out = e.status, error_body(e.status, e.detail)
            except Exception as e:  # pragma: no cover - defensive
                status, out = 500, error_body(500, f"{type(e).__name__}: {e}")
            self._send(status, out)
            return
        if path.startswith("/v1/") or path == "/v1":
            self._v1(method, path, query, body)
            return
        self._send(404, error_body(404, f"Cannot {method} {path}"))

    def _v1(self, method: str, path: str, query: dict, body: bytes) -> None:
        emu = self.server.emu
        is_search = method == "POST" and path in (SEARCH_PATH, ARCHIVE_PATH)
        emu._count_request(_endpoint_key(method, path, body if is_search else None))

        fault = emu._take_fault(method, self.path)
        if fault is not None:
            if self._apply_fault(fault, method, path, query, body, is_search):
                return

        latency = emu.config["latency_ms"]
        if latency:
            time.sleep(latency / 1000.0)

        status, out, headers = emu._handle_v1(method, path, query, body, self.headers.get("Authorization"))
        emu._count_status(status)
        self._send(status, out, headers)

    def _apply_fault(self, fault: _Fault, method, path, query, body, is_search) -> bool:
        """Apply a fault; True when the response has been dealt with."""
        emu = self.server.emu
        kind = fault.kind
        if kind == "latency":
            time.sleep((fault.latency_ms or 0) / 1000.0)
            return False
        if kind == "drop":
            emu._count_status("dropped")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if kind == "status":
            st = fault.status or 503
            if fault.body is None:
                out = error_body(st, "Injected fault")
            elif isinstance(fault.body, (dict, list)):
                out = dumps(fault.body)
            else:
                out = str(fault.body).encode("utf-8")
            emu._count_status(st)
            self._send(st, out)
            return True
        if kind == "rate_limit":
            bucket = "search" if is_search else "general"
            emu._count_status(429)
            with emu._lock:
                emu._stats["rate_limited"] += 1
            self._send(429, RATE_LIMIT_BODY, emu._rate_headers(bucket, force=True, remaining=0))
            return True
        if kind == "invalid_json":
            st = fault.status or 200
            out = (str(fault.body).encode("utf-8") if fault.body is not None else
                   b'{"meta":{"pageSize":100,"page":1},"links":{"self":"' + path.encode() + b'"},"data":[{"type":'
                   b'"customer","id":"5a821b9499792b00019347f2","attributes":{"name":"Trunc')
            emu._count_status(st)
            self._send(st, out)
            return True
        if kind == "truncated":
            status, out, headers = emu._handle_v1(method, path, query, body, self.headers.get("Authorization"))
            emu._count_status("truncated")
            part = out[: max(1, len(out) // 2)]
            self.close_connection = True
            self._send(status, part, headers, content_length=len(out) + 64)
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        return False


def _endpoint_key(method: str, path: str, search_body: bytes | None) -> str:
    if search_body is not None:
        ctx = "invalid"
        try:
            q = json.loads(search_body or b"null")
            if isinstance(q, dict) and isinstance(q.get("queryContext"), str):
                ctx = q["queryContext"]
        except ValueError:
            pass
        return f"{method} {path}:{ctx}"
    parts = ["{id}" if _HEX24.match(p) else p for p in path.split("/")]
    return f"{method} {'/'.join(parts)}"


# ---------------------------------------------------------------------------------------------------------
# public class


class KustomerEmulator:
    """An in-process Kustomer API v1 emulator serving deterministic data on 127.0.0.1.

    >>> with KustomerEmulator(seed=42) as emu:
    ...     url = emu.url   # "http://127.0.0.1:PORT"
    """

    def __init__(self, seed: Any = 42, counts: dict[str, int] | None = None, tie_block: int = 3000,
                 search_cap: int = 10_000, rate_limit: int | None = None, search_rate_limit: int | None = None,
                 window_seconds: float = 60.0, latency_ms: float = 0, reset_header_mode: str = "epoch",
                 search_horizon_days: float = DEFAULT_SEARCH_HORIZON_DAYS,
                 token: str = DEFAULT_TOKEN, port: int = 0, workers: int | None = None) -> None:
        self.seed = seed
        self.token = token
        self.port = port
        self.config: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._buckets = {"general": _Bucket(), "search": _Bucket()}
        self._configure({
            "rate_limit": rate_limit, "search_rate_limit": search_rate_limit, "window_seconds": window_seconds,
            "latency_ms": latency_ms, "reset_header_mode": reset_header_mode, "search_cap": search_cap,
            "search_horizon_days": search_horizon_days, "ignored_criteria": [], "search_order": "updated",
            "users_default": "all", "index_lag_seconds": 0, "total_cap": None, "churn_updates_per_page": 0,
        })
        t0 = time.perf_counter()
        gen, recs = generate(seed, counts, tie_block, workers)
        self.generation_seconds = time.perf_counter() - t0
        self.counts = dict(gen.counts)
        self.tie_block = tie_block
        self.store = Store(gen, recs)
        self.store.index_lag = float(self.config["index_lag_seconds"])
        self._faults: list[_Fault] = []
        self._stats = self._empty_stats()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            return self.url  # type: ignore[return-value]
        self._server = _Server(("127.0.0.1", self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"kustomer-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        srv = self._server
        if srv is None:
            return
        self._server = None
        srv.shutdown()
        srv.server_close()
        srv.close_all_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> "KustomerEmulator":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- python-side helpers ----------------------------------------------------------------------------

    def records(self, stream: str) -> list[dict]:
        """The raw JSON:API objects currently stored for ``stream``, ordered by id."""
        if stream not in STREAMS:
            raise KeyError(stream)
        with self.store.lock:
            recs = [self.store.records[stream][i] for i in self.store.by_id[stream]]
        return [r.obj() for r in recs]

    def stats(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._stats))

    def reset(self) -> None:
        """Clear faults, counters and rate-limit windows (not the data)."""
        with self._lock:
            self._faults.clear()
            self._stats = self._empty_stats()
            self._buckets = {"general": _Bucket(), "search": _Bucket()}

    def configure(self, **changes: Any) -> dict:
        return self._configure(changes)

    def add_fault(self, kind: str, count: int = 1, path: str | None = None, method: str | None = None,
                  status: int | None = None, latency_ms: float | None = None, body: Any = None) -> dict:
        return self._add_fault({"kind": kind, "count": count, "path": path, "method": method, "status": status,
                                "latency_ms": latency_ms, "body": body})

    def upsert(self, stream: str, records: list[dict]) -> list[dict]:
        """Same as POST /_emulator/records/<stream>: returns the stored objects."""
        return [obj for obj, _rec in self.store.upsert(stream, records)]

    def hard_delete(self, stream: str, ids: list[str]) -> list[str]:
        """Same as POST /_emulator/delete/<stream>: deletes for good, with an audit-log event each; returns the ids."""
        return self.store.hard_delete(stream, ids)

    def search_horizon(self) -> str:
        """The oldest updatedAt that search still matches (archive search serves what is older)."""
        return horizon(self.config["search_horizon_days"])

    def metadata(self, resource: str) -> dict:
        return json.loads(self.store.metadata[resource])

    # -- internals --------------------------------------------------------------------------------------

    @staticmethod
    def _empty_stats() -> dict:
        # windows: {"search" | "general": {window number: {client: {"allowed": n, "refused": n}}}} while limited
        # search_pages: {queryContext: the highest page of a search served}
        # search_log: [epoch seconds, queryContext, page, objects returned, gte, lte] per search served (a benchmark
        # reads its budget from the first to the last search, and where the searches went)
        return {"requests": 0, "by_endpoint": {}, "status_counts": {}, "rate_limited": 0, "faults_applied": 0,
                "windows": {"search": {}, "general": {}}, "search_pages": {}, "search_log": []}

    def _configure(self, changes: dict) -> dict:
        new = checked_config(self.config, changes)
        with self._lock:
            if "window_seconds" in changes:
                self._buckets = {"general": _Bucket(), "search": _Bucket()}
            self.config = new
        store = getattr(self, "store", None)
        if store is not None:
            store.index_lag = float(new["index_lag_seconds"])
        return dict(new)

    def _add_fault(self, spec: Any) -> dict:
        f = parse_fault(spec)
        with self._lock:
            self._faults.append(f)
        return f.as_dict()

    def _take_fault(self, method: str, raw_path: str) -> _Fault | None:
        with self._lock:
            for f in self._faults:
                if f.method and f.method != method:
                    continue
                if f.path_re is not None and not f.path_re.search(raw_path):
                    continue
                f.remaining -= 1
                if f.remaining <= 0:
                    self._faults.remove(f)
                self._stats["faults_applied"] += 1
                return f
        return None

    def _count_request(self, key: str) -> None:
        with self._lock:
            s = self._stats
            s["requests"] += 1
            s["by_endpoint"][key] = s["by_endpoint"].get(key, 0) + 1

    def count_search_page(self, context: str, page: int, returned: int, gte: Any = None, lte: Any = None,
                          at: float | None = None) -> None:
        now = time.time() if at is None else at
        with self._lock:
            pages = self._stats["search_pages"]
            pages[context] = max(pages.get(context, 0), page)
            self._stats["search_log"].append([now, context, page, returned, gte, lte])

    def _count_status(self, status: Any) -> None:
        with self._lock:
            sc = self._stats["status_counts"]
            k = str(status)
            sc[k] = sc.get(k, 0) + 1

    def _rate_headers(self, bucket: str, force: bool = False, remaining: int | None = None
                      ) -> list[tuple[str, str]]:
        limit = self.config["rate_limit" if bucket == "general" else "search_rate_limit"]
        if limit is None and not force:
            return []
        if limit is None:
            limit = 1000 if bucket == "general" else 100
        ws = float(self.config["window_seconds"])
        now = time.time()
        window = math.floor(now / ws)
        if remaining is None:
            b = self._buckets[bucket]
            remaining = max(0, limit - (b.count if b.window == window else 0))
        return self._headers(limit, remaining, window, ws, now)

    def _headers(self, limit: int, remaining: int, window: int, ws: float, now: float) -> list[tuple[str, str]]:
        end = (window + 1) * ws
        if self.config["reset_header_mode"] == "seconds":
            reset = max(0, math.ceil(end - now))
        else:
            reset = math.ceil(end)
        return [("x-ratelimit-limit", str(limit)), ("x-ratelimit-remaining", str(remaining)),
                ("x-ratelimit-reset", str(reset))]

    def _draw(self, bucket: str, client: str = "default") -> tuple[bool, list[tuple[str, str]]]:
        """One request of `client` against the org's `bucket`; per window and client, counts what was allowed and
        refused (stats `windows`)."""
        limit = self.config["rate_limit" if bucket == "general" else "search_rate_limit"]
        if limit is None:
            return True, []
        ws = float(self.config["window_seconds"])
        with self._lock:
            now = time.time()
            window = math.floor(now / ws)
            b = self._buckets[bucket]
            if b.window != window:
                b.window = window
                b.count = 0
            b.count += 1
            allowed = b.count <= limit
            remaining = max(0, limit - b.count)
            if not allowed:
                self._stats["rate_limited"] += 1
            per_client = self._stats["windows"][bucket].setdefault(str(window), {})
            counts = per_client.setdefault(client, {"allowed": 0, "refused": 0})
            counts["allowed" if allowed else "refused"] += 1
        return allowed, self._headers(limit, remaining, window, ws, now)

    def _control(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, bytes]:
        return 200, dispatch(self, Request(method, path, query, body))

    # -- the API --------------------------------------------------------------------------------------

    def _handle_v1(self, method: str, path: str, query: dict, body: bytes, auth: str | None
                   ) -> tuple[int, bytes, list[tuple[str, str]]]:
        parts = path.split("/")[2:]  # after "", "v1"
        is_search = method == "POST" and path in (SEARCH_PATH, ARCHIVE_PATH)
        resource = "search" if is_search else ROLE_RESOURCE.get(parts[0] if parts else "", parts[0] if parts else "")
        try:
            token = authenticate(self.token, auth, method, path, resource)
        except ApiError as e:
            return e.status, error_body(e.status, e.detail), []
        allowed, headers = self._draw("search" if is_search else "general", CLIENT_NAMES.get(token, "default"))
        if not allowed:
            return 429, RATE_LIMIT_BODY, headers
        try:
            if len(body) > MAX_BODY_BYTES:
                raise ApiError(413, "Request body exceeds the 100 kB limit")
            return 200, dispatch(self, Request(method, path, query, body, token)), headers
        except ApiError as e:
            return e.status, error_body(e.status, e.detail), headers
        except Exception as e:  # pragma: no cover - defensive
            return 500, error_body(500, f"{type(e).__name__}: {e}"), headers
