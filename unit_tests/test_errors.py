"""Errors during a read: rate limits and transient failures are waited out with every record delivered; anything
else fails the sync loudly, with Kustomer's own reason and never the API token."""

import calendar
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Union

import backoff._sync
import pytest
import requests
from freezegun import freeze_time

from airbyte_cdk.models import AirbyteMessageSerializer, FailureType
from airbyte_cdk.sources.streams import call_rate
from airbyte_cdk.sources.streams.http import rate_limiting

from unit_tests.builders import API_URL, LIST_PATHS, TOKEN, ConfigBuilder, catalog, kustomer_error, kustomer_object, records_of
from unit_tests.conftest import read_source

NOW = "2025-06-01T12:00:00Z"
NOW_EPOCH = calendar.timegm((2025, 6, 1, 12, 0, 0))
CONNECTOR_MAX_WAIT = 300
WRONG_REGION = "Auth token associated with pod prod2 but request is being handled by prod1"  # max_wait_seconds of RateLimitResetBackoff in the manifest


class _TimeWithFakeSleep:
    def __init__(self, sleep) -> None:  # type: ignore[no-untyped-def]
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def waits(monkeypatch) -> List[float]:
    """Every wait the CDK asks for (its backoff handlers and the API budget), on a frozen clock that the wait advances."""
    with freeze_time(NOW) as clock:
        asked: List[float] = []

        def sleep(seconds: float) -> None:
            asked.append(seconds)
            clock.tick(max(seconds, 0.001))  # a real sleep always lets a little time pass

        for module in (rate_limiting, backoff._sync, call_rate):
            monkeypatch.setattr(module, "time", _TimeWithFakeSleep(sleep))
        yield asked


@dataclass
class Failure:
    status: int
    body: Union[str, Dict[str, Any]] = ""
    headers: Dict[str, str] = field(default_factory=dict)


def fail_page(kustomer, stream: str, page: int, *failures: Union[Failure, Exception]) -> None:
    """The given page of a list stream answers each failure in turn, then Kustomer's normal answer."""
    path = LIST_PATHS[stream]
    normal = kustomer._lister(stream, path)
    pending = list(failures)

    def answer(request, context) -> str:  # type: ignore[no-untyped-def]
        if int(request.qs.get("page", ["1"])[0]) == page and pending:
            failure = pending.pop(0)
            if isinstance(failure, Exception):
                raise failure
            context.status_code = failure.status
            context.headers.update(failure.headers)
            return failure.body if isinstance(failure.body, str) else json.dumps(failure.body)
        return json.dumps(normal(request, context))

    kustomer.mocker.get(API_URL + path, text=answer)


def tags(kustomer, count: int = 250) -> List[str]:
    """Three pages of tags (Kustomer's tags page holds at most 100)."""
    objects = [kustomer_object("tag", f"t{i:03d}", f"2025-03-01T00:{i // 60:02d}:{i % 60:02d}.000Z") for i in range(count)]
    kustomer.add("tags", objects)
    return [o["id"] for o in objects]


def read(config, configured_catalog, capfd, expecting_exception: bool = False):
    """`read_source`, checking that the API token appears nowhere in what the connector printed or emitted."""
    output = read_source(config, configured_catalog, expecting_exception=expecting_exception)
    emitted = "\n".join(json.dumps(AirbyteMessageSerializer.dump(m)) for m in output.get_message_iterator())
    printed = capfd.readouterr()
    assert TOKEN not in emitted and TOKEN not in printed.out and TOKEN not in printed.err
    return output


def error_traces(output) -> List[Any]:
    return [message.trace.error for message in output.errors]


# --- rate limits ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers,seconds",
    [
        ({"x-ratelimit-reset": str(NOW_EPOCH + 30), "x-ratelimit-remaining": "0"}, 30),  # epoch time of the reset
        ({"x-ratelimit-reset": "45"}, 45),  # seconds until the reset
    ],
    ids=["epoch", "seconds"],
)
def test_given_429_with_a_reset_header_then_waits_until_the_reset_and_all_records_arrive(kustomer, waits, capfd, headers, seconds):
    ids = tags(kustomer)
    fail_page(kustomer, "tags", 2, Failure(429, kustomer_error(429, "Too Many Requests"), headers))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd)

    assert [r["id"] for r in records_of(output, "tags")] == ids
    assert any(seconds <= wait <= seconds + 2 for wait in waits), waits
    assert sum(waits) < 2 * seconds


def test_given_429_without_reset_header_then_backs_off_at_most_a_few_minutes_and_all_records_arrive(kustomer, waits, capfd):
    ids = tags(kustomer)
    fail_page(kustomer, "tags", 2, Failure(429, kustomer_error(429, "Too Many Requests")))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd)

    assert [r["id"] for r in records_of(output, "tags")] == ids
    assert max(waits) <= CONNECTOR_MAX_WAIT, max(waits)


def test_given_429_with_a_reset_beyond_the_longest_wait_then_the_sync_stops_saying_so(kustomer, waits, capfd):
    tags(kustomer)
    fail_page(kustomer, "tags", 1, Failure(429, kustomer_error(429, "Too Many Requests"), {"x-ratelimit-reset": "3600"}))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd, expecting_exception=True)

    assert records_of(output, "tags") == []
    assert any("x-ratelimit-reset" in e.message and e.failure_type == FailureType.transient_error for e in error_traces(output))
    assert max(waits, default=0) <= CONNECTOR_MAX_WAIT


def test_search_requests_without_rate_limit_headers_are_never_held_back_by_the_budget(kustomer, waits, capfd):
    # The manifest's call limits are ceilings for the headers to lower: without headers no request waits for them.
    notes = [kustomer_object("note", f"n{i:03d}", f"2025-05-20T00:{i // 60:02d}:{i % 60:02d}.000Z") for i in range(450)]
    kustomer.add("notes", notes)

    output = read(ConfigBuilder().set("page_size", 100).build(), catalog("notes"), capfd)

    assert sorted(r["id"] for r in records_of(output, "notes")) == sorted(n["id"] for n in notes)
    assert len(kustomer.search_requests) >= 5  # five pages of one window, and the windows before it
    assert output.errors == []
    assert max(waits, default=0) < 1, waits


# --- transient failures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_given_a_server_error_then_the_page_is_retried_and_all_records_arrive(kustomer, waits, capfd, status):
    ids = tags(kustomer)
    fail_page(kustomer, "tags", 2, Failure(status, "<html>Bad Gateway</html>"))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd)

    assert [r["id"] for r in records_of(output, "tags")] == ids
    assert output.errors == []


def test_given_several_server_errors_in_a_row_then_the_page_is_retried_with_growing_waits(kustomer, waits, capfd):
    ids = tags(kustomer)
    fail_page(kustomer, "tags", 2, Failure(500), Failure(502), Failure(503))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd)

    assert [r["id"] for r in records_of(output, "tags")] == ids
    backoffs = [wait for wait in waits if wait >= 1]
    assert len(backoffs) == 3 and backoffs == sorted(backoffs)


@pytest.mark.parametrize(
    "dropped",
    [
        requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected"),
        requests.exceptions.ReadTimeout("Read timed out"),
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
    ],
)
def test_given_a_dropped_connection_then_the_page_is_retried_and_all_records_arrive(kustomer, waits, capfd, dropped):
    ids = tags(kustomer)
    fail_page(kustomer, "tags", 2, dropped)

    output = read(ConfigBuilder().build(), catalog("tags"), capfd)

    assert [r["id"] for r in records_of(output, "tags")] == ids
    assert output.errors == []


@pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", '{"data": [{"type": "tag", "id"'])
def test_given_a_page_that_is_not_json_then_all_records_arrive_or_the_sync_fails(kustomer, waits, capfd, body):
    ids = tags(kustomer)
    fail_page(kustomer, "tags", 2, Failure(200, body))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd, expecting_exception=True)

    delivered = [r["id"] for r in records_of(output, "tags")]
    assert output.errors or sorted(set(delivered)) == ids, f"{len(delivered)} of {len(ids)} records and no error"


def test_given_server_errors_beyond_the_retry_budget_then_the_sync_fails_naming_the_stream(kustomer, waits, capfd):
    tags(kustomer)
    fail_page(kustomer, "tags", 2, *[Failure(503, "Service Unavailable")] * 20)

    output = read(ConfigBuilder().build(), catalog("tags"), capfd, expecting_exception=True)

    errors = error_traces(output)
    assert errors
    assert any(e.stream_descriptor and e.stream_descriptor.name == "tags" for e in errors)
    assert any("tags" in e.message for e in errors)
    assert any(LIST_PATHS["tags"] in e.message and "server error" in e.message for e in errors)
    assert len(kustomer.list_requests) == 1  # only page 1 was answered: page 2 never succeeded


# --- failures that retrying cannot fix ------------------------------------------------------------------------------


def test_given_401_during_a_read_then_the_sync_fails_with_a_config_error_quoting_kustomer(kustomer, waits, capfd):
    tags(kustomer)
    fail_page(kustomer, "tags", 1, Failure(401, kustomer_error(401, WRONG_REGION)))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd, expecting_exception=True)

    errors = [e for e in error_traces(output) if e.failure_type == FailureType.config_error and "HTTP 401" in e.message]
    assert errors
    assert WRONG_REGION in errors[0].message and "`api_url`" in errors[0].message
    assert waits == []


def test_given_403_during_a_read_then_the_sync_fails_with_a_config_error_naming_the_role(kustomer, waits, capfd):
    tags(kustomer)
    fail_page(kustomer, "tags", 1, Failure(403, kustomer_error(403, "Missing permission org.permission.tag.read")))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd, expecting_exception=True)

    errors = [e for e in error_traces(output) if e.failure_type == FailureType.config_error and "HTTP 403" in e.message]
    assert errors and "org.permission.tag.read" in errors[0].message
    assert waits == []


@pytest.mark.parametrize("stream,method,path", [("notes", "POST", "/v1/customers/search"), ("tags", "GET", "/v1/tags")])
def test_given_400_then_the_sync_fails_naming_http_400_and_kustomers_reason(kustomer, waits, capfd, stream, method, path):
    kustomer.mocker.register_uri(method, API_URL + path, status_code=400, json=kustomer_error(400, "Invalid attribute note_updated_atx"))

    output = read(ConfigBuilder().build(), catalog(stream), capfd, expecting_exception=True)

    errors = [e for e in error_traces(output) if "HTTP 400" in e.message]
    assert errors and "Invalid attribute note_updated_atx" in errors[0].message
    sent = [(r.method, r.url, r.text) for r in kustomer.mocker.request_history]
    assert len(sent) == len(set(sent))  # refused, not retried


# --- the API token stays secret -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_given_kustomer_echoes_the_token_in_an_error_then_the_sync_masks_it(kustomer, waits, capfd, status):
    tags(kustomer)
    fail_page(kustomer, "tags", 1, Failure(status, kustomer_error(status, f"Key {TOKEN} was refused")))

    output = read(ConfigBuilder().build(), catalog("tags"), capfd, expecting_exception=True)

    assert output.errors
