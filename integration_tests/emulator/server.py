"""A local emulator of the Kustomer REST API v1 (stdlib only).

It follows what the project's API notes record of the real API.  The emulator serves deterministic
data (``data.py``) through the real envelope, pagination, search, auth, error and rate-limit behaviour, and
offers test controls under ``/_emulator/`` (no auth): record upserts, fault injection, live configuration and
request statistics.
"""

from __future__ import annotations

import bisect
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

from . import data as D

DEFAULT_TOKEN = "kustomer-emulator-token"
WRONG_REGION_TOKEN = "wrong-region-token"
NO_ROLES_TOKEN = "no-roles-token"
NO_METADATA_TOKEN = "no-metadata-token"
NO_AUDIT_TOKEN = "no-audit-token"
# Every role but a search role; the second one's token document does not list its roles at all.
NO_SEARCH_TOKEN = "no-search-role-token"
NO_SEARCH_UNLISTED_TOKEN = "no-search-role-unlisted-token"
# Every role, under the legacy names (org.user.<resource>.read, org.user.search.read).
LEGACY_ROLES_TOKEN = "legacy-roles-token"
# Another integration of the same org, with every role: it draws from the same rate-limit budgets.
SECOND_CLIENT_TOKEN = "second-client-token"
# What the per-window statistics call each client (never the token itself).
CLIENT_NAMES = {NO_ROLES_TOKEN: "no-roles", NO_METADATA_TOKEN: "no-metadata", NO_AUDIT_TOKEN: "no-audit", NO_SEARCH_TOKEN: "no-search-role",
                NO_SEARCH_UNLISTED_TOKEN: "no-search-role-unlisted", SECOND_CLIENT_TOKEN: "second-client",
                LEGACY_ROLES_TOKEN: "legacy-roles"}

LIST_MAX_PAGE_SIZE = {
    "users": 500,
    "teams": 500,
    "tags": 100,
    "shortcuts": 100,
    "slas": 100,
    "klasses": 100,
    "brands": 100,
    "schedules": 100,
    "satisfaction": 100,
    "customers": 100,
    "conversations": 100,
    "companies": 100,
}
DEFAULT_PAGE_SIZE = 100
SEARCH_MAX_PAGE_SIZE = 500
SEARCH_PATH = "/v1/customers/search"
ARCHIVE_PATH = "/v1/customers/archive/search"
AUDIT_MAX_COUNT = 1000
# Search matches objects updated within the last two years; archive search the older ones (not notes).
DEFAULT_SEARCH_HORIZON_DAYS = 730
ARCHIVE_CONTEXTS = ("customer", "conversation", "message", "company", "kobject")
MAX_BODY_BYTES = 100 * 1024  # the real API answers 413 over 100 kB

# queryContext -> stream (kobject_<klass> is resolved dynamically)
SEARCH_CONTEXTS = {
    "customer": "customers",
    "conversation": "conversations",
    "message": "messages",
    "note": "notes",
    "company": "companies",
    "kobject": "kobjects",
}
SEARCH_OPS = ("gt", "gte", "lt", "lte", "equals")

# read role needed per top-level resource (for the 403 of no-roles-token)
ROLE_RESOURCE = {**D.OBJECT_TYPE, "metadata": "metadata", "audit-logs": "audit_logs"}
# Search and archive search accept any one of these (Kustomer's API reference): permission-set roles, then legacy ones.
SEARCH_ROLES = ("org.permission.search.create", "org.permission.search.update", "org.permission.search_global.create",
                "org.permission.search_preview.create", "org.user.search.read", "org.admin.search.read")
ALL_ROLES = sorted({f"org.permission.{r}.read" for r in ROLE_RESOURCE.values()} | {SEARCH_ROLES[0]})
LEGACY_ROLES = sorted({f"org.user.{r}.read" for r in ROLE_RESOURCE.values()} | {"org.user.search.read"})


def missing_role(resource: str) -> str:
    """Kustomer's reason for a refusal: the role (permission-set name) the request needs."""
    return f"Missing required role {SEARCH_ROLES[0] if resource == 'search' else f'org.permission.{resource}.read'}"

RATE_LIMIT_BODY = D.dumps({"errors": [{
    "status": 429, "code": "too_many_requests", "title": "Too Many Requests",
    "detail": "Rate limit exceeded. Try again after the window resets.",
}]})

_TITLES = {400: ("bad_request", "Bad Request"), 401: ("unauthorized", "Unauthorized"),
           403: ("forbidden", "Forbidden"), 404: ("not_found", "Not Found"), 409: ("conflict", "Conflict"),
           413: ("payload_too_large", "Payload Too Large"), 429: ("too_many_requests", "Too Many Requests"),
           500: ("internal_server_error", "Internal Server Error"), 502: ("bad_gateway", "Bad Gateway"),
           503: ("service_unavailable", "Service Unavailable"), 504: ("gateway_timeout", "Gateway Timeout")}

_HEX24 = re.compile(r"^[0-9a-f]{24}$")


def error_body(status: int, detail: str) -> bytes:
    code, title = _TITLES.get(status, ("error", "Error"))
    return D.dumps({"errors": [{"status": status, "code": code, "title": title, "detail": detail}]})


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


# ---------------------------------------------------------------------------------------------------------
# store


class _UpdIndex:
    """Records of one stream (or one klass) sorted by (updatedAt, id)."""

    __slots__ = ("keys",)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.keys = sorted(pairs)

    def add(self, upd: str, id_: str) -> None:
        bisect.insort(self.keys, (upd, id_))

    def remove(self, upd: str, id_: str) -> None:
        i = bisect.bisect_left(self.keys, (upd, id_))
        if i < len(self.keys) and self.keys[i] == (upd, id_):
            del self.keys[i]


class Store:
    def __init__(self, gen: D.DataGenerator, recs: dict[str, list[D.Record]]) -> None:
        self.lock = threading.RLock()
        self.gen = gen
        self.version = 0
        self.records: dict[str, dict[str, D.Record]] = {s: {r.id: r for r in recs.get(s, [])} for s in D.STREAMS}
        self.by_id: dict[str, list[str]] = {s: sorted(self.records[s]) for s in D.STREAMS}
        self.upd: dict[Any, _UpdIndex] = {
            s: _UpdIndex([(r.updated, r.id) for r in self.records[s].values()]) for s in D.STREAMS
        }
        self.klass_names = list(gen.klass_names)
        for k in self.klass_names:
            self.upd[("kobjects", k)] = _UpdIndex(
                [(r.updated, r.id) for r in self.records["kobjects"].values() if r.klass == k])
        self.new_seq = {s: len(self.records[s]) for s in D.STREAMS}
        # soft-deleted objects (attributes.deleted true): search leaves them out unless includeDeleted
        self.deleted: dict[str, set[str]] = {
            s: {r.id for r in self.records[s].values() if b'"deleted":true' in r.body and r.obj()["attributes"].get("deleted") is True}
            for s in D.STREAMS}
        # the audit log, oldest first: a few create/update events of the search-backed objects, then one event per
        # upsert and per hard delete
        self.audit: list[dict] = []
        for stream in ("customers", "conversations", "messages", "companies"):
            for n, id_ in enumerate(self.by_id[stream][:40]):
                r = self.records[stream][id_]
                self._audit_event(stream, id_, "create" if n % 2 else "update", r.updated)
        self.audit.sort(key=lambda e: e["attributes"]["createdAt"])
        self._search_cache: dict[Any, list[D.Record]] = {}
        # metadata documents (the same definitions that generated the custom attributes)
        self.metadata: dict[str, bytes] = {
            res: D.dumps(D.metadata_document(res, specs)) for res, specs in D.STANDARD_CUSTOM.items()
        }
        for k in self.klass_names:
            self.metadata["kobject." + k] = D.dumps(D.metadata_document("kobject." + k, gen.klass_specs(k)))

    def _audit_event(self, stream: str, id_: str, verb: str, at: str) -> None:
        object_type = D.OBJECT_TYPE[stream]
        seq = len(self.audit)
        self.audit.append({"type": "audit_log", "id": "%024x" % (0xa0d170000000 + seq), "attributes": {
            "eventName": f"kustomer.{object_type}.{verb}", "eventVerb": verb, "objectType": object_type,
            "objectId": id_, "userId": None, "createdAt": at, "changes": {}}})

    def hard_delete(self, stream: str, ids: list) -> list[str]:
        """Deletes objects for good (gone from every search) and records each deletion in the audit log."""
        if stream not in D.STREAMS:
            raise ApiError(404, f"Unknown stream {stream!r}")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, 'Body must be {"ids": ["...", ...]}')
        gone = []
        with self.lock:
            for id_ in ids:
                rec = self.records[stream].pop(id_, None)
                if rec is None:
                    continue
                self.upd[stream].remove(rec.updated, id_)
                if rec.klass:
                    self.upd[("kobjects", rec.klass)].remove(rec.updated, id_)
                self.by_id[stream].remove(id_)
                self.deleted[stream].discard(id_)
                self._audit_event(stream, id_, "delete", D.now_iso())
                gone.append(id_)
            self.version += 1
            self._search_cache.clear()
        return gone

    def audit_page(self, query: dict) -> bytes:
        count = min(_int_param(query, "count", 100), AUDIT_MAX_COUNT)
        object_type = query.get("filter[objectType]")
        try:
            start = D.normalize_iso(query["filter[start]"]) if query.get("filter[start]") else None
            end = D.normalize_iso(query["filter[end]"]) if query.get("filter[end]") else None
        except ValueError:
            raise ApiError(400, "filter[start] and filter[end] must be ISO-8601 date-times") from None
        after = query.get("after")
        with self.lock:
            events = [e for e in reversed(self.audit)  # newest first
                      if (not object_type or e["attributes"]["objectType"] == object_type)
                      and (start is None or e["attributes"]["createdAt"] >= start)
                      and (end is None or e["attributes"]["createdAt"] <= end)]
        if after:
            ids = [e["id"] for e in events]
            if after not in ids:
                raise ApiError(400, f"Unknown audit log id in 'after': {after!r}")
            events = events[ids.index(after) + 1:]
        page, rest = events[:count], events[count:]
        next_link = None
        if rest:
            params = {k: v for k, v in query.items() if k != "after"}
            params.update(count=str(count), after=page[-1]["id"])
            next_link = "/v1/audit-logs?" + "&".join(f"{k}={v}" for k, v in params.items())
        return D.dumps({"data": page, "links": {"self": "/v1/audit-logs", "next": next_link}})

    def index_for(self, stream: str, klass: str | None) -> _UpdIndex:
        return self.upd[(stream, klass)] if klass else self.upd[stream]

    def upsert(self, stream: str, items: list[dict]) -> list[tuple[dict, D.Record]]:
        """Insert or merge records; returns (object, stored record) pairs."""
        if stream not in D.STREAMS:
            raise ApiError(404, f"Unknown stream {stream!r}")
        if not isinstance(items, list):
            raise ApiError(400, "Body must be {\"records\": [...]}")
        out = []
        with self.lock:
            for item in items:
                if not isinstance(item, dict):
                    raise ApiError(400, "Each record must be an object")
                attrs = item.get("attributes") or {}
                if not isinstance(attrs, dict):
                    raise ApiError(400, "attributes must be an object")
                id_ = item.get("id")
                existing = self.records[stream].get(id_) if id_ else None
                if existing is not None:
                    obj = existing.obj()
                    klass = existing.klass
                else:
                    klass = None
                    if stream == "kobjects":
                        klass = item.get("klass") or (self.klass_names[0] if self.klass_names else None)
                        if klass not in self.klass_names:
                            raise ApiError(400, f"Unknown klass {klass!r}")
                    seq = self.new_seq[stream]
                    self.new_seq[stream] += 1
                    if id_ is None:
                        id_ = D.make_id(int(time.time() * 1000), stream, seq, seq * 7919)
                    elif not isinstance(id_, str) or not id_:
                        raise ApiError(400, "id must be a non-empty string")
                    try:
                        obj = self.gen.new_record(stream, id_, seq, klass)
                    except ValueError as e:
                        raise ApiError(400, str(e)) from None
                a = obj["attributes"]
                for k, v in attrs.items():
                    if k == "custom" and isinstance(v, dict) and isinstance(a.get("custom"), dict):
                        a["custom"].update(v)
                    else:
                        a[k] = v
                try:
                    a["updatedAt"] = D.normalize_iso(attrs["updatedAt"]) if "updatedAt" in attrs else D.now_iso()
                    if "createdAt" in attrs:
                        a["createdAt"] = D.normalize_iso(attrs["createdAt"])
                except ValueError:
                    raise ApiError(400, "updatedAt/createdAt must be ISO-8601 date-times") from None
                if existing is None and "createdAt" not in attrs and a["createdAt"] > a["updatedAt"]:
                    a["createdAt"] = a["updatedAt"]
                if "modifiedAt" not in attrs and "modifiedAt" in a:
                    a["modifiedAt"] = a["updatedAt"]
                rels = item.get("relationships")
                if isinstance(rels, dict):
                    obj.setdefault("relationships", {}).update(rels)
                rec = D.Record(id_, a["updatedAt"], a["createdAt"], klass, D.dumps(obj))
                if existing is not None:
                    self.upd[stream].remove(existing.updated, existing.id)
                    if existing.klass:
                        self.upd[("kobjects", existing.klass)].remove(existing.updated, existing.id)
                else:
                    bisect.insort(self.by_id[stream], id_)
                self.records[stream][id_] = rec
                if a.get("deleted") is True:
                    self.deleted[stream].add(id_)
                else:
                    self.deleted[stream].discard(id_)
                if stream in D.OBJECT_TYPE:
                    self._audit_event(stream, id_, "update" if existing is not None else "create", D.now_iso())
                self.upd[stream].add(rec.updated, id_)
                if klass:
                    self.upd[("kobjects", klass)].add(rec.updated, id_)
                self.version += 1
                self._search_cache.clear()
                out.append((obj, rec))
        return out

    # -- search -----------------------------------------------------------------------------------------

    def search_page(self, stream: str, klass: str | None, terms: list, or_terms: list,
                    sort: list[tuple[str, str]], start: int, size: int, include_deleted: bool = False
                    ) -> tuple[int, list[bytes]]:
        """(total, bodies of records [start, start+size)) for a parsed search."""
        with self.lock:
            hidden = set() if include_deleted else self.deleted[stream]
            fast = (not hidden and not or_terms and all(isinstance(t, tuple) and t[0] == "updated" for t in terms)
                    and len(sort) == 1 and sort[0][0] == "updated")
            if fast:
                return self._fast_page(stream, klass, terms, sort[0][1], start, size)
            key = (stream, klass, repr(terms), repr(or_terms), tuple(sort), bool(hidden), self.version)
            hits = self._search_cache.get(key)
            if hits is None:
                recs = self.records[stream].values()
                if klass:
                    recs = [r for r in recs if r.klass == klass]
                hits = [r for r in recs if r.id not in hidden and _match_all(r, terms)
                        and (not or_terms or _match_any(r, or_terms))]
                hits.sort(key=lambda r: r.id)
                for field, direction in reversed(sort):
                    hits.sort(key=lambda r, f=field: getattr(r, f), reverse=direction == "desc")
                if len(self._search_cache) > 32:
                    self._search_cache.clear()
                self._search_cache[key] = hits
            return len(hits), [r.body for r in hits[start:start + size]]

    def _fast_page(self, stream, klass, terms, direction, start, size):
        keys = self.index_for(stream, klass).keys
        lo, hi = 0, len(keys)
        for _f, op, v in terms:
            if op == "gte":
                lo = max(lo, bisect.bisect_left(keys, (v,)))
            elif op == "gt":
                lo = max(lo, bisect.bisect_right(keys, (v, "\uffff")))
            elif op == "lte":
                hi = min(hi, bisect.bisect_right(keys, (v, "\uffff")))
            elif op == "lt":
                hi = min(hi, bisect.bisect_left(keys, (v,)))
            elif op == "equals":
                lo = max(lo, bisect.bisect_left(keys, (v,)))
                hi = min(hi, bisect.bisect_right(keys, (v, "\uffff")))
        total = max(0, hi - lo)
        recs = self.records[stream]
        if start >= total:
            return total, []
        if direction == "asc":
            page = keys[lo + start: lo + min(total, start + size)]
        else:
            # updatedAt descending, ties by id ascending: take the matching slice of the ascending index,
            # widened to whole tie groups, and re-sort it.
            a = hi - min(total, start + size)
            b = hi - start
            a = max(lo, bisect.bisect_left(keys, (keys[a][0],), lo, hi))
            b = min(hi, bisect.bisect_right(keys, (keys[b - 1][0], "\uffff"), lo, hi))
            chunk = sorted(keys[a:b], key=lambda k: k[1])
            chunk.sort(key=lambda k: k[0], reverse=True)
            offset = start - (hi - b)
            page = chunk[offset: offset + min(size, total - start)]
        return total, [recs[i].body for _u, i in page]


def _match(r: D.Record, term) -> bool:
    if isinstance(term, list):  # ("and"|"or", [...]) group
        kind, sub = term
        return _match_all(r, sub) if kind == "and" else _match_any(r, sub)
    field, op, v = term
    x = r.updated if field == "updated" else r.created
    if op == "gte":
        return x >= v
    if op == "gt":
        return x > v
    if op == "lte":
        return x <= v
    if op == "lt":
        return x < v
    return x == v


def _match_all(r, terms) -> bool:
    return all(_match(r, t) for t in terms)


def _match_any(r, terms) -> bool:
    return any(_match(r, t) for t in terms)


# ---------------------------------------------------------------------------------------------------------
# faults, rate limits, stats


class _Fault:
    __slots__ = ("kind", "remaining", "path_re", "path", "method", "status", "latency_ms", "body")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "count": self.remaining, "path": self.path, "method": self.method,
                "status": self.status, "latency_ms": self.latency_ms, "body": self.body}


FAULT_KINDS = ("status", "drop", "latency", "invalid_json", "truncated", "rate_limit")


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
                out = D.dumps(fault.body)
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


def _int_param(query: dict, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a positive integer") from None
    if v < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return v


def _envelope(base_path: str, page: int, size: int, total: int, bodies: list[bytes]) -> bytes:
    pages = math.ceil(total / size) if total else 0
    last = max(pages, 1)

    def link(p: int) -> str:
        return f"{base_path}?page={p}&pageSize={size}"

    meta = D.dumps({"pageSize": size, "page": page, "total": total, "totalPages": pages})
    links = D.dumps({
        "self": link(page),
        "first": link(1),
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
        "last": link(last),
    })
    return b'{"meta":' + meta + b',"links":' + links + b',"data":[' + b",".join(bodies) + b"]}"


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
            "search_horizon_days": search_horizon_days,
        })
        t0 = time.perf_counter()
        gen, recs = D.generate(seed, counts, tie_block, workers)
        self.generation_seconds = time.perf_counter() - t0
        self.counts = dict(gen.counts)
        self.tie_block = tie_block
        self.store = Store(gen, recs)
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
        if stream not in D.STREAMS:
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
        return D.iso_ms(int((time.time() - float(self.config["search_horizon_days"]) * 86400) * 1000))

    def metadata(self, resource: str) -> dict:
        return json.loads(self.store.metadata[resource])

    # -- internals --------------------------------------------------------------------------------------

    @staticmethod
    def _empty_stats() -> dict:
        # windows: {"search" | "general": {window number: {client: {"allowed": n, "refused": n}}}} while limited
        return {"requests": 0, "by_endpoint": {}, "status_counts": {}, "rate_limited": 0, "faults_applied": 0,
                "windows": {"search": {}, "general": {}}}

    def _configure(self, changes: dict) -> dict:
        allowed = {"rate_limit", "search_rate_limit", "window_seconds", "latency_ms", "reset_header_mode",
                   "search_cap", "search_horizon_days"}
        unknown = set(changes) - allowed
        if unknown:
            raise ApiError(400, f"Unknown config keys: {', '.join(sorted(unknown))}")
        new = dict(self.config)
        for k, v in changes.items():
            if k in ("rate_limit", "search_rate_limit"):
                if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                    raise ApiError(400, f"{k} must be a non-negative integer or null")
            elif k in ("window_seconds", "latency_ms"):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (
                        k == "window_seconds" and v <= 0):
                    raise ApiError(400, f"{k} must be a positive number")
            elif k == "reset_header_mode":
                if v not in ("epoch", "seconds"):
                    raise ApiError(400, "reset_header_mode must be 'epoch' or 'seconds'")
            elif k == "search_horizon_days":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                    raise ApiError(400, "search_horizon_days must be a positive number")
            elif k == "search_cap":
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ApiError(400, "search_cap must be a positive integer")
            new[k] = v
        with self._lock:
            if "window_seconds" in changes:
                self._buckets = {"general": _Bucket(), "search": _Bucket()}
            self.config = new
        return dict(new)

    def _add_fault(self, spec: Any) -> dict:
        if not isinstance(spec, dict):
            raise ApiError(400, "fault must be an object")
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ApiError(400, f"kind must be one of {', '.join(FAULT_KINDS)}")
        f = _Fault()
        f.kind = kind
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ApiError(400, "count must be a positive integer")
        f.remaining = count
        f.path = spec.get("path")
        try:
            f.path_re = re.compile(f.path) if f.path else None
        except re.error as e:
            raise ApiError(400, f"invalid path regex: {e}") from None
        method = spec.get("method")
        f.method = method.upper() if isinstance(method, str) else None
        f.status = spec.get("status")
        if f.status is not None and (isinstance(f.status, bool) or not isinstance(f.status, int)
                                     or not 100 <= f.status <= 599):
            raise ApiError(400, "status must be an HTTP status code")
        f.latency_ms = spec.get("latency_ms", 2000 if kind == "latency" else None)
        f.body = spec.get("body")
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
        def parse() -> Any:
            if not body:
                return {}
            try:
                return json.loads(body)
            except ValueError:
                raise ApiError(400, "Invalid JSON body") from None

        if path == "/_emulator/stats" and method == "GET":
            return 200, D.dumps(self.stats())
        if path == "/_emulator/reset" and method == "POST":
            self.reset()
            return 200, D.dumps({"ok": True})
        if path == "/_emulator/config":
            if method == "POST":
                cfg = parse()
                if not isinstance(cfg, dict):
                    raise ApiError(400, "config must be an object")
                return 200, D.dumps(self._configure(cfg))
            if method == "GET":
                return 200, D.dumps(self.config)
        if path == "/_emulator/faults":
            if method == "POST":
                spec = parse()
                specs = spec if isinstance(spec, list) else [spec]
                return 200, D.dumps({"faults": [self._add_fault(s) for s in specs]})
            if method == "GET":
                with self._lock:
                    return 200, D.dumps({"faults": [f.as_dict() for f in self._faults]})
            if method == "DELETE":
                with self._lock:
                    self._faults.clear()
                return 200, D.dumps({"faults": []})
        if path == "/_emulator/info" and method == "GET":
            return 200, D.dumps({"seed": self.seed, "counts": self.counts, "tie_block": self.tie_block,
                                 "tie_updated_at": D.TIE_UPDATED_AT, "token": self.token,
                                 "klasses": self.store.klass_names,
                                 "generation_seconds": round(self.generation_seconds, 3)})
        m = re.match(r"^/_emulator/delete/([a-z_]+)$", path)
        if m and method == "POST":
            spec = parse()
            return 200, D.dumps({"deleted": self.store.hard_delete(m.group(1), (spec or {}).get("ids"))})
        m = re.match(r"^/_emulator/records/([a-z_]+)$", path)
        if m and method == "POST":
            spec = parse()
            if not isinstance(spec, dict) or not isinstance(spec.get("records"), list):
                raise ApiError(400, "Body must be {\"records\": [...]}")
            stored = self.store.upsert(m.group(1), spec["records"])
            return 200, b'{"data":[' + b",".join(rec.body for _obj, rec in stored) + b"]}"
        raise ApiError(404, f"Cannot {method} {path}")

    # -- the API --------------------------------------------------------------------------------------

    def _auth(self, header: str | None, method: str, path: str, resource: str) -> str:
        """The request's token when it may proceed; raises ApiError(401/403) otherwise."""
        token = None
        if header:
            parts = header.split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                token = parts[1].strip()
        if token == WRONG_REGION_TOKEN:
            raise ApiError(401, "Auth token associated with pod prod2 but request is being handled by prod1")
        if token == NO_ROLES_TOKEN:
            if method == "GET" and path == "/v1/auth/tokens/current":
                return token
            raise ApiError(403, missing_role(resource))
        if token == NO_METADATA_TOKEN:
            if resource in ("metadata", "klass"):
                raise ApiError(403, missing_role(resource))
            return token
        if token == NO_AUDIT_TOKEN:
            if resource == "audit_logs":
                raise ApiError(403, missing_role(resource))
            return token
        if token in (NO_SEARCH_TOKEN, NO_SEARCH_UNLISTED_TOKEN):
            if resource == "search":
                raise ApiError(403, missing_role(resource))
            return token
        if token in (SECOND_CLIENT_TOKEN, LEGACY_ROLES_TOKEN):
            return token
        if token is None or token != self.token:
            raise ApiError(401, "Invalid or missing API token")
        return token

    def _handle_v1(self, method: str, path: str, query: dict, body: bytes, auth: str | None
                   ) -> tuple[int, bytes, list[tuple[str, str]]]:
        parts = path.split("/")[2:]  # after "", "v1"
        is_search = method == "POST" and path in (SEARCH_PATH, ARCHIVE_PATH)
        resource = "search" if is_search else ROLE_RESOURCE.get(parts[0] if parts else "", parts[0] if parts else "")
        try:
            token = self._auth(auth, method, path, resource)
        except ApiError as e:
            return e.status, error_body(e.status, e.detail), []
        allowed, headers = self._draw("search" if is_search else "general", CLIENT_NAMES.get(token, "default"))
        if not allowed:
            return 429, RATE_LIMIT_BODY, headers
        try:
            if len(body) > MAX_BODY_BYTES:
                raise ApiError(413, "Request body exceeds the 100 kB limit")
            return 200, self._route(method, path, parts, query, body, token), headers
        except ApiError as e:
            return e.status, error_body(e.status, e.detail), headers
        except Exception as e:  # pragma: no cover - defensive
            return 500, error_body(500, f"{type(e).__name__}: {e}"), headers

    def _route(self, method: str, path: str, parts: list[str], query: dict, body: bytes, token: str) -> bytes:
        store = self.store
        if method == "POST" and path in (SEARCH_PATH, ARCHIVE_PATH):
            return self._search(query, body, archive=path == ARCHIVE_PATH)
        if method != "GET":
            raise ApiError(404, f"Cannot {method} {path}")
        if parts == ["audit-logs"]:
            return store.audit_page(query)
        if parts == ["auth", "tokens", "current"]:
            return self._token_doc(token)
        if len(parts) == 2 and parts[0] == "metadata":
            doc = store.metadata.get(parts[1])
            if doc is None:
                raise ApiError(404, f"No metadata for resource {parts[1]!r}")
            return doc
        if len(parts) == 1 and parts[0] in LIST_MAX_PAGE_SIZE:
            stream = parts[0]
            page = _int_param(query, "page", 1)
            size = min(_int_param(query, "pageSize", DEFAULT_PAGE_SIZE), LIST_MAX_PAGE_SIZE[stream])
            with store.lock:
                ids = store.by_id[stream]
                recs = store.records[stream]
                if stream == "klasses":  # one status a request, `enabled` unless asked (Kustomer's API reference)
                    wanted = query.get("status") or "enabled"
                    ids = [i for i in ids if (recs[i].raw or json.loads(recs[i].body))["attributes"].get("status", "enabled") == wanted]
                total = len(ids)
                start = (page - 1) * size
                bodies = [recs[i].body for i in ids[start:start + size]]
            return _envelope("/v1/" + stream, page, size, total, bodies)
        if len(parts) == 2 and parts[0] in D.STREAMS:
            stream, key = parts
            with store.lock:
                rec = store.records[stream].get(key)
                if rec is None and stream == "klasses":
                    kid = store.gen.klass_ids.get(key)
                    rec = store.records[stream].get(kid) if kid else None
            if rec is None:
                raise ApiError(404, f"{D.OBJECT_TYPE[stream]} {key} not found")
            return b'{"data":' + rec.body + b"}"
        raise ApiError(404, f"Cannot {method} {path}")

    def _token_doc(self, token: str) -> bytes:
        if token == NO_ROLES_TOKEN:
            roles: list[str] = []
        elif token == NO_METADATA_TOKEN:
            roles = [r for r in ALL_ROLES if r not in ("org.permission.metadata.read", "org.permission.klass.read")]
        elif token == NO_AUDIT_TOKEN:
            roles = [r for r in ALL_ROLES if r != "org.permission.audit_logs.read"]
        elif token in (NO_SEARCH_TOKEN, NO_SEARCH_UNLISTED_TOKEN):
            roles = [r for r in ALL_ROLES if r not in SEARCH_ROLES]
        elif token == LEGACY_ROLES_TOKEN:
            roles = LEGACY_ROLES
        else:
            roles = ALL_ROLES
        attributes: dict[str, Any] = {"name": "emulator key", "roles": roles, "orgName": D.ORG_NAME,
                                      "createdAt": "2024-01-15T09:30:00.000Z"}
        if token == NO_SEARCH_UNLISTED_TOKEN:
            del attributes["roles"]
        return D.dumps({"data": {
            "type": "token",
            "id": "5f0c3b2a1d4e5f6a7b8c9d0e",
            "attributes": attributes,
            "relationships": {"org": D.ORG_REL},
        }})

    def _search(self, query: dict, body: bytes, archive: bool = False) -> bytes:
        page = _int_param(query, "page", 1)
        size = min(_int_param(query, "pageSize", DEFAULT_PAGE_SIZE), SEARCH_MAX_PAGE_SIZE)
        try:
            q = json.loads(body) if body else None
        except ValueError:
            raise ApiError(400, "Invalid JSON body") from None
        if not isinstance(q, dict):
            raise ApiError(400, "Invalid JSON body: expected an object")
        ctx = q.get("queryContext")
        klass = None
        if isinstance(ctx, str) and ctx in SEARCH_CONTEXTS:
            stream = SEARCH_CONTEXTS[ctx]
            prefixes = [ctx]
        elif isinstance(ctx, str) and ctx.startswith("kobject_") and ctx[len("kobject_"):] in self.store.klass_names:
            stream = "kobjects"
            klass = ctx[len("kobject_"):]
            prefixes = ["kobject"]  # one klass's search filters and sorts on kobject_updated_at (API reference)
        else:
            raise ApiError(400, f"Unknown queryContext: {ctx!r}")
        if archive and prefixes[-1] not in ARCHIVE_CONTEXTS:
            raise ApiError(400, f"queryContext {ctx!r} is not supported by archive search")
        include_deleted = q.get("includeDeleted", False)
        if not isinstance(include_deleted, bool):
            raise ApiError(400, "'includeDeleted' must be a boolean")
        fields = {}
        for p in prefixes:
            fields[p + "_updated_at"] = "updated"
            fields[p + "_created_at"] = "created"

        def parse_terms(items: Any, where: str) -> list:
            if items is None:
                return []
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list):
                raise ApiError(400, f"'{where}' must be a list of criteria")
            terms: list = []
            for item in items:
                if not isinstance(item, dict):
                    raise ApiError(400, f"Invalid criterion in '{where}': {item!r}")
                for attr, cond in item.items():
                    if attr in ("and", "or"):
                        terms.append([attr, parse_terms(cond, attr)])
                        continue
                    field = fields.get(attr)
                    if field is None:
                        raise ApiError(400, f"Unknown attribute '{attr}' for queryContext '{ctx}'")
                    if not isinstance(cond, dict) or not cond:
                        raise ApiError(400, f"Invalid condition for '{attr}': {cond!r}")
                    for op, value in cond.items():
                        if op not in SEARCH_OPS:
                            raise ApiError(400, f"Unknown operator '{op}' for attribute '{attr}'")
                        try:
                            v = D.normalize_iso(value)
                        except ValueError:
                            raise ApiError(400, f"Invalid date value for '{attr}': {value!r}") from None
                        terms.append((field, op, v))
            return terms

        terms = parse_terms(q.get("and"), "and")
        # the two-year horizon: search matches the recent objects, archive search the older ones
        terms.append(("updated", "lt" if archive else "gte", self.search_horizon()))
        or_terms = parse_terms(q.get("or"), "or")
        raw_sort = q.get("sort")
        sort: list[tuple[str, str]] = []
        if raw_sort is not None:
            if isinstance(raw_sort, dict):
                raw_sort = [raw_sort]
            if not isinstance(raw_sort, list):
                raise ApiError(400, "'sort' must be a list")
            for item in raw_sort:
                if not isinstance(item, dict):
                    raise ApiError(400, f"Invalid sort: {item!r}")
                for attr, direction in item.items():
                    field = fields.get(attr)
                    if field is None:
                        raise ApiError(400, f"Unknown sort attribute '{attr}' for queryContext '{ctx}'")
                    if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
                        raise ApiError(400, f"Invalid sort direction for '{attr}': {direction!r}")
                    sort.append((field, direction.lower()))
        if not sort:
            sort = [("updated", "asc")]
        cap = int(self.config["search_cap"])
        start = (page - 1) * size
        if start >= cap:
            raise ApiError(400, f"Search results are limited to {cap} records. Narrow your query.")
        # a page never reaches past the cap
        size_here = min(size, cap - start)
        total, bodies = self.store.search_page(stream, klass, terms, or_terms, sort, start, size_here, include_deleted)
        return _envelope(ARCHIVE_PATH if archive else SEARCH_PATH, page, size, total, bodies)

