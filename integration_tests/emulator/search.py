"""POST /v1/customers/search and /v1/customers/archive/search: query contexts, criteria, sort, the two-year
horizon between them, the search cap, the 100-page limit and the page size limit.

Kustomer's search rules are written once, here, as pure functions: ``parse_search`` (contexts, criteria, operators,
sort), ``matches`` (one object against parsed criteria), ``order`` (the sort, ties by id), ``search_paging`` and
``page_window`` (page size, the search cap and the 100-page limit), ``horizon`` and ``churned`` (a busy org's updates
while pages are read).  The emulator's store and the
unit tests' requests-level fake (``unit_tests/builders.py`` ``FakeKustomer``) both answer with them.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .errors import ApiError
from .records import iso_ms, normalize_iso
from .routes import DEFAULT_PAGE_SIZE, Request, envelope, int_param, route

if TYPE_CHECKING:
    from .server import KustomerEmulator

SEARCH_MAX_PAGE_SIZE = 500
# Kustomer's reference: "a hard limit of 100 for the maximum number of pages".
SEARCH_PAGE_LIMIT = 100
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


@dataclass
class SearchQuery:
    """A parsed search body: the stream (and klass) searched, criteria as ``(field, op, value)`` terms on the
    fields ``updated`` and ``created`` (nested ``[kind, terms]`` groups), the sort as ``(field, direction)``."""

    context: str
    stream: str
    klass: str | None
    terms: list
    or_terms: list
    sort: list[tuple[str, str]]
    include_deleted: bool


def parse_search(body: Any, klass_names: Iterable[str], archive: bool = False, ignored: Iterable[str] = ()) -> SearchQuery:
    """Kustomer's reading of a search body (bytes or an already decoded object); ApiError(400) for what it refuses."""
    if isinstance(body, (bytes, str)):
        try:
            q = json.loads(body) if body else None
        except ValueError:
            raise ApiError(400, "Invalid JSON body") from None
    else:
        q = body
    if not isinstance(q, dict):
        raise ApiError(400, "Invalid JSON body: expected an object")
    ctx = q.get("queryContext")
    klass = None
    if isinstance(ctx, str) and ctx in SEARCH_CONTEXTS:
        stream = SEARCH_CONTEXTS[ctx]
        prefix = ctx
    elif isinstance(ctx, str) and ctx.startswith("kobject_") and ctx[len("kobject_"):] in klass_names:
        stream = "kobjects"
        klass = ctx[len("kobject_"):]
        prefix = "kobject"  # one klass's search filters and sorts on kobject_updated_at (API reference)
    else:
        raise ApiError(400, f"Unknown queryContext: {ctx!r}")
    if archive and prefix not in ARCHIVE_CONTEXTS:
        raise ApiError(400, f"queryContext {ctx!r} is not supported by archive search")
    include_deleted = q.get("includeDeleted", False)
    if not isinstance(include_deleted, bool):
        raise ApiError(400, "'includeDeleted' must be a boolean")
    fields = {prefix + "_updated_at": "updated", prefix + "_created_at": "created"}
    if prefix in CREATED_ONLY_CONTEXTS:
        del fields[prefix + "_updated_at"]

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
                if attr in ignored:
                    continue  # accepted, and silently not applied
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
    return SearchQuery(ctx, stream, klass, terms, or_terms, sort, include_deleted)


def horizon(days: float) -> str:
    """The oldest updatedAt search still matches, ``days`` before now (archive search serves what is older)."""
    return iso_ms(int((time.time() - float(days) * 86400) * 1000))


def horizon_term(archive: bool, oldest: str) -> tuple[str, str, str]:
    """The two-year horizon as one more criterion: search matches the recent objects, archive search the older."""
    return ("updated", "lt" if archive else "gte", oldest)


def _match(updated: str, created: str, term: Any) -> bool:
    if isinstance(term, list):  # ("and"|"or", [...]) group
        kind, sub = term
        return all(_match(updated, created, t) for t in sub) if kind == "and" else any(_match(updated, created, t) for t in sub)
    field, op, v = term
    x = updated if field == "updated" else created
    if op == "gte":
        return x >= v
    if op == "gt":
        return x > v
    if op == "lte":
        return x <= v
    if op == "lt":
        return x < v
    return x == v


def matches(updated: str, created: str, terms: Sequence, or_terms: Sequence = ()) -> bool:
    """Whether an object updated and created at these (normalised) times meets every `and` term and, when there
    are any, one `or` term."""
    return all(_match(updated, created, t) for t in terms) and (not or_terms or any(_match(updated, created, t) for t in or_terms))


def order(hits: list, sort: Sequence[tuple[str, str]], value: Callable[[Any, str], str]) -> None:
    """Sorts ``hits`` in place as Kustomer answers a search: by each sort field in turn, ties by id ascending.
    ``value(hit, field)`` reads ``id``, ``updated`` or ``created`` of a hit. The field ``shuffled`` (config
    search_order) is an order of the emulator's own, stable from page to page and not by time."""
    hits.sort(key=lambda h: value(h, "id"))
    for field, direction in reversed(sort):
        if field == "shuffled":
            hits.sort(key=lambda h: hashlib.md5(value(h, "id").encode()).digest())
            continue
        hits.sort(key=lambda h, f=field: value(h, f), reverse=direction == "desc")


def search_paging(query: dict) -> tuple[int, int]:
    """(page, page size) of a search request's query string: a page size over 500 is cut down to 500."""
    return int_param(query, "page", 1), min(int_param(query, "pageSize", DEFAULT_PAGE_SIZE), SEARCH_MAX_PAGE_SIZE)


def page_window(page: int, size: int, cap: int, page_limit: int = SEARCH_PAGE_LIMIT) -> tuple[int, int]:
    """(first result, results) of a search page: Kustomer serves at most ``page_limit`` pages and no result past
    the search cap (a page never reaches past it); ApiError(400) beyond either."""
    if page > page_limit:
        raise ApiError(400, f"page must be at most {page_limit}")
    start = (page - 1) * size
    if start >= cap:
        raise ApiError(400, f"Search results are limited to {cap} records. Narrow your query.")
    return start, min(size, cap - start)


def churned(page: int, start: int, per_page: int) -> int:
    """How many objects of a search a busy org updates before its page ``page`` (first result ``start``) is computed:
    ``per_page`` (config churn_updates_per_page) of those before the offset, the first ones (read by earlier pages
    before any of them moved), none before a first page."""
    return min(max(per_page, 0), start) if page > 1 else 0


@route("POST", SEARCH_PATH)
@route("POST", ARCHIVE_PATH)
def search(emu: "KustomerEmulator", req: Request) -> bytes:
    archive = req.path == ARCHIVE_PATH
    page, size = search_paging(req.query)
    q = parse_search(req.body, emu.store.klass_names, archive, emu.config["ignored_criteria"])
    if emu.config["search_order"] == "shuffled":
        q.sort[:] = [("shuffled", "asc")]
    q.terms.append(horizon_term(archive, emu.search_horizon()))
    start, size_here = page_window(page, size, int(emu.config["search_cap"]))
    served_at = time.time()  # just after the rate limit counted it (before the search's own work)
    churn = churned(page, start, int(emu.config["churn_updates_per_page"]))
    if churn:
        emu.store.touch_first(q.stream, q.klass, q.terms, q.or_terms, q.sort, churn, q.include_deleted)
    total, bodies = emu.store.search_page(q.stream, q.klass, q.terms, q.or_terms, q.sort, start, size_here, q.include_deleted)
    bounds = {op: value for term in q.terms if isinstance(term, tuple) for _field, op, value in [term] if op in ("gte", "lte")}
    emu.count_search_page(q.context, page, len(bodies), bounds.get("gte"), bounds.get("lte"), served_at)
    return envelope(ARCHIVE_PATH if archive else SEARCH_PATH, page, size, total, bodies, emu.config["total_cap"])
