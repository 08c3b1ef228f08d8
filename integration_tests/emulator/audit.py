"""GET /v1/audit-logs: the store's audit events, filtered, in the order the emulator's config ``audit_order``
names: ``newest_first`` (the default, paged by ``after=<id>``), ``newest_first_before`` (Kustomer's reference's
example: newest first, paged by ``before=<id>``) or ``oldest_first`` (paged by ``after=<id>``).

The paging is written once, in ``audit_page`` (a pure function of the events and the query string): the emulator
and the unit tests' requests-level fake (``unit_tests/builders.py`` ``FakeKustomer``) both answer with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .errors import ApiError
from .records import dumps, normalize_iso, now_iso
from .routes import Request, int_param, route

if TYPE_CHECKING:
    from .server import KustomerEmulator

AUDIT_PATH = "/v1/audit-logs"
AUDIT_MAX_COUNT = 1000
# How the last page links on: no `links.next` (the emulator), or, as Kustomer's reference types it, always a
# `links.next`: past the last event (answered by an empty page) or repeating the last page's own query.
LAST_LINK_NONE, LAST_LINK_PAST_THE_END, LAST_LINK_REPEATED = "none", "past_the_end", "repeated"
# audit_order: (newest first?, the cursor parameter)
AUDIT_ORDERS = {"newest_first": (True, "after"), "newest_first_before": (True, "before"), "oldest_first": (False, "after")}


def audit_page(events: Sequence[dict], query: dict, max_count: int = AUDIT_MAX_COUNT,
               last_link: str = LAST_LINK_NONE, order: str = "newest_first") -> dict:
    """One page of the audit log: ``events`` (oldest first) newest first, filtered by ``filter[objectType]``,
    ``filter[start]`` and ``filter[end]`` (on createdAt), from the event after ``after``, ``count`` of them (at
    most ``max_count``), with a ``links.next`` to the rest."""
    count = min(int_param(query, "count", 100), max_count)
    object_type = query.get("filter[objectType]")
    try:
        start = normalize_iso(query["filter[start]"]) if query.get("filter[start]") else None
        end = normalize_iso(query["filter[end]"]) if query.get("filter[end]") else None
    except ValueError:
        raise ApiError(400, "filter[start] and filter[end] must be ISO-8601 date-times") from None
    newest_first, cursor_name = AUDIT_ORDERS[order]
    after = query.get(cursor_name)
    chosen = [e for e in (reversed(events) if newest_first else events)
              if (not object_type or e["attributes"]["objectType"] == object_type)
              and (start is None or e["attributes"]["createdAt"] >= start)
              and (end is None or e["attributes"]["createdAt"] <= end)]
    if after:
        ids = [e["id"] for e in chosen]
        if after not in ids:
            raise ApiError(400, f"Unknown audit log id in {cursor_name!r}: {after!r}")
        chosen = chosen[ids.index(after) + 1:]
    page, rest = chosen[:count], chosen[count:]
    params = {k: v for k, v in query.items() if k != cursor_name}
    params["count"] = str(count)
    if rest or (last_link == LAST_LINK_PAST_THE_END and page):
        params[cursor_name] = page[-1]["id"]
    elif last_link == LAST_LINK_NONE:
        params = {}
    elif after:  # an empty page past the end, or the last page repeated: the query as asked
        params[cursor_name] = after
    next_link = AUDIT_PATH + "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else None
    return {"data": page, "links": {"self": AUDIT_PATH, "next": next_link}}


@route("GET", AUDIT_PATH)
def audit_logs(emu: "KustomerEmulator", req: Request) -> bytes:
    with emu.store.lock:
        events = list(emu.store.audit)
    return dumps(audit_page(events, req.query, order=emu.config.get("audit_order") or "newest_first"))


def add_event(emu: "KustomerEmulator", stream: str, object_id: str, verb: str, changes: dict | None = None) -> dict:
    """Records one event now (a status change, an assignment, ...), as Kustomer does when an object changes."""
    with emu.store.lock:
        return emu.store._audit_event(stream, object_id, verb, now_iso(), changes)
