"""Each org's custom attributes: typed columns inside `custom`, and the `custom_attributes` stream."""

import logging

import jsonschema
import requests_mock

from airbyte_cdk.test.entrypoint_wrapper import discover

from source_kustomer.config import normalize_config
from source_kustomer.source import SourceKustomer
from unit_tests.builders import API_URL, METADATA_OBJECTS, ConfigBuilder, FakeKustomer, catalog, kustomer_error, klass, kustomer_object, records_of
from unit_tests.conftest import read_source

CUSTOMER_ATTRIBUTES = {
    "totalSpentNum": {"type": "number", "displayName": "Total Spent"},
    "isVIPBool": {"type": "boolean", "displayName": "Is VIP"},
    "lastOrderAt": {"type": "date", "displayName": "Last Order"},
    "os00Str": {"type": "string", "displayName": "OS"},
    "notesTxt": {"type": "text", "displayName": "Notes"},
    "storeUrl": {"type": "url", "displayName": "Store"},
    "orderId": {"type": "id", "displayName": "Order"},
    "reasonTree": {"type": "tree", "displayName": "Reason"},
    "mysteryField": {"type": "whatever", "displayName": "Mystery"},
}


def _discover(config):
    source = SourceKustomer(config=normalize_config(config))
    return {stream.name: stream.json_schema for stream in discover(source, config).catalog.catalog.streams}


def test_discover_publishes_each_custom_attribute_as_a_typed_property_of_custom(kustomer):
    kustomer.set_metadata("customer", CUSTOMER_ATTRIBUTES)

    custom = _discover(ConfigBuilder().build())["customers"]["properties"]["custom"]["properties"]

    assert custom["total_spent_num"] == {"type": ["null", "number"]}
    assert custom["is_vip_bool"] == {"type": ["null", "boolean"]}
    assert custom["last_order_at"] == {"type": ["null", "string"], "format": "date-time"}
    for column in ("os00_str", "notes_txt", "store_url", "order_id", "reason_tree"):
        assert custom[column] == {"type": ["null", "string"]}, column
    assert custom["mystery_field"] == {}


def test_the_static_schema_stays_the_base_and_other_streams_get_their_own_metadata(kustomer):
    kustomer.set_metadata("customer", CUSTOMER_ATTRIBUTES)
    kustomer.set_metadata("conversation", {"brandStr": {"type": "string"}})

    schemas = _discover(ConfigBuilder().build())

    assert "total_spent_num" not in schemas["conversations"]["properties"]["custom"]["properties"]
    assert schemas["conversations"]["properties"]["custom"]["properties"]["brand_str"] == {"type": ["null", "string"]}
    assert {"emails", "conversation_counts", "updated_at"} <= set(schemas["customers"]["properties"])
    assert schemas["customers"]["properties"]["custom"]["additionalProperties"] is True


def test_kobjects_get_the_custom_attributes_of_every_klass_from_its_metadata(kustomer):
    kustomer.add("klasses", [klass("k1", "order"), klass("k2", "Survey-Response")])
    kustomer.set_metadata("kobject.order", {"totalNum": {"type": "number"}})
    kustomer.set_metadata("kobject.Survey-Response", {"scoreNum": {"type": "number"}, "commentTxt": {}})

    custom = _discover(ConfigBuilder().build())["kobjects"]["properties"]["custom"]["properties"]

    assert custom["total_num"] == {"type": ["null", "number"]}
    assert custom["score_num"] == {"type": ["null", "number"]}
    assert custom["comment_txt"] == {"type": ["null", "string"]}


def test_kobjects_read_every_page_of_klasses(kustomer):
    kustomer.add("klasses", [klass(f"k{i}", f"klass{i}") for i in range(101)])
    kustomer.set_metadata("kobject.klass100", {"lastOnSecondPageStr": {"type": "string"}})

    custom = _discover(ConfigBuilder().build())["kobjects"]["properties"]["custom"]["properties"]

    assert custom["last_on_second_page_str"] == {"type": ["null", "string"]}


def test_metadata_is_read_once_per_object_type_in_discover_and_twice_per_klass(kustomer):
    kustomer.add("klasses", [klass("k1", "order")])
    kustomer.set_metadata("kobject.order", {})

    _discover(ConfigBuilder().build())

    # each klass: once for the kobjects union, once for its own stream
    assert sorted(kustomer.metadata_requests) == ["company", "conversation", "customer", "kobject.order", "kobject.order", "message"]


def test_without_the_metadata_role_discover_succeeds_with_static_schemas_and_warns(caplog):
    with requests_mock.Mocker() as mocker:
        FakeKustomer(mocker)
        for object_type in METADATA_OBJECTS:
            mocker.get(f"{API_URL}/v1/metadata/{object_type}", status_code=403, json=kustomer_error(403, "Missing role org.permission.metadata.read"))
        mocker.get(f"{API_URL}/v1/klasses", status_code=403, json=kustomer_error(403, "Missing role org.permission.klass.read"))
        with caplog.at_level(logging.WARNING):
            schemas = _discover(ConfigBuilder().build())

    assert schemas["customers"]["properties"]["custom"]["properties"] == {}
    assert schemas["kobjects"]["properties"]["custom"]["properties"] == {}
    assert not [name for name in schemas if name.startswith("kobjects_")]
    assert "org.permission.metadata.read" in caplog.text
    assert "org.permission.klass.read" in caplog.text


def test_records_validate_against_the_discovered_schema(kustomer):
    kustomer.set_metadata("customer", CUSTOMER_ATTRIBUTES)
    kustomer.add(
        "customers",
        [
            kustomer_object(
                "customer",
                "c1",
                "2025-03-01T00:00:00.000Z",
                {"custom": {"totalSpentNum": 12.5, "isVIPBool": True, "lastOrderAt": "2025-02-01T10:00:00.000Z", "os00Str": "ios", "mysteryField": [1]}},
            )
        ],
    )
    config = ConfigBuilder().build()
    schema = _discover(config)["customers"]

    records = records_of(read_source(config, catalog("customers")), "customers")

    assert records[0]["custom"]["total_spent_num"] == 12.5
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(records[0])


def test_custom_attributes_stream_has_one_row_per_attribute_and_object_type(kustomer):
    kustomer.set_metadata("customer", {"totalSpentNum": {"type": "number", "displayName": "Total Spent"}})
    kustomer.set_metadata("company", {"totalSpentNum": {"type": "number"}})
    kustomer.add("klasses", [klass("k1", "order"), klass("k2", "Ecomm-Return")])
    kustomer.set_metadata("kobject.order", {"skusTxt": {"type": "text", "displayName": "SKUs"}})
    kustomer.set_metadata("kobject.Ecomm-Return", {"skusTxt": {"type": "text"}, "reasonTree": {"type": "tree"}})

    rows = {r["id"]: r for r in records_of(read_source(ConfigBuilder().build(), catalog("custom_attributes")), "custom_attributes")}

    assert set(rows) == {
        "customer.totalSpentNum",
        "company.totalSpentNum",
        "kobject.order.skusTxt",
        "kobject.Ecomm-Return.skusTxt",
        "kobject.Ecomm-Return.reasonTree",
    }
    assert rows["customer.totalSpentNum"].get("klass") is None
    assert {k: v for k, v in rows["customer.totalSpentNum"].items() if v is not None} == {
        "id": "customer.totalSpentNum",
        "object_type": "customer",
        "name": "totalSpentNum",
        "column": "total_spent_num",
        "type": "number",
        "display_name": "Total Spent",
        "json_type": "number",
    }
    assert rows["kobject.order.skusTxt"]["klass"] == "order"
    assert rows["kobject.order.skusTxt"]["object_type"] == "kobject"
    assert rows["kobject.order.skusTxt"]["column"] == "skus_txt"
    assert rows["kobject.order.skusTxt"]["display_name"] == "SKUs"
    assert rows["kobject.Ecomm-Return.reasonTree"]["json_type"] == "string"


def test_a_multi_valued_attribute_is_published_open_so_a_list_or_one_value_both_arrive(kustomer):
    kustomer.set_metadata("customer", {"ordersId": {"type": "string", "target": "kobject.order", "multi": True}, "vipBool": {"type": "boolean"}})
    kustomer.add("klasses", [klass("k1", "order"), klass("k2", "return")])
    kustomer.set_metadata("kobject.order", {"skuStr": {"type": "string", "multi": True}})
    kustomer.set_metadata("kobject.return", {"skuStr": {"type": "string"}})

    schemas = _discover(ConfigBuilder().build())
    rows = {r["id"]: r for r in records_of(read_source(ConfigBuilder().build(), catalog("custom_attributes")), "custom_attributes")}

    assert schemas["customers"]["properties"]["custom"]["properties"]["orders_id"] == {}
    assert schemas["customers"]["properties"]["custom"]["properties"]["vip_bool"] == {"type": ["null", "boolean"]}
    assert schemas["kobjects"]["properties"]["custom"]["properties"]["sku_str"] == {}  # multi in one klass of the union
    assert schemas["kobjects_return"]["properties"]["custom"]["properties"]["sku_str"] == {"type": ["null", "string"]}
    assert rows["customer.ordersId"]["multi"] is True and rows["customer.ordersId"]["target"] == "kobject.order"
    assert rows["customer.ordersId"].get("json_type") is None
    assert rows["customer.vipBool"]["json_type"] == "boolean"


def test_a_klass_without_metadata_has_no_custom_attributes_rows_and_the_others_are_read(kustomer):
    kustomer.set_metadata("customer", {"totalSpentNum": {"type": "number"}})
    # "survey" has no metadata: the fake answers 404, as the emulator and Kustomer do
    kustomer.add("klasses", [klass("k1", "survey"), klass("k2", "order")])
    kustomer.set_metadata("kobject.order", {"skusTxt": {"type": "text"}})

    output = read_source(ConfigBuilder().build(), catalog("custom_attributes"))

    assert {r["id"] for r in records_of(output, "custom_attributes")} == {"customer.totalSpentNum", "kobject.order.skusTxt"}
    assert not output.errors
    assert "kobject.survey" in kustomer.metadata_requests


def test_custom_attributes_without_the_metadata_role_fails_naming_http_403_and_kustomers_reason(kustomer):
    kustomer.mocker.get(f"{API_URL}/v1/metadata/customer", status_code=403, json=kustomer_error(403, "Missing required role org.permission.metadata.read"))

    output = read_source(ConfigBuilder().build(), catalog("custom_attributes"), expecting_exception=True)

    messages = " ".join(error.trace.error.message for error in output.errors)
    assert "HTTP 403" in messages and "Missing required role org.permission.metadata.read" in messages
    assert not records_of(output, "custom_attributes")


def test_companies_is_search_backed_and_slas_and_klasses_are_listed(kustomer):
    kustomer.add("companies", [kustomer_object("company", "co1", "2025-03-01T00:00:00.000Z")])
    kustomer.add("slas", [kustomer_object("sla", "s1", "2025-03-01T00:00:00.000Z")])
    kustomer.add("klasses", [klass("k1", "order")])

    output = read_source(ConfigBuilder().build(), catalog("companies", "slas", "klasses"))

    assert [r["id"] for r in records_of(output, "companies")] == ["co1"]
    assert [r["id"] for r in records_of(output, "slas")] == ["s1"]
    assert [r["name"] for r in records_of(output, "klasses")] == ["order"]
    assert {r["body"]["queryContext"] for r in kustomer.search_requests} == {"company"}
