"""GET /v1/audit-logs: the store's audit events, filtered, in either order Kustomer may serve (config
``audit_order``): ``newest_first`` (the default, as the reference's example pages: ``before=<id>``) or
``oldest_first`` (paged by ``after=<id>``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ApiError
from .records import dumps, normalize_iso, now_iso
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
    oldest_first = emu.config.get("audit_order") == "oldest_first"
    with store.lock:
        events = [e for e in (store.audit if oldest_first else reversed(store.audit))
                  if (not object_type or e["attributes"]["objectType"] == object_type)
                  and (start is None or e["attributes"]["createdAt"] >= start)
                  and (end is None or e["attributes"]["createdAt"] <= end)]
    cursor_name = "after" if oldest_first else "before"
    cursor = query.get(cursor_name)
    if cursor:
        ids = [e["id"] for e in events]
        if cursor not in ids:
            raise ApiError(400, f"Unknown audit log id in {cursor_name!r}: {cursor!r}")
        events = events[ids.index(cursor) + 1:]
    page, rest = events[:count], events[count:]
    next_link = None
    if rest:
        params = {k: v for k, v in query.items() if k not in ("after", "before")}
        params.update({"count": str(count), cursor_name: page[-1]["id"]})
        next_link = "/v1/audit-logs?" + "&".join(f"{k}={v}" for k, v in params.items())
    return dumps({"data": page, "links": {"self": "/v1/audit-logs", "next": next_link}})


def add_event(emu: "KustomerEmulator", stream: str, object_id: str, verb: str, changes: dict | None = None) -> dict:
    """Records one event now (a status change, an assignment, ...), as Kustomer does when an object changes."""
    with emu.store.lock:
        return emu.store._audit_event(stream, object_id, verb, now_iso(), changes)
