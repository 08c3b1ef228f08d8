"""The audit_logs stream against an audit log that ignores its time filters: events are kept to the sync's window
here, in either paging order, and a newest-first log is not read past the window's start."""

from __future__ import annotations

from typing import Any, Dict, List
from urllib.parse import parse_qs, urlsplit

import pytest

from airbyte_cdk.models import SyncMode

from unit_tests.builders import API_URL, ConfigBuilder, catalog, records_of
from unit_tests.conftest import read_source

START = "2025-06-01T00:00:00Z"


def _event(n: int, at: str) -> Dict[str, Any]:
    return {"type": "audit_log", "id": f"event-{n:04d}", "attributes": {
        "eventName": "kustomer.conversation.update", "eventVerb": "update", "objectType": "conversation",
        "objectId": f"conv-{n % 7}", "createdAt": at,
        "changes": {"attributes": {"status": {"op": "replace", "before": "open", "after": "done"}}}}}


# 30 events a day apart, from 2025-05-17 on: 15 before START, 15 after.
EVENTS = [_event(n, f"2025-{5 + (17 + n - 1) // 31:02d}-{(17 + n - 1) % 31 + 1:02d}T10:00:00.000Z") for n in range(30)]


def _serve(kustomer, newest_first: bool, page_size: int = 4) -> List[Dict[str, List[str]]]:  # type: ignore[no-untyped-def]
    """The log, in one order, paged by the cursor Kustomer's reference names for it; filter[start]/[end] ignored."""
    requests: List[Dict[str, List[str]]] = []
    ordered = list(reversed(EVENTS)) if newest_first else list(EVENTS)
    cursor = "before" if newest_first else "after"

    def answer(request, context):  # type: ignore[no-untyped-def]
        query = parse_qs(urlsplit(request.url).query)
        requests.append(query)
        ids = [e["id"] for e in ordered]
        start = ids.index(query[cursor][0]) + 1 if cursor in query else 0
        page = ordered[start:start + page_size]
        more = start + page_size < len(ordered)
        return {"data": page, "links": {"next": f"/v1/audit-logs?{cursor}={page[-1]['id']}" if more else None}}

    kustomer.mocker.get(f"{API_URL}/v1/audit-logs", json=answer)
    return requests


@pytest.mark.parametrize("newest_first", [True, False])
def test_audit_logs_emit_the_windows_events_once_whichever_the_order(kustomer, newest_first):
    requests = _serve(kustomer, newest_first)

    output = read_source(ConfigBuilder().with_start_date(START).build(), catalog("audit_logs", sync_mode=SyncMode.incremental))
    ids = [r["id"] for r in records_of(output, "audit_logs")]

    assert sorted(ids) == sorted(e["id"] for e in EVENTS if e["attributes"]["createdAt"] >= "2025-06-01")
    assert all(query["count"] == ["1000"] and query["filter[start]"] for query in requests)
    if newest_first:  # the page that reaches below the window's start is the last one read
        assert len(requests) == 4
    else:
        assert len(requests) == 8


def test_audit_log_records_keep_kustomers_changes(kustomer):
    _serve(kustomer, newest_first=True)

    output = read_source(ConfigBuilder().with_start_date(START).build(), catalog("audit_logs"))
    record = records_of(output, "audit_logs")[0]

    assert record["changes"] == {"attributes": {"status": {"op": "replace", "before": "open", "after": "done"}}}
    assert record["event_name"] == "kustomer.conversation.update" and record["object_id"].startswith("conv-")
