"""The test controls under /_emulator/ (no auth): statistics, reset, live configuration, fault injection, record
upserts, hard deletes and generation info."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .records import TIE_UPDATED_AT, dumps
from .routes import Request, route

if TYPE_CHECKING:
    from .server import KustomerEmulator


class _Fault:
    __slots__ = ("kind", "remaining", "path_re", "path", "method", "status", "latency_ms", "body")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "count": self.remaining, "path": self.path, "method": self.method,
                "status": self.status, "latency_ms": self.latency_ms, "body": self.body}


FAULT_KINDS = ("status", "drop", "latency", "invalid_json", "truncated", "rate_limit")

CONFIG_KEYS = {"rate_limit", "search_rate_limit", "window_seconds", "latency_ms", "reset_header_mode",
               "search_cap", "search_horizon_days", "ignored_criteria", "search_order", "users_default",
               "index_lag_seconds", "total_cap", "audit_order", "churn_updates_per_page"}
# Facts about Kustomer no source settles, one setting each (the default is the behaviour the connector assumes):
# - ignored_criteria: search attributes Kustomer accepts and silently ignores as criteria (e.g. company_updated_at);
# - search_order: "updated" (as asked) or "shuffled" (pages in an order of their own, not by updated_at);
# - users_default: what GET /v1/users lists without `deleted` / `pending`: "all" users, "active_only" (deactivated
#   and invited users only when asked with deleted=true / pending=true), or "ignored" (the filters are ignored:
#   always all users);
# - index_lag_seconds: an object upserted is found by search only this long after its update;
# - total_cap: meta.total (and the pages it makes) counts at most this many;
# - churn_updates_per_page: a busy org: before each search page after the first, this many objects of the same search
#   placed before the page's offset are updated (their updatedAt becomes now), so they leave a search bounded by an
#   earlier time and every later result moves down as many places (0: off).
SEARCH_ORDERS = ("updated", "shuffled")
USERS_DEFAULTS = ("all", "active_only", "ignored")


def checked_config(config: dict, changes: dict) -> dict:
    """``config`` with ``changes`` applied; ApiError(400) names the first bad key or value."""
    unknown = set(changes) - CONFIG_KEYS
    if unknown:
        raise ApiError(400, f"Unknown config keys: {', '.join(sorted(unknown))}")
    new = dict(config)
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
        elif k == "audit_order":
            if v not in ("newest_first", "newest_first_before", "oldest_first"):
                raise ApiError(400, "audit_order must be 'newest_first', 'newest_first_before' or 'oldest_first'")
        elif k == "search_horizon_days":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ApiError(400, "search_horizon_days must be a positive number")
        elif k == "ignored_criteria":
            if not isinstance(v, list) or not all(isinstance(a, str) for a in v):
                raise ApiError(400, "ignored_criteria must be a list of attribute names")
        elif k == "search_order":
            if v not in SEARCH_ORDERS:
                raise ApiError(400, f"search_order must be one of {', '.join(SEARCH_ORDERS)}")
        elif k == "users_default":
            if v not in USERS_DEFAULTS:
                raise ApiError(400, f"users_default must be one of {', '.join(USERS_DEFAULTS)}")
        elif k == "index_lag_seconds":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ApiError(400, "index_lag_seconds must be a non-negative number")
        elif k == "total_cap":
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ApiError(400, "total_cap must be a positive integer or null")
        elif k == "churn_updates_per_page":
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ApiError(400, "churn_updates_per_page must be a non-negative integer")
        elif k == "search_cap":
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ApiError(400, "search_cap must be a positive integer")
        new[k] = v
    return new


def parse_fault(spec: Any) -> _Fault:
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
    return f


def _json(req: Request) -> Any:
    if not req.body:
        return {}
    try:
        return json.loads(req.body)
    except ValueError:
        raise ApiError(400, "Invalid JSON body") from None


@route("GET", "/_emulator/stats")
def stats(emu: "KustomerEmulator", req: Request) -> bytes:
    return dumps(emu.stats())


@route("POST", "/_emulator/reset")
def reset(emu: "KustomerEmulator", req: Request) -> bytes:
    emu.reset()
    return dumps({"ok": True})


@route("POST", "/_emulator/config")
def set_config(emu: "KustomerEmulator", req: Request) -> bytes:
    cfg = _json(req)
    if not isinstance(cfg, dict):
        raise ApiError(400, "config must be an object")
    return dumps(emu._configure(cfg))


@route("GET", "/_emulator/config")
def get_config(emu: "KustomerEmulator", req: Request) -> bytes:
    return dumps(emu.config)


@route("POST", "/_emulator/faults")
def add_faults(emu: "KustomerEmulator", req: Request) -> bytes:
    spec = _json(req)
    specs = spec if isinstance(spec, list) else [spec]
    return dumps({"faults": [emu._add_fault(s) for s in specs]})


@route("GET", "/_emulator/faults")
def list_faults(emu: "KustomerEmulator", req: Request) -> bytes:
    with emu._lock:
        return dumps({"faults": [f.as_dict() for f in emu._faults]})


@route("DELETE", "/_emulator/faults")
def clear_faults(emu: "KustomerEmulator", req: Request) -> bytes:
    with emu._lock:
        emu._faults.clear()
    return dumps({"faults": []})


@route("GET", "/_emulator/info")
def info(emu: "KustomerEmulator", req: Request) -> bytes:
    return dumps({"seed": emu.seed, "counts": emu.counts, "tie_block": emu.tie_block,
                  "tie_updated_at": TIE_UPDATED_AT, "token": emu.token,
                  "klasses": emu.store.klass_names,
                  "generation_seconds": round(emu.generation_seconds, 3)})


@route("POST", "/_emulator/delete/(?P<stream>[a-z_]+)")
def hard_delete(emu: "KustomerEmulator", req: Request) -> bytes:
    spec = _json(req)
    return dumps({"deleted": emu.store.hard_delete(req.params["stream"], (spec or {}).get("ids"))})


@route("POST", "/_emulator/records/(?P<stream>[a-z_]+)")
def upsert(emu: "KustomerEmulator", req: Request) -> bytes:
    spec = _json(req)
    if not isinstance(spec, dict) or not isinstance(spec.get("records"), list):
        raise ApiError(400, "Body must be {\"records\": [...]}")
    stored = emu.store.upsert(req.params["stream"], spec["records"])
    return b'{"data":[' + b",".join(rec.body for _obj, rec in stored) + b"]}"
