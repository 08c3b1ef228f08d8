"""Whether the connector's spec still accepts every config the published version accepted.

Airbyte's own rule, from the CDK's standard tests (`airbyte_cdk.test.standard_tests._spec_compatibility.compare_specs`,
a private module: the one place this project reads it). The CDK's `test_docker_image_spec_backward_compatibility`
compares with the spec published on Airbyte's registry, out of reach here; this compares with the published 1.0.0
spec kept beside this file. `unit_tests/test_spec_compatibility.py` checks the rule still flags what it must.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Mapping

import yaml

from airbyte_cdk.test.standard_tests._spec_compatibility import compare_specs, disabled_for_version

PUBLISHED_VERSION = "1.0.0"
PUBLISHED_SPEC = Path(__file__).with_name(f"published_spec_{PUBLISHED_VERSION}.json")
ACCEPTANCE_TEST_CONFIG = Path(__file__).resolve().parents[1] / "acceptance-test-config.yml"


# `format: date-time` on start_date gives the Airbyte UI its date picker, and narrows what a config may hold wherever a
# validator asserts formats: the date-only forms 1.0.0 accepted fail it. The manifest's config migration rewrites
# them into the date-time form (unit_tests/test_spec_compatibility.py), so this is the one finding accepted, and
# acceptance-test-config.yml waives it for the published version.
MIGRATED_FINDINGS = ["`connectionSpecification.properties.start_date.format` was added, narrowing what a config may set"]


def published_spec() -> Mapping[str, Any]:
    return json.loads(PUBLISHED_SPEC.read_text(encoding="utf-8"))


def breaking_changes(current: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> List[str]:
    """What `current` (a `spec` message's `spec`, as JSON) refuses that `previous` (default: the published spec) accepted."""
    return list(compare_specs(previous if previous is not None else published_spec(), current).breaking)


def waived_versions() -> List[str]:
    """The published versions acceptance-test-config.yml waives the comparison for (`disable_for_version`), as the
    CDK's standard test reads them."""
    return disabled_for_version(yaml.safe_load(ACCEPTANCE_TEST_CONFIG.read_text(encoding="utf-8")))
