"""The route table: each family module registers its endpoints here with ``@route(method, path pattern)``.

A handler is ``fn(emu, req) -> bytes`` (the answer's body, status 200) and raises ``ApiError`` for any other
status.  Patterns are regular expressions matched against the whole path (trailing slash removed); their named
groups are ``req.params``.  ``fallback=True`` routes (the generic ``/v1/<stream>`` ones) are tried after every other.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .errors import ApiError
from .records import dumps

if TYPE_CHECKING:
    from .server import KustomerEmulator


@dataclass
class Request:
    method: str
    path: str
    query: dict
    body: bytes
    token: str | None = None
    params: dict[str, str] | None = None


Handler = Callable[["KustomerEmulator", Request], bytes]
_ROUTES: list[tuple[str, re.Pattern, Handler]] = []
_FALLBACK: list[tuple[str, re.Pattern, Handler]] = []


def route(method: str, pattern: str, fallback: bool = False) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        (_FALLBACK if fallback else _ROUTES).append((method, re.compile(pattern), fn))
        return fn
    return register


def dispatch(emu: "KustomerEmulator", req: Request) -> bytes:
    for method, pattern, fn in (*_ROUTES, *_FALLBACK):
        m = pattern.fullmatch(req.path) if method == req.method else None
        if m:
            req.params = m.groupdict()
            return fn(emu, req)
    raise ApiError(404, f"Cannot {req.method} {req.path}")


def int_param(query: dict, name: str, default: int) -> int:
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


DEFAULT_PAGE_SIZE = 100


def envelope(base_path: str, page: int, size: int, total: int, bodies: list[bytes], total_cap: int | None = None) -> bytes:
    if total_cap is not None:  # Kustomer counting at most so many (meta.total, and the pages and links it makes)
        total = min(total, total_cap)
    pages = math.ceil(total / size) if total else 0
    last = max(pages, 1)

    def link(p: int) -> str:
        return f"{base_path}?page={p}&pageSize={size}"

    meta = dumps({"pageSize": size, "page": page, "total": total, "totalPages": pages})
    links = dumps({
        "self": link(page),
        "first": link(1),
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
        "last": link(last),
    })
    return b'{"meta":' + meta + b',"links":' + links + b',"data":[' + b",".join(bodies) + b"]}"
