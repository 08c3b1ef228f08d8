"""Custom attributes: the column type of each from its name, and the `custom_attributes` stream's rows."""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Any, Dict, Iterable, Mapping, MutableMapping

import requests

from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.types import Config

from source_kustomer.metadata import metadata_properties
from source_kustomer.pages import page_body
from source_kustomer.records import snake_case, snake_case_keys


# Custom attribute names end in a type suffix (Kustomer's convention): the suffix alone decides the column type,
# so records and schema agree whatever the metadata's own type names are.
CUSTOM_ATTRIBUTE_TYPES = (
    ("Bool", {"type": ["null", "boolean"]}),
    ("Num", {"type": ["null", "number"]}),
    ("At", {"type": ["null", "string"], "format": "date-time"}),
    ("Str", {"type": ["null", "string"]}),
    ("Txt", {"type": ["null", "string"]}),
    ("Url", {"type": ["null", "string"]}),
    ("Id", {"type": ["null", "string"]}),
    ("Tree", {"type": ["null", "string"]}),
)


def custom_attribute_schema(name: str, definition: Any = None) -> Dict[str, Any]:
    """The JSON schema of one custom attribute, from its name's suffix; unknown suffixes stay open.

    A definition marked `multi` (Kustomer's reference: `"ordersId": {"type": "string", "multi": true}`) stays open
    too: its values may come as a list or as one value, and a typed column would lose the other form.
    """
    if isinstance(definition, dict) and definition.get("multi"):
        return {}
    for suffix, schema in CUSTOM_ATTRIBUTE_TYPES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return dict(schema)
    return {}


@dataclass
class CustomAttributesExtractor(RecordExtractor):
    """One record per custom attribute of a metadata response (the `custom_attributes` stream).

    `DpathExtractor` can only return the `properties` object whole; this turns its entries into rows, with the
    column name the attribute gets in records and the JSON type the connector publishes for it.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for name, definition in metadata_properties(page_body(response)).items():
            row = snake_case_keys(dict(definition)) if isinstance(definition, dict) else {}
            schema_type = custom_attribute_schema(name, definition)
            row.update(
                name=name,
                column=snake_case(name),
                json_type=next((t for t in schema_type.get("type", []) if t != "null"), None),
                json_format=schema_type.get("format"),
            )
            yield row
