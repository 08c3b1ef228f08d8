"""Records and the shapes every family shares: the stream list, ids, JSON:API relationships, time helpers.

Each record is serialised to JSON bytes once (``Record.body``); the server builds page bodies by joining them.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from typing import Any

# ---------------------------------------------------------------------------------------------------------
# constants

STREAMS = (
    "customers",
    "conversations",
    "messages",
    "notes",
    "kobjects",
    "companies",
    "users",
    "teams",
    "tags",
    "shortcuts",
    "slas",
    "klasses",
    "brands",
    "schedules",
    "satisfaction",
    # the rest of the org's catalog (org_catalog.py)
    "kb_articles",
    "kb_categories",
    "kb_tags",
    "kb_knowledge_bases",
    "workflows",
    "queue_rules",
    "shortcut_categories",
    "snippets",
    "role_groups",
    "spam_senders",
    "saved_searches",
    # how work flowed (routing.py), after the org catalog: ids carry each stream's position in this list
    "conversation_times",
    "queues",
    "team_routing_settings",
    "routing_statuses",
    "work_sessions",
    "snoozes",
)

DEFAULT_COUNTS: dict[str, int] = {
    "customers": 1500,
    "conversations": 1200,
    "messages": 2500,
    "notes": 600,
    "kobjects": 400,
    "companies": 200,
    "users": 60,
    "teams": 12,
    "tags": 150,
    "shortcuts": 120,
    "slas": 5,
    "klasses": 4,
    "brands": 3,
    "schedules": 4,
    "satisfaction": 3,
    "kb_articles": 140,
    "kb_categories": 12,
    "kb_tags": 15,
    "kb_knowledge_bases": 2,
    "workflows": 25,
    "queue_rules": 6,
    "shortcut_categories": 8,
    "snippets": 30,
    "role_groups": 5,
    "spam_senders": 20,
    "saved_searches": 18,
    "conversation_times": 900,
    "queues": 6,
    "team_routing_settings": 8,
    "routing_statuses": 6,
    "work_sessions": 240,
    "snoozes": 4,
}

# JSON:API "type" of each stream's objects and the path of its self links.
OBJECT_TYPE = {
    "customers": "customer",
    "conversations": "conversation",
    "messages": "message",
    "notes": "note",
    "kobjects": "kobject",
    "companies": "company",
    "users": "user",
    "teams": "team",
    "tags": "tag",
    "shortcuts": "shortcut",
    "slas": "sla",
    "klasses": "klass",
    "brands": "brand",
    "schedules": "schedule",
    "satisfaction": "satisfaction",
    "conversation_times": "conversation_time",
    "queues": "queue",
    "team_routing_settings": "team_routing_setting",
    "routing_statuses": "routing_status",
    "work_sessions": "work_session",
    "snoozes": "snooze",
}
SELF_PATH = {s: "/v1/" + s for s in STREAMS}

# Two hex digits of every generated id name the stream, so ids are unique across streams.
STREAM_CODE = {s: i + 1 for i, s in enumerate(STREAMS)}

# Streams that get a bulk-update tie block.
TIE_STREAMS = ("customers", "conversations", "messages")

ORG_ID = "5b3e5f1c9e8d7a0013c4b2a1"
ORG_NAME = "emulator"

# updatedAt of generated records lies in [RANGE_START, RANGE_END]; the tie block sits in the middle.
RANGE_START_MS = calendar.timegm((2025, 1, 1, 0, 0, 0)) * 1000
RANGE_END_MS = calendar.timegm((2026, 10, 31, 23, 59, 59)) * 1000 + 999
TIE_UPDATED_AT = "2025-11-30T12:34:56.789Z"

# ---------------------------------------------------------------------------------------------------------
# time helpers (fast ISO formatting with a per-day prefix cache)

_DAY_PREFIX: dict[int, str] = {}

_HMS = ["%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(86400)]
_MSZ = [".%03dZ" % m for m in range(1000)]


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (table driven: this runs millions of times)."""
    s, milli = divmod(int(ms), 1000)
    day, sod = divmod(s, 86400)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        t = time.gmtime(day * 86400)
        prefix = "%04d-%02d-%02dT" % (t.tm_year, t.tm_mon, t.tm_mday)
        _DAY_PREFIX[day] = prefix
    return prefix + _HMS[sod] + _MSZ[milli]


_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_iso_ms(value: Any) -> int:
    """Parse an ISO-8601 date or date-time into epoch milliseconds (UTC). Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    m = _ISO_RE.match(value.strip())
    if not m:
        raise ValueError("bad date")
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    y, mo, d = int(y), int(mo), int(d)
    hh, mi, ss = int(hh or 0), int(mi or 0), int(ss or 0)
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and hh < 24 and mi < 60 and ss < 60):
        raise ValueError("bad date")
    ms = int((frac or "0")[:3].ljust(3, "0"))
    total = calendar.timegm((y, mo, d, hh, mi, ss)) * 1000 + ms
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        total -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1000
    return total


def normalize_iso(value: Any) -> str:
    """Canonical ``YYYY-MM-DDTHH:MM:SS.mmmZ`` form of an ISO date(-time). Raises ValueError."""
    return iso_ms(parse_iso_ms(value))


def now_iso() -> str:
    return iso_ms(int(time.time() * 1000))


def make_id(created_ms: int, stream: str, seq: int, rnd: int) -> str:
    """A 24-hex-char Mongo-style id: 8 hex of creation epoch seconds, 2 hex stream code, 4 random, 10 seq."""
    return "%08x%02x%04x%010x" % (
        (created_ms // 1000) & 0xFFFFFFFF,
        STREAM_CODE[stream],
        rnd & 0xFFFF,
        seq,
    )


def rel(typ: str, id_: str | None, path: str | None = None) -> dict:
    if id_ is None:
        return {"data": None}
    return {"data": {"type": typ, "id": id_}, "links": {"self": f"/v1/{path or typ + 's'}/{id_}"}}


ORG_REL = {"data": {"type": "org", "id": ORG_ID}, "links": {"self": "/v1/orgs/" + ORG_ID}}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Record:
    """One stored record: search/sort keys and the pre-serialised JSON:API object."""

    __slots__ = ("id", "updated", "created", "klass", "body", "raw")

    def __init__(self, id_: str, updated: str, created: str, klass: str | None, body: bytes,
                 raw: dict | None = None) -> None:
        self.id = id_
        self.updated = updated
        self.created = created
        self.klass = klass
        self.body = body
        self.raw = raw  # the object itself, only kept for records generated for upserts

    def obj(self) -> dict:
        return json.loads(self.body)
