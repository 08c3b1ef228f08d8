"""The sync's tally of Kustomer's counts and of what it wrote (source_kustomer.progress), page by page."""

from __future__ import annotations

from typing import Any, Dict, List

import orjson
import requests

from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, AirbyteStreamStatus, Level, StreamDescriptor, TraceType, Type
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message
from source_kustomer import progress

SEARCH = "https://api.kustomerapp.com/v1/customers/search"
ARCHIVE = "https://api.kustomerapp.com/v1/customers/archive/search"


def search_page(progress_config: Dict[str, Any], stream: str, page: int, total: int, held: int, gte: str = "2024-01-01T00:00:00.000Z",
                lte: str = "2026-12-06T00:00:00.000Z", url: str = SEARCH) -> None:
    body = {"queryContext": "customer", "and": [{"customer_updated_at": {"gte": gte}}, {"customer_updated_at": {"lte": lte}}]}
    request = requests.Request("POST", f"{url}?page={page}&pageSize=500", data=orjson.dumps(body)).prepare()
    response = requests.Response()
    response.status_code, response.request = 200, request
    progress.observe_page(progress_config, stream, response, {"meta": {"total": total, "page": page}, "data": []}, held)


def write(sync: progress.Progress, stream: str, ids: List[str]) -> None:
    for key in ids:
        message = AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream=stream, data={"id": key}, emitted_at=0))
        list(progress.passing(sync, [message]))


def finish(sync: progress.Progress, stream: str) -> Dict[str, Any]:
    out = sync.finish(stream)
    return {
        "estimates": [m.trace.estimate.row_estimate for m in out if m.type == Type.TRACE and m.trace.type == TraceType.ESTIMATE],
        "info": [m.log.message for m in out if m.type == Type.LOG and m.log.level == Level.INFO],
        "warn": [m.log.message for m in out if m.type == Type.LOG and m.log.level == Level.WARN],
    }


def new_sync() -> tuple:
    config: Dict[str, Any] = {}
    return progress.attach(config), config


def test_records_that_leave_the_range_during_the_sync_explain_a_difference_without_a_warning():
    sync, config = new_sync()
    search_page(config, "customers", 1, total=1000, held=500)
    search_page(config, "customers", 2, total=997, held=497)  # three customers updated since page 1: out of the range
    write(sync, "customers", [f"c{i}" for i in range(997)])
    result = finish(sync, "customers")
    assert not result["warn"]
    assert "Kustomer counted 1,000" in result["info"][0] and "3 left the range during the sync" in result["info"][0]
    assert result["estimates"] == [997]


def test_pages_holding_less_than_kustomer_counted_warn_with_both_figures():
    sync, config = new_sync()
    search_page(config, "companies", 1, total=1000, held=500)
    search_page(config, "companies", 2, total=1000, held=400)
    write(sync, "companies", [f"c{i}" for i in range(900)])
    result = finish(sync, "companies")
    assert len(result["warn"]) == 1
    warning = result["warn"][0]
    assert warning.startswith("companies may be incomplete") and "1,000" in warning and "900" in warning and "100 missing" in warning
    assert result["info"][0].endswith("short, see the warning.")


def test_a_search_cap_restart_is_not_counted_again_but_archive_and_search_are_two_windows():
    sync, config = new_sync()
    search_page(config, "customers", 1, total=40, held=40, url=ARCHIVE)
    search_page(config, "customers", 1, total=500, held=300)
    search_page(config, "customers", 1, total=210, held=210, gte="2025-06-01T00:00:00.000Z")  # the restart
    assert sync.tally("customers").counted == 540
    write(sync, "customers", [f"c{i}" for i in range(540)] + ["c299", "c298"])  # the tie read again
    result = finish(sync, "customers")
    assert not result["warn"] and "(540 unique ids)" in result["info"][0] and "2 written twice" in result["info"][0]


def test_a_capped_count_is_read_as_at_least_and_the_estimate_follows_the_restart():
    sync, config = new_sync()
    search_page(config, "customers", 1, total=progress.TOTAL_CAP, held=500)
    first = [m.trace.estimate.row_estimate for m in sync.messages()]
    sync.tally("customers").windows[next(iter(sync.tally("customers").windows))].served = progress.TOTAL_CAP
    search_page(config, "customers", 1, total=2500, held=500, gte="2026-01-01T00:00:00.000Z")
    later = [m.trace.estimate.row_estimate for m in sync.messages()]
    assert first == [progress.TOTAL_CAP] and later == [progress.TOTAL_CAP + 2500]
    write(sync, "customers", [f"c{i}" for i in range(12_400)])
    result = finish(sync, "customers")
    assert not result["warn"] and "at least 10,000" in result["info"][0]
    assert result["estimates"] == [12_400]


def test_records_left_out_by_the_connector_are_explained_and_not_expected():
    sync, config = new_sync()
    request = requests.Request("GET", "https://api.kustomerapp.com/v1/tags?page=1&pageSize=100").prepare()
    response = requests.Response()
    response.status_code, response.request = 200, request
    progress.observe_page(config, "tags", response, {"meta": {"total": 80}}, 80)
    write(sync, "tags", [f"t{i}" for i in range(5)])  # the rest is older than the saved state
    result = finish(sync, "tags")
    assert not result["warn"] and "75 left out by the connector" in result["info"][0]
    assert result["estimates"] == [5]


def test_an_estimate_goes_out_before_the_record_after_it_and_the_proof_before_the_complete_status():
    sync, config = new_sync()
    search_page(config, "notes", 1, total=2, held=1)
    record = AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="notes", data={"id": "n1"}, emitted_at=0))
    out = list(progress.passing(sync, [record]))
    assert [m.type for m in out] == [Type.TRACE, Type.RECORD] and out[0].trace.estimate.row_estimate == 2
    status = as_airbyte_message(StreamDescriptor(name="notes"), AirbyteStreamStatus.COMPLETE)
    out = list(progress.passing(sync, [status]))
    assert out[-1] is status and any(m.type == Type.LOG and "notes: Kustomer counted 2" in m.log.message for m in out)
    assert any(m.type == Type.LOG and m.log.level == Level.WARN for m in out)  # the page held one of two


def test_no_sync_no_progress():
    search_page({}, "customers", 1, total=5, held=5)  # check and discover: nothing to tally, nothing raised
    assert progress.of({}) is None


def _gap_response(page: int, lte: str = "2026-12-06T00:00:00.000Z") -> requests.Response:
    body = {"queryContext": "customer", "and": [{"customer_updated_at": {"gte": "2024-01-01T00:00:00.000Z"}}, {"customer_updated_at": {"lte": lte}}]}
    response = requests.Response()
    response.status_code = 200
    response.request = requests.Request("POST", f"{SEARCH}?page={page}&pageSize=500", data=orjson.dumps(body)).prepare()
    return response


def test_records_a_gaps_search_recovered_count_as_read_and_not_as_left():
    sync, config = new_sync()
    search_page(config, "customers", 1, total=1000, held=500)
    search_page(config, "customers", 2, total=997, held=497)  # three customers read on page 1 left: three slid
    progress.observe_recovered(config, "customers", _gap_response(2), 3)  # the search of the gap read them
    write(sync, "customers", [f"c{i}" for i in range(1000)])
    result = finish(sync, "customers")
    assert not result["warn"]
    line = result["info"][0]
    assert "emitted 1,000 records (1,000 unique ids); 3 read by a search of the gap between two pages" in line
    assert "left the range during the sync" not in line and line.endswith(": complete.")
    assert result["estimates"] == []  # the first page's count stands


def test_records_that_left_unread_are_still_counted_as_left_beside_those_a_gaps_search_recovered():
    sync, config = new_sync()
    search_page(config, "customers", 1, total=1000, held=500)
    search_page(config, "customers", 2, total=995, held=495)  # five left: two slid past page 1, three were not read yet
    progress.observe_recovered(config, "customers", _gap_response(2), 2)
    write(sync, "customers", [f"c{i}" for i in range(997)])
    result = finish(sync, "customers")
    assert not result["warn"]
    assert "2 read by a search of the gap" in result["info"][0] and "3 left the range during the sync" in result["info"][0]
    assert result["estimates"] == [997]
