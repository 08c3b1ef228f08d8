"""GET /v1/audit-logs: the store's audit events, newest first, filtered and paged by ``after``.

The paging is written once, in ``audit_page`` (a pure function of the events and the query string): the emulator
and the unit tests' requests-level fake (``unit_tests/builders.py`` ``FakeKustomer``) both answer with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .errors import ApiError
from .records import dumps, normalize_iso
from .routes import Request, int_param, route

if TYPE_CHECKING:
    from .server import KustomerEmulator

AUDIT_PATH = "/v1/audit-logs"
AUDIT_MAX_COUNT = 1000
# How the last page links on: no `links.next` (the emulator), or, as Kustomer's reference types it, always a
# `links.next`: past the last event (answered by an empty page) or repeating the last page's own query.
LAST_LINK_NONE, LAST_LINK_PAST_THE_END, LAST_LINK_REPEATED = "none", "past_the_end", "repeated"


def audit_page(events: Sequence[dict], query: dict, max_count: int = AUDIT_MAX_COUNT,
               last_link: str = LAST_LINK_NONE) -> dict:
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
    after = query.get("after")
    chosen = [e for e in reversed(events)  # newest first
              if (not object_type or e["attributes"]["objectType"] == object_type)
              and (start is None or e["attributes"]["createdAt"] >= start)
              and (end is None or e["attributes"]["createdAt"] <= end)]
    if after:
        ids = [e["id"] for e in chosen]
        if after not in ids:
            raise ApiError(400, f"Unknown audit log id in 'after': {after!r}")
        chosen = chosen[ids.index(after) + 1:]
    page, rest = chosen[:count], chosen[count:]
    params = {k: v for k, v in query.items() if k != "after"}
    params["count"] = str(count)
    if rest or (last_link == LAST_LINK_PAST_THE_END and page):
        params["after"] = page[-1]["id"]
    elif last_link == LAST_LINK_NONE:
        params = {}
    elif after:  # an empty page past the end, or the last page repeated: the query as asked
        params["after"] = after
    next_link = AUDIT_PATH + "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else None
    return {"data": page, "links": {"self": AUDIT_PATH, "next": next_link}}


@route("GET", AUDIT_PATH)
def audit_logs(emu: "KustomerEmulator", req: Request) -> bytes:
    with emu.store.lock:
        events = list(emu.store.audit)
    return dumps(audit_page(events, req.query))
