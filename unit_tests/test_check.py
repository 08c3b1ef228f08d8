"""`check`: the token is validated against Kustomer first, and every failure says what to fix, without the token."""

import json
import logging
import time
from typing import Any, Dict, List, Mapping, Optional

import pytest
import requests

from airbyte_cdk.models import Status

from source_kustomer.run import run
from source_kustomer.source import SourceKustomer
from integration_tests.cli import Run
from integration_tests.emulator.auth import SEARCH_ROLES as REFERENCE_SEARCH_ROLES
from integration_tests.streams import SEARCH_STREAMS
from unit_tests.builders import ALL_ROLES, API_URL, TOKEN, ConfigBuilder, kustomer_error, kustomer_object, token_document

TOKEN_PATH = "/v1/auth/tokens/current"
WRONG_REGION = "Auth token associated with pod prod2 but request is being handled by prod1"


def check(tmp_path, capfd, config: Mapping[str, Any], output: Optional[List[str]] = None) -> Dict[str, Any]:
    """Runs `source-kustomer check --config <file>` and returns its one connection status (and its stdout in `output`);
    no output holds the token."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))

    run(["check", "--config", str(path)])

    captured = capfd.readouterr()
    assert TOKEN not in captured.out and TOKEN not in captured.err
    if output is not None:
        output.append(captured.out)
    return Run.of(0, captured.out, captured.err).connection_status()


def paths(kustomer) -> List[str]:
    return [request.path for request in kustomer.mocker.request_history]


def test_given_a_valid_token_that_may_read_users_then_check_succeeds(kustomer, tmp_path, capfd):
    kustomer.add("users", [kustomer_object("user", "u1", "2025-03-01T00:00:00.000Z")])

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "SUCCEEDED"
    assert paths(kustomer) == [TOKEN_PATH, "/v1/users"]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in kustomer.mocker.request_history)


def test_given_a_valid_token_and_an_org_without_users_then_check_succeeds(kustomer, tmp_path, capfd):
    assert check(tmp_path, capfd, ConfigBuilder().build())["status"] == "SUCCEEDED"


def test_given_401_then_check_fails_naming_http_401_and_kustomers_reason(kustomer, tmp_path, capfd):
    kustomer.mocker.get(API_URL + TOKEN_PATH, status_code=401, json=kustomer_error(401, "Invalid API key"))

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED"
    assert "HTTP 401" in status["message"] and "Invalid API key" in status["message"]
    assert "`api_token`" in status["message"]


def test_given_a_token_of_another_region_then_check_fails_with_kustomers_words_and_a_hint_about_api_url(kustomer, tmp_path, capfd):
    kustomer.mocker.get(API_URL + TOKEN_PATH, status_code=401, json=kustomer_error(401, WRONG_REGION))

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED"
    assert WRONG_REGION in status["message"]
    assert "`api_url`" in status["message"] and "https://api.prod2.kustomerapp.com" in status["message"]


def test_given_kustomers_older_error_format_then_check_quotes_its_message(kustomer, tmp_path, capfd):
    kustomer.mocker.get(API_URL + TOKEN_PATH, status_code=401, json={"errors": [{"code": "unauthorized", "message": "Token expired", "meta": {}}]})

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED" and "Token expired" in status["message"]


def test_given_403_on_users_then_check_fails_naming_the_missing_role(kustomer, tmp_path, capfd):
    kustomer.mocker.get(API_URL + "/v1/users", status_code=403, json=kustomer_error(403, "Missing permission org.permission.user.read"))

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED"
    assert "HTTP 403" in status["message"] and "org.permission.user.read" in status["message"]
    assert "role" in status["message"]


def test_given_a_server_error_on_the_token_check_then_check_fails_naming_the_status(kustomer, tmp_path, capfd):
    kustomer.mocker.get(API_URL + TOKEN_PATH, status_code=503, json=kustomer_error(503, "Service Unavailable"))

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED" and "HTTP 503" in status["message"]


@pytest.mark.parametrize("failure", [requests.exceptions.ConnectionError, requests.exceptions.ConnectTimeout])
def test_given_an_unreachable_host_then_check_fails_quickly_naming_api_url(kustomer, tmp_path, capfd, failure):
    kustomer.mocker.get(API_URL + TOKEN_PATH, exc=failure)
    started = time.monotonic()

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert time.monotonic() - started < 10
    assert status["status"] == "FAILED"
    assert "`api_url`" in status["message"] and API_URL in status["message"]
    assert paths(kustomer) == [TOKEN_PATH]
    connect_timeout, read_timeout = kustomer.mocker.request_history[0].timeout
    assert connect_timeout <= 15 and read_timeout <= 60  # a silent host fails the check within a minute


def test_given_a_host_that_is_not_kustomer_then_check_fails_naming_api_url(kustomer, tmp_path, capfd):
    html = {"status_code": 200, "text": "<html><body>Welcome to nginx</body></html>", "headers": {"Content-Type": "text/html"}}
    kustomer.mocker.get(API_URL + TOKEN_PATH, **html)
    kustomer.mocker.get(API_URL + "/v1/users", **html)

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED" and "`api_url`" in status["message"]


@pytest.mark.parametrize(
    "config,field_name",
    [
        (ConfigBuilder().without("api_token").build(), "api_token"),
        (ConfigBuilder().with_api_url("https://evil.example.com").build(), "api_url"),
        (ConfigBuilder().with_api_url("http://api.kustomerapp.com").build(), "api_url"),
        (ConfigBuilder().with_start_date("31/01/2025").build(), "start_date"),
        (ConfigBuilder().set("page_size", 1000).build(), "page_size"),
    ],
)
def test_given_an_invalid_config_then_check_fails_naming_the_field_before_any_request(kustomer, tmp_path, capfd, config, field_name):
    status = check(tmp_path, capfd, config)

    assert status["status"] == "FAILED" and f"`{field_name}`" in status["message"]
    assert kustomer.mocker.request_history == []


@pytest.mark.parametrize("failing_path", [TOKEN_PATH, "/v1/users"])
def test_given_kustomer_echoes_the_token_in_an_error_then_check_masks_it(kustomer, tmp_path, capfd, failing_path):
    kustomer.mocker.get(API_URL + failing_path, status_code=403, json=kustomer_error(403, f"Key {TOKEN} lacks a role"))

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED"


def test_check_on_a_source_built_without_config_uses_the_config_it_is_given(kustomer):
    status = SourceKustomer().check(logging.getLogger("airbyte"), ConfigBuilder().build())

    assert status.status == Status.SUCCEEDED, status.message
    assert paths(kustomer) == [TOKEN_PATH, "/v1/users"]


# --- what the key may read ------------------------------------------------------------------------------------------

# Any one of these grants search, by Kustomer's API reference (permission-set roles, then legacy roles).
SEARCH_ROLES = list(REFERENCE_SEARCH_ROLES)
READ_ROLES = [role for role in ALL_ROLES if role not in SEARCH_ROLES]
SEARCH_PATH = "/v1/customers/search"


def given_roles(kustomer, roles) -> None:  # type: ignore[no-untyped-def]
    kustomer.mocker.get(API_URL + TOKEN_PATH, json=token_document(roles))


@pytest.mark.parametrize("search_role", SEARCH_ROLES + ["org.permission.search.*", "org.permission.*", "org.user.*"])
def test_given_a_key_with_any_search_role_the_reference_names_then_check_succeeds_without_a_search(kustomer, tmp_path, capfd, search_role):
    given_roles(kustomer, READ_ROLES + [search_role])

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "SUCCEEDED", status
    assert paths(kustomer) == [TOKEN_PATH, "/v1/users"]


METADATA_WARNING = "The API key lacks org.permission.metadata.read"


def test_given_a_key_with_legacy_roles_only_then_check_succeeds_without_a_metadata_warning(kustomer, tmp_path, capfd):
    legacy = [role.replace("org.permission.", "org.user.") for role in READ_ROLES] + ["org.user.search.read"]
    given_roles(kustomer, legacy)
    output: List[str] = []

    status = check(tmp_path, capfd, ConfigBuilder().build(), output)

    assert status["status"] == "SUCCEEDED", status
    assert paths(kustomer) == [TOKEN_PATH, "/v1/users"]
    assert METADATA_WARNING not in output[0]


def test_given_a_key_whose_roles_name_no_search_role_and_kustomer_refuses_a_search_then_check_fails_naming_the_roles_and_streams(kustomer, tmp_path, capfd):
    given_roles(kustomer, READ_ROLES + ["org.permission.search_execution.create"])
    kustomer.mocker.post(API_URL + SEARCH_PATH, status_code=403, json=kustomer_error(403, "Missing required role org.permission.search.create"))

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED"
    assert "org.permission.search.create" in status["message"] and "org.user.search.read" in status["message"]
    assert "HTTP 403" in status["message"] and "Missing required role" in status["message"]
    assert ", ".join(SEARCH_STREAMS) in status["message"]
    assert paths(kustomer) == [TOKEN_PATH, SEARCH_PATH]


def test_given_a_key_whose_roles_name_no_search_role_known_to_the_reference_but_may_search_then_check_succeeds(kustomer, tmp_path, capfd):
    given_roles(kustomer, READ_ROLES + ["org.permission.search_v2.create"])

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "SUCCEEDED", status
    assert paths(kustomer) == [TOKEN_PATH, SEARCH_PATH, "/v1/users"]


def test_given_a_key_without_the_optional_metadata_and_audit_roles_then_check_succeeds_without_extra_requests(kustomer, tmp_path, capfd):
    given_roles(kustomer, [role for role in ALL_ROLES if role != "org.permission.metadata.read"])
    output: List[str] = []

    status = check(tmp_path, capfd, ConfigBuilder().build(), output)

    assert status["status"] == "SUCCEEDED" and not status.get("message")
    assert paths(kustomer) == [TOKEN_PATH, "/v1/users"]
    assert METADATA_WARNING in output[0]  # the log says what the role would add


def test_given_a_key_with_every_role_then_check_succeeds_with_two_requests_and_no_message(kustomer, tmp_path, capfd):
    given_roles(kustomer, ALL_ROLES + ["org.permission.audit_logs.read"])

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "SUCCEEDED" and not status.get("message")
    assert paths(kustomer) == [TOKEN_PATH, "/v1/users"]


def test_given_kustomer_lists_no_roles_and_refuses_a_search_then_check_fails_naming_the_role_and_kustomers_reason(kustomer, tmp_path, capfd):
    given_roles(kustomer, None)
    kustomer.mocker.post(API_URL + SEARCH_PATH, status_code=403, json=kustomer_error(403, "Missing required role org.permission.search.create"))

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "FAILED"
    assert SEARCH_ROLES[0] in status["message"] and "HTTP 403" in status["message"] and "Missing required role" in status["message"]
    assert "customers, conversations" in status["message"]
    assert paths(kustomer) == [TOKEN_PATH, "/v1/customers/search"]


def test_given_kustomer_lists_no_roles_then_one_search_of_one_record_probes_the_role(kustomer, tmp_path, capfd):
    given_roles(kustomer, None)

    status = check(tmp_path, capfd, ConfigBuilder().build())

    assert status["status"] == "SUCCEEDED"
    assert paths(kustomer) == [TOKEN_PATH, "/v1/customers/search", "/v1/users"]
    (probe,) = kustomer.one_record_searches
    assert probe["page_size"] == 1 and probe["body"]["queryContext"] == "customer"


@pytest.mark.parametrize("answer", [{"status_code": 429, "json": kustomer_error(429, "Rate limit exceeded")}, {"status_code": 503, "json": {}}])
def test_given_a_role_probe_that_is_not_refused_then_check_leaves_it_to_the_sync(kustomer, tmp_path, capfd, answer):
    given_roles(kustomer, None)
    kustomer.mocker.post(API_URL + "/v1/customers/search", **answer)

    assert check(tmp_path, capfd, ConfigBuilder().build())["status"] == "SUCCEEDED"
