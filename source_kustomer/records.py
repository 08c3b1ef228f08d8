"""The record shape: Kustomer's JSON:API objects become the flat, snake_cased records Kustomer users know."""

from __future__ import annotations

import re
from dataclasses import InitVar, dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState


_WORD_START = re.compile(r"(.)([A-Z][a-z]+)")
_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_SNAKE_CACHE: Dict[str, str] = {}
_SNAKE_CACHE_MAX = 50_000


def snake_case(key: str) -> str:
    """`lastDone` -> `last_done`, `isVIPBool` -> `is_vip_bool`, `os00Str` -> `os00_str` (the Singer tap's rule)."""
    converted = _SNAKE_CACHE.get(key)
    if converted is None:
        converted = _LOWER_UPPER.sub(r"\1_\2", _WORD_START.sub(r"\1_\2", key)).lower()
        if len(_SNAKE_CACHE) < _SNAKE_CACHE_MAX:
            _SNAKE_CACHE[key] = converted
    return converted


def snake_case_keys(value: Any) -> Any:
    """Snake-case every key of every object, at every depth, inside lists too."""
    kind = type(value)
    if kind is dict:
        return _snake_case_object(value)
    if kind is list:
        return _snake_case_list(value)
    return value


# The hot path of every sync: types compared with `is`, and no call for a scalar.
def _snake_case_object(value: Dict[str, Any]) -> Dict[str, Any]:
    out = {}
    for key, item in value.items():
        kind = type(item)
        if kind is dict:
            item = _snake_case_object(item)
        elif kind is list:
            item = _snake_case_list(item)
        out[_SNAKE_CACHE.get(key) or snake_case(key)] = item
    return out


def _snake_case_list(value: List[Any]) -> List[Any]:
    return [_snake_case_object(item) if type(item) is dict else _snake_case_list(item) if type(item) is list else item for item in value]


def _reference(data: Any) -> Any:
    if isinstance(data, dict):
        return {"type": data.get("type"), "id": data.get("id")}
    if isinstance(data, list):
        return [_reference(item) for item in data]
    return None


@dataclass
class KustomerRecordFlattener(RecordTransformation):
    """Turns a Kustomer JSON:API object into the flat record Kustomer users know from the Singer tap.

    The built-ins cannot do it: `KeysToSnakeCase` skips objects inside arrays and spells acronyms its own way,
    and no built-in lifts `relationships.<name>.data` to `<name>`. Here: attributes hoisted to the top level,
    every key snake_cased at every depth, each relationship that has `data` becomes `{type, id}` (a list of them
    for to-many) under its snake_cased name, the `sla` relationship becomes `sla_data` (the `sla` attribute keeps
    its name), and `id`, `type` and `links` are kept.
    """

    parameters: InitVar[Mapping[str, Any]] = field(default=None)  # type: ignore[assignment]
    # Search-backed streams say "deleted" the Airbyte way: `_ab_cdc_deleted_at` is the deletion time (for a soft
    # delete, the record's updated_at) or null, and destinations drop such rows in Append + Deduped mode.
    deletions: bool = False

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        attributes = record.get("attributes") or {}
        relationships = record.get("relationships") or {}
        flat: Dict[str, Any] = snake_case_keys(attributes) if isinstance(attributes, dict) else {}
        for name, relationship in relationships.items():
            if isinstance(relationship, dict) and "data" in relationship:
                column = "sla_data" if name == "sla" else snake_case(name)
                flat[column] = _reference(relationship["data"])
        flat["id"] = record.get("id")
        flat["type"] = record.get("type")
        if "links" in record:
            flat["links"] = snake_case_keys(record["links"])
        if self.deletions:
            flat[DELETED_AT] = flat.get("updated_at") if flat.get("deleted") is True else None
        record.clear()
        record.update(flat)


DELETED_AT = "_ab_cdc_deleted_at"
