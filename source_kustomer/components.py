"""Custom components for the Kustomer manifest: only what the CDK's built-ins cannot express."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from dataclasses import InitVar, dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, MutableMapping, Optional, Tuple, Union
from urllib.parse import quote

import orjson
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.decoders.json_decoder import JsonDecoder
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.partition_routers.single_partition_router import SinglePartitionRouter
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.declarative.requesters.error_handlers.backoff_strategy import BackoffStrategy
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.declarative.retrievers.retriever import Retriever
from airbyte_cdk.sources.declarative.schema.schema_loader import SchemaLoader
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.streams.http.error_handlers.response_models import SUCCESS_RESOLUTION, ErrorResolution, ResponseAction
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_kustomer.manifest import klass_statuses, stream_schema

LOGGER = logging.getLogger("airbyte")

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
_UNPARSED = object()


def page_body(response: requests.Response) -> Any:
    """The page's JSON, parsed once with orjson and kept on the response; None if it is not JSON.

    The error handler, the record extractor and the paginator each read the page, and the CDK would parse it for
    each of them, twice with the standard json module: four parses of a 2 MB page of 500 customers.
    """
    body = getattr(response, "_kustomer_body", _UNPARSED)
    if body is _UNPARSED:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        response._kustomer_body = body  # type: ignore[attr-defined]  # per response, so safe across threads
    return body


@dataclass
class KustomerJsonDecoder(JsonDecoder):
    """`JsonDecoder` over `page_body`: the paginator reads the page the extractor already parsed."""

    parameters: InitVar[Mapping[str, Any]] = None  # type: ignore[assignment]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__init__(parameters or {})

    def decode(self, response: requests.Response) -> Iterator[MutableMapping[str, Any]]:
        body = page_body(response)
        if isinstance(body, list):
            yield from body or [{}]
        else:
            yield body if isinstance(body, dict) else {}


@dataclass
class KustomerDataExtractor(RecordExtractor):
    """The records of a Kustomer page: its `data` array, by key.

    `DpathExtractor` looks `["data"]` up with `dpath.get`, which walks every value of the page: about 115 ms for a
    page of 500 customers, four times the cost of parsing it.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        body = page_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, list):
            yield from data
        elif isinstance(data, dict):
            yield data


@dataclass
class KustomerErrorHandler(DefaultErrorHandler):
    """`DefaultErrorHandler`, except that a 200 answering a non-empty JSON object succeeds before the filters run,
    and an error message's `{reason}` becomes Kustomer's own reason (`kustomer_reason`).

    Each filter the CDK evaluates parses the body with the standard json module, for its predicate and again for its
    error message: two parses of every page before the filter that accepts a 200. Anything else goes to the filters.
    """

    def interpret_response(self, response_or_exception: Optional[Union[requests.Response, Exception]]) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 200:
            body = page_body(response_or_exception)
            if isinstance(body, dict) and body:
                return SUCCESS_RESOLUTION
        resolution = super().interpret_response(response_or_exception)
        if not isinstance(response_or_exception, requests.Response):
            return resolution
        if resolution.response_action == ResponseAction.IGNORE:
            failed = refused_archive_of_an_archived_context(response_or_exception)
            if failed is not None:
                return failed
            refused_archive_as_last_page(response_or_exception)
        if resolution.error_message and REASON in resolution.error_message:
            reason = kustomer_reason(page_body(response_or_exception), response_or_exception.reason)
            resolution = dataclasses.replace(resolution, error_message=resolution.error_message.replace(REASON, reason))
        return resolution


# In an error message of the manifest, where Kustomer's own reason goes (Jinja leaves single braces alone).
REASON = "{reason}"


def kustomer_reason(body: Any, fallback: Optional[str] = None) -> str:
    """Kustomer's own words from an error body, in either of its error formats (`errors[0]` detail, message, title)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    return str(first.get("detail") or first.get("message") or first.get("title") or fallback or "no reason given")


ARCHIVE_REFUSAL = "_kustomer_archive_refusal"


# The contexts Kustomer's reference documents for archive search (its filterable attributes: ids, created and updated
# times, `*_deleted` of customer, conversation, message, company and kobject, and `kobject_<klass>_updated_at`).
ARCHIVED_CONTEXTS = ("customer", "conversation", "message", "company", "kobject")


def archive_context(response: requests.Response) -> Optional[str]:
    """The queryContext of an archive search, None for any other request."""
    request = response.request
    if request is None or "/archive/search" not in (request.url or ""):
        return None
    try:
        body = orjson.loads(request.body or b"{}")
    except (orjson.JSONDecodeError, TypeError):
        return None
    context = body.get("queryContext") if isinstance(body, dict) else None
    return context if isinstance(context, str) else None


def refused_archive_of_an_archived_context(response: requests.Response) -> Optional[ErrorResolution]:
    """A failure, for archive search refusing a context the reference says it serves: skipping the stream's objects
    older than two years with a warning would lose them quietly. (A context it does not serve, notes, is let through.)"""
    context = archive_context(response)
    if context is None or response.status_code == 200:
        return None
    if context not in ARCHIVED_CONTEXTS and not context.startswith("kobject_"):
        return None
    return ErrorResolution(
        response_action=ResponseAction.FAIL,
        failure_type=FailureType.system_error,
        error_message=(
            f"Kustomer's archive search refused the {context} objects updated more than two years ago "
            f"(HTTP {response.status_code} on {response.request.url}): {kustomer_reason(page_body(response), response.reason)}. "
            "The stream stopped rather than skip them; a start_date within the last two years syncs the rest."
        ),
    )


def refused_archive_as_last_page(response: requests.Response) -> None:
    """An archive search the error handler let through (IGNORE) reads as an empty last page, its refusal kept.

    The retriever ends a window's pagination on any response that is not OK, so a refused archive search would also
    drop the window's search phase: as an empty 200 page, the pagination strategy moves on to search (and says, once
    per stream, what was refused: `ARCHIVE_REFUSAL` holds the status and Kustomer's reason).
    """
    request = response.request
    if request is None or "/archive/search" not in (request.url or "") or response.status_code == 200:
        return
    setattr(response, ARCHIVE_REFUSAL, (response.status_code, kustomer_reason(page_body(response))))
    response.status_code = 200
    response._kustomer_body = {"data": [], "links": {"next": None}}  # type: ignore[attr-defined]


@dataclass
class RateLimitResetBackoff(BackoffStrategy):
    """Waits until Kustomer's rate-limit window resets, read from `x-ratelimit-reset` on a 429.

    The built-ins each read one form of the header: `WaitUntilTimeFromHeader` an epoch time, `WaitTimeFromHeader`
    a number of seconds. Kustomer's documentation does not say which it sends, so this accepts both (a value past
    one billion is an epoch time), and refuses to wait longer than `max_wait_seconds`, failing with a transient
    error that says so. Responses other than 429, or a 429 without the header, are left to the next strategy.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    reset_header: str = "x-ratelimit-reset"
    max_wait_seconds: Union[float, str] = 300

    # Epoch seconds are above this; a number of seconds to wait is far below it.
    _EPOCH_THRESHOLD = 1_000_000_000
    # After a 429 the reset time (one-second resolution) is waited out with a margin, so the retry lands in the
    # new window even if Kustomer rounds it down or its clock runs behind ours.
    _MARGIN_SECONDS = 0.5

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        if not isinstance(response_or_exception, requests.Response) or response_or_exception.status_code != 429:
            return None
        wait = seconds_until_reset(response_or_exception.headers.get(self.reset_header), margin=self._MARGIN_SECONDS)
        if wait is None:
            return None
        limit = float(self.max_wait_seconds)
        if wait > limit:
            raise AirbyteTracedException(
                message=(
                    f"Kustomer's rate limit would need a wait of {wait:.0f} s (x-ratelimit-reset), longer than the "
                    f"{limit:.0f} s this connector waits. The sync stopped; run it again later."
                ),
                internal_message=f"x-ratelimit-reset asked for {wait:.1f} s > max_wait_seconds {limit}",
                failure_type=FailureType.transient_error,
            )
        return wait


def seconds_until_reset(header_value: Optional[str], now: Optional[float] = None, margin: float = 0.0) -> Optional[float]:
    """Seconds to wait for `x-ratelimit-reset` (epoch seconds or seconds to wait) plus `margin`; None if absent."""
    if header_value is None:
        return None
    try:
        value = float(header_value)
    except (TypeError, ValueError):
        return None
    if value > RateLimitResetBackoff._EPOCH_THRESHOLD:
        value -= time.time() if now is None else now
    return max(value, 0.0) + margin


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


def refusal(response: Optional[requests.Response]) -> Optional[str]:
    """`HTTP 403: <Kustomer's reason>` for an answer other than 200 (or no answer), else None."""
    if response is None:
        return "no answer"
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {kustomer_reason(page_body(response), response.reason)}"
    return None


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

