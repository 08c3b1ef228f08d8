"""POST /v1/customers/search and /v1/customers/archive/search: query contexts, criteria, sort, the two-year
horizon between them, the search cap and the page size limit.  The matching itself is the store's."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .records import normalize_iso
from .routes import DEFAULT_PAGE_SIZE, Request, envelope, int_param, route

if TYPE_CHECKING:
    from .server import KustomerEmulator

SEARCH_MAX_PAGE_SIZE = 500
SEARCH_PATH = "/v1/customers/search"
ARCHIVE_PATH = "/v1/customers/archive/search"
# Search matches objects updated within the last two years; archive search the older ones (not notes).
DEFAULT_SEARCH_HORIZON_DAYS = 730
ARCHIVE_CONTEXTS = ("customer", "conversation", "message", "company", "kobject")

# queryContext -> stream (kobject_<klass> is resolved dynamically)
SEARCH_CONTEXTS = {
    "customer": "customers",
    "conversation": "conversations",
    "message": "messages",
    "note": "notes",
    "company": "companies",
    "kobject": "kobjects",
    "conversation_time": "conversation_times",  # append-only: created_at only (routing.py)
}
# Contexts whose objects have no updated_at to filter or sort on.
CREATED_ONLY_CONTEXTS = ("conversation_time",)
SEARCH_OPS = ("gt", "gte", "lt", "lte", "equals")


@route("POST", SEARCH_PATH)
@route("POST", ARCHIVE_PATH)
def search(emu: "KustomerEmulator", req: Request) -> bytes:
    query, body, archive = req.query, req.body, req.path == ARCHIVE_PATH
    page = int_param(query, "page", 1)
    size = min(int_param(query, "pageSize", DEFAULT_PAGE_SIZE), SEARCH_MAX_PAGE_SIZE)
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
    elif isinstance(ctx, str) and ctx.startswith("kobject_") and ctx[len("kobject_"):] in emu.store.klass_names:
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
        if p not in CREATED_ONLY_CONTEXTS:
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
                        v = normalize_iso(value)
                    except ValueError:
                        raise ApiError(400, f"Invalid date value for '{attr}': {value!r}") from None
                    terms.append((field, op, v))
        return terms

    terms = parse_terms(q.get("and"), "and")
    # the two-year horizon: search matches the recent objects, archive search the older ones
    terms.append(("updated", "lt" if archive else "gte", emu.search_horizon()))
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
    if ctx in CREATED_ONLY_CONTEXTS:
        # Kustomer's reference lists no sortable attribute for these: modelled as ignoring the sort asked for, newest
        # (greatest id) first.
        sort = [("id", "desc")]
    elif not sort:
        sort = [("updated", "asc")]
    cap = int(emu.config["search_cap"])
    start = (page - 1) * size
    if start >= cap:
        raise ApiError(400, f"Search results are limited to {cap} records. Narrow your query.")
    # a page never reaches past the cap
    size_here = min(size, cap - start)
    total, bodies = emu.store.search_page(stream, klass, terms, or_terms, sort, start, size_here, include_deleted)
    return envelope(ARCHIVE_PATH if archive else SEARCH_PATH, page, size, total, bodies)
