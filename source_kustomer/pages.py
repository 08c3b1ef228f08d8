"""Kustomer's pages: each parsed once and shared by the error handler, the extractor and the paginator; the
records of a page; Kustomer's own reason in an error answer."""

from __future__ import annotations

import threading
from dataclasses import InitVar, dataclass
from typing import Any, Iterable, Iterator, Mapping, MutableMapping, Optional, Union
from urllib.parse import parse_qsl, urlsplit

import orjson
import requests

from airbyte_cdk.sources.declarative.decoders.json_decoder import JsonDecoder
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import PaginationStrategy
from airbyte_cdk.sources.types import Config

from source_kustomer import progress


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


def page_number(response: requests.Response) -> int:
    """The page a response answers: its request's `page` parameter (Kustomer's pages count from 1, the default)."""
    request = response.request
    query = dict(parse_qsl(urlsplit(request.url or "").query)) if request is not None else {}
    try:
        return int(query.get("page", 1))
    except ValueError:
        return 1


def page_records(body: Any) -> list:
    """The records of a parsed page: its `data` array (a single object as a list of one)."""
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, list) else [data] if isinstance(data, dict) else []


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

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._stream = (parameters or {}).get("name", "")

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        body = page_body(response)
        records = page_records(body)
        # Kustomer's count of the page's query (meta.total) and what the page held: the sync's progress and proof.
        progress.observe_page(self.config, self._stream, response, body, len(records))
        yield from records


@dataclass
class DistinctRecordsExtractor(KustomerDataExtractor):
    """A page's records, less those this sync already extracted (by id): for a stream read as partitions that may
    list one object more than once (users under each status filter).

    A record filter would not do: the CDK replaces the record filter of a client-side incremental stream with its own.
    The ids of one sync are kept (a stream of org users, thousands at most), under a lock: partitions are read at
    once. What is left out still counts as served in the sync's proof, as the connector's own filtering.
    """

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._seen: set = set()
        self._lock = threading.Lock()

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        records = list(super().extract_records(response))
        with self._lock:
            fresh = []
            for record in records:
                key = record.get("id") if isinstance(record, dict) else None
                if key is None or key not in self._seen:
                    self._seen.add(key)
                    fresh.append(record)
        yield from fresh


@dataclass
class PageNumbers(PaginationStrategy):
    """What the connector's own pagination strategies share: Kustomer's page numbers from the first page, and the
    page size the manifest gives (`#/definitions/page_size`, interpolated once). Subclasses say which page is next."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    page_size: Union[int, str] = 100

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._parameters = dict(parameters or {})
        self._page_size = int(InterpolatedString.create(str(self.page_size), parameters=self._parameters).eval(self.config))

    @property
    def initial_token(self) -> Optional[Any]:
        return None

    def get_page_size(self) -> Optional[int]:
        return self._page_size


# In an error message of the manifest, where Kustomer's own reason goes (Jinja leaves single braces alone).
REASON = "{reason}"


def kustomer_reason(body: Any, fallback: Optional[str] = None) -> str:
    """Kustomer's own words from an error body, in either of its error formats (`errors[0]` detail, message, title)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    return str(first.get("detail") or first.get("message") or first.get("title") or fallback or "no reason given")


def refusal(response: Optional[requests.Response]) -> Optional[str]:
    """`HTTP 403: <Kustomer's reason>` for an answer other than 200 (or no answer), else None."""
    if response is None:
        return "no answer"
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {kustomer_reason(page_body(response), response.reason)}"
    return None
