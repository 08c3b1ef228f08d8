"""Two per-record costs of airbyte-cdk 7.39.x, removed without changing a single result.

Every record of an incremental stream goes through `ConcurrentCursor.observe` twice (once from the
`PaginationTracker` of the search-cap reset, once from the `PartitionReader`). Each call

- parses the record's `updated_at` with `DatetimeParser.parse`, that is `datetime.strptime`, pure Python: ~12 us;
- looks the record's slice up in a dict, and `StreamSlice.__hash__` serialises the slice to JSON and hashes it with
  SHA-256 on every lookup, up to twice per call.

Profiled over a full read (py-spy, GIL samples) that is 29% of the connector's CPU. `install()` gives
`DatetimeParser.parse` an exact fast path for the ISO 8601 UTC forms Kustomer uses (`datetime.fromisoformat` on a
string that a strict pattern has already matched, the same datetime `strptime` returns) and makes a `StreamSlice`
(immutable: its `__setitem__` raises) compute its hash once. Everything else goes to the CDK's own code.

Both replace public methods of CDK classes for the whole process, so they are guarded: `install()` only patches the
functions it knows (`airbyte-cdk` is pinned to 7.39.*), is idempotent, and unit tests compare every result with the
CDK's originals and fail if the patches stop applying.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable, Dict, Pattern, Union

from airbyte_cdk.sources.declarative.datetime.datetime_parser import DatetimeParser
from airbyte_cdk.sources.types import StreamSlice

# The year, month, day, hour, minute and second as strptime reads them from Kustomer's timestamps (always two or
# four ASCII digits; anything else takes the CDK's path), then the fraction and the `Z` of each format.
_DATE_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
_WITH_FRACTION = re.compile(_DATE_TIME + r"\.[0-9]{1,6}Z")
_WHOLE_SECONDS = re.compile(_DATE_TIME + r"Z")
FAST_FORMATS: Dict[str, Pattern[str]] = {
    "%Y-%m-%dT%H:%M:%S.%_msZ": _WITH_FRACTION,
    "%Y-%m-%dT%H:%M:%S.%fZ": _WITH_FRACTION,
    "%Y-%m-%dT%H:%M:%SZ": _WHOLE_SECONDS,
}

ORIGINAL_PARSE: Callable[..., datetime.datetime] = DatetimeParser.parse
ORIGINAL_HASH: Callable[[StreamSlice], int] = StreamSlice.__hash__
_HASH_KEY = "_kustomer_hash"


def fast_parse(self: DatetimeParser, date: Union[str, int], format: str) -> datetime.datetime:
    pattern = FAST_FORMATS.get(format)
    if pattern is not None and type(date) is str and pattern.fullmatch(date):
        # Python 3.11+ reads the `Z` as UTC and a 1-6 digit fraction as strptime's %f does.
        return datetime.datetime.fromisoformat(date)
    return ORIGINAL_PARSE(self, date, format)


def cached_hash(self: StreamSlice) -> int:
    cached: Any = self.__dict__.get(_HASH_KEY)
    if cached is None:
        cached = self.__dict__[_HASH_KEY] = ORIGINAL_HASH(self)
    return int(cached)


def installed() -> bool:
    return DatetimeParser.parse is fast_parse and StreamSlice.__hash__ is cached_hash


def install() -> None:
    """Patches the two CDK methods, once; leaves anything it does not recognise alone."""
    if DatetimeParser.parse is ORIGINAL_PARSE:
        DatetimeParser.parse = fast_parse  # type: ignore[method-assign]
    if StreamSlice.__hash__ is ORIGINAL_HASH:
        StreamSlice.__hash__ = cached_hash  # type: ignore[method-assign]
