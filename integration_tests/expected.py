"""What a read should deliver, from the emulator's own data: the ids updated since a start date of any stream the
connector names (a manifest stream or a klass's stream), and the custom attribute definitions Kustomer's metadata
declares (read over HTTP, as the connector reads them)."""

from __future__ import annotations

from typing import Any, Dict, Set

import requests

from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.emulator.org_catalog import sla_versions
from integration_tests.emulator.records import normalize_iso
from integration_tests.streams import APPEND_ONLY_STREAMS, emulator_stream, klass_stream, metadata_objects


def klasses_by_stream(emulator: KustomerEmulator) -> Dict[str, Dict[str, Any]]:
    """The emulator's klasses by the name of their stream (`kobjects_<slug>`)."""
    return {klass_stream(k["attributes"]["name"]): k for k in emulator.records("klasses")}


def ids_since(emulator: KustomerEmulator, stream: str, since: str) -> Set[str]:
    """Every object of the connector's `stream` updated (an append-only stream's: created) at or after `since` (a date
    or date-time in any ISO form): what a full refresh and a first incremental sync from that start date deliver."""
    since = normalize_iso(since)
    if stream == "audit_logs":  # events, by the time they happened
        with emulator.store.lock:
            return {e["id"] for e in emulator.store.audit if e["attributes"]["createdAt"] >= since}
    if stream == "sla_versions":  # every version of every SLA (GET /v1/slas/{id}?versions=all), whenever made
        return {v["id"] for versions in sla_versions(emulator).values() for v in versions}
    attribute = "createdAt" if stream in APPEND_ONLY_STREAMS else "updatedAt"
    klass = klasses_by_stream(emulator).get(stream) if stream.startswith("kobjects_") else None
    objects = emulator.records("kobjects" if klass else emulator_stream(stream))
    return {
        o["id"]
        for o in objects
        if o["attributes"].get(attribute, "") >= since and (klass is None or o["relationships"]["klass"]["data"]["id"] == klass["id"])
    }


def metadata_properties(emulator: KustomerEmulator, object_type: str) -> Dict[str, Any]:
    """The custom attribute definitions of `customer`, ..., or `kobject.<klass name>`: GET /v1/metadata/<object type>."""
    response = requests.get(f"{emulator.url}/v1/metadata/{object_type}", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["attributes"]["properties"]


def custom_attribute_ids(emulator: KustomerEmulator) -> Set[str]:
    """The ids of the custom_attributes stream's rows: `<object type>.<name>`, `kobject.<klass name>.<name>`."""
    ids = {f"{object_type}.{name}" for object_type in metadata_objects() for name in metadata_properties(emulator, object_type)}
    for klass in emulator.records("klasses"):
        object_type = "kobject." + klass["attributes"]["name"]
        ids.update(f"{object_type}.{name}" for name in metadata_properties(emulator, object_type))
    return ids
