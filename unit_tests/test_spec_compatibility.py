"""Saved configs stay valid: the spec accepts every config the published 1.0.0 spec accepted, once the manifest's
config migration has rewritten it."""

from __future__ import annotations

import copy
import json
import logging
import re
from datetime import datetime
from typing import Any, Dict, List

import pytest
from jsonschema import Draft7Validator, FormatChecker

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type

from integration_tests.spec_compatibility import MIGRATED_FINDINGS, PUBLISHED_VERSION, breaking_changes, published_spec, waived_versions
from source_kustomer.source import SourceKustomer
from unit_tests.builders import TOKEN


def current_spec() -> dict:
    """The spec as `source-kustomer spec` prints it."""
    return AirbyteMessageSerializer.dump(AirbyteMessage(type=Type.SPEC, spec=SourceKustomer().spec(logging.getLogger("airbyte"))))["spec"]


def test_the_spec_accepts_every_config_the_published_spec_accepted_but_the_migrated_start_date_forms():
    assert breaking_changes(current_spec()) == MIGRATED_FINDINGS


def test_acceptance_tests_waive_the_spec_comparison_for_the_published_version_only():
    assert waived_versions() == [PUBLISHED_VERSION]


def test_the_comparison_flags_a_narrowed_start_date():
    for narrowing in ({"pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}, {"maxLength": 10}):
        narrowed = copy.deepcopy(current_spec())
        narrowed["connectionSpecification"]["properties"]["start_date"].update(narrowing)
        assert set(breaking_changes(narrowed)) - set(MIGRATED_FINDINGS), narrowing


def test_the_comparison_flags_a_new_required_field():
    narrowed = copy.deepcopy(published_spec())
    narrowed["connectionSpecification"]["required"].append("page_size")
    assert breaking_changes(narrowed)


# --- the published forms of start_date, migrated, under a validator that asserts `format` ---------------------------

RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})")
# Every form 1.0.0's start_date pattern admits, and the edges of its dates.
PUBLISHED_FORMS = ["2025-01-31T08:09:10Z", "2025-01-31", "01/31/2025", "2024-02-29", "02/29/2024", "12/31/2024", "2000-01-01"]


def strict_date_time(value: object) -> bool:
    """RFC 3339 date-time, as jsonschema asserts it with rfc3339-validator (not installed here): shape and calendar."""
    if not isinstance(value, str):
        return True  # formats apply to strings; the type is the schema's to check
    if not RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def format_asserting(spec: Dict[str, Any]) -> Draft7Validator:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(strict_date_time)
    return Draft7Validator(spec["connectionSpecification"], format_checker=checker)


def errors(validator: Draft7Validator, config: Dict[str, Any]) -> List[str]:
    return [error.message for error in validator.iter_errors(config)]


def migrated_by_the_source(config: Dict[str, Any], capsys) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
    """The config the source's CONTROL message carries (the config as given when the migration changed nothing)."""
    capsys.readouterr()
    SourceKustomer(config=config)
    controls = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"type":"CONTROL"')]
    return controls[-1]["control"]["connectorConfig"]["config"] if controls else config


def test_the_validator_asserts_the_date_time_format():
    validator = format_asserting(current_spec())

    assert errors(validator, {"api_token": TOKEN, "start_date": "2025-01-31T08:09:10Z"}) == []
    for not_a_date_time in ("2025-01-31", "01/31/2025", "2025-02-30T00:00:00Z", "2025-01-31T25:00:00Z"):
        assert errors(validator, {"api_token": TOKEN, "start_date": not_a_date_time}), not_a_date_time


@pytest.mark.parametrize("start_date", PUBLISHED_FORMS)
def test_every_start_date_form_the_published_spec_accepted_is_valid_under_the_spec_once_migrated(start_date, capsys):
    saved = {"api_token": TOKEN, "start_date": start_date}
    assert errors(format_asserting(published_spec()), saved) == []

    migrated = migrated_by_the_source(saved, capsys)

    assert errors(format_asserting(current_spec()), migrated) == []
    assert migrated == {**saved, "start_date": migrated["start_date"]}
