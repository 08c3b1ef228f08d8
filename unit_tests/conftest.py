from typing import Any, List, Mapping, Optional

import pytest
import requests_mock

from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read

from source_kustomer.config import normalize_config
from source_kustomer.source import SourceKustomer
from unit_tests.builders import FakeKustomer


@pytest.fixture
def kustomer():
    with requests_mock.Mocker() as mocker:
        yield FakeKustomer(mocker)


def read_source(
    config: Mapping[str, Any],
    catalog: ConfiguredAirbyteCatalog,
    state: Optional[List[AirbyteStateMessage]] = None,
    expecting_exception: bool = False,
) -> EntrypointOutput:
    """Reads as the CLI does: the source is built from the same config, catalog and state it is run with."""
    source = SourceKustomer(catalog=catalog, config=normalize_config(config), state=state)
    return read(source, dict(config), catalog, state, expecting_exception)
