"""The installed CLI against the Kustomer emulator, compared with the emulator's own data."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest
import requests

from integration_tests.cli import configured_catalog, run_cli, write_json
from integration_tests.emulator import DEFAULT_TOKEN, KustomerEmulator
from integration_tests.emulator.auth import NO_METADATA_TOKEN
from integration_tests.expected import custom_attribute_ids, ids_since, klasses_by_stream, metadata_properties
from integration_tests.streams import LIST_STREAMS, SEARCH_CONTEXTS, SEARCH_STREAMS, STATIC_STREAMS, emulator_stream

pytestmark = pytest.mark.e2e

START_DATE = "2024-06-01T00:00:00Z"


# Every search-backed stream holds more than one search page (500) of objects, so that a page skipped or read twice
# shows in the id comparisons (test_every_search_stream_reads_more_than_one_page_of_its_window guards it).
COUNTS = {"customers": 6_000, "kobjects": 1_500, "companies": 1_200}


@pytest.fixture(scope="module")
def emulator():
    with KustomerEmulator(seed=11, counts=COUNTS, tie_block=2_500) as running:
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def config_path(emulator, workdir) -> Path:
    return write_json(workdir / "config.json", {"api_token": DEFAULT_TOKEN, "start_date": START_DATE, "api_url": emulator.url})


@pytest.fixture(scope="module")
def catalog(config_path, workdir) -> Dict[str, Any]:
    run = run_cli(["discover", "--config", str(config_path)], workdir)
    assert run.exit_code == 0, run.stdout[-2000:]
    return run.of_type("CATALOG")[0]["catalog"]


@pytest.fixture(scope="module")
def full_read(emulator, config_path, catalog, workdir):
    catalog_path = write_json(workdir / "catalog_full.json", configured_catalog(catalog))
    emulator.reset()
    run = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path)], workdir)
    assert run.exit_code == 0 and not run.errors(), (run.errors(), run.stderr[-2000:])
    run.search_pages = emulator.stats()["search_pages"]  # type: ignore[attr-defined]  # the highest page per queryContext
    return run


def _expected_ids(emulator: KustomerEmulator, stream: str) -> set:
    """Every object updated at or after start_date: full refresh and incremental both start there."""
    return ids_since(emulator, stream, START_DATE)


def _klasses(emulator: KustomerEmulator) -> Dict[str, Dict[str, Any]]:
    return klasses_by_stream(emulator)


def _all_streams(emulator: KustomerEmulator) -> List[str]:
    return STATIC_STREAMS + sorted(_klasses(emulator))


def test_discover_lists_every_stream_with_id_primary_key_and_updated_at_cursor(catalog, emulator):
    streams = {s["name"]: s for s in catalog["streams"]}

    assert set(streams) == set(_all_streams(emulator))
    for name in SEARCH_STREAMS + LIST_STREAMS + sorted(_klasses(emulator)):
        assert streams[name]["source_defined_primary_key"] == [["id"]], name
        assert streams[name]["default_cursor_field"] == ["updated_at"], name
        assert "incremental" in streams[name]["supported_sync_modes"], name


def test_the_emulator_has_a_klass_whose_name_needs_slugging(emulator):
    names = [k["attributes"]["name"] for k in emulator.records("klasses")]

    assert len(names) >= 3
    assert any(re.search(r"[^a-z0-9_]", name) for name in names), names
    # klasses carry no attribute definitions, as Kustomer's API reference says
    assert not any("metadata" in k["attributes"] for k in emulator.records("klasses"))


def test_each_klass_stream_is_typed_with_its_own_klass_attributes(catalog, emulator):
    streams = {s["name"]: s for s in catalog["streams"]}

    for stream, klass in _klasses(emulator).items():
        declared = metadata_properties(emulator, "kobject." + klass["attributes"]["name"])
        custom = streams[stream]["json_schema"]["properties"]["custom"]["properties"]
        assert declared, stream
        assert set(custom) == {_snake(name) for name in declared}, stream
        for name in declared:
            expected = "number" if name.endswith("Num") else "boolean" if name.endswith("Bool") else "string"
            assert expected in custom[_snake(name)]["type"], (stream, name)


def test_kobjects_is_typed_with_every_klass_attributes(catalog, emulator):
    custom = next(s for s in catalog["streams"] if s["name"] == "kobjects")["json_schema"]["properties"]["custom"]["properties"]
    union = {_snake(name) for k in emulator.records("klasses") for name in metadata_properties(emulator, "kobject." + k["attributes"]["name"])}

    assert union and set(custom) == union


def test_a_full_read_of_each_klass_stream_yields_exactly_that_klass_objects(full_read, emulator):
    klasses = _klasses(emulator)
    assert len(klasses) >= 3

    for stream, klass in klasses.items():
        counts = full_read.id_counts(stream)
        expected = _expected_ids(emulator, stream)
        assert expected, stream
        assert set(counts) == expected, stream
        assert all(count == 1 for count in counts.values()), stream
    assert set().union(*(full_read.id_counts(stream) for stream in klasses)) == set(full_read.id_counts("kobjects"))


@pytest.mark.parametrize("stream", SEARCH_STREAMS)
def test_search_streams_deliver_every_record_updated_since_start_date(full_read, emulator, stream):
    counts = full_read.id_counts(stream)
    expected = _expected_ids(emulator, stream)

    assert expected, f"the emulator has no {stream} after {START_DATE}"
    assert set(counts) == expected
    duplicates = sum(counts.values()) - len(counts)
    assert duplicates <= len(expected) * 0.01, f"{duplicates} duplicates"


@pytest.mark.parametrize("stream", SEARCH_STREAMS)
def test_every_search_stream_reads_more_than_one_page_of_its_window(full_read, emulator, stream):
    """The precondition of the id comparisons above catching a skipped page: the read pages through a window."""
    context = SEARCH_CONTEXTS[stream]

    assert full_read.search_pages.get(context, 0) >= 2, (stream, full_read.search_pages)


@pytest.mark.parametrize("stream", LIST_STREAMS)
def test_list_streams_deliver_every_record_updated_since_start_date(full_read, emulator, stream):
    counts = full_read.id_counts(stream)

    assert set(counts) == _expected_ids(emulator, stream)
    assert all(count == 1 for count in counts.values())


def test_the_tie_block_is_read_in_full(full_read, emulator):
    by_updated: Dict[str, List[str]] = {}
    for obj in emulator.records("customers"):
        by_updated.setdefault(obj["attributes"]["updatedAt"], []).append(obj["id"])
    tie_time, tie_ids = max(by_updated.items(), key=lambda item: len(item[1]))

    assert len(tie_ids) >= 1_000
    assert set(tie_ids) <= set(full_read.id_counts("customers"))


def test_custom_attributes_stream_lists_what_the_metadata_declares(full_read, emulator):
    rows = full_read.records("custom_attributes")

    assert {r["name"] for r in rows if r["object_type"] == "customer"} == set(metadata_properties(emulator, "customer"))
    assert {r["id"] for r in rows} == custom_attribute_ids(emulator)


def test_records_validate_against_the_discovered_schema(full_read, catalog, emulator):
    for stream in _all_streams(emulator):
        schema = next(s["json_schema"] for s in catalog["streams"] if s["name"] == stream)
        validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        records = full_read.records(stream)

        assert records, stream
        problems = [f"{r.get('id')}: {e.json_path}: {e.message}" for r in records for e in validator.iter_errors(r)]
        assert not problems, (stream, problems[:10])


def test_discover_types_the_orgs_custom_attributes(catalog, full_read):
    custom = next(s for s in catalog["streams"] if s["name"] == "customers")["json_schema"]["properties"]["custom"]["properties"]
    rows = [r for r in full_read.records("custom_attributes") if r["object_type"] == "customer"]

    assert rows
    for row in rows:
        expected = {"number": ["null", "number"], "boolean": ["null", "boolean"], "string": ["null", "string"]}.get(row.get("json_type"))
        if expected:
            assert custom[row["column"]]["type"] == expected, row["name"]
    assert any(p.get("format") == "date-time" for p in custom.values())


# The record shape, written out independently of the connector's implementation.
def _snake(key: str) -> str:
    key = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", key)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()


def _snake_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {_snake(k): _snake_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_all(v) for v in value]
    return value


def _expected_record(obj: Dict[str, Any]) -> Dict[str, Any]:
    record = _snake_all(obj.get("attributes") or {})
    for name, relationship in (obj.get("relationships") or {}).items():
        if "data" not in relationship:
            continue
        data = relationship["data"]
        column = "sla_data" if name == "sla" else _snake(name)
        if isinstance(data, list):
            record[column] = [{"type": d["type"], "id": d["id"]} for d in data]
        else:
            record[column] = None if data is None else {"type": data["type"], "id": data["id"]}
    record.update(id=obj["id"], type=obj["type"], links=_snake_all(obj.get("links")))
    # The CDK's message serializer leaves out top-level keys whose value is null; destinations write them as null.
    return {key: value for key, value in record.items() if value is not None}


# The streams whose soft-deleted objects (`deleted: true`) carry `_ab_cdc_deleted_at` (the docs' Deletions section).
SOFT_DELETING_STREAMS = SEARCH_STREAMS + ["kb_articles"]


@pytest.mark.parametrize("stream", SEARCH_STREAMS + LIST_STREAMS)
def test_records_have_exactly_the_specified_shape(full_read, emulator, stream):
    delivered = {r["id"]: r for r in full_read.records(stream)}
    originals = [o for o in emulator.records(emulator_stream(stream)) if o["id"] in delivered]

    assert originals
    for obj in originals[:300]:
        expected = _expected_record(obj)
        if stream in SOFT_DELETING_STREAMS and expected.get("deleted") is True:
            expected["_ab_cdc_deleted_at"] = expected["updated_at"]  # soft-deleted: deleted at its last update
        if stream == "workflows":
            expected.pop("variables", None)  # secrets: never synced
        assert delivered[obj["id"]] == expected, obj["id"]


def test_klass_stream_records_have_exactly_the_specified_shape(full_read, emulator):
    for stream in _klasses(emulator):
        delivered = {r["id"]: r for r in full_read.records(stream)}
        originals = [o for o in emulator.records("kobjects") if o["id"] in delivered]

        assert originals, stream
        for obj in originals[:100]:
            assert delivered[obj["id"]] == _expected_record(obj), (stream, obj["id"])


def _upsert(emulator: KustomerEmulator, stream: str, records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    response = requests.post(f"{emulator.url}/_emulator/records/{stream}", json={"records": records}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def test_an_incremental_second_run_delivers_every_record_changed_since_the_first(emulator, catalog, config_path, workdir):
    streams = ["customers", "conversations", "notes", "users", "tags"]
    catalog_path = write_json(workdir / "catalog_incremental.json", configured_catalog(catalog, streams, incremental=True))
    first = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path)], workdir)
    assert first.exit_code == 0 and not first.errors(), first.errors()
    state_path = write_json(workdir / "state.json", first.state_messages())
    assert {m["stream"]["stream_descriptor"]["name"] for m in first.state_messages()} == set(streams)

    changed: Dict[str, set] = {}
    for stream in streams:
        existing = emulator.records(stream)[:5]
        updated = _upsert(emulator, stream, [{"id": o["id"], "attributes": {"name": f"changed {o['id']}"}} for o in existing])
        inserted = _upsert(emulator, stream, [{"attributes": {"name": "brand new"}}])
        changed[stream] = {o["id"] for o in updated + inserted}

    second = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path), "--state", str(state_path)], workdir)

    assert second.exit_code == 0 and not second.errors(), second.errors()
    for stream in streams:
        delivered = set(second.id_counts(stream))
        assert changed[stream] <= delivered, stream
        assert len(delivered) <= len(changed[stream]) + 5, f"{stream}: {len(delivered)} records re-read"


def test_an_incremental_second_run_of_the_klass_streams_delivers_what_changed_in_each_klass(emulator, catalog, config_path, workdir):
    klasses = _klasses(emulator)
    streams = sorted(klasses)
    catalog_path = write_json(workdir / "catalog_klasses.json", configured_catalog(catalog, streams, incremental=True))
    first = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path)], workdir)
    assert first.exit_code == 0 and not first.errors(), first.errors()
    assert {m["stream"]["stream_descriptor"]["name"] for m in first.state_messages()} == set(streams)
    state_path = write_json(workdir / "state_klasses.json", first.state_messages())

    changed: Dict[str, set] = {}
    for stream, klass in list(klasses.items())[:2]:
        name = klass["attributes"]["name"]
        existing = [o for o in emulator.records("kobjects") if o["relationships"]["klass"]["data"]["id"] == klass["id"]][:3]
        updated = _upsert(emulator, "kobjects", [{"id": o["id"], "attributes": {"title": f"changed {o['id']}"}} for o in existing])
        inserted = _upsert(emulator, "kobjects", [{"klass": name, "attributes": {"title": "brand new"}}])
        changed[stream] = {o["id"] for o in updated + inserted}

    second = run_cli(["read", "--config", str(config_path), "--catalog", str(catalog_path), "--state", str(state_path)], workdir)

    assert second.exit_code == 0 and not second.errors(), second.errors()
    for stream in streams:
        delivered = set(second.id_counts(stream))
        assert changed.get(stream, set()) <= delivered, stream
        assert len(delivered) <= len(changed.get(stream, set())) + 3, f"{stream}: {len(delivered)} records re-read"
    assert all(changed.values())


def test_discover_without_the_klass_and_metadata_roles_lists_no_klass_streams_and_warns(emulator, workdir):
    config = write_json(workdir / "no_metadata.json", {"api_token": NO_METADATA_TOKEN, "start_date": START_DATE, "api_url": emulator.url})

    run = run_cli(["discover", "--config", str(config)], workdir)

    assert run.exit_code == 0, run.stdout[-2000:]
    streams = {s["name"]: s for s in run.of_type("CATALOG")[0]["catalog"]["streams"]}
    assert set(streams) == set(STATIC_STREAMS)
    assert streams["kobjects"]["json_schema"]["properties"]["custom"]["properties"] == {}
    warnings = " ".join(m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN")
    assert "org.permission.klass.read" in warnings and "org.permission.metadata.read" in warnings
    assert NO_METADATA_TOKEN not in run.stdout + run.stderr


def test_klasses_whose_names_collide_or_make_no_name_and_a_klass_without_metadata(workdir):
    with KustomerEmulator(seed=3, counts={"customers": 20, "conversations": 5, "messages": 5, "notes": 5, "kobjects": 30}) as emulator:
        _upsert(emulator, "klasses", [{"attributes": {"name": name}} for name in ("ORDER", "!!!", "Brand-New")])
        config = write_json(workdir / "odd_klasses.json", {"api_token": DEFAULT_TOKEN, "start_date": START_DATE, "api_url": emulator.url})

        run = run_cli(["discover", "--config", str(config)], workdir)

    assert run.exit_code == 0, run.stdout[-2000:]
    streams = {s["name"]: s for s in run.of_type("CATALOG")[0]["catalog"]["streams"]}
    assert sorted(name for name in streams if name.startswith("kobjects_")) == [
        "kobjects_brand_new", "kobjects_order", "kobjects_return", "kobjects_subscription", "kobjects_survey_response"
    ]
    # the emulator has no metadata for the klass created here (404): its stream is published untyped
    assert streams["kobjects_brand_new"]["json_schema"]["properties"]["custom"]["properties"] == {}
    assert streams["kobjects_order"]["json_schema"]["properties"]["custom"]["properties"]
    warnings = " ".join(m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN")
    assert "Klasses 'order' and 'ORDER' both make the stream name kobjects_order" in warnings
    assert "Klass '!!!'" in warnings
    assert "/v1/metadata/kobject.Brand-New, HTTP 404" in warnings


def test_a_window_over_the_search_cap_is_read_in_full(workdir):
    with KustomerEmulator(seed=5, counts={"customers": 50}, tie_block=0) as emulator:
        base = datetime(2025, 5, 1, tzinfo=timezone.utc)
        bulk = [
            {"attributes": {"name": f"bulk {i}", "updatedAt": (base + timedelta(seconds=i * 7)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}}
            for i in range(10_400)
        ]
        # 3,000 objects sharing one updatedAt among the bulk's 9,000th and 9,001st: the 10,000th result falls inside them,
        # so the window starts again at that updatedAt and must read the whole tie again (criteria gte, not gt)
        tie_at = (base + timedelta(seconds=9_000 * 7 + 3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        tie = [{"attributes": {"name": f"tie {i}", "updatedAt": tie_at}} for i in range(3_000)]
        _upsert(emulator, "customers", bulk + tie)
        config = write_json(workdir / "cap_config.json", {"api_token": DEFAULT_TOKEN, "start_date": "2025-04-20", "api_url": emulator.url})
        discovered = run_cli(["discover", "--config", str(config)], workdir).of_type("CATALOG")[0]["catalog"]
        catalog_path = write_json(workdir / "cap_catalog.json", configured_catalog(discovered, ["customers"]))

        run = run_cli(["read", "--config", str(config), "--catalog", str(catalog_path)], workdir)

        assert run.exit_code == 0 and not run.errors(), run.errors()
        expected = ids_since(emulator, "customers", "2025-04-20")
        counts = run.id_counts("customers")
        assert len(expected) >= 13_400
        assert set(counts) == expected
        assert emulator.stats()["status_counts"].get("400", 0) == 0
