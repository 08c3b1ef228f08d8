"""The connector's own files: manifest.yaml and schemas/, and the spec they declare."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple

import yaml


def resource_dir() -> Path:
    """Where manifest.yaml and schemas/ live: inside the installed package, or the repository root in a checkout.

    Never the current directory, so a stray manifest.yaml there cannot replace the connector's own.
    """
    package = Path(__file__).resolve().parent
    return package if (package / "manifest.yaml").is_file() else package.parent


def load_manifest() -> Dict[str, Any]:
    return yaml.safe_load((resource_dir() / "manifest.yaml").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _schema_text(name: str) -> str:
    path = resource_dir() / "schemas" / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"The connector has no schema file schemas/{name}.json for stream {name!r}.")
    return path.read_text(encoding="utf-8")


def stream_schema(name: str) -> Dict[str, Any]:
    """The JSON schema in schemas/<name>.json, a new copy at each call (callers add custom attributes to it)."""
    return json.loads(_schema_text(name))


@functools.lru_cache(maxsize=None)
def _declared() -> Dict[str, Any]:
    """The manifest as written, read once, for the values the Python code reads from it (never modified)."""
    return load_manifest()


def spec_property(name: str) -> Mapping[str, Any]:
    """One config field as the spec declares it (type, default, bounds): the one place they are written."""
    return _declared()["spec"]["connection_specification"]["properties"][name]


def klass_statuses() -> Tuple[str, ...]:
    """The klass statuses every reading of the org's klasses asks for, as the klasses stream declares them
    (`definitions.klass_statuses`): Kustomer lists `enabled` klasses unless asked for another status."""
    return tuple(_declared()["definitions"]["klass_statuses"]["values"])
