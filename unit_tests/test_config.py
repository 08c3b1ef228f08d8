"""Config validation: what `normalize_config` accepts, how it normalises it, and how it words a refusal."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from source_kustomer.config import ConfigError, StartDateAsDateTime, normalize_config
from unit_tests.builders import TOKEN, ConfigBuilder


def refusal(config) -> str:
    with pytest.raises(ConfigError) as raised:
        normalize_config(config)
    message = str(raised.value)
    assert TOKEN not in message
    return message


# --- api_token ------------------------------------------------------------------------------------------------------


def test_api_token_is_required():
    assert "`api_token` is required" in refusal(ConfigBuilder().without("api_token").build())


@pytest.mark.parametrize("token", ["", "   ", None, 12345])
def test_api_token_must_be_a_non_empty_string(token):
    assert "`api_token`" in refusal(ConfigBuilder().set("api_token", token).build())


def test_api_token_is_passed_through():
    assert normalize_config(ConfigBuilder().build())["api_token"] == TOKEN


# --- start_date -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given,normalised",
    [
        ("2025-01-31T08:09:10Z", "2025-01-31T08:09:10Z"),
        ("2025-01-31", "2025-01-31T00:00:00Z"),
        ("01/31/2025", "2025-01-31T00:00:00Z"),
        ("  2025-01-31 ", "2025-01-31T00:00:00Z"),
    ],
)
def test_start_date_in_each_accepted_form_is_normalised_to_seconds_in_utc(given, normalised):
    assert normalize_config(ConfigBuilder().with_start_date(given).build())["start_date"] == normalised


@pytest.mark.parametrize(
    "start_date",
    [
        "2025-1-1",
        "1/31/2025",
        "31/01/2025",
        "2025/01/31",
        "2025-13-01",
        "2025-02-30",
        "2025-01-31T08:09:10",
        "2025-01-31T08:09:10.000Z",
        "2025-01-31T08:09:10+00:00",
        "2025-01-31 08:09:10",
        "yesterday",
        "",
    ],
)
def test_start_date_in_any_other_form_is_refused_naming_the_accepted_forms(start_date):
    message = refusal(ConfigBuilder().with_start_date(start_date).build())

    assert "`start_date`" in message
    assert "YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or MM/DD/YYYY" in message


@pytest.mark.parametrize("start_date", [None, 20250131])
def test_start_date_that_is_not_a_string_is_refused(start_date):
    assert "`start_date`" in refusal(ConfigBuilder().with_start_date(start_date).build())


def test_start_date_is_required():
    assert "`start_date` is required" in refusal(ConfigBuilder().without("start_date").build())


def test_start_date_in_the_future_is_refused():
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%d")

    message = refusal(ConfigBuilder().with_start_date(tomorrow).build())

    assert "`start_date`" in message and "future" in message


def test_start_date_today_is_accepted():
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")

    assert normalize_config(ConfigBuilder().with_start_date(today).build())["start_date"] == f"{today}T00:00:00Z"


# --- start_date: the config migration to the date-time form ---------------------------------------------------------


def migrated(config):
    config = dict(config)
    StartDateAsDateTime().transform(config)
    return config


@pytest.mark.parametrize(
    "saved,migrated_to",
    [
        ("2025-01-31", "2025-01-31T00:00:00Z"),
        ("01/31/2025", "2025-01-31T00:00:00Z"),
        ("02/29/2024", "2024-02-29T00:00:00Z"),
        ("2025-01-31T08:09:10Z", "2025-01-31T08:09:10Z"),
    ],
)
def test_the_migration_rewrites_a_date_only_start_date_as_midnight_utc_and_keeps_the_rest(saved, migrated_to):
    config = ConfigBuilder().with_start_date(saved).set("api_url", "https://api.kustomerapp.com/").build()

    assert migrated(config) == {**config, "start_date": migrated_to}


@pytest.mark.parametrize("start_date", ["02/30/2025", "2025-13-01", "1/31/2025", "20250131", "yesterday", "", None, 20250131])
def test_the_migration_leaves_a_start_date_that_is_not_a_date_as_it_is_for_the_validation_to_refuse(start_date):
    config = ConfigBuilder().with_start_date(start_date).build()

    assert migrated(config) == config
    assert "`start_date`" in refusal(migrated(config))


def test_the_migration_leaves_a_config_without_start_date_alone():
    config = ConfigBuilder().without("start_date").build()

    assert migrated(config) == config


# --- start_date in the spec: what the Airbyte UI and the CDK see ------------------------------------------------------

FORM_EXAMPLE = {"YYYY": "2025", "MM": "01", "DD": "31", "HH": "08", "SS": "10"}


@pytest.fixture(scope="module")
def spec():
    import logging

    from source_kustomer.source import SourceKustomer

    return SourceKustomer().spec(logging.getLogger("airbyte"))


def spec_refusal(config, spec):
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException
    from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit

    try:
        check_config_against_spec_or_exit(config, spec)
    except AirbyteTracedException as error:
        return error.message
    return None


def described_forms(spec):
    """Each form the spec's pattern_descriptor names, as an example date (MM:SS read as minutes and seconds)."""
    descriptor = spec.connectionSpecification["properties"]["start_date"]["pattern_descriptor"]
    forms = [form.strip() for form in re.split(r",| or ", descriptor) if form.strip()]
    examples = []
    for form in forms:
        example = form.replace("MM:SS", "09:10")
        for token, value in FORM_EXAMPLE.items():
            example = example.replace(token, value)
        examples.append(example)
    return examples


def test_start_date_in_each_accepted_form_passes_the_cdks_validation_against_the_spec(spec):
    for given in ("2025-01-31T08:09:10Z", "2025-01-31", "01/31/2025"):
        assert spec_refusal(ConfigBuilder().with_start_date(given).build(), spec) is None, given
    assert spec_refusal(ConfigBuilder().with_start_date("2025-1-31").build(), spec) is not None


def test_start_date_pattern_descriptor_names_exactly_the_accepted_forms(spec):
    from source_kustomer.config import START_DATE_FORMATS

    examples = described_forms(spec)

    assert len(examples) == len(START_DATE_FORMATS)
    for example in examples:
        assert spec_refusal(ConfigBuilder().with_start_date(example).build(), spec) is None, example
        assert normalize_config(ConfigBuilder().with_start_date(example).build()), example


def test_every_example_in_the_spec_is_a_valid_value_of_its_field(spec):
    for name, field in spec.connectionSpecification["properties"].items():
        for example in field.get("examples", []):
            config = ConfigBuilder().set(name, example).build()
            assert spec_refusal(config, spec) is None, (name, example)
            assert normalize_config(config), (name, example)


# --- api_url --------------------------------------------------------------------------------------------------------


def test_api_url_defaults_to_the_us_host():
    assert normalize_config(ConfigBuilder().build())["api_url"] == "https://api.kustomerapp.com"


@pytest.mark.parametrize("empty", [None, ""])
def test_an_empty_api_url_means_the_us_host(empty):
    assert normalize_config(ConfigBuilder().with_api_url(empty).build())["api_url"] == "https://api.kustomerapp.com"


@pytest.mark.parametrize(
    "api_url",
    [
        "https://api.kustomerapp.com",
        "https://api.prod2.kustomerapp.com",
        "https://api.prod4.kustomerapp.com",
        "https://acme.api.kustomerapp.com",
        "https://api.kustomerapp.com:443",
    ],
)
def test_each_kustomer_region_and_org_host_is_accepted(api_url):
    assert normalize_config(ConfigBuilder().with_api_url(api_url).build())["api_url"] == api_url


@pytest.mark.parametrize(
    "given,normalised",
    [
        ("https://api.prod2.kustomerapp.com/", "https://api.prod2.kustomerapp.com"),
        ("  https://api.kustomerapp.com/  ", "https://api.kustomerapp.com"),
        ("HTTPS://API.Prod4.KustomerApp.com", "https://api.prod4.kustomerapp.com"),
    ],
)
def test_api_url_loses_its_trailing_slash_and_case(given, normalised):
    assert normalize_config(ConfigBuilder().with_api_url(given).build())["api_url"] == normalised


@pytest.mark.parametrize(
    "api_url",
    ["http://localhost", "http://localhost:8080", "http://127.0.0.1:5000", "http://[::1]:9000", "https://localhost:8443/"],
)
def test_plain_http_is_accepted_on_loopback_with_any_port(api_url):
    assert normalize_config(ConfigBuilder().with_api_url(api_url).build())["api_url"] == api_url.rstrip("/")


@pytest.mark.parametrize("api_url", ["http://api.kustomerapp.com", "http://10.0.0.5:8080", "http://0.0.0.0:8080", "http://localhost.evil.com"])
def test_plain_http_off_loopback_is_refused(api_url):
    message = refusal(ConfigBuilder().with_api_url(api_url).build())

    assert "`api_url`" in message and "https" in message


@pytest.mark.parametrize(
    "api_url",
    [
        "https://evil.example.com",
        "https://kustomerapp.com.evil.com",
        "https://evilkustomerapp.com",
        "https://api.kustomerapp.com.",
        "https://evil.com\\.kustomerapp.com",  # requests would send this to evil.com
        "https://evil.com%2f.kustomerapp.com",
    ],
)
def test_https_hosts_other_than_kustomers_are_refused_before_they_receive_the_token(api_url):
    message = refusal(ConfigBuilder().with_api_url(api_url).build())

    assert "`api_url`" in message and "not a Kustomer host" in message


@pytest.mark.parametrize(
    "api_url",
    [
        "https://api.kustomerapp.com/v1",
        "https://api.kustomerapp.com//",
        "https://api.kustomerapp.com?region=eu",
        "https://api.kustomerapp.com#top",
        "https://user:pass@api.kustomerapp.com",
        "https://api.kustomerapp.com\\@evil.com",
        "api.kustomerapp.com",
    ],
)
def test_api_url_with_a_path_query_or_credentials_is_refused(api_url):
    message = refusal(ConfigBuilder().with_api_url(api_url).build())

    assert "`api_url`" in message and "bare host" in message


@pytest.mark.parametrize("api_url", ["ftp://localhost", "https://api.kustomerapp.com:99999", 443])
def test_api_url_that_is_not_a_usable_url_is_refused(api_url):
    assert "`api_url`" in refusal(ConfigBuilder().with_api_url(api_url).build())


def test_api_url_on_loopback_with_another_scheme_is_refused_naming_the_schemes():
    assert "http or https" in refusal(ConfigBuilder().with_api_url("ftp://localhost").build())


# --- page_size and num_workers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 100, 500])
def test_page_size_from_1_to_500_is_accepted(page_size):
    assert normalize_config(ConfigBuilder().set("page_size", page_size).build())["page_size"] == page_size


@pytest.mark.parametrize("page_size", [0, -1, 501, "abc", "100", 100.0, True])
def test_page_size_outside_1_to_500_or_not_a_whole_number_is_refused(page_size):
    assert "`page_size`" in refusal(ConfigBuilder().set("page_size", page_size).build())


def test_page_size_left_empty_means_each_endpoints_maximum():
    assert "page_size" not in normalize_config(ConfigBuilder().set("page_size", None).build())


@pytest.mark.parametrize("num_workers", [1, 6, 16])
def test_num_workers_from_1_to_16_is_accepted(num_workers):
    assert normalize_config(ConfigBuilder().set("num_workers", num_workers).build())["num_workers"] == num_workers


@pytest.mark.parametrize("num_workers", [0, 17, "4", False])
def test_num_workers_outside_1_to_16_is_refused(num_workers):
    assert "`num_workers`" in refusal(ConfigBuilder().set("num_workers", num_workers).build())


def test_num_workers_defaults_to_8_windows_in_flight():
    assert normalize_config(ConfigBuilder().build())["num_workers"] == 8


# --- rate_limit_share -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("share", [10, 50, 80, 100])
def test_rate_limit_share_from_10_to_100_percent_is_accepted(share):
    assert normalize_config(ConfigBuilder().set("rate_limit_share", share).build())["rate_limit_share"] == share


@pytest.mark.parametrize("share", [None, ""])
def test_rate_limit_share_left_empty_is_80_percent(share):
    assert normalize_config(ConfigBuilder().set("rate_limit_share", share).build())["rate_limit_share"] == 80
    assert normalize_config(ConfigBuilder().without("rate_limit_share").build())["rate_limit_share"] == 80


@pytest.mark.parametrize(
    "share,says",
    [
        (9, "from 10 to 100 (percent), got 9"),
        (0, "from 10 to 100 (percent), got 0"),
        (101, "from 10 to 100 (percent), got 101"),
        (-50, "from 10 to 100 (percent), got -50"),
        (50.5, "a whole number from 10 to 100 (percent), got 50.5"),
        (80.0, "a whole number from 10 to 100 (percent), got 80.0"),
        ("80", "a whole number from 10 to 100 (percent), got '80'"),
        ("80%", "a whole number from 10 to 100 (percent), got '80%'"),
        (True, "a whole number from 10 to 100 (percent), got True"),
        (False, "a whole number from 10 to 100 (percent), got False"),
    ],
)
def test_rate_limit_share_outside_10_to_100_or_not_a_whole_number_is_refused_naming_the_field(share, says):
    message = refusal(ConfigBuilder().set("rate_limit_share", share).build())

    assert f"`rate_limit_share` must be {says}" in message, message


# --- the refusal as a whole -----------------------------------------------------------------------------------------


def test_every_invalid_field_is_named_in_one_refusal():
    message = refusal(
        ConfigBuilder().with_start_date("soon").with_api_url("http://evil.example.com").set("page_size", 0).set("num_workers", 99).build()
    )

    for field_name in ("`start_date`", "`api_url`", "`page_size`", "`num_workers`"):
        assert field_name in message


@pytest.mark.parametrize(
    "field_name,value",
    [
        ("api_url", f"https://user:{TOKEN}@api.kustomerapp.com"),
        ("api_url", f"https://api.kustomerapp.com/{TOKEN}"),
        ("start_date", TOKEN),
        ("page_size", TOKEN),
    ],
)
def test_a_refusal_never_repeats_the_token_even_when_it_was_pasted_in_another_field(field_name, value):
    message = refusal(ConfigBuilder().set(field_name, value).build())

    assert f"`{field_name}`" in message


def test_a_config_that_is_not_an_object_is_refused():
    with pytest.raises(ConfigError) as raised:
        normalize_config(["api_token", TOKEN])

    assert "`api_token`" in str(raised.value) and TOKEN not in str(raised.value)
