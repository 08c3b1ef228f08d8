"""Saved configs stay valid: the spec accepts every config the published 1.0.0 spec accepted."""

from __future__ import annotations

import copy
import logging

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type

from integration_tests.spec_compatibility import breaking_changes, published_spec
from source_kustomer.source import SourceKustomer


def current_spec() -> dict:
    """The spec as `source-kustomer spec` prints it."""
    return AirbyteMessageSerializer.dump(AirbyteMessage(type=Type.SPEC, spec=SourceKustomer().spec(logging.getLogger("airbyte"))))["spec"]


def test_the_spec_accepts_every_config_the_published_spec_accepted():
    assert breaking_changes(current_spec()) == []


def test_the_comparison_flags_a_narrowed_start_date():
    for narrowing in ({"format": "date-time"}, {"pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}):
        narrowed = copy.deepcopy(current_spec())
        narrowed["connectionSpecification"]["properties"]["start_date"].update(narrowing)
        assert breaking_changes(narrowed), narrowing


def test_the_comparison_flags_a_new_required_field():
    narrowed = copy.deepcopy(published_spec())
    narrowed["connectionSpecification"]["required"].append("page_size")
    assert breaking_changes(narrowed)
