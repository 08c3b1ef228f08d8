"""Builders for Kustomer configs, objects and a requests-level fake of the Kustomer API for unit tests."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import requests_mock as requests_mock_module

from airbyte_cdk.models import ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder

from integration_tests import streams
from integration_tests.emulator import CONNECTOR_STREAM
from integration_tests.emulator.audit import AUDIT_MAX_COUNT, AUDIT_PATH, LAST_LINK_NONE, audit_page
from integration_tests.emulator.auth import ALL_ROLES as EMULATOR_ROLES
from integration_tests.emulator.custom_attributes import STANDARD_CUSTOM
from integration_tests.emulator.errors import ApiError
from integration_tests.emulator.lists import MAX_PAGE_SIZE, list_paging, status_filter
from integration_tests.emulator.org_catalog import OBJECT_TYPES as ORG_CATALOG_TYPES
from integration_tests.emulator.org_catalog import PATHS as ORG_CATALOG_PATHS
from integration_tests.emulator.routing import ENDPOINTS as ROUTING_ENDPOINTS
from integration_tests.emulator.records import OBJECT_TYPE, normalize_iso
from integration_tests.emulator.records import dumps as dumps_bytes
from integration_tests.emulator.routes import envelope
from integration_tests.emulator.search import SEARCH_CONTEXTS as EMULATOR_CONTEXTS
from integration_tests.emulator.search import (
    ARCHIVE_PATH,
    DEFAULT_SEARCH_HORIZON_DAYS,
    SEARCH_PAGE_LIMIT,
    SEARCH_PATH,
    churned,
    horizon,
    horizon_term,
    matches,
    order,
    page_window,
    parse_search,
    search_paging,
)

API_URL = "https://api.kustomerapp.com"
# The search streams' lookback: each incremental search starts this long before the saved state (manifest.yaml).
SEARCH_LOOKBACK = timedelta(minutes=1)


def search_start_for(state_value: str) -> str:
    """Where an incremental search starts for a saved `updated_at`: the lookback before it, in the cursor's format."""
    moment = datetime.fromisoformat(state_value.replace("Z", "+00:00")) - SEARCH_LOOKBACK
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
TOKEN = "unit-test-token-7f3a9c"

# The connector's streams (read from manifest.yaml, integration_tests/streams.py) as Kustomer serves them, by the
# emulator's tables: the queryContext of each search-backed stream, the path and largest page of each list endpoint
# (a larger pageSize is cut down to it), the JSON:API type of each stream's objects.
SEARCH_CONTEXTS = {
    stream: next(context for context, served in EMULATOR_CONTEXTS.items() if served == streams.emulator_stream(stream)) for stream in streams.SEARCH_STREAMS
}
# (The org catalog's and the routing family's paths: integration_tests/emulator/org_catalog.py and routing.py.)
OTHER_PATHS = {**ORG_CATALOG_PATHS, **{stream: path for stream, (path, _size, _roles) in ROUTING_ENDPOINTS.items()}}
LIST_PATHS = {stream: OTHER_PATHS.get(streams.emulator_stream(stream), "/v1/" + streams.emulator_stream(stream)) for stream in streams.LIST_STREAMS}
LIST_MAX_PAGE = {stream: MAX_PAGE_SIZE[streams.emulator_stream(stream)] for stream in streams.LIST_STREAMS}
OBJECT_TYPES = {stream: {**OBJECT_TYPE, **ORG_CATALOG_TYPES}[streams.emulator_stream(stream)] for stream in streams.SEARCH_STREAMS + streams.LIST_STREAMS}
# The object types Kustomer has custom attribute definitions of (GET /v1/metadata/<type>; a klass's are set per test).
METADATA_OBJECTS = tuple(STANDARD_CUSTOM)
# The roles of a key that may read every stream (the token document's `attributes.roles`), as the emulator's
# default key has them, but for the optional audit-log role.
AUDIT_ROLE = "org.permission.audit_logs.read"
ALL_ROLES = [role for role in EMULATOR_ROLES if role != AUDIT_ROLE]


class ConfigBuilder:
    def __init__(self) -> None:
        self._config: Dict[str, Any] = {"api_token": TOKEN, "start_date": "2025-01-01T00:00:00Z"}

    def with_start_date(self, value: str) -> "ConfigBuilder":
        self._config["start_date"] = value
        return self

    def with_api_url(self, value: str) -> "ConfigBuilder":
        self._config["api_url"] = value
        return self

    def set(self, key: str, value: Any) -> "ConfigBuilder":
        self._config[key] = value
        return self

    def without(self, key: str) -> "ConfigBuilder":
        self._config.pop(key, None)
        return self

    def build(self) -> Dict[str, Any]:
        return dict(self._config)


def catalog(*streams: str, sync_mode: SyncMode = SyncMode.full_refresh) -> ConfiguredAirbyteCatalog:
    builder = CatalogBuilder()
    for name in streams:
        builder.with_stream(ConfiguredAirbyteStreamBuilder().with_name(name).with_sync_mode(sync_mode).with_primary_key([["id"]]))
    return builder.build()


def kustomer_object(
    object_type: str,
    object_id: str,
    updated_at: str,
    attributes: Optional[Mapping[str, Any]] = None,
    relationships: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    return {
        "type": object_type,
        "id": object_id,
        "attributes": {"createdAt": updated_at, "updatedAt": updated_at, **(attributes or {})},
        "relationships": dict(relationships or {"org": {"data": {"type": "org", "id": "org1"}, "links": {"self": "/v1/orgs/org1"}}}),
        "links": {"self": f"/v1/{object_type}s/{object_id}"},
    }


def klass(klass_id: str, name: str, updated_at: str = "2025-02-01T00:00:00.000Z", status: str = "enabled") -> Dict[str, Any]:
    """A klass as `GET /v1/klasses` answers it: no attribute definitions (those come from /v1/metadata/kobject.<name>)."""
    return kustomer_object("klass", klass_id, updated_at, {"name": name, "displayName": name.title(), "icon": "box", "color": "#000", "status": status})


def token_document(roles: Optional[List[str]]) -> Dict[str, Any]:
    """`GET /v1/auth/tokens/current`'s answer; roles None leaves the `roles` attribute out."""
    attributes: Dict[str, Any] = {"name": "unit test key"}
    if roles is not None:
        attributes["roles"] = list(roles)
    return {"data": {"type": "token", "id": "t1", "attributes": attributes}}


def kustomer_error(status: int, detail: str) -> Dict[str, Any]:
    return {"errors": [{"status": status, "code": "error", "title": "Error", "detail": detail}]}


def page_body(data: List[Dict[str, Any]], path: str, page: int, page_size: int, total: int) -> Dict[str, Any]:
    """Kustomer's paging envelope around `data`, as the emulator writes it."""
    return json.loads(envelope(path, page, page_size, total, [dumps_bytes(o) for o in data]))


_normalized = functools.lru_cache(maxsize=None)(normalize_iso)


def _search_value(obj: Mapping[str, Any], field_name: str) -> str:
    """What Kustomer's search matches and sorts an object by: its id, or its updatedAt / createdAt (normalised)."""
    if field_name == "id":
        return obj["id"]
    attributes = obj["attributes"]
    return _normalized(attributes["updatedAt"] if field_name == "updated" else attributes.get("createdAt", attributes["updatedAt"]))


def _query(request) -> Dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()}


def _answering(handler: Callable[..., Dict[str, Any]]) -> Callable[..., Dict[str, Any]]:
    """A requests-mock callback that answers an ApiError of the shared rules as Kustomer's error document."""

    @functools.wraps(handler)
    def answer(request, context) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
        try:
            return handler(request, context)
        except ApiError as error:
            context.status_code = error.status
            return kustomer_error(error.status, error.detail)

    return answer


@dataclass
class FakeKustomer:
    """A requests-level stand-in for Kustomer's list, search, archive search, audit log, metadata and token endpoints,
    recording every request it answers. Kustomer's rules (criteria, sort, paging, the search cap, the 100-page limit,
    the two-year horizon, audit-log paging) are the emulator's own functions (integration_tests/emulator)."""

    mocker: requests_mock_module.Mocker
    api_url: str = API_URL
    search_cap: int = 10_000
    search_page_limit: int = SEARCH_PAGE_LIMIT
    search_horizon_days: float = DEFAULT_SEARCH_HORIZON_DAYS
    # Variants Kustomer's reference allows: its search answers type `links.next` as always present
    # (`search_next_always`), and `meta` may be left out (`search_meta`).
    search_next_always: bool = False
    search_meta: bool = True
    search_unsorted: bool = False  # answers in id order, whatever the sort asked
    # A busy org (the emulator's churn_updates_per_page): before each search page after the first, this many of the
    # search's first results are updated (updatedAt now).
    search_churn: int = 0
    # The audit log: events oldest first; at most `audit_max_count` a page; how its last page links on.
    audit: List[Dict[str, Any]] = field(default_factory=list)
    audit_max_count: int = AUDIT_MAX_COUNT
    audit_last_link: str = LAST_LINK_NONE
    objects: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    search_requests: List[Dict[str, Any]] = field(default_factory=list)  # the searches that read pages
    # One-record searches: the check's probe of the search role, the plan of a stream's windows
    # (source_kustomer.search.SearchWindows).
    one_record_searches: List[Dict[str, Any]] = field(default_factory=list)
    archive_requests: List[Dict[str, Any]] = field(default_factory=list)
    audit_requests: List[Dict[str, List[str]]] = field(default_factory=list)
    list_requests: List[Dict[str, Any]] = field(default_factory=list)
    metadata: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    metadata_requests: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mocker.post(f"{self.api_url}{SEARCH_PATH}", json=_answering(self._search))
        self.mocker.post(f"{self.api_url}{ARCHIVE_PATH}", json=_answering(self._archive_search))
        self.mocker.get(f"{self.api_url}{AUDIT_PATH}", json=_answering(self._audit))
        for stream, path in LIST_PATHS.items():
            self.mocker.get(f"{self.api_url}{path}", json=_answering(self._lister(stream, path)))
        self.mocker.get(f"{self.api_url}/v1/auth/tokens/current", json=token_document(ALL_ROLES))
        self.mocker.get(re.compile(re.escape(f"{self.api_url}/v1/metadata/") + r"[^?]+"), json=self._metadata)

    def set_metadata(self, object_type: str, properties: Mapping[str, Any]) -> None:
        """Custom attribute definitions of `customer`, ..., or of one klass: `kobject.<klass name>`."""
        self.metadata[object_type] = dict(properties)

    def _metadata(self, request, context) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
        object_type = unquote(urlsplit(request.url).path.split("/v1/metadata/", 1)[1])
        self.metadata_requests.append(object_type)
        if object_type not in METADATA_OBJECTS and object_type not in self.metadata:
            context.status_code = 404
            return kustomer_error(404, f"No metadata for resource {object_type!r}")
        return {"data": {"type": "metadata", "id": object_type, "attributes": {"properties": self.metadata.get(object_type, {})}}}

    def add(self, stream: str, objects: List[Dict[str, Any]]) -> None:
        self.objects.setdefault(stream, []).extend(objects)

    def add_audit_events(self, events: List[Dict[str, Any]]) -> None:
        """Audit events, in the order they happened."""
        self.audit.extend(events)

    def _search(self, request, context, archive: bool = False) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
        page, page_size = search_paging(_query(request))
        body = request.json()
        (self.archive_requests if archive else self.one_record_searches if page_size == 1 else self.search_requests).append(
            {"body": body, "page": page, "page_size": page_size, "headers": dict(request.headers)}
        )
        klass_names = [k["attributes"]["name"] for k in self.objects.get("klasses", [])]
        search = parse_search(body, klass_names, archive)
        search.terms.append(horizon_term(archive, horizon(self.search_horizon_days)))
        start, size = page_window(page, page_size, self.search_cap, self.search_page_limit)
        candidates = self.objects.get(CONNECTOR_STREAM.get(search.stream, search.stream), [])
        if search.klass is not None:  # one klass: its kobjects, whose klass relationship names it
            klass_ids = {k["id"] for k in self.objects.get("klasses", []) if k["attributes"]["name"] == search.klass}
            candidates = [o for o in candidates if o["relationships"].get("klass", {}).get("data", {}).get("id") in klass_ids]
        hits = self._hits(candidates, search)
        churn = churned(page, start, self.search_churn)
        if churn:
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            for o in hits[:churn]:
                o["attributes"]["updatedAt"] = now
            hits = self._hits(candidates, search)
        path = ARCHIVE_PATH if archive else SEARCH_PATH
        answer = page_body(hits[start : start + size], path, page, page_size, len(hits))
        if self.search_next_always:
            answer["links"]["next"] = f"{path}?page={page + 1}&pageSize={page_size}"
        if not self.search_meta:
            del answer["meta"]
        return answer

    def _hits(self, candidates: List[Dict[str, Any]], search: Any) -> List[Dict[str, Any]]:
        hits = [
            o
            for o in candidates
            if (search.include_deleted or o["attributes"].get("deleted") is not True)
            and matches(_search_value(o, "updated"), _search_value(o, "created"), search.terms, search.or_terms)
        ]
        order(hits, [] if self.search_unsorted else search.sort, _search_value)
        return hits

    def _archive_search(self, request, context) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
        return self._search(request, context, archive=True)

    def _audit(self, request, context) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
        self.audit_requests.append(parse_qs(urlsplit(request.url).query))
        return audit_page(self.audit, _query(request), self.audit_max_count, self.audit_last_link)

    def _lister(self, stream: str, path: str):  # type: ignore[no-untyped-def]
        def answer(request, context) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
            query = _query(request)
            page, page_size = list_paging(query, streams.emulator_stream(stream))
            self.list_requests.append(
                {"stream": stream, "page": page, "page_size": page_size, "asked": int(query["pageSize"]), "status": query.get("status")}
            )
            objects = self.objects.get(stream, [])
            wanted = status_filter(streams.emulator_stream(stream), query)
            if wanted is not None:
                objects = [o for o in objects if o["attributes"].get("status", "enabled") == wanted]
            start = (page - 1) * page_size
            return page_body(objects[start : start + page_size], path, page, page_size, len(objects))

        return answer


def records_of(output, stream: str) -> List[Dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [m.record.data for m in output.records if m.record.stream == stream]


def dumps(value: Any) -> str:
    return json.dumps(value)
