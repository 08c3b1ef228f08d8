"""One search-backed stream per klass (kobjects_<klass>), found at run time from GET /v1/klasses."""

import logging

import jsonschema
import pytest
import requests_mock

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover
from airbyte_cdk.test.state_builder import StateBuilder

from source_kustomer.metadata import klass_stream_name
from source_kustomer.config import normalize_config
from source_kustomer.source import SourceKustomer
from unit_tests.builders import API_URL, ConfigBuilder, FakeKustomer, catalog, klass, kustomer_error, kustomer_object, records_of, search_start_for
from unit_tests.conftest import read_source


def _catalog(config):
    source = SourceKustomer(config=normalize_config(config))
    return {stream.name: stream for stream in discover(source, config).catalog.catalog.streams}


def kobject(object_id: str, klass_id: str, updated_at: str, custom=None):  # type: ignore[no-untyped-def]
    return kustomer_object(
        "kobject",
        object_id,
        updated_at,
        {"title": object_id, "custom": custom or {}},
        {"klass": {"data": {"type": "klass", "id": klass_id}}, "org": {"data": {"type": "org", "id": "org1"}}},
    )


@pytest.mark.parametrize(
    "name, expected",
    [
        ("order", "kobjects_order"),
        ("Ecomm-Order", "kobjects_ecomm_order"),
        ("ecomm_order", "kobjects_ecomm_order"),
        ("Survey  Response (v2)", "kobjects_survey_response_v2_"),
        ("RMA--2024", "kobjects_rma_2024"),
        ("Café", "kobjects_caf_"),
        ("---", None),
        ("日本", None),
        ("", None),
        (None, None),
    ],
)
def test_a_klass_stream_is_named_kobjects_and_the_slugged_klass_name(name, expected):
    assert klass_stream_name(name) == expected


def test_discover_lists_one_incremental_stream_per_klass_typed_with_its_own_attributes(kustomer):
    kustomer.add("klasses", [klass("k1", "order"), klass("k2", "Ecomm-Return")])
    kustomer.set_metadata("kobject.order", {"totalNum": {"type": "number"}, "placedAt": {"type": "date"}})
    kustomer.set_metadata("kobject.Ecomm-Return", {"reasonTree": {"type": "tree"}})

    streams = _catalog(ConfigBuilder().build())

    assert {name for name in streams if name.startswith("kobjects_")} == {"kobjects_order", "kobjects_ecomm_return"}
    order = streams["kobjects_order"]
    assert order.source_defined_primary_key == [["id"]]
    assert order.default_cursor_field == ["updated_at"]
    assert SyncMode.incremental in order.supported_sync_modes
    assert order.json_schema["properties"]["custom"]["properties"] == {
        "total_num": {"type": ["null", "number"]},
        "placed_at": {"type": ["null", "string"], "format": "date-time"},
    }
    assert streams["kobjects_ecomm_return"].json_schema["properties"]["custom"]["properties"] == {"reason_tree": {"type": ["null", "string"]}}
    # the static kobjects schema is each klass stream's base
    assert set(streams["kobjects"].json_schema["properties"]) == set(order.json_schema["properties"])


def test_klasses_of_every_status_are_read_typed_and_given_a_stream(kustomer):
    # GET /v1/klasses answers `enabled` klasses unless asked for another status (Kustomer's API reference)
    kustomer.add("klasses", [klass("k1", "order"), klass("k2", "legacy", status="disabled"), klass("k3", "survey", status="existing_only")])
    for name in ("order", "legacy", "survey"):
        kustomer.set_metadata(f"kobject.{name}", {f"{name}Str": {"type": "string"}})

    streams = _catalog(ConfigBuilder().build())
    output = read_source(ConfigBuilder().build(), catalog("klasses", "custom_attributes"))

    assert {name for name in streams if name.startswith("kobjects_")} == {"kobjects_order", "kobjects_legacy", "kobjects_survey"}
    assert {"order_str", "legacy_str", "survey_str"} <= set(streams["kobjects"].json_schema["properties"]["custom"]["properties"])
    assert sorted(r["name"] for r in records_of(output, "klasses")) == ["legacy", "order", "survey"]
    assert {r["klass"] for r in records_of(output, "custom_attributes") if r["klass"]} == {"order", "legacy", "survey"}
    assert {r["status"] for r in kustomer.list_requests if r["stream"] == "klasses"} == {"enabled", "existing_only", "disabled"}


def test_a_klass_stream_searches_its_own_klass_on_kobject_updated_at(kustomer):
    kustomer.add("klasses", [klass("k1", "order"), klass("k2", "Ecomm-Return")])
    kustomer.set_metadata("kobject.Ecomm-Return", {"reasonTree": {"type": "tree"}})
    kustomer.add(
        "kobjects",
        [
            kobject("o1", "k1", "2025-03-01T00:00:00.000Z"),
            kobject("r1", "k2", "2025-03-02T00:00:00.000Z", {"reasonTree": "damaged"}),
            kobject("r2", "k2", "2025-03-03T00:00:00.000Z"),
        ],
    )
    config = ConfigBuilder().build()
    schema = _catalog(config)["kobjects_ecomm_return"].json_schema

    records = records_of(read_source(config, catalog("kobjects_ecomm_return")), "kobjects_ecomm_return")

    assert [r["id"] for r in records] == ["r1", "r2"]
    assert records[0]["custom"] == {"reason_tree": "damaged"}
    for record in records:
        jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(record)
    bodies = [r["body"] for r in kustomer.search_requests]
    assert {b["queryContext"] for b in bodies} == {"kobject_Ecomm-Return"}
    for body in bodies:
        assert [list(criterion) for criterion in body["and"]] == [["kobject_updated_at"], ["kobject_updated_at"]]
        assert body["sort"] == [{"kobject_updated_at": "asc"}]


def test_an_incremental_klass_stream_starts_from_its_own_state(kustomer):
    kustomer.add("klasses", [klass("k1", "order")])
    kustomer.add("kobjects", [kobject("o1", "k1", "2025-03-01T00:00:00.000Z"), kobject("o2", "k1", "2025-04-01T00:00:00.000Z")])
    state = StateBuilder().with_stream_state("kobjects_order", {"updated_at": "2025-03-15T00:00:00.000Z"}).build()

    output = read_source(ConfigBuilder().build(), catalog("kobjects_order", sync_mode=SyncMode.incremental), state)

    assert [r["id"] for r in records_of(output, "kobjects_order")] == ["o2"]
    assert output.most_recent_state.stream_descriptor.name == "kobjects_order"
    assert output.most_recent_state.stream_state.slices[0]["most_recent_cursor_value"] == "2025-04-01T00:00:00.000Z"
    assert min(r["body"]["and"][0]["kobject_updated_at"]["gte"] for r in kustomer.search_requests) == search_start_for("2025-03-15T00:00:00.000Z")


def test_a_klass_whose_name_makes_no_stream_name_is_left_out_with_a_warning(kustomer, caplog):
    kustomer.add("klasses", [klass("k1", "???"), klass("k2", "order")])

    with caplog.at_level(logging.WARNING):
        streams = _catalog(ConfigBuilder().build())

    assert {name for name in streams if name.startswith("kobjects_")} == {"kobjects_order"}
    assert "'???'" in caplog.text and "no letter or digit" in caplog.text


def test_two_klasses_making_the_same_stream_name_give_one_stream_for_the_first_and_a_warning(kustomer, caplog):
    kustomer.add("klasses", [klass("k1", "Ecomm-Order"), klass("k2", "ecomm_order")])
    kustomer.set_metadata("kobject.Ecomm-Order", {"firstStr": {"type": "string"}})
    kustomer.set_metadata("kobject.ecomm_order", {"secondStr": {"type": "string"}})
    kustomer.add("kobjects", [kobject("a1", "k1", "2025-03-01T00:00:00.000Z"), kobject("b1", "k2", "2025-03-01T00:00:00.000Z")])

    with caplog.at_level(logging.WARNING):
        streams = _catalog(ConfigBuilder().build())
    records = records_of(read_source(ConfigBuilder().build(), catalog("kobjects_ecomm_order")), "kobjects_ecomm_order")

    assert [name for name in streams if name.startswith("kobjects_")] == ["kobjects_ecomm_order"]
    assert set(streams["kobjects_ecomm_order"].json_schema["properties"]["custom"]["properties"]) == {"first_str"}
    assert "'Ecomm-Order' and 'ecomm_order' both make the stream name kobjects_ecomm_order" in caplog.text
    assert [r["id"] for r in records] == ["a1"]
    # both klasses stay in kobjects, typed with both
    assert {"first_str", "second_str"} <= set(streams["kobjects"].json_schema["properties"]["custom"]["properties"])


@pytest.mark.parametrize("status", [403, 404])
def test_a_klass_whose_metadata_is_refused_gets_a_stream_with_an_open_custom_and_a_warning(status, caplog):
    with requests_mock.Mocker() as mocker:
        fake = FakeKustomer(mocker)
        fake.add("klasses", [klass("k1", "order"), klass("k2", "return")])
        fake.set_metadata("kobject.return", {"reasonTree": {"type": "tree"}})
        mocker.get(f"{API_URL}/v1/metadata/kobject.order", status_code=status, json=kustomer_error(status, "not for you"))
        with caplog.at_level(logging.WARNING):
            streams = _catalog(ConfigBuilder().build())

    custom = streams["kobjects_order"].json_schema["properties"]["custom"]
    assert custom["properties"] == {} and custom["additionalProperties"] is True
    assert streams["kobjects_return"].json_schema["properties"]["custom"]["properties"] == {"reason_tree": {"type": ["null", "string"]}}
    assert f"kobject.order metadata (/v1/metadata/kobject.order, HTTP {status}: not for you)" in caplog.text
    assert "org.permission.metadata.read" in caplog.text


def test_an_org_without_klasses_has_no_klass_streams(kustomer, caplog):
    with caplog.at_level(logging.WARNING):
        streams = _catalog(ConfigBuilder().build())

    assert not [name for name in streams if name.startswith("kobjects_")]
    assert {"kobjects", "klasses", "custom_attributes"} <= set(streams)
    assert "klass" not in caplog.text.lower()


def test_a_klass_name_is_percent_encoded_in_its_metadata_path(kustomer):
    kustomer.add("klasses", [klass("k1", "Ecomm Order/EU")])
    kustomer.set_metadata("kobject.Ecomm Order/EU", {"vatNum": {"type": "number"}})

    streams = _catalog(ConfigBuilder().build())

    assert streams["kobjects_ecomm_order_eu"].json_schema["properties"]["custom"]["properties"] == {"vat_num": {"type": ["null", "number"]}}
    assert any(r.path == "/v1/metadata/kobject.ecomm%20order%2feu" for r in kustomer.mocker.request_history)


def test_a_sync_without_klass_streams_does_not_list_the_klasses(kustomer):
    kustomer.add("klasses", [klass("k1", "order")])

    read_source(ConfigBuilder().build(), catalog("customers"))

    assert not [r for r in kustomer.mocker.request_history if r.path.startswith("/v1/klasses") or "kobject." in r.path]


def test_custom_attributes_without_the_klass_role_fails_naming_the_role():
    with requests_mock.Mocker() as mocker:
        FakeKustomer(mocker)
        mocker.get(f"{API_URL}/v1/klasses", status_code=403, json=kustomer_error(403, "Missing required role org.permission.klass.read"))

        output = read_source(ConfigBuilder().build(), catalog("custom_attributes"), expecting_exception=True)

    messages = [e.trace.error.message for e in output.errors]
    assert any("HTTP 403: Missing required role org.permission.klass.read" in m and "org.permission.klass.read role" in m for m in messages), messages


def test_a_404_on_the_klasses_list_fails_discover_naming_the_request():
    # not a klass's metadata: a host that is not Kustomer's API, or a wrong path, must not pass for "no klasses"
    with requests_mock.Mocker() as mocker:
        FakeKustomer(mocker)
        mocker.get(f"{API_URL}/v1/klasses", status_code=404, json=kustomer_error(404, "Cannot GET /v1/klasses"))
        config = ConfigBuilder().build()

        output = discover(SourceKustomer(config=normalize_config(config)), config, expecting_exception=True)

    messages = [e.trace.error.message for e in output.errors]
    assert any("HTTP 404" in m and "/v1/klasses" in m and "Cannot GET /v1/klasses" in m for m in messages), messages
