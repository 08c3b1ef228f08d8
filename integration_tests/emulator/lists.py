"""GET /v1/<stream> (the list endpoints and their paging envelope), GET /v1/<stream>/<id> and
GET /v1/metadata/<resource>."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .errors import ApiError
from .org_catalog import MAX_PAGE_SIZE as ORG_CATALOG_MAX_PAGE_SIZE
from .records import OBJECT_TYPE, STREAMS
from .routes import DEFAULT_PAGE_SIZE, Request, envelope, int_param, route

if TYPE_CHECKING:
    from .server import KustomerEmulator

# Largest pageSize per list endpoint (a larger one is cut down to it): a stream listed here has GET /v1/<stream>.
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


@route("GET", "/v1/metadata/(?P<resource>[^/]+)")
def metadata(emu: "KustomerEmulator", req: Request) -> bytes:
    resource = req.params["resource"]
    doc = emu.store.metadata.get(resource)
    if doc is None:
        raise ApiError(404, f"No metadata for resource {resource!r}")
    return doc


# Largest pageSize of every paged list, GET /v1/<stream> or another path (a family module adds its own: routing.py).
MAX_PAGE_SIZE = {**LIST_MAX_PAGE_SIZE, **ORG_CATALOG_MAX_PAGE_SIZE}


def list_paging(query: dict, stream: str) -> tuple[int, int]:
    """(page, page size) of a list request: a page size over the endpoint's largest is cut down to it."""
    return int_param(query, "page", 1), min(int_param(query, "pageSize", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE[stream])


def status_filter(stream: str, query: dict) -> str | None:
    """The status a list request answers, for the endpoints that list one status a request: GET /v1/klasses lists
    the `enabled` klasses unless asked for another status (Kustomer's API reference). None for the others."""
    return (query.get("status") or "enabled") if stream == "klasses" else None


@route("GET", "/v1/(?P<stream>[^/]+)", fallback=True)
def list_page(emu: "KustomerEmulator", req: Request) -> bytes:
    stream, query, store = req.params["stream"], req.query, emu.store
    if stream not in LIST_MAX_PAGE_SIZE:
        raise ApiError(404, f"Cannot {req.method} {req.path}")
    page, size = list_paging(query, stream)
    wanted = status_filter(stream, query)
    with store.lock:
        ids = store.by_id[stream]
        recs = store.records[stream]
        if wanted is not None:
            ids = [i for i in ids if (recs[i].raw or json.loads(recs[i].body))["attributes"].get("status", "enabled") == wanted]
        if stream == "users":
            ids = [i for i in ids if _listed_user(emu.config["users_default"], query, recs[i])]
        total = len(ids)
        start = (page - 1) * size
        bodies = [recs[i].body for i in ids[start:start + size]]
    return envelope("/v1/" + stream, page, size, total, bodies, emu.config["total_cap"])


def user_status(rec) -> str:
    """A user's status: "deactivated" (deletedAt set), "invited" (pending: no sign-in yet), else "active"."""
    attributes = (rec.raw or json.loads(rec.body))["attributes"]
    if attributes.get("deletedAt"):
        return "deactivated"
    return "invited" if attributes.get("pending") else "active"


def _listed_user(default: str, query: dict, rec) -> bool:
    """Whether GET /v1/users lists this user: `deleted=true` lists the deactivated users, `pending=true` the invited
    ones; without either, what `users_default` says (all users, or the active ones); "ignored" lists everyone."""
    if default == "ignored":
        return True
    status = user_status(rec)
    deleted, pending = query.get("deleted") == "true", query.get("pending") == "true"
    if deleted or pending:
        return (deleted and status == "deactivated") or (pending and status == "invited")
    return default == "all" or status == "active"


@route("GET", "/v1/(?P<stream>[^/]+)/(?P<key>[^/]+)", fallback=True)
def one_object(emu: "KustomerEmulator", req: Request) -> bytes:
    stream, key, store = req.params["stream"], req.params["key"], emu.store
    if stream not in STREAMS:
        raise ApiError(404, f"Cannot {req.method} {req.path}")
    with store.lock:
        rec = store.records[stream].get(key)
        if rec is None and stream == "klasses":
            kid = store.gen.klass_ids.get(key)
            rec = store.records[stream].get(kid) if kid else None
    if rec is None:
        raise ApiError(404, f"{OBJECT_TYPE[stream]} {key} not found")
    return b'{"data":' + rec.body + b"}"
