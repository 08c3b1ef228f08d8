"""Kustomer's audit log (`GET /v1/audit-logs`): one definition of its requests, paging and events, used by the
`audit_logs` stream (the org's change history) and by the search streams' tombstones (`search.SearchRecordExtractor`).

The reference documents two cursors, `before` and `after` (audit-log ids), and pages newest first with `before` in
its example; which order Kustomer serves is not settled by any source. Neither reader depends on it: each follows
`links.next` and takes its cursor from there (`before`, `after`, `page`, whatever it names), keeping its own filters,
and reads until the log says there is no next page. The `audit_logs` stream's state moves only when its one window
has been read whole (the CDK's cursor closes the window after its last page), so it never passes an event not yet
emitted whatever the order; `AuditLogPagination.next_page_token` also stops early on a newest-first log once a page
reaches below the window.
"""

from __future__ import annotations

import datetime
from dataclasses import InitVar, dataclass
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import PaginationStrategy
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.types import Config, Record, StreamSlice

from source_kustomer.pages import page_body

AUDIT_PATH = "/v1/audit-logs"
AUDIT_PAGE_SIZE = 1000  # the audit log's maximum `count`
AUDIT_ROLE = "org.permission.audit_logs.read"
# Kustomer's reference names `eventVerb` but not its values: these are read as a deletion of the object.
DELETE_VERBS = frozenset({"delete", "deleted", "destroy", "destroyed"})


def audit_params(start: Optional[str] = None, end: Optional[str] = None, object_type: Optional[str] = None) -> Dict[str, Any]:
    """The first request's query: the largest page, the time window and the object type where given.

    The filters' format and inclusivity are unverified: both readers also keep events to the window themselves."""
    params: Dict[str, Any] = {"count": AUDIT_PAGE_SIZE}
    if object_type:
        params["filter[objectType]"] = object_type
    if start:
        params["filter[start]"] = start
    if end:
        params["filter[end]"] = end
    return params


def next_link(body: Any) -> Optional[str]:
    """The page after this one, from Kustomer's `links.next`; None on the last page.

    Kustomer's reference types `links.next` of search and audit-log answers as always present (a string, never
    null), so an empty page, or a page `meta` numbers as the last, also ends the reading.
    """
    if not isinstance(body, dict) or not body.get("data"):
        return None
    link = (body.get("links") or {}).get("next")
    meta = body.get("meta") or {}
    page, pages = meta.get("page"), meta.get("totalPages")
    if isinstance(page, int) and isinstance(pages, int) and page >= pages:
        return None
    return link if isinstance(link, str) and link else None


def page_cursor(body: Any, own: Mapping[str, Any]) -> Optional[Dict[str, str]]:
    """The query items of `links.next` that are not the reader's own filters: the cursor (`before`, `after`,
    `page`, ...), whichever the log uses. None on the last page, or when the link moves no cursor (it would read
    the same page again)."""
    link = next_link(body)
    if not link:
        return None
    cursor = {key: value for key, value in parse_qsl(urlsplit(link).query) if key not in own}
    return cursor or None


def audit_pages(requester: Requester, params: Dict[str, Any]) -> Iterator[requests.Response]:
    """Every page of one reading, in the order the log serves them; stops after an answer other than 200 (yielded:
    the caller says what it means) or the last page."""
    cursor: Dict[str, str] = {}
    seen = set()
    while True:
        response = requester.send_request(request_params={**params, **cursor})
        yield response
        if response is None or response.status_code != 200:
            return
        following = page_cursor(page_body(response), params)
        key = tuple(sorted((following or {}).items()))
        if following is None or key in seen:
            return
        seen.add(key)
        cursor = following


def event_attributes(event: Any) -> Dict[str, Any]:
    attributes = event.get("attributes") if isinstance(event, dict) else None
    return attributes if isinstance(attributes, dict) else {}


def parse_time(value: Any) -> Optional[datetime.datetime]:
    """An ISO 8601 UTC time as Kustomer and the cursor write it (with or without milliseconds); None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def event_time(event: Any) -> Optional[datetime.datetime]:
    """An event's time, as Kustomer sends it or once the flattener has made it a record (`created_at`): the
    paginator reads a page after its events became records."""
    flattened = event.get("created_at") if isinstance(event, dict) else None
    return parse_time(flattened or event_attributes(event).get("createdAt"))


def delete_event(event: Any, object_type: str) -> Tuple[Optional[str], Optional[datetime.datetime]]:
    """(object id, event time) of an audit event that deletes an object of `object_type`; (None, None) otherwise."""
    attributes = event_attributes(event)
    verb = str(attributes.get("eventVerb") or "").lower()
    name = str(attributes.get("eventName") or "").lower()
    if verb not in DELETE_VERBS and name.rsplit(".", 1)[-1] not in DELETE_VERBS:
        return None, None
    if str(attributes.get("objectType") or object_type) != object_type:
        return None, None
    object_id, at = attributes.get("objectId"), parse_time(attributes.get("createdAt"))
    if not isinstance(object_id, str) or not object_id or at is None:
        return None, None
    return object_id, at


def newest_first_below(body: Any, start: Optional[datetime.datetime]) -> bool:
    """Whether a page is served newest first and already reaches below `start`: every later page is older."""
    data = body.get("data") if isinstance(body, dict) else None
    times = [t for t in (event_time(event) for event in data or []) if t is not None]
    return start is not None and len(times) > 1 and times[0] > times[-1] and times[-1] < start


@dataclass
class AuditLogPagination(PaginationStrategy):
    """The audit log's cursor paging for the `audit_logs` stream.

    `CursorPagination` injects one value under one fixed parameter name; the audit log's `links.next` names its own
    cursor (`before` or `after`, unverified which). The token is the cursor as a query string, which the manifest's
    requester appends to its URL (its request parameters, count and the window's filters, come after).
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        pass

    @property
    def initial_token(self) -> Optional[Any]:
        return None

    def get_page_size(self) -> Optional[int]:
        return AUDIT_PAGE_SIZE

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any],
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        body = page_body(response)
        start = parse_time((stream_slice.cursor_slice or {}).get("start_time")) if stream_slice is not None else None
        if newest_first_below(body, start):
            return None
        request_query = dict(parse_qsl(urlsplit(response.request.url or "").query)) if response.request is not None else {}
        cursor = page_cursor(body, {key: value for key, value in request_query.items() if key.startswith(("count", "filter["))})
        if cursor is None:
            return None
        token = urlencode(sorted(cursor.items()))
        return None if token == last_page_token_value else token
