"""Custom components: the record flattener and the x-ratelimit-reset backoff."""

from typing import Any, Dict, Optional

import time
import pytest
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_kustomer import cdk_internals
from source_kustomer.cdk_internals import KustomerAPIBudget
from source_kustomer.rate_limits import RateLimitResetBackoff, seconds_until_reset
from source_kustomer.records import KustomerRecordFlattener, snake_case
from unit_tests.builders import ConfigBuilder, kustomer_object

NOW = 1_748_779_200.0  # 2025-06-01T12:00:00Z


def conversation(**relationships: Any) -> Dict[str, Any]:
    """A conversation as Kustomer's search API returns it, with the relationships given (or a typical set)."""
    return kustomer_object(
        "conversation",
        "5f3c0e1a2b",
        "2025-03-01T10:15:30.123Z",
        attributes={
            "name": "Where is my order?",
            "messageCount": 4,
            "lastDone": {"createdAt": "2025-03-01T10:00:00.000Z", "messageCountByChannel": {"email": 3, "chatMessenger": 1}},
            "custom": {"totalSpentNum": 596, "os00Str": "macOS", "isVIPBool": True, "lastOrderNameStr": "#1001"},
            "emails": [{"email": "ada@example.com", "verifiedAt": "2025-01-02T00:00:00.000Z"}, {"email": "ada@work.example"}],
            "tags": ["vipCustomer", "refundRequested"],
            "sla": {"breached": False, "matchedAt": "2025-03-01T10:00:01.000Z"},
        },
        relationships=relationships
        or {
            "org": {"data": {"type": "org", "id": "org1"}, "links": {"self": "/v1/orgs/org1"}},
            "createdBy": {"data": {"type": "user", "id": "u1"}, "links": {"self": "/v1/users/u1"}},
            "messages": {"links": {"self": "/v1/conversations/5f3c0e1a2b/messages"}},
            "sla": {"data": {"type": "sla", "id": "sla9"}},
        },
    )


def flatten(record: Dict[str, Any]) -> Dict[str, Any]:
    KustomerRecordFlattener(parameters={}).transform(record, config={})
    return record


# --- KustomerRecordFlattener ---------------------------------------------------------------------------------------


def test_attributes_are_hoisted_to_the_top_level_with_snake_cased_names():
    record = flatten(conversation())

    assert record["name"] == "Where is my order?"
    assert record["message_count"] == 4
    assert record["updated_at"] == "2025-03-01T10:15:30.123Z"
    assert "attributes" not in record and "relationships" not in record


def test_nested_objects_are_snake_cased_at_every_depth():
    record = flatten(conversation())

    assert record["last_done"] == {"created_at": "2025-03-01T10:00:00.000Z", "message_count_by_channel": {"email": 3, "chat_messenger": 1}}


def test_custom_attributes_keep_their_values_under_snake_cased_names():
    record = flatten(conversation())

    assert record["custom"] == {"total_spent_num": 596, "os00_str": "macOS", "is_vip_bool": True, "last_order_name_str": "#1001"}


def test_objects_inside_arrays_are_snake_cased():
    record = flatten(conversation())

    assert record["emails"] == [{"email": "ada@example.com", "verified_at": "2025-01-02T00:00:00.000Z"}, {"email": "ada@work.example"}]


def test_values_are_never_rewritten_only_keys():
    record = flatten(conversation())

    assert record["tags"] == ["vipCustomer", "refundRequested"]


def test_a_relationship_with_data_becomes_type_and_id_under_its_snake_cased_name():
    record = flatten(conversation())

    assert record["created_by"] == {"type": "user", "id": "u1"}
    assert record["org"] == {"type": "org", "id": "org1"}


def test_a_relationship_without_data_is_left_out():
    record = flatten(conversation())

    assert "messages" not in record


def test_a_relationship_with_null_data_becomes_null():
    record = flatten(conversation(assignedTeam={"data": None, "links": {"self": "/v1/teams"}}))

    assert "assigned_team" in record and record["assigned_team"] is None


def test_a_to_many_relationship_becomes_a_list_of_type_and_id():
    record = flatten(conversation(assignedUsers={"data": [{"type": "user", "id": "u1"}, {"type": "user", "id": "u2"}]}))

    assert record["assigned_users"] == [{"type": "user", "id": "u1"}, {"type": "user", "id": "u2"}]


def test_the_sla_relationship_becomes_sla_data_and_the_sla_attribute_keeps_its_name():
    record = flatten(conversation())

    assert record["sla"] == {"breached": False, "matched_at": "2025-03-01T10:00:01.000Z"}
    assert record["sla_data"] == {"type": "sla", "id": "sla9"}


def test_id_type_and_links_are_kept():
    record = flatten(conversation())

    assert record["id"] == "5f3c0e1a2b"
    assert record["type"] == "conversation"
    assert record["links"] == {"self": "/v1/conversations/5f3c0e1a2b"}


def test_an_object_without_attributes_or_relationships_keeps_its_id_and_type():
    assert flatten({"type": "tag", "id": "t1"}) == {"id": "t1", "type": "tag"}


def test_the_record_is_flattened_in_place():
    record = conversation()
    same = record

    result = KustomerRecordFlattener(parameters={}).transform(record, config={})

    assert result is None  # the CDK keeps the object it passed in, not a return value
    assert same["id"] == "5f3c0e1a2b" and "attributes" not in same


@pytest.mark.parametrize(
    "key,expected",
    [
        ("lastDone", "last_done"),
        ("messageCountByChannel", "message_count_by_channel"),
        ("totalSpentNum", "total_spent_num"),
        ("os00Str", "os00_str"),
        ("isVIPBool", "is_vip_bool"),
        ("verifiedAt", "verified_at"),
        ("createdBy", "created_by"),
        ("phone2Str", "phone2_str"),
        ("URLStr", "url_str"),
        ("id", "id"),
        ("already_snake", "already_snake"),
    ],
)
def test_snake_case_follows_the_singer_taps_rule(key, expected):
    assert snake_case(key) == expected


# --- RateLimitResetBackoff ------------------------------------------------------------------------------------------


def response(status: int, reset: Optional[str] = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    if reset is not None:
        answer.headers["x-ratelimit-reset"] = reset
    return answer


def backoff(max_wait_seconds: Any = 300) -> RateLimitResetBackoff:
    return RateLimitResetBackoff(config={}, parameters={}, reset_header="x-ratelimit-reset", max_wait_seconds=max_wait_seconds)


def test_an_epoch_reset_header_means_waiting_until_that_moment_plus_the_margin_asked():
    assert seconds_until_reset(str(int(NOW) + 30), now=NOW, margin=0.5) == pytest.approx(30.5)
    assert seconds_until_reset(str(int(NOW) + 30), now=NOW) == pytest.approx(30.0)


def test_a_small_reset_header_is_a_number_of_seconds_to_wait():
    assert seconds_until_reset("42", now=NOW, margin=0.5) == pytest.approx(42.5)


def test_an_epoch_reset_already_past_means_only_the_margin():
    assert seconds_until_reset(str(int(NOW) - 5), now=NOW, margin=0.5) == pytest.approx(0.5)


def test_pacing_waits_a_tenth_of_a_second_past_the_reset_and_a_429_retry_half_a_second(monkeypatch):
    import datetime

    from airbyte_cdk.sources.streams.call_rate import HttpAPIBudget

    monkeypatch.setattr("source_kustomer.rate_limits.time.time", lambda: NOW)
    budget = KustomerAPIBudget.like(HttpAPIBudget(policies=[], ratelimit_reset_header="x-ratelimit-reset"))
    before = datetime.datetime.now()
    paced = (budget.get_reset_ts_from_response(response(200, str(int(NOW) + 30))) - before).total_seconds()

    assert 30.1 <= paced < 30.3
    assert backoff().backoff_time(response(429, str(int(NOW) + 30)), attempt_count=1) == pytest.approx(30.5)


@pytest.mark.parametrize("header", [None, "", "soon", "NaN-ish"])
def test_a_missing_or_unreadable_reset_header_gives_no_wait(header):
    assert seconds_until_reset(header, now=NOW) is None


def test_given_429_with_reset_header_then_backoff_waits_until_reset(monkeypatch):
    monkeypatch.setattr("source_kustomer.rate_limits.time.time", lambda: NOW)

    assert backoff().backoff_time(response(429, str(int(NOW) + 20)), attempt_count=1) == pytest.approx(20.5)


def test_given_429_without_reset_header_then_backoff_leaves_it_to_the_next_strategy():
    assert backoff().backoff_time(response(429), attempt_count=1) is None


@pytest.mark.parametrize("status", [500, 503, 200])
def test_given_a_status_other_than_429_then_backoff_ignores_the_reset_header(status):
    assert backoff().backoff_time(response(status, "30"), attempt_count=1) is None


def test_given_a_connection_error_then_backoff_leaves_it_to_the_next_strategy():
    assert backoff().backoff_time(requests.exceptions.ConnectionError("reset by peer"), attempt_count=1) is None


def test_given_a_reset_further_away_than_the_maximum_wait_then_the_sync_stops_with_a_transient_error():
    with pytest.raises(AirbyteTracedException) as raised:
        backoff(max_wait_seconds=300).backoff_time(response(429, "3600"), attempt_count=1)

    assert raised.value.failure_type == FailureType.transient_error
    assert "x-ratelimit-reset" in raised.value.message
    assert "3600 s" in raised.value.message and "300 s" in raised.value.message
    assert "run it again later" in raised.value.message


def test_the_maximum_wait_may_come_from_the_manifest_as_a_string():
    assert backoff(max_wait_seconds="300").backoff_time(response(429, "299"), attempt_count=1) == pytest.approx(299.5)


def test_kustomer_api_budget_reads_the_reset_header_as_epoch_seconds_or_seconds_to_wait():
    import datetime

    import requests as requests_lib

    from airbyte_cdk.sources.streams.call_rate import HttpAPIBudget


    budget = KustomerAPIBudget.like(HttpAPIBudget(policies=[], ratelimit_reset_header="x-ratelimit-reset"))
    now = datetime.datetime.now()

    def reset_after(value: str) -> float:
        response = requests_lib.Response()
        response.headers["x-ratelimit-reset"] = value
        return (budget.get_reset_ts_from_response(response) - now).total_seconds()

    assert 29 <= reset_after(str(int(time.time()) + 30)) <= 32
    assert 29 <= reset_after("30") <= 32
    assert 1 <= reset_after("1.5") <= 3
    response = requests_lib.Response()
    assert budget.get_reset_ts_from_response(response) is None


def test_the_source_paces_with_kustomer_api_budget(kustomer):
    from source_kustomer.config import normalize_config
    from source_kustomer.source import SourceKustomer

    source = SourceKustomer(config=normalize_config({"api_token": "t", "start_date": "2025-01-01"}))
    streams = source.streams(ConfigBuilder().build())

    assert streams
    assert isinstance(cdk_internals.factory_budget(source), KustomerAPIBudget)


def _response(status: int, body: bytes) -> "requests.Response":
    response = requests.Response()
    response.status_code = status
    response._content = body
    return response


def test_a_page_is_parsed_once_and_shared_by_the_decoder_and_the_extractor(monkeypatch):
    from source_kustomer import pages

    calls = []
    real_loads = pages.orjson.loads
    monkeypatch.setattr(pages.orjson, "loads", lambda raw: calls.append(1) or real_loads(raw))
    response = _response(200, b'{"meta": {"page": 1}, "links": {"next": null}, "data": [{"id": "a"}, {"id": "b"}]}')

    decoded = list(pages.KustomerJsonDecoder(parameters={}).decode(response))
    records = list(pages.KustomerDataExtractor(config={}, parameters={}).extract_records(response))

    assert decoded[0]["meta"] == {"page": 1}
    assert [r["id"] for r in records] == ["a", "b"]
    assert len(calls) == 1


def test_the_extractor_yields_a_single_object_and_nothing_for_a_body_that_is_not_json():
    from source_kustomer.pages import KustomerDataExtractor

    extractor = KustomerDataExtractor(config={}, parameters={})

    assert list(extractor.extract_records(_response(200, b'{"data": {"id": "one"}}'))) == [{"id": "one"}]
    assert list(extractor.extract_records(_response(200, b"<html>proxy error</html>"))) == []


def test_the_error_handler_accepts_a_json_page_at_once_and_leaves_everything_else_to_the_filters():
    from airbyte_cdk.sources.declarative.requesters.error_handlers.http_response_filter import HttpResponseFilter
    from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction

    from source_kustomer.errors import KustomerErrorHandler

    not_json = HttpResponseFilter(config={}, parameters={}, predicate="{{ not response }}", action="RETRY")
    handler = KustomerErrorHandler(config={}, parameters={}, response_filters=[not_json])

    assert handler.interpret_response(_response(200, b'{"data": []}')).response_action == ResponseAction.SUCCESS
    assert handler.interpret_response(_response(200, b"<html>")).response_action == ResponseAction.RETRY
    assert handler.interpret_response(_response(503, b"{}")).response_action == ResponseAction.RETRY
