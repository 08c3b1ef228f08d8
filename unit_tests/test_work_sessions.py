"""NewestFirstPagination: where an incremental sync of work sessions may stop, and where it must not."""

from __future__ import annotations

import json
import logging
from typing import List, Optional

import pytest
import requests

from source_kustomer.search import SYNC_STATES
from source_kustomer.work_sessions import NewestFirstPagination

SAVED = "2026-03-01T00:00:00.000Z"


def page(number: int, pages: int, times: List[str]) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    body = {
        "meta": {"page": number, "totalPages": pages},
        "links": {"next": f"/v1/routing/work-sessions?page={number + 1}" if number < pages else None},
        "data": [{"type": "work_session", "id": str(i), "attributes": {"updatedAt": t}} for i, t in enumerate(times)],
    }
    response._content = json.dumps(body).encode()
    return response


def read(pages: List[List[str]], saved: Optional[str] = SAVED) -> List[int]:
    """The pages a sync reads: each next_page_token decides whether the next one is asked for."""
    strategy = NewestFirstPagination(config={"start_date": "2020-01-01T00:00:00Z", SYNC_STATES: {"work_sessions": saved} if saved else {}},
                                     parameters={"name": "work_sessions"}, page_size=100)
    read_pages, token = [], None
    while True:
        number = token or 1
        read_pages.append(number)
        token = strategy.next_page_token(page(number, len(pages), pages[number - 1]), 2, None, token)
        if token is None:
            return read_pages


NEWEST_FIRST = [
    ["2026-03-05T00:00:00.000Z", "2026-03-04T00:00:00.000Z"],
    ["2026-03-03T00:00:00.000Z", "2026-02-27T00:00:00.000Z"],  # reaches below the saved state
    ["2026-02-20T00:00:00.000Z", "2026-02-10T00:00:00.000Z"],
    ["2026-01-20T00:00:00.000Z", "2026-01-10T00:00:00.000Z"],
]


def test_newest_first_stops_at_the_first_page_below_the_saved_state():
    assert read(NEWEST_FIRST) == [1, 2]


def test_without_saved_state_it_reads_down_to_start_date():
    assert read(NEWEST_FIRST, saved=None) == [1, 2, 3, 4]


@pytest.mark.parametrize("pages", [
    # oldest first
    [list(reversed(p)) for p in reversed(NEWEST_FIRST)],
    # newest first within pages, but not across them
    [NEWEST_FIRST[0], ["2026-03-06T00:00:00.000Z", "2026-02-27T00:00:00.000Z"], NEWEST_FIRST[2], NEWEST_FIRST[3]],
    # a session without updatedAt
    [NEWEST_FIRST[0], ["2026-03-03T00:00:00.000Z", None], NEWEST_FIRST[2], NEWEST_FIRST[3]],
])
def test_in_any_other_order_it_reads_the_whole_list_and_says_so_once(pages, caplog):
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        assert read(pages) == [1, 2, 3, 4]
    assert len([r for r in caplog.records if "order other than most recently updated first" in r.getMessage()]) == 1
