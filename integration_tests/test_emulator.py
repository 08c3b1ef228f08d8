"""Tests of the local Kustomer API emulator (integration_tests/emulator)."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest

from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.emulator.auth import SEARCH_ROLES
from integration_tests.emulator.custom_attributes import suffix_type
from integration_tests.emulator.generate import generate
from integration_tests.emulator.records import STREAMS, TIE_UPDATED_AT, parse_iso_ms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = {"customers": 400, "conversations": 300, "messages": 500, "notes": 80, "kobjects": 120,
         "companies": 50, "users": 30, "teams": 6, "tags": 40, "shortcuts": 20}
UNAUTHORIZED = {"errors": [{"status": 401, "code": "unauthorized", "title": "Unauthorized",
                            "detail": "Invalid or missing API token"}]}
RATE_LIMITED = {"errors": [{"status": 429, "code": "too_many_requests", "title": "Too Many Requests",
                            "detail": "Rate limit exceeded. Try again after the window resets."}]}


class Client:
    """Tiny keep-alive JSON client over http.client."""

    def __init__(self, url: str, token: str | None = DEFAULT_TOKEN) -> None:
        u = urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)

    def request(self, method: str, path: str, body=None, token: str | None | bool = True, raw: bool = False):
        headers = {}
        tok = self.token if token is True else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
            content = resp.read()
        except Exception:
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            raise
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if raw:
            return resp.status, hdrs, content
        return resp.status, hdrs, json.loads(content) if content else None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def search(self, body, page=1, page_size=100, **kw):
        return self.request("POST", f"/v1/customers/search?page={page}&pageSize={page_size}", body=body, **kw)

    def close(self):
        self.conn.close()


@pytest.fixture(scope="module")
def emu():
    with KustomerEmulator(seed=42, counts=SMALL, tie_block=50) as e:
        yield e


@pytest.fixture()
def client(emu):
    emu.reset()
    emu.configure(rate_limit=None, search_rate_limit=None, latency_ms=0, search_cap=10_000,
                  reset_header_mode="epoch", window_seconds=60.0)
    c = Client(emu.url)
    yield c
    c.close()


def _ctx_window(ctx, gte=None, lte=None, sort="asc", field="updated_at"):
    crit = []
    if gte:
        crit.append({f"{ctx}_{field}": {"gte": gte}})
    if lte:
        crit.append({f"{ctx}_{field}": {"lte": lte}})
    return {"queryContext": ctx, "and": crit, "sort": [{f"{ctx}_{field}": sort}]}


# ---------------------------------------------------------------------------------------------------------


def test_auth_errors(client):
    st, _, body = client.get("/v1/users", token=None)
    assert st == 401 and body == UNAUTHORIZED
    st, _, body = client.get("/v1/users", token="not-the-token")
    assert st == 401 and body == UNAUTHORIZED
    st, _, body = client.get("/v1/users", token="wrong-region-token")
    assert st == 401
    assert body["errors"][0]["detail"] == \
        "Auth token associated with pod prod2 but request is being handled by prod1"
    st, _, body = client.get("/v1/auth/tokens/current", token="no-roles-token")
    assert st == 200 and body["data"]["type"] == "token" and body["data"]["attributes"]["roles"] == []
    st, _, body = client.get("/v1/customers", token="no-roles-token")
    assert st == 403 and body["errors"][0]["code"] == "forbidden"
    assert body["errors"][0]["detail"] == "Missing required role org.permission.customer.read"
    st, _, _ = client.get("/v1/customers", token="no-metadata-token")
    assert st == 200
    for path in ("/v1/metadata/customer", "/v1/klasses"):
        st, _, body = client.get(path, token="no-metadata-token")
        assert st == 403, path
    st, _, body = client.get("/v1/auth/tokens/current")
    assert st == 200 and "org.permission.customer.read" in body["data"]["attributes"]["roles"]
    assert body["data"]["attributes"]["orgName"] == "emulator"
    st, _, body = client.get("/v1/does-not-exist")
    assert st == 404 and body["errors"][0]["status"] == 404


def test_list_paging_clamping_and_links(client, emu):
    st, _, body = client.get("/v1/users?page=1&pageSize=1000")
    assert st == 200 and body["meta"]["pageSize"] == 500  # users: max 500
    assert body["meta"]["total"] == SMALL["users"] and len(body["data"]) == SMALL["users"]
    assert body["links"]["next"] is None and body["links"]["prev"] is None
    st, _, body = client.get("/v1/tags?pageSize=500")
    assert body["meta"]["pageSize"] == 100  # tags: max 100, silently clamped

    seen = []
    path = "/v1/customers?page=1&pageSize=150"
    pages = 0
    while path:
        st, _, body = client.get(path)
        assert st == 200
        assert body["meta"]["pageSize"] == 100  # clamped from 150
        seen += [d["id"] for d in body["data"]]
        path = body["links"]["next"]
        pages += 1
        if path:
            assert path.startswith("/v1/customers?page=")  # relative links, like the real API
    assert pages == math.ceil(SMALL["customers"] / 100) == body["meta"]["totalPages"]
    assert body["links"]["next"] is None and body["links"]["prev"] == "/v1/customers?page=3&pageSize=100"
    assert seen == sorted(seen) and len(set(seen)) == SMALL["customers"]
    assert seen == [r["id"] for r in emu.records("customers")]
    st, _, body = client.get("/v1/customers?page=0")
    assert st == 400


def test_record_shape(client):
    _, _, body = client.get("/v1/conversations?pageSize=100")
    conv = body["data"][0]
    assert re.fullmatch(r"[0-9a-f]{24}", conv["id"]) and conv["type"] == "conversation"
    assert conv["links"]["self"] == f"/v1/conversations/{conv['id']}"
    rel = conv["relationships"]
    assert rel["org"]["data"]["type"] == "org" and rel["org"]["links"]["self"].startswith("/v1/orgs/")
    assert rel["customer"]["data"]["type"] == "customer"
    assert "data" not in rel["messages"] and rel["messages"]["links"]["self"].endswith("/messages")
    with_sla = [c for c in body["data"] if c["attributes"]["sla"]]
    assert with_sla and with_sla[0]["relationships"]["sla"]["data"]["type"] == "sla"
    assert set(with_sla[0]["attributes"]["sla"]) >= {"breached", "matchedAt", "metrics", "status", "summary",
                                                     "version"}
    a = conv["attributes"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", a["updatedAt"])
    assert a["createdAt"] <= a["updatedAt"]
    _, _, body = client.get("/v1/users?pageSize=500")
    assert any(isinstance(u["relationships"]["teams"]["data"], list) and u["relationships"]["teams"]["data"]
               for u in body["data"])
    _, _, body = client.search({"queryContext": "message"}, page_size=50)
    m = body["data"][0]["attributes"]
    for key in ("channel", "app", "direction", "directionType", "preview", "body", "meta", "status", "sentAt",
                "size", "auto", "attachments", "createdAt", "updatedAt", "modifiedAt"):
        assert key in m, key
    _, _, body = client.search({"queryContext": "kobject"}, page_size=50)
    k = body["data"][0]
    assert k["relationships"]["klass"]["data"]["type"] == "klass"
    assert k["relationships"]["customer"]["data"]["type"] == "customer"


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("bounds", [{"gte": "2025-06-01", "lte": "2026-03-01"}, {"gt": "2025-11-30T12:34:56.789Z"},
                                    {"lt": "2025-11-30T12:34:56.789Z"}, {"equals": "2025-11-30T12:34:56.789Z"}])
def test_the_indexed_search_answers_as_the_search_rules_do(client, direction, bounds):
    """The store's index answers searches on updatedAt alone; any other goes through the rules in search.py
    (matches, order). Both answer every page alike, the tie block included."""
    criteria = [{"customer_updated_at": {op: value}} for op, value in bounds.items()]
    everything = [{"customer_created_at": {"gte": "2000-01-01"}}]  # an `or` term: the search no longer uses the index

    def pages(body):
        found, page = [], 1
        while True:
            st, _, answer = client.search(body, page=page, page_size=300)
            assert st == 200, answer
            found += [d["id"] for d in answer["data"]]
            if not answer["links"]["next"]:
                return found
            page += 1

    indexed = pages({"queryContext": "customer", "and": criteria, "sort": [{"customer_updated_at": direction}], "includeDeleted": True})
    generic = pages({"queryContext": "customer", "and": criteria, "or": everything, "sort": [{"customer_updated_at": direction}],
                     "includeDeleted": True})

    assert indexed and indexed == generic


def test_search_window_sort_cap_and_errors(client, emu):
    lo, hi = "2025-06-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"
    expected = sorted((r["attributes"]["updatedAt"], r["id"]) for r in emu.records("conversations")
                      if lo <= r["attributes"]["updatedAt"] <= hi)
    got = []
    page = 1
    while True:
        st, _, body = client.search(_ctx_window("conversation", lo, hi), page=page, page_size=40)
        assert st == 200 and body["meta"]["total"] == len(expected)
        got += [(d["attributes"]["updatedAt"], d["id"]) for d in body["data"]]
        if not body["links"]["next"]:
            break
        assert body["links"]["next"] == f"/v1/customers/search?page={page + 1}&pageSize=40"
        page += 1
    assert got == expected  # asc by updatedAt, ties by id

    # desc: updatedAt descending, ties still by id ascending
    st, _, body = client.search(_ctx_window("conversation", lo, hi, sort="desc"), page_size=500)
    desc = [(d["attributes"]["updatedAt"], d["id"]) for d in body["data"]]
    assert desc == sorted(expected, key=lambda t: (_neg(t[0]), t[1]))
    # created_at criteria and sort go through the generic path
    st, _, body = client.search(_ctx_window("customer", "2025-01-01", None, field="created_at"), page_size=500)
    created = [d["attributes"]["createdAt"] for d in body["data"]]
    assert st == 200 and created == sorted(created) and all(c >= "2025-01-01T00:00:00.000Z" for c in created)
    # one klass: criteria and sort on kobject_updated_at (Kustomer's API reference), not kobject_<klass>_updated_at
    st, _, body = client.search({"queryContext": "kobject_order",
                                 "and": [{"kobject_updated_at": {"gt": "2025-01-01T00:00:00Z"}}],
                                 "sort": [{"kobject_updated_at": "asc"}]}, page_size=500)
    assert st == 200 and body["meta"]["total"] > 0
    assert {d["relationships"]["klass"]["links"]["self"] for d in body["data"]} == {"/v1/klasses/order"}
    st, _, body = client.search({"queryContext": "kobject_order", "and": [{"kobject_order_updated_at": {"gt": "2025-01-01"}}]})
    assert st == 400

    # page size clamp and search cap
    st, _, body = client.search(_ctx_window("message"), page_size=1000)
    assert body["meta"]["pageSize"] == 500
    emu.configure(search_cap=120)
    st, _, body = client.search(_ctx_window("customer"), page=3, page_size=50)
    assert st == 200 and len(body["data"]) == 20  # records 100..119; nothing past the cap
    live = [o for o in emu.records("customers") if not o["attributes"].get("deleted")]
    assert 0 < len(live) < SMALL["customers"]  # some customers are soft-deleted: search leaves them out by default
    assert body["meta"]["total"] == len(live)  # the true total
    assert body["links"]["next"] == "/v1/customers/search?page=4&pageSize=50"  # points past the cap
    st, _, body = client.search(_ctx_window("customer"), page=4, page_size=50)
    assert st == 400
    assert body["errors"][0]["detail"] == "Search results are limited to 120 records. Narrow your query."

    # 400s
    for bad in (_ctx_window("customer", "2025-13-45T00:00:00Z"),
                {"queryContext": "nope"},
                {"queryContext": "customer", "and": [{"customer_name": {"equals": "x"}}]},
                {"queryContext": "customer", "and": [{"customer_updated_at": {"between": "2025-01-01"}}]},
                b"{not json"):
        st, _, body = client.search(bad)
        assert st == 400, bad
        assert body["errors"][0]["code"] == "bad_request"


def _neg(ts: str) -> tuple:
    return tuple(-ord(ch) for ch in ts)


def test_tie_block(client, emu):
    for stream, ctx in (("customers", "customer"), ("conversations", "conversation"), ("messages", "message")):
        tied = sorted(r["id"] for r in emu.records(stream) if r["attributes"]["updatedAt"] == TIE_UPDATED_AT)
        assert len(tied) == 50, stream
        ids = []
        for page in (1, 2, 3):
            st, _, body = client.search({"queryContext": ctx,
                                         "and": [{f"{ctx}_updated_at": {"equals": TIE_UPDATED_AT}}],
                                         "sort": [{f"{ctx}_updated_at": "asc"}], "includeDeleted": True},
                                        page=page, page_size=20)
            assert body["meta"]["total"] == 50
            ids += [d["id"] for d in body["data"]]
        assert ids == tied  # stable: every tied record exactly once when paging by page number
    # the tie block is capped at half the stream
    e = KustomerEmulator(seed=1, counts={"customers": 10, "conversations": 4, "messages": 4}, tie_block=3000)
    tied = [r for r in e.records("customers") if r["attributes"]["updatedAt"] == TIE_UPDATED_AT]
    assert len(tied) == 5


def _wait_window_start(window: float) -> None:
    left = window - (time.time() % window)
    if left < 0.6 * window:
        time.sleep(left + 0.02)


def test_rate_limit(client, emu):
    emu.configure(rate_limit=3, search_rate_limit=1, window_seconds=2.0)
    _wait_window_start(2.0)
    for expected_remaining in (2, 1, 0):
        st, h, _ = client.get("/v1/tags")
        assert st == 200
        assert h["x-ratelimit-limit"] == "3" and h["x-ratelimit-remaining"] == str(expected_remaining)
    st, h, body = client.get("/v1/tags")
    assert st == 429 and body == RATE_LIMITED
    assert h["x-ratelimit-remaining"] == "0"
    reset = int(h["x-ratelimit-reset"])
    assert time.time() - 1 <= reset <= time.time() + 2.5  # epoch seconds of the window end
    # the search bucket is separate
    st, h, _ = client.search(_ctx_window("customer"))
    assert st == 200 and h["x-ratelimit-limit"] == "1" and h["x-ratelimit-remaining"] == "0"
    st, h, _ = client.search(_ctx_window("customer"))
    assert st == 429
    emu.configure(reset_header_mode="seconds")
    st, h, _ = client.search(_ctx_window("customer"))
    assert st == 429 and 0 <= int(h["x-ratelimit-reset"]) <= 2
    stats = emu.stats()
    assert stats["rate_limited"] == 3 and stats["status_counts"]["429"] == 3
    time.sleep(int(h["x-ratelimit-reset"]) + 0.05)
    st, h, _ = client.get("/v1/tags")
    assert st == 200 and h["x-ratelimit-remaining"] == "2"
    # no headers when unlimited
    emu.configure(rate_limit=None)
    st, h, _ = client.get("/v1/tags")
    assert st == 200 and "x-ratelimit-limit" not in h


def test_rate_limits_are_per_org_shared_by_every_token_and_counted_per_window_and_client(client, emu):
    emu.configure(rate_limit=3, search_rate_limit=2, window_seconds=2.0)
    _wait_window_start(2.0)
    second = Client(emu.url, token="second-client-token")
    try:
        st, h, _ = client.search(_ctx_window("customer"))
        assert st == 200 and h["x-ratelimit-remaining"] == "1"
        st, h, _ = second.search(_ctx_window("customer"))  # another key of the same org: the same budget
        assert st == 200 and h["x-ratelimit-remaining"] == "0"
        st, h, _ = second.search(_ctx_window("customer"))
        assert st == 429
        st, h, _ = client.get("/v1/tags", token="no-metadata-token")  # the general budget is shared as well
        assert st == 200 and h["x-ratelimit-remaining"] == "2"
        st, h, _ = second.get("/v1/tags")
        assert st == 200 and h["x-ratelimit-remaining"] == "1"
    finally:
        second.close()
    windows = emu.stats()["windows"]
    (search_window,) = windows["search"].values()
    assert search_window == {"default": {"allowed": 1, "refused": 0}, "second-client": {"allowed": 1, "refused": 1}}
    (general_window,) = windows["general"].values()
    assert general_window == {"no-metadata": {"allowed": 1, "refused": 0}, "second-client": {"allowed": 1, "refused": 0}}
    emu.reset()
    assert emu.stats()["windows"] == {"search": {}, "general": {}}


def test_tokens_without_the_search_role_may_read_everything_else(client):
    for token, listed in (("no-search-role-token", True), ("no-search-role-unlisted-token", False)):
        st, _, body = client.get("/v1/auth/tokens/current", token=token)
        assert st == 200
        roles = body["data"]["attributes"].get("roles")
        if listed:
            assert not set(roles) & set(SEARCH_ROLES) and "org.permission.customer.read" in roles
        else:
            assert roles is None
        st, _, body = client.search(_ctx_window("customer"), token=token)
        assert st == 403 and body["errors"][0]["detail"] == "Missing required role org.permission.search.create"
        st, _, _ = client.get("/v1/users", token=token)
        assert st == 200


def test_klasses_are_listed_one_status_at_a_time_enabled_unless_asked(client, emu):
    every = {k["id"]: k["attributes"]["status"] for k in emu.records("klasses")}
    listed = {}
    for status in ("enabled", "existing_only", "disabled"):
        st, _, body = client.get(f"/v1/klasses?status={status}")
        assert st == 200 and {k["attributes"]["status"] for k in body["data"]} <= {status}
        listed.update({k["id"]: status for k in body["data"]})
    st, _, default = client.get("/v1/klasses")

    assert listed == every and {"enabled", "existing_only", "disabled"} <= set(every.values())
    assert st == 200 and {k["id"] for k in default["data"]} == {i for i, status in every.items() if status == "enabled"}


def test_the_legacy_roles_token_lists_legacy_role_names_and_may_read_and_search(client):
    st, _, body = client.get("/v1/auth/tokens/current", token="legacy-roles-token")
    roles = body["data"]["attributes"]["roles"]
    assert st == 200 and "org.user.search.read" in roles and "org.user.metadata.read" in roles
    assert not [role for role in roles if role.startswith("org.permission.")]
    st, _, body = client.search(_ctx_window("customer"), token="legacy-roles-token")
    assert st == 200 and body["data"]


def test_fault_injection(client, emu):
    c = client
    st, _, body = c.request("POST", "/_emulator/faults", body={"kind": "status", "count": 2, "path": "^/v1/users",
                                                               "method": "GET", "status": 503})
    assert st == 200
    assert c.get("/v1/tags")[0] == 200  # path does not match
    assert c.get("/v1/users")[0] == 503
    st, _, body = c.get("/v1/users")
    assert st == 503 and body["errors"][0]["status"] == 503
    assert c.get("/v1/users")[0] == 200

    emu.add_fault("drop", path="/v1/teams")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine)):
        c.get("/v1/teams")
    assert c.get("/v1/teams")[0] == 200

    emu.add_fault("truncated", path="/v1/tags")
    with pytest.raises(http.client.IncompleteRead):
        c.get("/v1/tags", raw=True)
    emu.add_fault("invalid_json", path="/v1/tags")
    st, _, raw = c.get("/v1/tags", raw=True)
    assert st == 200
    with pytest.raises(ValueError):
        json.loads(raw)
    emu.add_fault("rate_limit", path="search", method="POST")
    st, h, body = c.search(_ctx_window("note"))
    assert st == 429 and body == RATE_LIMITED and h["x-ratelimit-remaining"] == "0" and "x-ratelimit-reset" in h
    emu.add_fault("latency", latency_ms=300, path="/v1/slas")
    t = time.perf_counter()
    assert c.get("/v1/slas")[0] == 200
    assert time.perf_counter() - t >= 0.3
    stats = emu.stats()
    assert stats["faults_applied"] == 7 and stats["status_counts"]["503"] == 2
    assert stats["by_endpoint"]["POST /v1/customers/search:note"] == 1
    c.request("POST", "/_emulator/reset")
    assert emu.stats()["requests"] == 0


def test_latency_does_not_block_other_requests(emu):
    emu.reset()
    emu.configure(latency_ms=400)
    try:
        results = []

        def worker():
            c = Client(emu.url)
            results.append(c.get("/v1/slas")[0])
            c.close()

        threads = [threading.Thread(target=worker) for _ in range(6)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
    finally:
        emu.configure(latency_ms=0)
    assert results == [200] * 6
    assert 0.4 <= elapsed < 1.5


def test_upsert_changes_updated_at():
    with KustomerEmulator(seed=7, counts=SMALL, tie_block=10) as e:
        c = Client(e.url)
        before = e.records("customers")[5]
        st, _, body = c.request("POST", "/_emulator/records/customers", token=None, body={
            "records": [{"id": before["id"], "attributes": {"name": "Zoë Ünicode 🚀", "custom": {"isVIPBool": True}}}]})
        assert st == 200
        after = body["data"][0]
        assert after["attributes"]["name"] == "Zoë Ünicode 🚀" and after["attributes"]["custom"]["isVIPBool"] is True
        assert after["attributes"]["updatedAt"] > before["attributes"]["updatedAt"]
        assert after["attributes"]["createdAt"] == before["attributes"]["createdAt"]
        # other custom attributes are kept
        assert {k for k in before["attributes"]["custom"]} <= set(after["attributes"]["custom"])
        stored = {r["id"]: r for r in e.records("customers")}[before["id"]]
        assert stored == after
        # the changed record is found by an updated-since search
        since = after["attributes"]["updatedAt"]
        st, _, body = c.search(_ctx_window("customer", since))
        assert [d["id"] for d in body["data"]] == [before["id"]]
        # insert with an explicit updatedAt; the record is complete and searchable
        st, _, body = c.request("POST", "/_emulator/records/conversations", body={
            "records": [{"attributes": {"name": "new one", "updatedAt": "2026-11-01T00:00:00Z"}}]})
        new = body["data"][0]
        assert new["attributes"]["updatedAt"] == "2026-11-01T00:00:00.000Z"
        assert new["attributes"]["createdAt"] <= new["attributes"]["updatedAt"]
        assert re.fullmatch(r"[0-9a-f]{24}", new["id"]) and "sla" in new["attributes"]
        assert new["links"]["self"] == f"/v1/conversations/{new['id']}"
        st, _, body = c.search(_ctx_window("conversation", "2026-11-01T00:00:00.000Z"))
        assert [d["id"] for d in body["data"]] == [new["id"]]
        st, _, body = c.get("/v1/conversations?pageSize=1")
        assert body["meta"]["total"] == SMALL["conversations"] + 1
        st, _, body = c.get(f"/v1/conversations/{new['id']}")
        assert st == 200 and body["data"]["id"] == new["id"]
        # kobject of a given klass
        new_k = e.upsert("kobjects", [{"klass": "Survey-Response", "attributes": {"title": "x"}}])[0]
        st, _, body = c.search({"queryContext": "kobject_Survey-Response",
                                "and": [{"kobject_updated_at": {"gte": new_k["attributes"]["updatedAt"]}}]})
        assert [d["id"] for d in body["data"]] == [new_k["id"]]
        c.close()


_VALUE_CHECK = {
    "string": lambda v: isinstance(v, str),
    "text": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "date": lambda v: isinstance(v, str) and parse_iso_ms(v) is not None,
    "url": lambda v: isinstance(v, str) and v.startswith("https://"),
    "tree": lambda v: isinstance(v, str),
    "id": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{24}", v),
}


def _check_custom(props: dict, records: list[dict], label: str) -> None:
    used: set[str] = set()
    for r in records:
        for name, value in r["attributes"]["custom"].items():
            assert name in props, f"{label}: {name} not in metadata"
            used.add(name)
            if value is not None:
                assert _VALUE_CHECK[props[name]["type"]](value), (label, name, value)
                if "enumeration" in props[name]:
                    assert value in props[name]["enumeration"]
    assert used == set(props), f"{label}: declared but never present: {set(props) - used}"


def test_metadata_agrees_with_records(client, emu):
    for resource, stream in (("customer", "customers"), ("conversation", "conversations"),
                             ("message", "messages"), ("company", "companies")):
        st, _, doc = client.get(f"/v1/metadata/{resource}")
        assert st == 200 and doc["data"]["type"] == "metadata"
        props = doc["data"]["attributes"]["properties"]
        for name, p in props.items():
            assert p["type"] == suffix_type(name) and p["displayName"]
        _check_custom(props, emu.records(stream), resource)
    customer_props = emu.metadata("customer")["data"]["attributes"]["properties"]
    assert {"os00Str", "isVIPBool", "orderURLUrl", "supportNotesTxt", "loyaltyTierTree", "accountManagerId",
            "totalSpentNum", "lifetimeValueNum", "keypadInstalledAt"} <= set(customer_props)
    longest = max(len(r["attributes"]["custom"].get("supportNotesTxt") or "") for r in emu.records("customers"))
    assert longest > 2000
    # klasses carry no attribute definitions (API reference); GET /v1/metadata/kobject.<name> has them, and
    # kobjects of each klass agree with them
    klasses = {k["id"]: k for status in ("enabled", "existing_only", "disabled") for k in client.get(f"/v1/klasses?status={status}")[2]["data"]}
    assert {"order", "return", "Survey-Response"} <= {k["attributes"]["name"] for k in klasses.values()}
    assert not any("metadata" in k["attributes"] for k in klasses.values())
    by_klass: dict[str, list] = {}
    for r in emu.records("kobjects"):
        by_klass.setdefault(r["relationships"]["klass"]["data"]["id"], []).append(r)
    for kid, recs in by_klass.items():
        k = klasses[kid]
        st, _, meta = client.get("/v1/metadata/kobject." + k["attributes"]["name"])
        assert st == 200
        _check_custom(meta["data"]["attributes"]["properties"], recs, k["attributes"]["name"])
    # the reference tables
    for path in ("/v1/brands", "/v1/schedules", "/v1/satisfaction"):
        st, _, body = client.get(path + "?pageSize=500")
        assert st == 200 and body["data"] and body["meta"]["pageSize"] == 100, path
    st, _, body = client.get("/v1/brands", token="no-roles-token")
    assert st == 403 and body["errors"][0]["detail"] == "Missing required role org.permission.brand.read"


def test_determinism():
    a = KustomerEmulator(seed=123, counts=SMALL, tie_block=20)
    b = KustomerEmulator(seed=123, counts=SMALL, tie_block=20)
    c = KustomerEmulator(seed=124, counts=SMALL, tie_block=20)
    for stream in STREAMS:
        assert a.records(stream) == b.records(stream), stream
    assert a.records("customers") != c.records("customers")
    # chunked generation gives the same records in one process or in several
    _, serial = generate(5, {"customers": 12_000, "conversations": 10, "messages": 10}, 100, workers=1)
    _, forked = generate(5, {"customers": 12_000, "conversations": 10, "messages": 10}, 100, workers=2)
    assert [r.body for r in serial["customers"]] == [r.body for r in forked["customers"]]


def test_cli_prints_one_line_and_stops_on_sigterm():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "integration_tests.emulator", "--port", "0", "--scale", "0.05",
                             "--counts", "customers=300", "--rate-limit", "50"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"Kustomer emulator listening on (http://127\.0\.0\.1:\d+) token=(\S+)\n", line)
        assert m, line
        c = Client(m.group(1), token=m.group(2))
        st, h, body = c.get("/v1/customers?pageSize=100")
        assert st == 200 and body["meta"]["total"] == 300 and h["x-ratelimit-limit"] == "50"
        st, _, body = c.get("/v1/users")
        assert body["meta"]["total"] == 3  # 60 * 0.05
        c.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- the settings modelling what no source settles about Kustomer --------------------------------------------------


@pytest.fixture()
def modelled(emu):
    """Sets emulator settings for one test and puts the defaults back."""
    yield emu.configure
    emu.configure(ignored_criteria=[], search_order="updated", users_default="all", index_lag_seconds=0, total_cap=None)


@pytest.mark.parametrize("key, bad", [("ignored_criteria", "company_updated_at"), ("search_order", "random"),
                                      ("users_default", "some"), ("index_lag_seconds", -1), ("total_cap", 0)])
def test_each_setting_refuses_a_value_it_does_not_model(client, key, bad):
    st, _, body = client.request("POST", "/_emulator/config", body={key: bad}, token=False)
    assert st == 400 and key in body["errors"][0]["detail"]


def test_an_ignored_criterion_is_accepted_and_not_applied(client, emu, modelled):
    window = _ctx_window("company", gte="2099-01-01T00:00:00.000Z")
    assert client.search(window)[2]["meta"]["total"] == 0
    modelled(ignored_criteria=["company_updated_at"])
    st, _, body = client.search(window)
    assert st == 200 and body["meta"]["total"] == len(emu.records("companies"))


def test_shuffled_search_pages_are_not_in_updated_at_order_but_page_through_every_record(client, emu, modelled):
    ordered = client.search(_ctx_window("customer"), page_size=500)[2]["data"]
    modelled(search_order="shuffled")
    seen = []
    for page in (1, 2, 3, 4):
        seen += client.search(_ctx_window("customer"), page=page, page_size=100)[2]["data"]
    times = [o["attributes"]["updatedAt"] for o in seen]
    assert times != sorted(times) and sorted(o["id"] for o in seen) == sorted(o["id"] for o in ordered)


@pytest.mark.parametrize("default, listed", [("all", {"active", "deactivated", "invited"}), ("active_only", {"active"}),
                                             ("ignored", {"active", "deactivated", "invited"})])
def test_users_are_listed_by_status_as_users_default_says(client, emu, modelled, default, listed):
    emu.upsert("users", [{"attributes": {"pending": True}}, {"attributes": {"deletedAt": "2026-01-01T00:00:00.000Z"}}])
    modelled(users_default=default)

    def statuses(query: str) -> set:
        users = client.get(f"/v1/users?pageSize=500{query}")[2]["data"]
        return {"deactivated" if u["attributes"].get("deletedAt") else "invited" if u["attributes"].get("pending") else "active" for u in users}

    assert statuses("") == listed
    assert statuses("&deleted=true") == ({"deactivated"} if default != "ignored" else listed)
    assert statuses("&pending=true") == ({"invited"} if default != "ignored" else listed)


def test_an_update_is_found_by_search_only_after_the_index_lag(client, emu, modelled):
    modelled(index_lag_seconds=0.5)
    (late,) = emu.upsert("notes", [{"attributes": {"body": "late"}}])
    window = _ctx_window("note", gte=late["attributes"]["updatedAt"])
    assert client.search(window)[2]["meta"]["total"] == 0
    time.sleep(0.6)
    assert [o["id"] for o in client.search(window)[2]["data"]] == [late["id"]]


def test_a_capped_total_caps_the_count_the_pages_and_links(client, modelled):
    modelled(total_cap=150)
    st, _, body = client.search(_ctx_window("customer"), page=2, page_size=100)
    assert st == 200 and body["meta"]["total"] == 150 and body["meta"]["totalPages"] == 2 and body["links"]["next"] is None
