"""Each stream's JSON schema: its file in schemas/, with the org's custom attributes typed inside `custom`."""

from __future__ import annotations

import logging
from dataclasses import InitVar, dataclass
from typing import Any, Dict, List, Mapping, Tuple

from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.schema.schema_loader import SchemaLoader
from airbyte_cdk.sources.types import Config

from source_kustomer.custom_attributes import custom_attribute_schema
from source_kustomer.manifest import stream_schema
from source_kustomer.metadata import KLASSES_PATH, klasses, metadata_of, metadata_path
from source_kustomer.records import snake_case

LOGGER = logging.getLogger("airbyte")


@dataclass
class KustomerSchemaLoader(SchemaLoader):
    """A stream's schema: its file in schemas/, plus the org's own custom attributes as typed properties of `custom`.

    The file is schemas/<stream name>.json, or schemas/<schema_name>.json where the stream's $parameters name another
    (every klass stream has the kobjects schema). The CDK's `JsonFileSchemaLoader` reads files from inside the
    package only, where a checkout has none, and no built-in types custom attributes: `DynamicSchemaLoader` builds
    top-level properties only and `CompositeSchemaLoader` merges top-level properties, while Kustomer's custom
    attributes live inside `custom`.

    The stream's $parameters.object_type names the metadata read: `customer`, `conversation`, `message`, `company`,
    one klass (`kobject.<klass name>`), or `kobject` for the union of every klass's attributes (every page of
    `GET /v1/klasses`, then `GET /v1/metadata/kobject.<klass name>` for each); a stream without one keeps its file's
    schema as it is. The metadata is read once per stream (the CDK caches schemas). A 403, or a 404 on one klass's
    metadata (which the requester's error handler lets through), leaves `custom` open, with a warning that names the
    role that would type the custom fields.
    """

    requester: Requester
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        parameters = parameters or {}
        self._stream_name = str(parameters.get("name") or "")
        self._schema_name = str(parameters.get("schema_name") or self._stream_name)
        self._object_type = str(parameters.get("object_type") or "")

    def get_json_schema(self) -> Mapping[str, Any]:
        schema = stream_schema(self._schema_name)
        if not self._object_type:
            return schema
        custom = schema.setdefault("properties", {}).setdefault(
            "custom", {"type": ["null", "object"], "additionalProperties": True, "properties": {}}
        )
        custom_properties = custom.setdefault("properties", {})
        typed: Dict[str, Dict[str, Any]] = {}
        for name, definition in self._attributes():
            column, attribute_schema = snake_case(name), custom_attribute_schema(name, definition)
            # two klasses typing one column differently (kobjects): it stays open
            typed[column] = attribute_schema if typed.get(column, attribute_schema) == attribute_schema else {}
        for column, attribute_schema in typed.items():
            custom_properties.setdefault(column, attribute_schema)
        return schema

    def _attributes(self) -> List[Tuple[str, Any]]:
        if self._object_type != "kobject":
            return list(self._metadata(self._object_type).items())
        found, refused = klasses(self.requester)
        if refused:
            self._warn(f"the org's klasses ({KLASSES_PATH}, {refused})", "org.permission.klass.read")
        attributes: List[Tuple[str, Any]] = []
        for klass in found:
            if isinstance(klass.get("name"), str):
                attributes.extend(self._metadata("kobject." + klass["name"]).items())
        return attributes

    def _metadata(self, object_type: str) -> Mapping[str, Any]:
        properties, refused = metadata_of(self.requester, object_type)
        if refused:
            self._warn(f"the {object_type} metadata ({metadata_path(object_type)}, {refused})", "org.permission.metadata.read")
        return properties

    def _warn(self, what: str, role: str) -> None:
        stream = f"{self._stream_name}: " if self._stream_name else ""
        LOGGER.warning(
            f"{stream}Kustomer did not answer {what}: custom attributes from it are not typed and `custom` stays an open "
            f"object. Give the API key the {role} role to get each custom attribute as a typed column."
        )
