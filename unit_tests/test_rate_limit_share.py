"""`rate_limit_share`: the budget never spends the org's reserve of a window, whatever form x-ratelimit-reset takes."""

from __future__ import annotations

import datetime
import time
from typing import Any, List, Optional

import pytest
import requests

from airbyte_cdk.sources.declarative.models.declarative_component_schema import HTTPAPIBudget as HTTPAPIBudgetModel
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.streams.call_rate import CallRateLimitHit

from source_kustomer import cdk_internals
from source_kustomer.cdk_internals import KustomerAPIBudget, share_of_window
from source_kustomer.config import normalize_config
from source_kustomer.manifest import load_manifest
from source_kustomer.source import SourceKustomer

SEARCH_URL = "https://api.kustomerapp.com/v1/customers/search"
ARCHIVE_SEARCH_URL = "https://api.kustomerapp.com/v1/customers/archive/search"
USERS_URL = "https://api.kustomerapp.com/v1/users"


def budget(share: int) -> KustomerAPIBudget:
    """The manifest's own budget (its policies, matchers and ceilings), as the source runs it with `share`."""
    declared = ModelToComponentFactory().create_component(HTTPAPIBudgetModel, load_manifest()["api_budget"], config={})
    return KustomerAPIBudget.like(declared, rate_limit_share=share)


def request(url: str = SEARCH_URL) -> requests.PreparedRequest:
    return requests.Request("POST" if url in (SEARCH_URL, ARCHIVE_SEARCH_URL) else "GET", url).prepare()


def response(remaining: Optional[int], limit: Optional[int], reset: Optional[str] = None, status: int = 200) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    if remaining is not None:
        answer.headers["x-ratelimit-remaining"] = str(remaining)
    if limit is not None:
        answer.headers["x-ratelimit-limit"] = str(limit)
    if reset is not None:
        answer.headers["x-ratelimit-reset"] = reset
    return answer


def calls_allowed(paced: KustomerAPIBudget, url: str = SEARCH_URL, at_most: int = 200) -> int:
    """How many more requests the budget lets through before it would wait (without waiting)."""
    for allowed in range(at_most):
        try:
            paced.acquire_call(request(url), block=False)
        except CallRateLimitHit:
            return allowed
    return at_most


def answered(paced: KustomerAPIBudget, answer: requests.Response, url: str = SEARCH_URL) -> None:
    """One request sent and answered."""
    sent = request(url)
    paced.acquire_call(sent, block=False)
    paced.update_from_response(sent, answer)


def in_30_seconds_as(form: str) -> str:
    return str(int(time.time()) + 30) if form == "epoch" else "30"


# -- the arithmetic -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limit,share,expected",
    [(100, 80, 80), (100, 50, 50), (100, 100, 100), (20, 50, 10), (7, 50, 3), (1000, 10, 100), (5, 10, 1), (1, 10, 1)],
)
def test_the_connectors_part_of_a_window_is_the_share_rounded_down_and_never_nothing(limit, share, expected):
    assert share_of_window(limit, share) == expected


@pytest.mark.parametrize(
    "remaining,usable",
    [(100, 80), (50, 30), (21, 1), (20, 0), (19, 0), (0, 0)],
)
def test_the_calls_left_are_what_remains_above_the_reserve(remaining, usable):
    # share 80 of 100: the reserve is 20 requests; at 20 or fewer remaining the connector waits.
    assert budget(80).get_calls_left_from_response(response(remaining, 100)) == usable


def test_an_uneven_reserve_is_rounded_up_to_whole_requests():
    # share 50 of 7: 3.5 requests is the line; the connector spends 3 and waits at 4 remaining.
    assert budget(50).get_calls_left_from_response(response(5, 7)) == 1
    assert budget(50).get_calls_left_from_response(response(4, 7)) == 0


def test_without_the_limit_header_no_reserve_can_be_computed_and_remaining_is_taken_as_is():
    paced = budget(50)

    assert paced.get_calls_left_from_response(response(7, None)) == 7
    assert paced.window_share(response(7, None)) is None


@pytest.mark.parametrize("limit", ["", "many", "0"])
def test_an_unreadable_or_zero_limit_header_is_treated_as_missing(limit):
    answer = response(7, None)
    answer.headers["x-ratelimit-limit"] = limit

    assert budget(50).get_calls_left_from_response(answer) == 7


def test_at_a_share_of_100_the_whole_window_is_used():
    assert budget(100).get_calls_left_from_response(response(3, 100)) == 3


# -- pacing: when the budget waits, and for how long ---------------------------------------------------------------


@pytest.mark.parametrize("form", ["epoch", "seconds"])
def test_remaining_above_the_reserve_lets_exactly_the_calls_above_it_through(form):
    paced = budget(50)

    answered(paced, response(remaining=15, limit=20, reset=in_30_seconds_as(form)))

    assert calls_allowed(paced) == 5  # 15 remaining, 10 kept for the org


@pytest.mark.parametrize("form", ["epoch", "seconds"])
def test_remaining_at_or_below_the_reserve_waits_for_the_reset_in_either_header_form(form):
    paced = budget(50)
    answered(paced, response(remaining=10, limit=20, reset=in_30_seconds_as(form)))

    with pytest.raises(CallRateLimitHit) as hit:
        paced.acquire_call(request(), block=False)

    assert 29 <= hit.value.time_to_wait.total_seconds() <= 31


def test_without_the_limit_header_the_budget_paces_to_the_last_request_as_before():
    paced = budget(50)

    answered(paced, response(remaining=4, limit=None, reset=in_30_seconds_as("seconds")))

    assert calls_allowed(paced) == 4


def test_the_search_reserve_leaves_the_general_budget_alone_and_the_general_one_has_its_own():
    paced = budget(80)
    answered(paced, response(remaining=20, limit=100, reset="30"))  # search: at the reserve

    assert calls_allowed(paced, SEARCH_URL) == 0
    answered(paced, response(remaining=900, limit=1000, reset="30"), url=USERS_URL)
    assert calls_allowed(paced, USERS_URL, at_most=2000) == 700  # 900 remaining, 200 kept for the org


def test_archive_search_draws_from_the_search_budget():
    paced = budget(80)
    answered(paced, response(remaining=20, limit=100, reset="30"), url=ARCHIVE_SEARCH_URL)  # search: at the reserve

    assert calls_allowed(paced, SEARCH_URL) == 0
    assert calls_allowed(paced, USERS_URL) == 200  # the general budget is untouched


def test_other_integrations_requests_come_out_of_the_connectors_part():
    paced = budget(50)
    answered(paced, response(remaining=19, limit=20, reset="30"))
    answered(paced, response(remaining=12, limit=20, reset="30"))  # six searches of someone else in between

    assert calls_allowed(paced) == 2


def sent_together(paced: KustomerAPIBudget, count: int) -> List[Any]:
    """`count` search requests acquired from `paced` one after the other, none answered yet."""
    requests_sent = [request() for _ in range(count)]
    for sent in requests_sent:
        paced.acquire_call(sent, block=False)
    return requests_sent


def test_requests_sent_after_the_one_answered_are_counted_even_if_the_answer_did_not_count_them_yet():
    paced = budget(50)
    first, second, third = sent_together(paced, 3)

    paced.update_from_response(first, response(remaining=19, limit=20, reset="30"))  # drawn before the other two

    assert calls_allowed(paced) == 9 - 2


def test_requests_sent_before_the_one_answered_are_taken_as_counted_in_its_answer():
    paced = budget(50)
    first, second, third = sent_together(paced, 3)

    paced.update_from_response(third, response(remaining=17, limit=20, reset="30"))  # answered first, drawn last

    assert calls_allowed(paced) == 7


def test_an_answer_drawn_after_requests_sent_later_does_not_count_them_twice():
    paced = budget(50)
    first, second, third = sent_together(paced, 3)

    # Sent together, the first reached Kustomer last: its count holds all three, the two still in flight included
    paced.update_from_response(first, response(remaining=17, limit=20, reset="30"))

    assert calls_allowed(paced) == 7


def test_requests_in_flight_stay_counted_where_other_keys_spend_the_window_too():
    paced = budget(50)
    first, second, third = sent_together(paced, 3)

    # 4 used: one more than the connector sent, so the two sent after the first may not be in it
    paced.update_from_response(first, response(remaining=16, limit=20, reset="30"))

    assert calls_allowed(paced) == 6 - 2


def test_a_new_window_opens_with_the_connectors_part_not_the_ceiling():
    paced = budget(50)
    answered(paced, response(remaining=19, limit=20, reset="30"))
    search_policy = paced._policies[0]
    search_policy._next_reset_ts = datetime.datetime.now() - datetime.timedelta(seconds=1)  # the window ends

    assert calls_allowed(paced) == 10


def test_an_answer_from_a_window_that_has_ended_changes_nothing():
    paced = budget(50)
    answered(paced, response(remaining=0, limit=20, reset=str(int(time.time()) - 5)))

    assert calls_allowed(paced) == 200  # still the manifest's ceiling: no count known for the current window


# -- the source ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config_share,expected", [({}, 80), ({"rate_limit_share": 50}, 50), ({"rate_limit_share": 100}, 100)])
def test_the_source_paces_with_the_configured_share(kustomer, config_share, expected):
    source = SourceKustomer(config=normalize_config({"api_token": "t", "start_date": "2025-01-01", **config_share}))
    source.streams(normalize_config({"api_token": "t", "start_date": "2025-01-01", **config_share}))

    paced = cdk_internals.factory_budget(source)
    assert isinstance(paced, KustomerAPIBudget)
    assert paced.get_calls_left_from_response(response(100, 100)) == expected


# -- pacing inside a window: even turns, not a burst at its start -------------------------------------------------


@pytest.fixture
def waits(monkeypatch) -> List[float]:
    """The budget's waits for a turn, recorded instead of slept (the clock does not move)."""
    recorded: List[float] = []
    monkeypatch.setattr(cdk_internals.time, "sleep", lambda seconds: recorded.append(round(seconds, 1)))
    return recorded


def test_once_kustomer_gave_the_window_its_calls_go_at_even_turns_over_most_of_it(waits):
    paced = budget(50)
    answered(paced, response(remaining=15, limit=20, reset="30"))  # a 30 s window, 5 of the connector's 10 calls left

    for _ in range(5):
        paced.acquire_call(request())

    turn = KustomerAPIBudget.PACING_SPREAD * 30 / 10
    assert waits == [round(turn * k, 1) for k in range(1, 5)]  # the first goes at once


def test_a_request_past_the_calls_of_the_window_is_given_a_turn_after_its_reset(waits):
    paced = budget(50)
    answered(paced, response(remaining=15, limit=20, reset="30"))
    for _ in range(5):
        paced.acquire_call(request())

    assert 29 <= paced._paced(paced._policies[0]) <= 31  # not a turn inside the window, which would wait there anyway


def test_before_kustomer_says_how_long_its_window_is_nothing_waits_for_a_turn(waits):
    paced = budget(50)
    answered(paced, response(remaining=15, limit=20))  # the connector's part (10 calls), but no reset: no window length

    for _ in range(5):
        paced.acquire_call(request())

    assert waits == []  # not turns over the policy's own 60 s guess
