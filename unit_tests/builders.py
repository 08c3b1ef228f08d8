"""Builders for Kustomer configs, objects and a requests-level fake of the Kustomer API for unit tests."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import requests_mock as requests_mock_module

from airbyte_cdk.models import ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder

API_URL = "https://api.kustomerapp.com"
TOKEN = "unit-test-token-7f3a9c"

SEARCH_CONTEXTS = {
    "customers": "customer",
    "conversations": "conversation",
    "messages": "message",
    "notes": "note",
    "kobjects": "kobject",
    "companies": "company",
}
LIST_PATHS = {
    "users": "/v1/users",
    "teams": "/v1/teams",
    "tags": "/v1/tags",
    "shortcuts": "/v1/shortcuts",
    "slas": "/v1/slas",
    "klasses": "/v1/klasses",
    "brands": "/v1/brands",
    "business_schedules": "/v1/schedules",
    "satisfaction_forms": "/v1/satisfaction",
}
LIST_MAX_PAGE = {
    "users": 500,
    "teams": 500,
    "tags": 100,
    "shortcuts": 100,
    "slas": 100,
    "klasses": 100,
    "brands": 100,
    "business_schedules": 100,
    "satisfaction_forms": 100,
}
METADATA_OBJECTS = ("customer", "conversation", "message", "company")
# The roles of a key that may read every stream (the token document's `attributes.roles`).
# A key's roles as Kustomer's API reference names them: a read role per resource, and the search role.
ALL_ROLES = [
    f"org.permission.{resource}.read"
    for resource in ("customer", "conversation", "message", "note", "kobject", "company", "user", "team", "tag", "shortcut", "sla", "klass", "metadata")
] + ["org.permission.search.create"]


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
    has_next = page * page_size < total
    return {
        "meta": {"pageSize": page_size, "page": page, "total": total, "totalPages": -(-total // page_size) if page_size else 0},
        "links": {
            "self": f"{path}?page={page}&pageSize={page_size}",
            "next": f"{path}?page={page + 1}&pageSize={page_size}" if has_next else None,
        },
        "data": data,
    }


@dataclass
class FakeKustomer:
    """A requests-level stand-in for Kustomer's list and search endpoints, recording every request it answers."""

    mocker: requests_mock_module.Mocker
    api_url: str = API_URL
    search_cap: int = 10_000
    # Kustomer's reference: "a hard limit of 100 for the maximum number of pages"; its search answers type
    # `links.next` as always present (`search_next_always`), and `meta` may be left out (`search_meta`).
    search_page_limit: int = 100
    search_next_always: bool = False
    search_meta: bool = True
    search_unsorted: bool = False  # answers in id order, whatever the sort asked
    objects: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)
    search_requests: List[Dict[str, Any]] = field(default_factory=list)
    list_requests: List[Dict[str, Any]] = field(default_factory=list)
    metadata: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    metadata_requests: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mocker.post(f"{self.api_url}/v1/customers/search", json=self._search)
        for stream, path in LIST_PATHS.items():
            self.mocker.get(f"{self.api_url}{path}", json=self._lister(stream, path))
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

    def _search(self, request, context) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
        body = request.json()
        query = parse_qs(urlsplit(request.url).query)
        page, page_size = int(query.get("page", ["1"])[0]), min(int(query["pageSize"][0]), 500)
        self.search_requests.append({"body": body, "page": page, "page_size": page_size, "headers": dict(request.headers)})
        context_name = body["queryContext"]
        if context_name.startswith("kobject_"):  # one klass: its kobjects, whose klass relationship names it
            klass_ids = {k["id"] for k in self.objects.get("klasses", []) if k["attributes"]["name"] == context_name[len("kobject_"):]}
            candidates = [o for o in self.objects.get("kobjects", []) if o["relationships"].get("klass", {}).get("data", {}).get("id") in klass_ids]
        else:
            candidates = self.objects.get(next(s for s, ctx in SEARCH_CONTEXTS.items() if ctx == context_name), [])
        matches = [o for o in candidates if _matches(o, body)]
        matches.sort(key=lambda o: o["id"] if self.search_unsorted else (_moment(o["attributes"]["updatedAt"]), o["id"]))
        start = (page - 1) * page_size
        if page > self.search_page_limit:
            context.status_code = 400
            return kustomer_error(400, f"page must be at most {self.search_page_limit}")
        if start >= self.search_cap:
            context.status_code = 400
            return kustomer_error(400, f"Search results are limited to {self.search_cap} records. Narrow your query.")
        answer = page_body(matches[start : start + page_size], "/v1/customers/search", page, page_size, len(matches))
        if self.search_next_always:
            answer["links"]["next"] = f"/v1/customers/search?page={page + 1}&pageSize={page_size}"
        if not self.search_meta:
            del answer["meta"]
        return answer

    def _lister(self, stream: str, path: str):  # type: ignore[no-untyped-def]
        def answer(request, context) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
            query = parse_qs(urlsplit(request.url).query)
            asked = int(query["pageSize"][0])
            page, page_size = int(query.get("page", ["1"])[0]), min(asked, LIST_MAX_PAGE[stream])
            self.list_requests.append(
                {"stream": stream, "page": page, "page_size": page_size, "asked": asked, "status": query.get("status", [None])[0]}
            )
            objects = self.objects.get(stream, [])
            if stream == "klasses":  # one status a request, `enabled` unless asked (Kustomer's API reference)
                objects = [o for o in objects if o["attributes"].get("status", "enabled") == query.get("status", ["enabled"])[0]]
            start = (page - 1) * page_size
            return page_body(objects[start : start + page_size], path, page, page_size, len(objects))

        return answer


def _moment(value: str) -> datetime:
    """An ISO 8601 UTC time, with or without milliseconds, as Kustomer sorts it."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


_CRITERION = re.compile(r"^(?P<ctx>.+)_updated_at$")


def _matches(obj: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    value = obj["attributes"]["updatedAt"]
    for criterion in body.get("and", []):
        (attribute, condition), = criterion.items()
        assert _CRITERION.match(attribute), attribute
        (operator, bound), = condition.items()
        if operator == "gte" and not value >= bound:
            return False
        if operator == "gt" and not value > bound:
            return False
        if operator == "lte" and not value <= bound:
            return False
        if operator == "lt" and not value < bound:
            return False
    return True


def records_of(output, stream: str) -> List[Dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [m.record.data for m in output.records if m.record.stream == stream]


def dumps(value: Any) -> str:
    return json.dumps(value)
