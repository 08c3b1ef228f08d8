"""Agents' work sessions: an incremental sync that reads what changed, from a list without a time filter.

`GET /v1/routing/work-sessions` filters by `active`, `user` and `statusType` only, and Kustomer's reference does not
say in which order it lists sessions. A session is updated while its agent works and once more when the agent signs
out; it is read-only after that. So, listed most recently updated first, every session that started, changed or
ended since the last sync comes before the first one not updated since: the sync can stop at the first page that
reaches below the saved `updated_at` (the stream's client-side incremental filter drops the older records of that
page). That costs the pages of what changed plus one, never the whole history.

The CDK's data feed (`is_data_feed`) stops the same way but trusts the order: listed in any other order it would stop
early and lose sessions. `NewestFirstPagination` checks the order on every page (and across pages) and, the first
time it does not hold, reads the whole list to its end, with one warning: slower, never incomplete. (The pages not
read cannot be checked: stopping trusts that an order seen to hold on every page read holds on the rest.)
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

import requests

from airbyte_cdk.sources.types import Record, StreamSlice

from source_kustomer.pages import PageNumbers, page_body
from source_kustomer.search import SYNC_STATES, _Once, next_link, parse_time

LOGGER = logging.getLogger("airbyte")


def updated_times(body: Any) -> List[Any]:
    """The `updatedAt` of each object of a page, parsed (None where missing or not a time). The page's objects may
    already be records: the flattener turns them into records in place, `updated_at` at the top."""
    data = body.get("data") if isinstance(body, dict) else None
    return [parse_time(updated_at(item)) for item in data or []]


def updated_at(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    attributes = item.get("attributes")
    return attributes.get("updatedAt") if isinstance(attributes, dict) else item.get("updated_at")


@dataclass
class NewestFirstPagination(PageNumbers):
    """Kustomer's page numbers, stopping after the first page that reaches below the stream's saved `updated_at`
    (or start_date), while the list holds most recently updated first; to the last page otherwise.

    The saved `updated_at` comes from the source (`SYNC_STATES`), as for the search streams' tombstones. The order
    seen so far is kept per slice: work sessions are one slice, read page after page by one thread.
    """

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._stream = self._parameters.get("name", "work_sessions")
        self._lock = threading.Lock()
        # Each page's oldest updatedAt, by page number (the CDK may ask twice about one page).
        self._oldest: Dict[int, Any] = {}
        self._in_order = True
        self._warned = _Once()

    def cutoff(self) -> Any:
        """The sync's lower bound: the saved `updated_at`, else start_date."""
        saved = (self.config.get(SYNC_STATES) or {}).get(self._stream)
        return parse_time(saved) or parse_time(self.config.get("start_date"))

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
        page = last_page_token_value if isinstance(last_page_token_value, int) else 1
        times = updated_times(body)
        with self._lock:
            if page == 1:
                self._oldest, self._in_order = {}, True
            previous = [self._oldest[page - 1]] if page - 1 in self._oldest else []
            sequence = previous + times
            ordered = None not in times and all(later <= earlier for earlier, later in zip(sequence, sequence[1:]))
            if self._in_order and not ordered:
                self._in_order = False
                if self._warned.first(self._stream):
                    LOGGER.warning(
                        f"{self._stream}: Kustomer listed work sessions in an order other than most recently updated "
                        "first, so this sync reads the whole list to find what changed (one request per "
                        f"{self._page_size} sessions). Nothing is missed; please report this."
                    )
            if times and times[-1] is not None:
                self._oldest[page] = times[-1]
        if not next_link(body):
            return None
        cutoff = self.cutoff()
        if self._in_order and times and cutoff is not None and times[-1] < cutoff:
            return None
        return page + 1
