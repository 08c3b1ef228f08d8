"""GET /v1/audit-logs: the store's audit events, newest first, filtered and paged by ``after``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ApiError
from .records import dumps, normalize_iso
from .routes import Request, int_param, route

if TYPE_CHECKING:
    from .server import KustomerEmulator

AUDIT_MAX_COUNT = 1000


@route("GET", "/v1/audit-logs")
def audit_page(emu: "KustomerEmulator", req: Request) -> bytes:
    query, store = req.query, emu.store
    count = min(int_param(query, "count", 100), AUDIT_MAX_COUNT)
    object_type = query.get("filter[objectType]")
    try:
        start = normalize_iso(query["filter[start]"]) if query.get("filter[start]") else None
        end = normalize_iso(query["filter[end]"]) if query.get("filter[end]") else None
    except ValueError:
        raise ApiError(400, "filter[start] and filter[end] must be ISO-8601 date-times") from None
    after = query.get("after")
    with store.lock:
        events = [e for e in reversed(store.audit)  # newest first
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
    return dumps({"data": page, "links": {"self": "/v1/audit-logs", "next": next_link}})
