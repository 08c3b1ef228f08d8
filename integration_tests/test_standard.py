"""The CDK's standard connector tests, driven by acceptance-test-config.yml, against the Kustomer emulator.

The scenarios' configs (integration_tests/sample_config.json, invalid_config.json) point at 127.0.0.1:8080, where
this module runs the emulator. The Docker variants of these tests are left out here: integration_tests/test_image.py
builds and runs the image against the same emulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from integration_tests.emulator import KustomerEmulator
from source_kustomer.config import ConfigError, normalize_config
from source_kustomer.source import SourceKustomer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = json.loads((ROOT / "integration_tests" / "sample_config.json").read_text())


@pytest.fixture(scope="module", autouse=True)
def emulator_on_the_sample_configs_port():
    port = urlsplit(SAMPLE_CONFIG["api_url"]).port
    try:
        emulator = KustomerEmulator(seed=3, port=port, token=SAMPLE_CONFIG["api_token"])
        emulator.start()
    except OSError as error:
        pytest.fail(f"The standard tests need 127.0.0.1:{port} for the emulator (sample_config.json): {error}")
    yield emulator
    emulator.stop()


class TestKustomerStandardTests(SourceTestSuiteBase):
    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> SourceKustomer:
        """The source built from the scenario's config, as the console script builds it (not an empty config)."""
        raw = scenario.get_config_dict(connector_root=ROOT, empty_if_missing=True) if scenario else {}
        try:
            config = normalize_config(raw)
        except ConfigError:
            config = dict(raw)
        return SourceKustomer(config=config)

    def test_config_matches_spec(self, scenario: ConnectorTestScenario) -> None:
        # The scenario for sample_config.json also carries basic_read's catalog, and the CDK's job runner passes it to
        # `spec` too (`spec --catalog ...`), which the entrypoint refuses: check the config without it.
        super().test_config_matches_spec(scenario.model_copy(update={"configured_catalog_path": None}))


# The CDK's Docker variants build from metadata's base image (out of reach here); test_image.py covers the image.
def _covered_by_test_image(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    pytest.skip("the image is built and run against the emulator in integration_tests/test_image.py")


for _name in (
    "test_docker_image_build_and_spec",
    "test_docker_image_spec_backward_compatibility",
    "test_docker_image_build_and_check",
    "test_docker_image_build_and_config_matches_spec",
    "test_docker_image_build_and_discover",
    "test_docker_image_build_and_read",
):
    setattr(TestKustomerStandardTests, _name, _covered_by_test_image)
