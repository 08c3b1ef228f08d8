"""The connector's streams as the tests and tooling see them, read from manifest.yaml: adding a stream to the
manifest adds it here, and the emulator's name for its objects comes from the emulator's own CONNECTOR_STREAM.

A search-backed stream is one whose `$parameters` name a `query_context`, a list-backed one one that names an
`endpoint`; the others (custom_attributes) are neither.  Nothing here is written per stream.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver

from integration_tests.emulator import CONNECTOR_STREAM
from source_kustomer.manifest import load_manifest

_EMULATOR_NAME = {connector: emulator for emulator, connector in CONNECTOR_STREAM.items()}


@dataclass(frozen=True)
class Stream:
    name: str
    parameters: Dict[str, Any]

    @property
    def query_context(self) -> Optional[str]:
        return self.parameters.get("query_context")

    @property
    def cursor_attribute(self) -> str:
        """What a search-backed stream searches by: `updated_at`, or `created_at` for append-only objects."""
        return self.parameters.get("cursor_attribute") or "updated_at"

    @property
    def endpoint(self) -> Optional[str]:
        return self.parameters.get("endpoint")

    @property
    def max_page_size(self) -> Optional[int]:
        return self.parameters.get("max_page_size")

    @property
    def searched(self) -> bool:
        return self.query_context is not None

    @property
    def listed(self) -> bool:
        return self.endpoint is not None

    @property
    def emulator_name(self) -> str:
        """The emulator's name for the stream's objects (its path under /v1/ where that differs)."""
        return _EMULATOR_NAME.get(self.name, self.name)


@functools.lru_cache(maxsize=None)
def resolved_manifest() -> Dict[str, Any]:
    """manifest.yaml with its `$ref`s followed, as the CDK follows them."""
    return ManifestReferenceResolver().preprocess_manifest(load_manifest())


@functools.lru_cache(maxsize=None)
def _streams() -> Tuple[Stream, ...]:
    return tuple(Stream(s.get("name") or s["$parameters"]["name"], dict(s.get("$parameters") or {})) for s in resolved_manifest()["streams"])


def streams() -> List[Stream]:
    """The manifest's streams, in its order."""
    return list(_streams())


def stream(name: str) -> Stream:
    return next(s for s in _streams() if s.name == name)


STATIC_STREAMS: List[str] = [s.name for s in streams()]
# Searched by updated_at (the window restart, archive search, deletions); an append-only stream searched by
# created_at (conversation_times) is in APPEND_ONLY_STREAMS instead.
SEARCH_STREAMS: List[str] = [s.name for s in streams() if s.searched and s.cursor_attribute == "updated_at"]
APPEND_ONLY_STREAMS: List[str] = [s.name for s in streams() if s.searched and s.cursor_attribute != "updated_at"]
LIST_STREAMS: List[str] = [s.name for s in streams() if s.listed]
# stream -> queryContext it searches
SEARCH_CONTEXTS: Dict[str, str] = {s.name: s.query_context for s in streams() if s.query_context}
# stream -> the endpoint it lists, and the largest page it asks of it
LIST_PATHS: Dict[str, str] = {s.name: s.endpoint for s in streams() if s.endpoint}
LIST_MAX_PAGE: Dict[str, int] = {s.name: s.max_page_size for s in streams() if s.listed and s.max_page_size}


def emulator_stream(name: str) -> str:
    """The emulator's name for the objects of the connector's stream `name`."""
    return _EMULATOR_NAME.get(name, name)


def search_page_size(config_page_size: Optional[int] = None) -> int:
    """The page size search-backed streams ask for, as the manifest's page_size expression bounds the config's."""
    bounds = resolved_manifest()["definitions"]["search_stream"]["retriever"]["$parameters"]
    return max(min(config_page_size or bounds["max_page_size"], bounds["max_page_size"]), bounds.get("min_page_size", 1))


def search_restart_records() -> int:
    """After how many records a search-backed stream starts its window again at the last updated_at read (the search
    cap it keeps under)."""
    return resolved_manifest()["definitions"]["search_stream"]["retriever"]["pagination_reset"]["limits"]["number_of_records"]


def metadata_objects() -> List[str]:
    """The object types whose custom attribute definitions the custom_attributes stream reads (besides each klass)."""
    return list(resolved_manifest()["definitions"]["streams"]["custom_attributes"]["retriever"]["partition_router"]["object_types"])


def klass_stream(klass_name: str) -> str:
    """The documented rule for a klass's stream: `kobjects_` + the name lower-cased, each run of characters other than
    a-z and 0-9 as `_` (written here independently of the connector's implementation)."""
    return "kobjects_" + re.sub(r"[^a-z0-9]+", "_", klass_name.lower())
