"""The org's klasses and custom attribute metadata: reading them (every page, every klass status), naming one
stream per klass, and the `custom_attributes` stream's partitions."""

from __future__ import annotations

import logging
import re
from dataclasses import InitVar, dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import quote

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.partition_routers.single_partition_router import SinglePartitionRouter
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.retrievers.retriever import Retriever
from airbyte_cdk.sources.types import Config, StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_kustomer.manifest import klass_statuses
from source_kustomer.pages import page_body, refusal

LOGGER = logging.getLogger("airbyte")


def metadata_properties(body: Any) -> Mapping[str, Any]:
    """{attribute name: definition} of a `GET /v1/metadata/<object type>` answer.

    Source of the shape: Kustomer's API reference (the OpenAPI-generated client LarisLab/kustomer-client,
    `src/api/types.gen.ts`) and its "Get custom attribute metadata" endpoint: `data.attributes.properties.<name>`
    with `type`, `displayName`, `enumeration`, ... The same endpoint answers `kobject.<klass name>` for a klass.
    """
    data = body.get("data") if isinstance(body, dict) else None
    properties = ((data.get("attributes") or {}).get("properties") or {}) if isinstance(data, dict) else {}
    return properties if isinstance(properties, dict) else {}


KLASSES_PATH = "/v1/klasses"
METADATA_PAGE_SIZE = 100  # the most /v1/klasses and /v1/metadata answer in one page
_NOT_LETTER_OR_DIGIT = re.compile(r"[^a-z0-9]+")


def klass_stream_name(klass_name: Any) -> Optional[str]:
    """`kobjects_` + the klass name lower-cased, each run of characters other than a-z and 0-9 replaced by `_`.

    `Ecomm-Order` -> `kobjects_ecomm_order`. None when the name has no letter or digit to make a name of.
    """
    if not isinstance(klass_name, str):
        return None
    slug = _NOT_LETTER_OR_DIGIT.sub("_", klass_name.lower())
    return "kobjects_" + slug if slug.strip("_") else None


def metadata_path(object_type: str) -> str:
    """`/v1/metadata/<object type>`; a klass's name (`kobject.<name>`) is percent-encoded as a path segment."""
    return "/v1/metadata/" + quote(object_type, safe="")


def send_pages(requester: Requester, path: str, params: Optional[Mapping[str, Any]] = None) -> Iterator[requests.Response]:
    """Every page of a Kustomer list (`links.next` says whether another follows); stops at an answer other than 200.

    The requester's error handler lets a 403, and a 404 on a klass's metadata, through (IGNORE): the caller decides
    what they mean.
    """
    page = 1
    while True:
        response = requester.send_request(
            stream_slice=StreamSlice(partition={"path": path}, cursor_slice={}),
            request_params={**(params or {}), "page": page, "pageSize": METADATA_PAGE_SIZE},
        )
        if response is None:
            return
        yield response
        body = page_body(response)
        if response.status_code != 200 or not isinstance(body, dict) or not (body.get("links") or {}).get("next"):
            return
        page += 1


def klasses(requester: Requester) -> Tuple[List[Mapping[str, Any]], Optional[str]]:
    """The org's klasses of every status (`attributes` of every page of `GET /v1/klasses?status=<each>`, each klass
    once), and why they could not be read, if so."""
    found: Dict[Any, Mapping[str, Any]] = {}
    for status in klass_statuses():
        for response in send_pages(requester, KLASSES_PATH, {"status": status}):
            refused = refusal(response)
            if refused:
                return list(found.values()), refused
            body = page_body(response)
            for klass in (body.get("data") if isinstance(body, dict) else None) or []:
                if isinstance(klass, dict):
                    found.setdefault(klass.get("id"), {**(klass.get("attributes") or {}), "id": klass.get("id")})
    return list(found.values()), None


def metadata_of(requester: Requester, object_type: str) -> Tuple[Mapping[str, Any], Optional[str]]:
    """{attribute name: definition} of one object type (`kobject.<klass name>` for a klass), and why not, if refused."""
    properties: Dict[str, Any] = {}
    for response in send_pages(requester, metadata_path(object_type)):
        refused = refusal(response)
        if refused:
            return properties, refused
        properties.update(metadata_properties(page_body(response)))
    return properties, None


@dataclass
class MetadataPartitionRouter(SinglePartitionRouter):
    """One partition per metadata document: each of `object_types`, then `kobject.<klass name>` for every klass.

    `ListPartitionRouter` takes a fixed list and `SubstreamPartitionRouter` only a parent stream's records; the
    partitions here are both, a fixed list followed by one per klass read from every page of `GET /v1/klasses`.
    Each partition carries `object_type` (`kobject` for a klass), `klass` (the klass name or None) and `path`.
    """

    requester: Requester = None  # type: ignore[assignment]
    config: Config = field(default_factory=dict)
    object_types: List[str] = field(default_factory=list)

    def stream_slices(self) -> Iterable[StreamSlice]:
        for object_type in self.object_types:
            yield StreamSlice(partition={"object_type": object_type, "klass": None, "path": metadata_path(object_type)}, cursor_slice={})
        found, refused = klasses(self.requester)
        if refused:
            raise AirbyteTracedException(
                message=(
                    f"custom_attributes: Kustomer refused to list the org's klasses ({KLASSES_PATH}, {refused}). "
                    "Give the API key the org.permission.klass.read role."
                ),
                failure_type=FailureType.config_error,
            )
        for klass in found:
            name = klass.get("name")
            if isinstance(name, str) and name:
                yield StreamSlice(partition={"object_type": "kobject", "klass": name, "path": metadata_path("kobject." + name)}, cursor_slice={})


@dataclass
class KlassStreamsRetriever(Retriever):
    """The org's klasses as `HttpComponentsResolver` needs them for one stream per klass: `{name, stream_name}`.

    Reads every page of `GET /v1/klasses` and names each klass's stream (`klass_stream_name`). The resolver's
    mappings cannot drop a record or compare records, and the CDK fails the whole discover on two streams of one
    name; this drops, with a warning, a klass whose name makes no stream name and every klass after the first
    whose name makes the same stream name. A 403 on the klasses (let through by the requester's error handler)
    gives no per-klass streams and a warning naming the role; an org without klasses gives none, silently.
    """

    # Not `requester`: the CDK would turn on its response cache for a resolver's `retriever.requester`, to no use
    # here (the klasses are read once per discover or sync) and with a deprecation warning from requests-cache.
    klasses_requester: Requester
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def read_records(self, records_schema: Mapping[str, Any], stream_slice: Optional[StreamSlice] = None) -> Iterable[Mapping[str, Any]]:
        found, refused = klasses(self.klasses_requester)
        if refused:
            LOGGER.warning(
                f"Kustomer did not list the org's klasses ({KLASSES_PATH}, {refused}): no kobjects_<klass> streams. "
                "Give the API key the org.permission.klass.read role to get one stream per klass."
            )
        taken: Dict[str, str] = {}
        for klass in found:
            name = klass.get("name")
            stream_name = klass_stream_name(name)
            if stream_name is None:
                LOGGER.warning(f"Klass {name!r} (id {klass.get('id')}) has no letter or digit to name a stream after: it gets no kobjects_<klass> stream (its objects are in `kobjects`).")
                continue
            if stream_name in taken:
                LOGGER.warning(
                    f"Klasses {taken[stream_name]!r} and {name!r} both make the stream name {stream_name}: it reads {taken[stream_name]!r}; "
                    f"{name!r} gets no stream of its own (its objects are in `kobjects`)."
                )
                continue
            taken[stream_name] = name
            yield {"name": name, "stream_name": stream_name}
