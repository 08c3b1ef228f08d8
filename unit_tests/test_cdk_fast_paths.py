"""The two CDK fast paths (source_kustomer.cdk_internals): same results as the CDK's code, and taken in a real read."""

import _strptime
import random
from datetime import datetime, timedelta, timezone

import pytest

from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils import slice_hasher

from source_kustomer import cdk_internals
from source_kustomer.config import normalize_config
from source_kustomer.source import SourceKustomer
from unit_tests.builders import ConfigBuilder, catalog, kustomer_object, records_of
from unit_tests.conftest import read_source

FORMATS = sorted(cdk_internals.FAST_FORMATS) + ["%Y-%m-%d", "%s", "%ms", "%Y-%m-%dT%H:%M:%S%z"]


def _outcome(function, value, format):  # type: ignore[no-untyped-def]
    try:
        return function(DatetimeParser(), value, format)
    except ValueError:
        return ValueError


def _samples():  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    start = datetime(1999, 1, 1, tzinfo=timezone.utc)
    for _ in range(300):
        moment = start + timedelta(seconds=rng.uniform(0, 40 * 365 * 86400))
        whole = moment.strftime("%Y-%m-%dT%H:%M:%S")
        for digits in range(1, 7):
            yield f"{whole}.{moment.strftime('%f')[:digits]}Z"
        yield whole + "Z"
    # Near misses that strptime may accept or refuse on its own terms: the fast path must not decide them.
    yield from [
        "2025-1-01T00:00:00.123Z", "2025-01-01T00:00:00.1234567Z", "2025-01-01 00:00:00.123Z",
        "2025-01-01T00:00:00,123Z", "2025-01-01T00:00:00.123+00:00", "2025-01-01T00:00:00.123", "2025-02-30T00:00:00.000Z",
        "2025-01-01T24:00:00.000Z", "２０２５-01-01T00:00:00.000Z", "", "2025-01-01", "1735689600", 1735689600,
    ]


@pytest.mark.parametrize("format", FORMATS)
def test_the_fast_parse_gives_what_the_cdk_gives_for_every_value_and_format(format):
    for value in _samples():
        assert _outcome(cdk_internals.fast_parse, value, format) == _outcome(cdk_internals.ORIGINAL_PARSE, value, format), (value, format)


def test_a_parsed_kustomer_timestamp_is_utc_and_keeps_its_milliseconds():
    parsed = cdk_internals.fast_parse(DatetimeParser(), "2025-03-01T12:34:56.789Z", "%Y-%m-%dT%H:%M:%S.%_msZ")

    assert parsed == datetime(2025, 3, 1, 12, 34, 56, 789000, tzinfo=timezone.utc)
    assert parsed.utcoffset() == timedelta(0)


def test_a_slice_hash_is_the_cdks_and_is_computed_once(monkeypatch):
    calls = []
    real = slice_hasher.SliceHasher.hash.__func__
    monkeypatch.setattr(slice_hasher.SliceHasher, "hash", classmethod(lambda cls, *a, **kw: calls.append(1) or real(cls, *a, **kw)))
    window = StreamSlice(partition={}, cursor_slice={"start_time": "2025-01-01T00:00:00.000Z", "end_time": "2025-03-31T23:59:59.999Z"})

    hashes = {cdk_internals.cached_hash(window) for _ in range(5)}

    assert hashes == {cdk_internals.ORIGINAL_HASH(window)}
    assert len(calls) == 2  # once cached, once from ORIGINAL_HASH just above
    other = StreamSlice(partition={}, cursor_slice={"start_time": "2025-04-01T00:00:00.000Z", "end_time": "2025-06-29T23:59:59.999Z"})
    assert cdk_internals.cached_hash(other) != cdk_internals.cached_hash(window)


def test_building_the_source_installs_both_fast_paths(monkeypatch):
    monkeypatch.setattr(DatetimeParser, "parse", cdk_internals.ORIGINAL_PARSE)
    monkeypatch.setattr(StreamSlice, "__hash__", cdk_internals.ORIGINAL_HASH)
    assert not cdk_internals.installed()

    SourceKustomer(config=normalize_config(ConfigBuilder().build()))

    assert cdk_internals.installed()
    cdk_internals.install()  # idempotent
    assert DatetimeParser.parse is cdk_internals.fast_parse


def test_a_read_parses_no_record_with_strptime_and_hashes_each_window_once(kustomer, monkeypatch):
    base = datetime(2025, 3, 1, tzinfo=timezone.utc)
    kustomer.add("customers", [
        kustomer_object("customer", f"c{i:05d}", (base + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.123Z")) for i in range(1_200)
    ])
    slow_parses, hashes = [], []
    real_strptime, real_hash = _strptime._strptime_datetime, slice_hasher.SliceHasher.hash.__func__
    monkeypatch.setattr(_strptime, "_strptime_datetime", lambda *args: slow_parses.append(args[1]) or real_strptime(*args))
    monkeypatch.setattr(slice_hasher.SliceHasher, "hash", classmethod(lambda cls, *a, **kw: hashes.append(1) or real_hash(cls, *a, **kw)))

    output = read_source(ConfigBuilder().build(), catalog("customers"))

    assert len(records_of(output, "customers")) == 1_200
    # 1,200 records pass ConcurrentCursor.observe twice each (four slice lookups): strptime ran for none of them,
    # and each window's slice was hashed about once.
    assert len(slow_parses) < 20, slow_parses[:5]
    assert len(hashes) < 40
