"""Deterministic, realistic Kustomer data for the local API emulator.

Everything here is generated from a seed: the same seed and counts give byte-identical records.
Records are JSON:API objects exactly as the Kustomer REST API v1 returns them (camelCase attributes,
``relationships`` and ``links``).  Each record is serialised to JSON bytes once; the server builds page
bodies by joining those bytes.

The attribute set of each stream covers the columns of the Stitch/Qlik "Kustomer" schema that users know
(as recorded in the project's API notes), converted to camelCase, with the value types of the real API where that
schema disagrees with itself (for instance arrays it lists as STRING in one table and ARRAY in another).

Custom attributes (``attributes.custom``) follow Kustomer's suffix convention (Str, Txt, Num, Bool, At, Tree,
Url, Id).  The same definitions feed ``GET /v1/metadata/<resource>`` (``kobject.<klass name>`` for a klass) so
that the metadata and the data always agree.  Klasses themselves carry no attribute definitions, as in Kustomer's
API reference; one klass has a display-style name (``Survey-Response``) that a stream name must slug.
"""

from __future__ import annotations

import calendar
import copy
import json
import os
import random
import re
import time
import unicodedata
from typing import Any, Callable

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

KLASS_STATUS_BY_INDEX = {2: "existing_only", 3: "disabled"}
KLASS_NAMES = ("order", "return", "Survey-Response", "subscription", "warranty_claim", "shipment")

# ---------------------------------------------------------------------------------------------------------
# time helpers (fast ISO formatting with a per-day prefix cache)

_DAY_PREFIX: dict[int, str] = {}
_EMAIL_BASE: dict[tuple[str, str], str] = {}
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


# ---------------------------------------------------------------------------------------------------------
# text pools (unicode on purpose: accents, CJK, Cyrillic, Arabic, emoji)

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sofía", "José", "Zoë", "Chloé", "Amélie", "François",
    "Björn", "Søren", "Łukasz", "Małgorzata", "Åsa", "Jürgen", "Ömer", "Çağla", "Priya", "Arjun", "Mei",
    "Yuki", "Haruto", "Min-jun", "Seo-yeon", "Олег", "Анна", "محمد", "فاطمة", "Nguyễn", "Thảo", "Siobhán",
    "Dvořák", "Ines", "Lucas", "Mia", "Ethan", "Isabella", "Kwame", "Amara", "Tomás", "Renée", "Nadia",
    "Sam 🚀", "Alex", "Jordan", "Taylor", "Morgan",
]
LAST_NAMES = [
    "Smith", "Johnson", "García", "Müller", "Dubois", "Rossi", "Nowak", "Kowalski", "Svensson", "Øberg",
    "Núñez", "Peña", "O'Brien", "Van der Berg", "de la Cruz", "Schröder", "Łęcka", "Yılmaz", "Kim", "Park",
    "Tanaka", "Sato", "王", "李", "陈", "佐藤", "田中", "Иванов", "Петрова", "الحسن", "Nguyen", "Tran",
    "Patel", "Sharma", "Okafor", "Mensah", "Silva", "Costa", "Fernández", "Jones", "Brown", "Williams",
]
CJK_FULL_NAMES = ["王小明", "李娜", "陈伟", "佐藤 花子", "田中 太郎", "김민준", "이서연", "張偉 🐉"]
COMPANY_WORDS = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Soylent", "Tyrell", "Nakatomi",
    "Cyberdyne", "Vandelay", "Wonka", "Zörg", "Café Olé", "北京科技", "東京商事", "Überwald", "Señor Bits",
    "Nordlys", "Piña", "Blue Sky ☁️",
]
COMPANY_SUFFIX = ["Inc.", "LLC", "GmbH", "S.A.", "Ltd", "AB", "K.K.", "SAS", "Co.", "Group"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "correo.example.es", "beispiel.example.de",
           "exemple.example.fr", "例え.example.jp"]

SENTENCES = [
    "Hi, my lock stopped responding after the last firmware update.",
    "The keypad shows a red light and won't pair with the bridge.",
    "Could you please send a replacement for the damaged part?",
    "I was charged twice for order #10422, can you refund one of them?",
    "Thanks so much for the quick help! 🙏",
    "Bonjour, ma serrure ne se verrouille plus automatiquement.",
    "Hola, ¿pueden ayudarme con la instalación del timbre?",
    "Guten Tag, die App zeigt „Gerät offline“ an.",
    "ドアロックがアプリに接続できません。",
    "门锁无法连接到网络，请帮忙。",
    "Замок не реагирует на команды из приложения.",
    "القفل لا يستجيب بعد التحديث الأخير.",
    "We've shipped the replacement via UPS, tracking number 1Z999AA10123456784.",
    "Please try removing the batteries for 10 seconds and re-inserting them.",
    "Your refund of $129.99 has been processed and should appear in 5–7 business days.",
    "Is there an ETA on the 2.0 firmware? 🤔",
    "The doorbell camera video is blurry at night — any settings I can change?",
    "I'd like to return the item; it's the wrong finish (satin nickel vs. matte black).",
    "Escalating to tier 2 — customer reports intermittent Wi‑Fi drops.",
    "Follow-up: customer confirmed the issue is resolved ✅",
]
SUBJECTS = [
    "Lock not responding", "Refund request", "Order #{n} status", "Wrong item received", "Firmware question",
    "Problème de connexion", "Pregunta sobre mi pedido", "Rückgabe", "注文について", "退货申请",
    "Keypad pairing 🔧", "Re: your support request", "Warranty claim", "Subscription renewal",
]
CHANNELS = ["email", "chat", "sms", "voice", "facebook", "instagram", "whatsapp", "twitter-dm"]
CHANNEL_WEIGHTS = [40, 25, 10, 8, 5, 4, 6, 2]
APP_BY_CHANNEL = {
    "email": "postmark", "chat": "chat", "sms": "twilio", "voice": "kustomer-voice", "facebook": "facebook",
    "instagram": "instagram", "whatsapp": "whatsapp", "twitter-dm": "twitter",
}
TAG_WORDS = [
    "vip", "refund", "billing", "shipping", "firmware", "hardware", "escalated", "bug", "feature-request",
    "lock", "keypad", "doorbell", "bridge", "returns", "warranty", "spam", "urgent", "follow-up", "sales",
    "onboarding", "Übersetzung", "reembolso", "重要", "🔥 hot",
]
COLORS = ["#e53935", "#8e24aa", "#3949ab", "#039be5", "#00897b", "#7cb342", "#fdd835", "#fb8c00", "#6d4c41",
          "#546e7a", "#64943E", "#000000"]
ICONS = ["account", "basket", "truck", "star", "alert", "heart", "lock", "key", "bell", "receipt",
         "clipboard-text", "cash-refund"]
TIMEZONES = ["America/New_York", "America/Los_Angeles", "Europe/Paris", "Europe/Berlin", "Asia/Tokyo",
             "Asia/Shanghai", "Australia/Sydney", "America/Sao_Paulo", "Africa/Lagos", "Asia/Kolkata"]
LOCALES = ["en_US", "en_GB", "fr_FR", "es_ES", "de_DE", "ja_JP", "zh_CN", "pt_BR", "ru_RU", "ar_SA"]
CITIES = [("New York", "NY", "US", 40.7128, -74.006), ("San José", "CA", "US", 37.3382, -121.8863),
          ("Paris", "IDF", "FR", 48.8566, 2.3522), ("München", "BY", "DE", 48.1351, 11.582),
          ("東京", "13", "JP", 35.6762, 139.6503), ("São Paulo", "SP", "BR", -23.5505, -46.6333),
          ("Kraków", "MA", "PL", 50.0647, 19.945), ("Lagos", "LA", "NG", 6.5244, 3.3792)]

# Tree (hierarchical picklist) values used by ...Tree custom attributes.
TREES = {
    "contact_reason": ["billing.refund", "billing.charge_dispute", "billing.invoice", "hardware.lock.jammed",
                       "hardware.lock.battery", "hardware.keypad.pairing", "software.app.login",
                       "software.app.crash", "shipping.delayed", "shipping.damaged", "returns.wrong_item"],
    "close_out": ["resolved.first_contact", "resolved.follow_up", "unresolved.no_response",
                  "unresolved.escalated", "duplicate", "spam"],
    "issue_report": ["connectivity.wifi", "connectivity.bluetooth", "power.battery", "power.wiring",
                     "installation.door_fit", "installation.strike_plate"],
    "call_reason": ["sales.new_order", "sales.upgrade", "support.install", "support.troubleshoot",
                    "support.warranty", "account.access"],
    "loyalty": ["bronze", "silver", "gold", "gold.plus", "platinum"],
    "segment": ["smb", "mid_market", "enterprise.tier1", "enterprise.tier2", "public_sector"],
    "intent": ["question", "complaint.product", "complaint.service", "praise", "request.refund",
               "request.return"],
    "fulfillment": ["pending", "fulfilled.partial", "fulfilled.complete", "cancelled.customer",
                    "cancelled.fraud"],
    "return_reason": ["damaged.in_transit", "damaged.defective", "wrong_item", "no_longer_needed",
                      "better_price"],
    "claim_type": ["hardware.defect", "hardware.wear", "accidental_damage", "lost"],
    "carrier": ["ups.ground", "ups.air", "fedex.ground", "usps.priority", "dhl.express"],
}

# ---------------------------------------------------------------------------------------------------------
# custom attribute definitions

SUFFIX_TYPES = (  # longest suffix first
    ("Bool", "boolean"),
    ("Tree", "tree"),
    ("Str", "string"),
    ("Txt", "text"),
    ("Num", "number"),
    ("Url", "url"),
    ("At", "date"),
    ("Id", "id"),
)


def suffix_type(name: str) -> str:
    for suffix, typ in SUFFIX_TYPES:
        if name.endswith(suffix):
            return typ
    raise ValueError(f"custom attribute {name!r} has no type suffix")


def display_name(name: str) -> str:
    """Title-case a camelCase custom attribute name without its suffix (Kustomer's default displayName)."""
    for suffix, _ in SUFFIX_TYPES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|\b)|[A-Z]?[a-z]+|[A-Z]+|\d+", name)
    return " ".join(w[:1].upper() + w[1:] for w in words) or name


# Each spec: (name, generator kind, parameter, options).  The kind drives the value generator below; the
# name's suffix drives the metadata type.  ``enum`` in options lists the allowed values (metadata
# "enumeration"); ``target`` the object an Id refers to.
CustomSpec = tuple  # (name, kind, param, opts)

CUSTOMER_CUSTOM: list[CustomSpec] = [
    ("acceptsMarketingBool", "bool", None, {}),
    ("activationDateStr", "datestr", None, {}),
    ("appVersionStr", "version", None, {}),
    ("augustIdStr", "serial", "AUG-", {}),
    ("augustSerialNumberStr", "serial", "L1", {}),
    ("bridgeDateInstalledAt", "at", None, {}),
    ("bridgeSerialNumberStr", "serial", "BR", {}),
    ("connectFirmwareVersionStr", "version", None, {}),
    ("connectSerialNumberStr", "serial", "CN", {}),
    ("doorbellDateInstalledAt", "at", None, {}),
    ("doorbellFirmwareVersionStr", "version", None, {}),
    ("doorbellSerialStr", "serial", "DB", {}),
    ("firmwareVersionStr", "version", None, {}),
    ("keypadFirmwareVersionStr", "version", None, {}),
    ("keypadInstalledAt", "at", None, {}),
    ("keypadSerialStr", "serial", "KP", {}),
    ("lastAutoresponseAt", "at", None, {}),
    ("lastOrderIdNum", "int", (100000, 9999999), {}),
    ("lastOrderNameStr", "ordername", None, {}),
    ("latestCsatNum", "int", (1, 5), {}),
    ("latestNpsNum", "int", (0, 10), {}),
    ("lockDateInstalledAt", "at", None, {}),
    ("lockFirmwareVersionStr", "version", None, {}),
    ("lockSerialNumberStr", "serial", "LK", {}),
    ("ordersCountNum", "int", (0, 60), {}),
    ("os00Str", "enum", None, {"enum": ["iOS 17.4", "iOS 18.1", "Android 14", "Android 15", "Windows 11",
                                        "macOS 15"]}),
    ("ownerGuestStr", "enum", None, {"enum": ["owner", "guest", "manager"]}),
    ("productsOwnedStr", "enum", None, {"enum": ["Smart Lock Pro", "Smart Lock Pro, Connect",
                                                 "Wi-Fi Lock, Keypad", "Doorbell Cam", "Lock + Doorbell Cam"]}),
    ("proofOfPurchaseStr", "enum", None, {"enum": ["receipt", "invoice", "order confirmation", "none"]}),
    ("purchaseDateStr", "datestr", None, {}),
    ("salesForceIdStr", "serial", "0035e00000", {}),
    ("totalSpentNum", "int", (0, 25000), {}),
    # extra org-style attributes: digits, acronyms, every suffix type
    ("isVIPBool", "bool", None, {}),
    ("orderURLUrl", "url", "https://shop.example.com/orders/", {}),
    ("lifetimeValueNum", "float", (0.0, 15000.0), {}),
    ("loyaltyTierTree", "tree", "loyalty", {}),
    ("supportNotesTxt", "txt", None, {}),
    ("accountManagerId", "id", "users", {"target": "user"}),
    ("q3Survey2025Str", "enum", None, {"enum": ["promoter", "passive", "detractor"]}),
]

CONVERSATION_CUSTOM: list[CustomSpec] = [
    ("autoResponseAt", "at", None, {}),
    ("brandStr", "enum", None, {"enum": ["August", "Yale", "Yale Home", "Level"]}),
    ("businessAreaStr", "enum", None, {"enum": ["Consumer", "Pro", "Retail", "E-commerce"]}),
    ("caseIdStr", "serial", "CS-", {}),
    ("closeOutTree", "tree", "close_out", {}),
    ("contactReasonTree", "tree", "contact_reason", {}),
    ("deskTicketUrl", "url", "https://desk.example.com/tickets/", {}),
    ("issueReportTree", "tree", "issue_report", {}),
    ("newPrimaryMenuStr", "enum", None, {"enum": ["Sales", "Support", "Billing", "Returns"]}),
    ("orderNumberId", "id", "kobjects:order", {"target": "kobject.order"}),
    ("refundStatusStr", "enum", None, {"enum": ["requested", "approved", "denied", "issued"]}),
    ("returnRequestedStr", "enum", None, {"enum": ["yes", "no"]}),
    ("returnStr", "enum", None, {"enum": ["RMA issued", "label sent", "received", "n/a"]}),
    ("rmaIdStr", "serial", "RMA", {}),
    ("serialNumberStr", "serial", "SN", {}),
    ("shopifyOrderStr", "ordername", None, {}),
    ("yaleCallReasonTree", "tree", "call_reason", {}),
    ("yaleConnectivityStr", "enum", None, {"enum": ["Wi-Fi", "Bluetooth", "Z-Wave", "Zigbee"]}),
    ("yaleFinishStr", "enum", None, {"enum": ["Satin Nickel", "Matte Black", "Oil Rubbed Bronze",
                                              "Polished Brass"]}),
    ("yaleModelStr", "enum", None, {"enum": ["Assure Lock 2", "Approach", "Assure SL", "Unity Entrance"]}),
    ("yaleNotesTxt", "txt", None, {}),
    ("yaleResolutionStr", "enum", None, {"enum": ["replaced", "repaired", "refunded", "educated"]}),
    ("yaleSerialNumberStr", "serial", "Y", {}),
    ("escalatedBool", "bool", None, {}),
    ("refundAmountNum", "float", (0.0, 500.0), {}),
    ("csat2Num", "int", (1, 5), {}),
]

MESSAGE_CUSTOM: list[CustomSpec] = [
    ("detectedLanguageStr", "enum", None, {"enum": ["en", "fr", "es", "de", "ja", "zh", "ru", "ar"]}),
    ("sentimentScoreNum", "float", (-1.0, 1.0), {}),
    ("isAutoReplyBool", "bool", None, {}),
    ("translatedBodyTxt", "txt", None, {}),
    ("intentTree", "tree", "intent", {}),
    ("sourcePageUrl", "url", "https://www.example.com/support/", {}),
    ("processedAt", "at", None, {}),
    ("relatedOrderId", "id", "kobjects:order", {"target": "kobject.order"}),
]

COMPANY_CUSTOM: list[CustomSpec] = [
    ("industryStr", "enum", None, {"enum": ["Retail", "Hospitality", "Property Management", "Security",
                                            "Construction"]}),
    ("employeeCountNum", "int", (1, 50000), {}),
    ("arrNum", "float", (0.0, 2_000_000.0), {}),
    ("isEnterpriseBool", "bool", None, {}),
    ("renewalAt", "at", None, {}),
    ("segmentTree", "tree", "segment", {}),
    ("websiteUrl", "url", "https://www.example.com/", {}),
    ("accountOwnerId", "id", "users", {"target": "user"}),
    ("accountNotesTxt", "txt", None, {}),
    ("crmIDStr", "serial", "001Dn00000", {}),
]

KLASS_CUSTOM: dict[str, list[CustomSpec]] = {
    "order": [
        ("orderNumberStr", "ordername", None, {}),
        ("orderCreatedAt", "at", None, {}),
        ("orderUpdatedAt", "at", None, {}),
        ("updatedAt", "at", None, {}),
        ("totalPriceNum", "float", (5.0, 2500.0), {}),
        ("totalPriceStr", "price", None, {}),
        ("purchaseAmountNum", "int", (1, 2500), {}),
        ("billingStatusStr", "enum", None, {"enum": ["paid", "pending", "refunded", "partially_refunded",
                                                     "voided"]}),
        ("shippingAddressStr", "address", None, {}),
        ("shippingCountryStr", "enum", None, {"enum": ["US", "CA", "GB", "FR", "DE", "JP", "BR"]}),
        ("shippingStateStr", "enum", None, {"enum": ["NY", "CA", "TX", "ON", "IDF", "BY", "13"]}),
        ("shippingZipStr", "zip", None, {}),
        ("skusTxt", "skus", None, {}),
        ("specialInstructionsStr", "sentence", None, {}),
        ("tagsStr", "enum", None, {"enum": ["web", "pos", "wholesale", "web, gift", "subscription"]}),
        ("isGiftBool", "bool", None, {}),
        ("orderURLUrl", "url", "https://shop.example.com/admin/orders/", {}),
        ("fulfillmentTree", "tree", "fulfillment", {}),
        ("salesRepId", "id", "users", {"target": "user"}),
    ],
    "return": [
        ("rmaNumberStr", "serial", "RMA", {}),
        ("reasonTree", "tree", "return_reason", {}),
        ("refundAmountNum", "float", (0.0, 900.0), {}),
        ("receivedAt", "at", None, {}),
        ("restockedBool", "bool", None, {}),
        ("labelUrl", "url", "https://labels.example.com/", {}),
        ("inspectionNotesTxt", "txt", None, {}),
    ],
    "Survey-Response": [
        ("scoreNum", "int", (0, 10), {}),
        ("commentTxt", "txt", None, {}),
        ("delightedLinkStr", "url_str", "https://delighted.example.com/r/", {}),
        ("respondedAt", "at", None, {}),
        ("npsCategoryStr", "enum", None, {"enum": ["promoter", "passive", "detractor"]}),
        ("followUpBool", "bool", None, {}),
    ],
    "subscription": [
        ("planStr", "enum", None, {"enum": ["Basic", "Plus", "Pro", "Pro 🔒"]}),
        ("monthlyPriceNum", "float", (0.0, 99.0), {}),
        ("renewsAt", "at", None, {}),
        ("autoRenewBool", "bool", None, {}),
        ("portalUrl", "url", "https://account.example.com/subscriptions/", {}),
        ("seats2Num", "int", (1, 50), {}),
    ],
    "warranty_claim": [
        ("claimNumberStr", "serial", "WC", {}),
        ("claimTypeTree", "tree", "claim_type", {}),
        ("approvedBool", "bool", None, {}),
        ("filedAt", "at", None, {}),
        ("detailsTxt", "txt", None, {}),
    ],
    "shipment": [
        ("trackingNumberStr", "serial", "1Z", {}),
        ("carrierTree", "tree", "carrier", {}),
        ("shippedAt", "at", None, {}),
        ("weightNum", "float", (0.1, 40.0), {}),
        ("trackingUrl", "url", "https://track.example.com/", {}),
    ],
}

KLASS_META = {
    "order": ("Order", "basket", "#64943E", "E-commerce orders synced from the storefront."),
    "return": ("Return", "cash-refund", "#e53935", "Return merchandise authorisations."),
    "Survey-Response": ("Survey Response", "star", "#fdd835", "NPS and CSAT survey responses."),
    "subscription": ("Subscription", "receipt", "#3949ab", "Recurring service subscriptions."),
    "warranty_claim": ("Warranty Claim", "clipboard-text", "#8e24aa", "Hardware warranty claims."),
    "shipment": ("Shipment", "truck", "#039be5", "Outbound shipments and tracking."),
}

STANDARD_CUSTOM = {
    "customer": CUSTOMER_CUSTOM,
    "conversation": CONVERSATION_CUSTOM,
    "message": MESSAGE_CUSTOM,
    "company": COMPANY_CUSTOM,
}


def tree_definition(values: list[str]) -> dict:
    """Nested ``{"children": [{"value", "displayName", "children"}]}`` for a list of dotted tree paths."""
    root: dict = {"children": []}
    for path in values:
        node = root
        acc = []
        for part in path.split("."):
            acc.append(part)
            value = ".".join(acc)
            child = next((c for c in node["children"] if c["value"] == value), None)
            if child is None:
                child = {"value": value, "displayName": part.replace("_", " ").title(), "children": []}
                node["children"].append(child)
            node = child
    return root


def metadata_properties(specs: list[CustomSpec]) -> dict:
    """The ``properties`` object describing custom attributes (shape of GET /v1/metadata/<resource>).

    Shape source: Kustomer's "Get custom attribute metadata" endpoint (GET /v1/metadata/{resource}) as
    described by the OpenAPI mirror of the Kustomer API on api-docs.integration.app (output
    ``data.attributes.properties.<name>`` with ``type``, ``displayName``, ``enumeration``, ``modifiedBy``,
    ``modifiedAt``, ``updatedAt``) and developer.kustomer.com (displayName defaults to the title-cased name,
    type follows the suffix, ``Num`` -> ``number``).  The type names other than ``number``, the ``tree``
    object of Tree attributes and ``target`` of Id attributes are assumed.
    """
    props: dict = {}
    for i, (name, kind, param, opts) in enumerate(specs):
        p: dict = {"displayName": display_name(name), "type": suffix_type(name)}
        if "enum" in opts:
            p["enumeration"] = list(opts["enum"])
        if kind == "tree":
            p["tree"] = tree_definition(TREES[param])
        if "target" in opts:
            p["target"] = opts["target"]
        if i % 3 == 0:
            p["modifiedBy"] = "5c1a2b3c4d5e6f7a8b9c0d1e"
            p["modifiedAt"] = "2024-06-%02dT10:%02d:00.000Z" % (1 + i % 28, i % 60)
            p["updatedAt"] = p["modifiedAt"]
        props[name] = p
    return props


def metadata_document(resource: str, specs: list[CustomSpec]) -> dict:
    return {
        "data": {
            "type": "metadata",
            "id": resource,
            "attributes": {
                "name": resource,
                "properties": metadata_properties(specs),
                "updatedAt": "2024-06-30T12:00:00.000Z",
            },
            "links": {"self": "/v1/metadata/" + resource},
        }
    }


# ---------------------------------------------------------------------------------------------------------
# generator


class _Ctx:
    """Per-stream random helpers (fast paths around random.Random)."""

    __slots__ = ("rng", "r")

    def __init__(self, seed: Any, stream: str) -> None:
        self.rng = random.Random(f"{seed}:{stream}")
        self.r = self.rng.random

    def ri(self, lo: int, hi: int) -> int:  # inclusive
        return lo + int(self.r() * (hi - lo + 1))

    def pick(self, seq):
        return seq[int(self.r() * len(seq))]

    def chance(self, p: float) -> bool:
        return self.r() < p


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


class DataGenerator:
    """Generates every stream deterministically from ``seed``."""

    def __init__(self, seed: Any = 42, counts: dict[str, int] | None = None, tie_block: int = 3000) -> None:
        self.seed = seed
        self.counts = dict(DEFAULT_COUNTS)
        if counts:
            for k, v in counts.items():
                if k not in DEFAULT_COUNTS:
                    raise ValueError(f"unknown stream {k!r}; expected one of {', '.join(STREAMS)}")
                self.counts[k] = max(0, int(v))
        self.tie_block = max(0, int(tie_block))
        self.ids: dict[str, list[str]] = {s: [] for s in STREAMS}
        self.klass_names: list[str] = []
        self.klass_ids: dict[str, str] = {}
        self.kobject_ids_by_klass: dict[str, list[str]] = {}
        self.conv_customer: list[tuple[str, str | None]] = []
        self._skel: dict[str, Any] = {}
        self._keep_objects = False

    # -- shared value helpers ---------------------------------------------------------------------------

    def _times(self, c: _Ctx, n: int, stream: str) -> list[tuple[int, int]]:
        """(created_ms, updated_ms) pairs: updated spread over the range, natural duplicates, tie block."""
        span = RANGE_END_MS - RANGE_START_MS
        out: list[tuple[int, int]] = []
        r = c.r
        prev_upd = None
        tie_idx: set[int] = set()
        if stream in TIE_STREAMS and self.tie_block and n >= 2:
            k = min(self.tie_block, n // 2)
            tie_idx = set(c.rng.sample(range(n), k))
        tie_ms = parse_iso_ms(TIE_UPDATED_AT)
        for i in range(n):
            if i in tie_idx:
                upd = tie_ms
            elif prev_upd is not None and r() < 0.02:
                upd = prev_upd  # a natural duplicate (two records touched in the same millisecond)
            else:
                upd = RANGE_START_MS + int(r() * span)
            x = r()
            if x < 0.12:
                created = upd  # never modified since creation
            else:
                created = upd - int(r() * r() * 500 * 86400_000)
            out.append((created, upd))
            if i not in tie_idx:
                prev_upd = upd
        return out

    def _between(self, c: _Ctx, lo: int, hi: int) -> int:
        if hi <= lo:
            return lo
        return lo + int(c.r() * (hi - lo))

    def _name(self, c: _Ctx) -> tuple[str, str, str]:
        if c.r() < 0.06:
            full = c.pick(CJK_FULL_NAMES)
            parts = full.split(" ")
            return full, parts[0], parts[-1] if len(parts) > 1 else ""
        first = c.pick(FIRST_NAMES)
        last = c.pick(LAST_NAMES)
        return f"{first} {last}", first, last

    def _email(self, c: _Ctx, first: str, last: str, seq: int) -> str:
        key = (first, last)
        base = _EMAIL_BASE.get(key)
        if base is None:
            ascii_ = unicodedata.normalize("NFKD", first + "." + last).encode("ascii", "ignore").decode()
            base = re.sub(r"[^a-z0-9]+", ".", ascii_.lower()).strip(".") or "user"
            _EMAIL_BASE[key] = base
        return f"{base}{seq}@{c.pick(DOMAINS)}"

    def _phone(self, c: _Ctx) -> str:
        return "+1%03d555%04d" % (c.ri(201, 989), c.ri(0, 9999))

    def _text(self, c: _Ctx, min_len: int) -> str:
        parts = []
        n = 0
        while n < min_len:
            s = c.pick(SENTENCES)
            parts.append(s)
            n += len(s) + 1
        return " ".join(parts)

    def _long_text(self, c: _Ctx) -> str:
        # > 2,000 characters in ~8% of values, otherwise a paragraph
        if c.r() < 0.08:
            return self._text(c, c.ri(2100, 4200))
        return self._text(c, c.ri(20, 400))

    def _value_fn(self, kind: str, param: Any, opts: dict) -> Callable[[_Ctx, int, int], Any]:
        """A fast value generator ``fn(ctx, created_ms, updated_ms)`` for one custom attribute spec."""
        day = 86400_000
        if kind == "bool":
            return lambda c, cr, up: c.r() < 0.5
        if kind == "int":
            lo, span = param[0], param[1] - param[0] + 1
            return lambda c, cr, up: lo + int(c.r() * span)
        if kind == "float":
            lo, width = param[0], param[1] - param[0]

            def f(c, cr, up):
                v = round(lo + c.r() * width, 2)
                return float(int(v)) if c.r() < 0.1 else v  # some whole numbers written as floats
            return f
        if kind == "at":
            return lambda c, cr, up: iso_ms(cr - 400 * day + int(c.r() * (up - cr + 400 * day)))
        if kind == "datestr":
            return lambda c, cr, up: iso_ms(cr - int(c.r() * 700 * day))[:10]
        if kind == "version":
            return lambda c, cr, up: "%d.%d.%d" % (1 + int(c.r() * 4), int(c.r() * 21), int(c.r() * 100))
        if kind == "serial":
            return lambda c, cr, up: "%s%08X" % (param, int(c.r() * 0xFFFFFFFF))
        if kind == "ordername":
            return lambda c, cr, up: "#%d" % (1001 + int(c.r() * 98999))
        if kind == "price":
            return lambda c, cr, up: "$%d.%02d" % (5 + int(c.r() * 2496), int(c.r() * 100))
        if kind == "enum":
            values = list(opts["enum"])
            return lambda c, cr, up: values[int(c.r() * len(values))]
        if kind == "tree":
            values = TREES[param]
            return lambda c, cr, up: values[int(c.r() * len(values))]
        if kind == "url":
            return lambda c, cr, up: "%s%d" % (param, 10000 + int(c.r() * 99_990_000))
        if kind == "url_str":
            return lambda c, cr, up: "%s%08x" % (param, int(c.r() * 0xFFFFFFFF))
        if kind == "txt":
            return lambda c, cr, up: self._long_text(c)
        if kind == "sentence":
            return lambda c, cr, up: SENTENCES[int(c.r() * len(SENTENCES))]
        if kind == "address":
            def addr(c, cr, up):
                city = c.pick(CITIES)
                return "%d %s St, %s, %s" % (c.ri(1, 9999), c.pick(LAST_NAMES), city[0], city[1])
            return addr
        if kind == "zip":
            return lambda c, cr, up: "%05d" % c.ri(501, 99950)
        if kind == "skus":
            return lambda c, cr, up: "\n".join(
                "SKU-%06d x%d" % (c.ri(1, 999999), c.ri(1, 5)) for _ in range(c.ri(1, 6)))
        if kind == "id":
            def ident(c, cr, up):
                if param.startswith("kobjects:"):
                    pool = self.kobject_ids_by_klass.get(param.split(":", 1)[1]) or []
                else:
                    pool = self.ids.get(param) or []
                return pool[int(c.r() * len(pool))] if pool else None
            return ident
        raise ValueError(f"unknown custom value kind {kind!r}")

    def _compiled(self, specs: list[CustomSpec]) -> list[tuple[str, Callable]]:
        key = id(specs)
        cache = self.__dict__.setdefault("_compiled_cache", {})
        hit = cache.get(key)
        if hit is None or hit[0] is not specs:
            hit = (specs, [(name, self._value_fn(kind, param, opts)) for name, kind, param, opts in specs])
            cache[key] = hit
        return hit[1]

    def _custom(self, c: _Ctx, specs: list[CustomSpec], created: int, updated: int) -> dict:
        """Values for the custom attributes of one record: ~15% never set (absent), ~8% cleared (null)."""
        out: dict = {}
        r = c.r
        for name, fn in self._compiled(specs):
            x = r()
            if x < 0.15:
                continue
            if x < 0.23:
                out[name] = None
                continue
            out[name] = fn(c, created, updated)
        return out

    def _user_rel(self, c: _Ctx) -> dict:
        users = self.ids["users"]
        return rel("user", c.pick(users)) if users else {"data": None}

    def _pick_ids(self, c: _Ctx, stream: str, k_max: int, p_any: float = 1.0) -> list[str]:
        pool = self.ids[stream]
        if not pool or c.r() >= p_any:
            return []
        k = c.ri(1, k_max)
        return sorted({c.pick(pool) for _ in range(k)})

    # -- streams ----------------------------------------------------------------------------------------

    def generate(self, workers: int | None = None) -> dict[str, list[Record]]:
        """Generate every stream.

        The big streams (customers, conversations, messages) are generated in two steps: a cheap serial
        "skeleton" (timestamps, ids and parent references, from the stream's own random stream) and the record
        bodies, in chunks of CHUNK records each with its own random stream.  Chunks are independent, so they
        can be built in worker processes (fork) with the same result as a serial run.
        """
        order = ["users", "teams", "tags", "klasses", "slas", "shortcuts", "companies", "customers",
                 "kobjects", "conversations", "messages", "notes", "brands", "schedules", "satisfaction"]
        out: dict[str, list[Record]] = {}
        # users reference teams and teams reference users: draw team ids first.
        self._prepare_team_ids()
        for stream in order:
            if stream in BIG_STREAMS:
                getattr(self, "_skel_" + stream)()
            else:
                out[stream] = getattr(self, "_gen_" + stream)()
        tasks = [(s, lo, min(lo + CHUNK, self.counts[s])) for s in BIG_STREAMS
                 for lo in range(0, self.counts[s], CHUNK)]
        results = _run_chunks(self, tasks, workers)
        for s in BIG_STREAMS:
            out[s] = []
        for (s, _lo, _hi), recs in zip(tasks, results):
            out[s].extend(recs)
        return {s: out[s] for s in order}

    def _gen_customers(self) -> list[Record]:
        self._skel_customers()
        n = self.counts["customers"]
        return [r for lo in range(0, n, CHUNK) for r in self._body_customers(lo, min(n, lo + CHUNK))]

    def _gen_conversations(self) -> list[Record]:
        self._skel_conversations()
        n = self.counts["conversations"]
        return [r for lo in range(0, n, CHUNK) for r in self._body_conversations(lo, min(n, lo + CHUNK))]

    def _gen_messages(self) -> list[Record]:
        self._skel_messages()
        n = self.counts["messages"]
        return [r for lo in range(0, n, CHUNK) for r in self._body_messages(lo, min(n, lo + CHUNK))]

    def _prepare_team_ids(self) -> None:
        c = _Ctx(self.seed, "teams-ids")
        n = self.counts["teams"]
        created = [RANGE_START_MS - int(c.r() * 900 * 86400_000) for _ in range(n)]
        self._team_created = created
        self.ids["teams"] = [make_id(created[i], "teams", i, c.ri(0, 0xFFFF)) for i in range(n)]

    def _finish(self, stream: str, type_: str, id_: str, attrs: dict, rels: dict, klass: str | None = None
                ) -> Record:
        obj = {
            "type": type_,
            "id": id_,
            "attributes": attrs,
            "relationships": rels,
            "links": {"self": f"{SELF_PATH[stream]}/{id_}"},
        }
        if self._keep_objects:
            return Record(id_, attrs["updatedAt"], attrs["createdAt"], klass, b"", obj)
        return Record(id_, attrs["updatedAt"], attrs["createdAt"], klass, dumps(obj))

    def _gen_users(self) -> list[Record]:
        c = _Ctx(self.seed, "users")
        n = self.counts["users"]
        times = [(RANGE_START_MS - int(c.r() * 700 * 86400_000), 0) for _ in range(n)]
        ids = [make_id(times[i][0], "users", i, c.ri(0, 0xFFFF)) for i in range(n)]
        self.ids["users"] = ids
        roles_all = ["org.user.customer.read", "org.user.conversation.read", "org.user.message.write",
                     "org.user.note.write", "org.user.search.read", "org.admin.settings.write"]
        recs = []
        for i, id_ in enumerate(ids):
            created = times[i][0]
            updated = self._between(c, RANGE_START_MS, RANGE_END_MS)
            name, first, last = self._name(c)
            machine = i % 17 == 16
            email = self._email(c, first, last, i)
            teams = self._pick_ids(c, "teams", 3, 0.85)
            attrs = {
                "name": "API Bot %d 🤖" % i if machine else name,
                "displayName": first if not machine else "Bot %d" % i,
                "email": email if not machine else None,
                "emailSignature": None if c.chance(0.4) else f"--\n{name}\nCustomer Care · Acme Inc.",
                "emailVerifiedAt": None if machine else iso_ms(created + 3600_000),
                "firstEmailVerifiedAt": None if machine else iso_ms(created + 3600_000),
                "avatarUrl": None if c.chance(0.3) else f"https://avatars.example.com/u/{id_}.png",
                "mobile": None if c.chance(0.5) else self._phone(c),
                "userType": "machine" if machine else "user",
                "password": None if machine else {
                    "allowNew": True,
                    "forceNew": c.chance(0.05),
                    "updatedAt": iso_ms(self._between(c, created, updated)),
                },
                "roles": sorted({c.pick(roles_all) for _ in range(c.ri(1, 4))}),
                "roleGroups": [self.ids["teams"][j % max(1, len(self.ids["teams"]))] for j in range(c.ri(0, 2))]
                if self.ids["teams"] else [],
                "deletedAt": iso_ms(updated) if c.chance(0.05) else None,
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {
                "org": ORG_REL,
                "createdBy": rel("user", ids[0]) if i else {"data": None},
                "modifiedBy": rel("user", ids[c.ri(0, i)]),
                "teams": {"data": [{"type": "team", "id": t} for t in teams],
                          "links": {"self": f"/v1/users/{id_}/teams"}},
            }
            recs.append(self._finish("users", "user", id_, attrs, rels))
        return recs

    def _gen_teams(self) -> list[Record]:
        c = _Ctx(self.seed, "teams")
        ids = self.ids["teams"]
        names = ["Tier 1 Support", "Tier 2 Support", "Billing", "Returns & Exchanges", "Sales", "VIP Care",
                 "EMEA Support", "APAC サポート", "LATAM Soporte", "Escalations", "Social Media", "Voice",
                 "Night Shift 🌙", "Onboarding", "Quality Assurance"]
        recs = []
        for i, id_ in enumerate(ids):
            created = self._team_created[i]
            updated = self._between(c, RANGE_START_MS, RANGE_END_MS)
            deleted = c.chance(0.08)
            nm = names[i % len(names)] + ("" if i < len(names) else " %d" % (i // len(names) + 1))
            attrs = {
                "name": nm,
                "displayName": nm,
                "icon": c.pick(ICONS),
                "members": self._pick_ids(c, "users", 12),
                "roleGroups": [make_id(created, "teams", 10_000 + i, 1)],
                "deleted": deleted,
                "deletedAt": iso_ms(updated) if deleted else None,
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            if deleted:
                rels["deletedBy"] = self._user_rel(c)
            recs.append(self._finish("teams", "team", id_, attrs, rels))
        return recs

    def _gen_tags(self) -> list[Record]:
        c = _Ctx(self.seed, "tags")
        n = self.counts["tags"]
        recs = []
        ids = []
        for i in range(n):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "tags", i, c.ri(0, 0xFFFF))
            ids.append(id_)
            word = TAG_WORDS[i % len(TAG_WORDS)]
            attrs = {
                "name": word if i < len(TAG_WORDS) else f"{word}-{i // len(TAG_WORDS)}",
                "color": c.pick(COLORS),
                "deleted": c.chance(0.07),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("tags", "tag", id_, attrs, rels))
        self.ids["tags"] = ids
        return recs

    def _simple_times(self, c: _Ctx) -> tuple[int, int]:
        updated = RANGE_START_MS + int(c.r() * (RANGE_END_MS - RANGE_START_MS))
        created = updated - int(c.r() * c.r() * 600 * 86400_000)
        return created, updated

    def _gen_klasses(self) -> list[Record]:
        c = _Ctx(self.seed, "klasses")
        n = self.counts["klasses"]
        recs = []
        for i in range(n):
            base = KLASS_NAMES[i % len(KLASS_NAMES)]
            name = base if i < len(KLASS_NAMES) else f"{base}_{i // len(KLASS_NAMES) + 1}"
            created, updated = self._simple_times(c)
            id_ = make_id(created, "klasses", i, c.ri(0, 0xFFFF))
            self.ids["klasses"].append(id_)
            self.klass_names.append(name)
            self.klass_ids[name] = id_
            display, icon, color, desc = KLASS_META[base]
            attrs = {
                "name": name,
                "displayName": display if i < len(KLASS_NAMES) else f"{display} {i // len(KLASS_NAMES) + 1}",
                "icon": icon,
                "color": color,
                "description": desc,
                # GET /v1/klasses lists `enabled` klasses unless asked for another status: the third klass is
                # existing_only and the fourth disabled, so a reader that does not ask for each misses them.
                "status": KLASS_STATUS_BY_INDEX.get(i, "enabled"),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("klasses", "klass", id_, attrs, rels))
        return recs

    def klass_specs(self, name: str) -> list[CustomSpec]:
        base = re.sub(r"_\d+$", "", name)
        return KLASS_CUSTOM.get(base, KLASS_CUSTOM.get(name, []))

    def _gen_slas(self) -> list[Record]:
        c = _Ctx(self.seed, "slas")
        n = self.counts["slas"]
        names = ["Standard", "VIP", "Enterprise 24/7", "Social Media", "Email Business Hours"]
        recs = []
        for i in range(n):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "slas", i, c.ri(0, 0xFFFF))
            self.ids["slas"].append(id_)
            fr = c.pick([900, 1800, 3600, 14400, 86400])
            attrs = {
                "name": names[i % len(names)] + ("" if i < len(names) else f" {i}"),
                "description": "First response within %d minutes; no message left unanswered for more than %d hours."
                % (fr // 60, fr // 1800 + 1),
                "enabled": i % 4 != 3,
                "version": c.ri(1, 12),
                "metrics": {
                    "firstResponse": {"target": fr, "businessHours": c.chance(0.5)},
                    "longestUnrespondedMessage": {"target": fr * 2, "businessHours": c.chance(0.5)},
                },
                "criteria": {
                    "and": [{"conversation_channel": {"equals": c.pick(CHANNELS)}}],
                    "or": [{"customer_tags": {"in": self._pick_ids(c, "tags", 2)}}],
                },
                "priority": i + 1,
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("slas", "sla", id_, attrs, rels))
        return recs

    def _gen_brands(self) -> list[Record]:
        """GET /v1/brands (shape: Kustomer's API reference, GetBrandsResponses): the first brand is the default."""
        c = _Ctx(self.seed, "brands")
        names = ["Acme Locks", "Acme Home 🏠", "Acmé Europe", "Acme Pro"]
        recs = []
        for i in range(self.counts["brands"]):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "brands", i, c.ri(0, 0xFFFF))
            self.ids["brands"].append(id_)
            attrs = {
                "name": names[i % len(names)] + ("" if i < len(names) else f" {i}"),
                "default": i == 0,
                "iconUrl": None if c.chance(0.3) else f"https://cdn.example.com/brands/{i}.png",
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("brands", "brand", id_, attrs, rels))
        return recs

    def _gen_schedules(self) -> list[Record]:
        """GET /v1/schedules: business hours as {day index: [[start, end] minutes] or None} (0 is Sunday)."""
        c = _Ctx(self.seed, "schedules")
        names = ["Business Hours", "Support 24/7", "Weekend Team", "Horario España"]
        zones = ["America/New_York", "Europe/Madrid", "Asia/Tokyo", "America/Los_Angeles"]
        recs = []
        for i in range(self.counts["schedules"]):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "schedules", i, c.ri(0, 0xFFFF))
            self.ids["schedules"].append(id_)
            if i % 4 == 1:
                hours = {str(d): [[0, 1440]] for d in range(7)}
            else:
                start, end = c.pick([480, 540, 600]), c.pick([1020, 1080, 1200])
                hours = {str(d): ([[start, 720], [780, end]] if c.chance(0.3) else [[start, end]]) if 1 <= d <= 5 else None
                         for d in range(7)}
                if i % 4 == 2:
                    hours["6"] = [[600, 960]]
            attrs = {
                "name": names[i % len(names)] + ("" if i < len(names) else f" {i}"),
                "hours": hours,
                "timezone": zones[i % len(zones)],
                "default": i == 0,
                "createdAt": iso_ms(created),
                "modifiedAt": iso_ms(updated),
                "updatedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("schedules", "schedule", id_, attrs, rels))
        return recs

    def _gen_satisfaction(self) -> list[Record]:
        """GET /v1/satisfaction: satisfaction (CSAT) forms, shape of GetSatisfactionResponses."""
        c = _Ctx(self.seed, "satisfaction")
        names = ["Default CSAT", "Chat CSAT ⭐", "Enquête de satisfaction"]
        recs = []
        for i in range(self.counts["satisfaction"]):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "satisfaction", i, c.ri(0, 0xFFFF))
            self.ids["satisfaction"].append(id_)
            question = {"id": "q%d" % i, "type": "response", "prompt": "Anything else you'd like to tell us?"}
            attrs = {
                "name": names[i % len(names)] + ("" if i < len(names) else f" {i}"),
                "formType": c.pick(["csat", "csat_2"]),
                "enabled": i % 3 != 2,
                "channel": c.pick(["email", "chat", "sms"]),
                "description": "Sent after a conversation is marked done.",
                "from": {"account": None, "app": "postmark", "channel": "email"},
                "metaTitle": "How did we do?",
                "metaDescription": "Rate your support experience",
                "delayTime": c.pick([0, 3600, 86400]),
                "scale": {"options": c.pick([2, 5]), "type": c.pick(["emoji", "stars", "thumbs"]),
                          "labelHigh": "Great", "labelLow": "Poor"},
                "introduction": "We'd love your feedback.",
                "ratingPrompt": "How would you rate your experience?",
                "questions": [question],
                "positiveQuestions": [],
                "negativeQuestions": [question] if c.chance(0.5) else [],
                "allQuestions": [question],
                "followUpType": c.pick(["none", "all", "negative"]),
                "criteria": {"and": [{"conversation_channel": {"equals": c.pick(CHANNELS)}}], "or": []},
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("satisfaction", "satisfaction", id_, attrs, rels))
        return recs

    def _gen_shortcuts(self) -> list[Record]:
        c = _Ctx(self.seed, "shortcuts")
        n = self.counts["shortcuts"]
        titles = ["Greeting", "Refund processed", "Reset instructions", "Shipping delay apology",
                  "Warranty info", "Closing", "Salutation FR", "Saludo ES", "お詫び", "Firmware update steps"]
        recs = []
        for i in range(n):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "shortcuts", i, c.ri(0, 0xFFFF))
            self.ids["shortcuts"].append(id_)
            text = "Hi {{customer.firstName}}, " + self._text(c, c.ri(40, 300))
            link_url = "https://help.example.com/articles/%d" % c.ri(100, 999)
            attrs = {
                "name": "%s #%d" % (titles[i % len(titles)], i),
                "deleted": c.chance(0.05),
                "isPrivate": c.chance(0.2),
                "draft": {"text": text} if c.chance(0.3) else None,
                "conversation": {
                    "name": {"operator": "set", "value": c.pick(SUBJECTS).format(n=c.ri(1000, 9999))},
                    "tags": {"operator": "append", "value": self._pick_ids(c, "tags", 2)},
                },
                "payload": {
                    "text": text,
                    "blocks": [
                        {
                            "data": {},
                            "depth": 0,
                            "entityRanges": [{"key": 0, "length": 4, "offset": 0}],
                            "inlineStyleRanges": [{"length": 2, "offset": 0, "style": "BOLD"}],
                            "key": "%05x" % c.ri(0, 0xFFFFF),
                            "text": text,
                            "type": "unstyled",
                        }
                    ],
                    "entityMap": {
                        "0": {"data": {"fallbackText": "help article", "key": "article", "url": link_url},
                              "mutability": "MUTABLE", "type": "LINK"},
                        "1": {"data": {"fallbackText": "", "key": "firstName",
                                       "url": None}, "mutability": "IMMUTABLE", "type": "VARIABLE"},
                    },
                },
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("shortcuts", "shortcut", id_, attrs, rels))
        return recs

    def _gen_companies(self) -> list[Record]:
        c = _Ctx(self.seed, "companies")
        n = self.counts["companies"]
        recs = []
        for i in range(n):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "companies", i, c.ri(0, 0xFFFF))
            self.ids["companies"].append(id_)
            word = c.pick(COMPANY_WORDS)
            name = f"{word} {c.pick(COMPANY_SUFFIX)}" + ("" if i < 40 else f" {i}")
            slug = re.sub(r"[^a-z0-9]+", "", word.lower()) or "co"
            attrs = {
                "name": name,
                "domains": [f"{slug}{i}.example.com"] + ([f"{slug}{i}.example.org"] if c.chance(0.3) else []),
                "externalId": None if c.chance(0.5) else "acct_%06d" % i,
                "custom": self._custom(c, COMPANY_CUSTOM, created, updated),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
                "rev": c.ri(1, 40),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("companies", "company", id_, attrs, rels))
        return recs

    def _skel_customers(self) -> None:
        c = _Ctx(self.seed, "customers")
        n = self.counts["customers"]
        times = self._times(c, n, "customers")
        self.ids["customers"] = [make_id(times[i][0], "customers", i, c.ri(0, 0xFFFF)) for i in range(n)]
        self._skel["customers"] = times

    def _body_customers(self, lo: int, hi: int) -> list[Record]:
        c = _Ctx(self.seed, f"customers#{lo // CHUNK}")
        r = c.r
        times = self._skel["customers"]
        ids = self.ids["customers"]
        companies = self.ids["companies"]
        tags = self.ids["tags"]
        users = self.ids["users"]
        recs = []
        for i in range(lo, hi):
            id_ = ids[i]
            created, updated = times[i]
            name, first, last = self._name(c)
            email = self._email(c, first, last, i)
            company = c.pick(companies) if companies and r() < 0.6 else None
            last_act = self._between(c, created, updated)
            msg_at = self._between(c, created, updated)
            channel = c.pick(CHANNELS)
            conv_all = c.ri(0, 30)
            conv_done = c.ri(0, conv_all)
            conv_snoozed = c.ri(0, conv_all - conv_done)
            city = c.pick(CITIES)
            has_conv = conv_all > 0
            cust_tags = [c.pick(tags) for _ in range(c.ri(0, 3))] if tags else []
            attrs = {
                "name": name,
                "displayName": name,
                "firstName": first,
                "lastName": last or None,
                "displayColor": c.pick(["red", "blue", "green", "purple", "orange", "teal", "yellow"]),
                "displayIcon": c.pick(["flower", "star", "moon", "sun", "leaf", "anchor"]),
                "avatarUrl": None if r() < 0.7 else f"https://avatars.example.com/c/{id_}.jpg",
                "username": None if r() < 0.7 else _slug(first) + str(i),
                "externalId": None if r() < 0.4 else "cust_%07d" % i,
                "externalIds": [] if r() < 0.4 else [{"externalId": "cust_%07d" % i, "verified": r() < 0.5}],
                "sharedExternalIds": [],
                "emails": [{"email": email, "type": "home", "verified": r() < 0.6}]
                + ([{"email": f"{first.lower()}.work{i}@example.com", "type": "work", "verified": False}]
                   if r() < 0.15 else []),
                "sharedEmails": [],
                "phones": [] if r() < 0.5 else [{"phone": self._phone(c), "type": c.pick(["mobile", "home", "work"]),
                                                 "verified": r() < 0.3}],
                "sharedPhones": [],
                "whatsapps": [] if r() < 0.9 else [{"phone": self._phone(c), "verified": True}],
                "facebookIds": [] if r() < 0.92 else [{"appId": "1234567890", "userId": str(c.ri(10**14, 10**15)),
                                                       "name": name}],
                "instagramIds": [] if r() < 0.95 else [{"userId": str(c.ri(10**9, 10**10)),
                                                        "username": first.lower()}],
                "smoochIds": [],
                "socials": [] if r() < 0.85 else [{"username": "@" + first.lower(), "type": "twitter",
                                                   "url": "https://twitter.com/" + first.lower()}],
                "sharedSocials": [],
                "urls": [] if r() < 0.85 else [{"url": f"https://blog.example.com/{i}", "type": "website"}],
                "locations": [] if r() < 0.7 else [{"type": "home", "name": "Home",
                                                    "address": "%d Main St, %s" % (c.ri(1, 999), city[0])}],
                "recentLocation": None if r() < 0.5 else {
                    "ip": "203.0.113.%d" % c.ri(1, 254), "city": city[0], "regionCode": city[1],
                    "countryCode": city[2], "latitude": city[3], "longitude": city[4],
                    "updatedAt": iso_ms(last_act),
                },
                "activeUsers": [],
                "watchers": self._pick_ids(c, "users", 2, 0.05),
                "locale": None if r() < 0.3 else c.pick(LOCALES),
                "timeZone": None if r() < 0.3 else c.pick(TIMEZONES),
                "gender": None if r() < 0.7 else c.pick(["female", "male", "non-binary"]),
                "birthdayAt": None if r() < 0.85 else iso_ms(self._between(c, 0, 1_100_000_000_000))[:10]
                + "T00:00:00.000Z",
                "tags": cust_tags,
                "sentiment": None if not has_conv else {"confidence": round(r(), 4), "polarity": c.ri(-1, 1)},
                "progressiveStatus": c.pick(["open", "done", "snoozed"]) if has_conv else None,
                "verified": r() < 0.4,
                "deleted": r() < 0.01,
                "importedAt": None if r() < 0.9 else iso_ms(created),
                "signedUpAt": None if r() < 0.6 else iso_ms(self._between(c, created - 300 * 86400_000, created)),
                "lastActivityAt": iso_ms(last_act),
                "lastCustomerActivityAt": iso_ms(self._between(c, created, last_act)),
                "lastSeenAt": None if r() < 0.5 else iso_ms(last_act),
                "lastMessageAt": iso_ms(msg_at) if has_conv else None,
                "lastConversation": None if not has_conv else {
                    "id": make_id(msg_at, "conversations", 900_000_000 + i, 7),
                    "channels": [channel],
                    "sentiment": {"confidence": round(r(), 4), "polarity": c.ri(-1, 1)},
                    "tags": cust_tags[:1],
                },
                "lastMessageIn": None if not has_conv else {
                    "channel": channel, "sentAt": iso_ms(msg_at),
                    "sentiment": {"confidence": round(r(), 4), "polarity": c.ri(-1, 1)},
                },
                "lastMessageOut": None if not has_conv or r() < 0.3 else {
                    "channel": channel, "sentAt": iso_ms(min(updated, msg_at + c.ri(60_000, 86400_000)))},
                "lastMessageUnrespondedTo": None if not has_conv or r() < 0.6 else {
                    "channel": channel, "sentAt": iso_ms(msg_at)},
                "conversationCounts": {"all": conv_all, "done": conv_done, "open": conv_all - conv_done - conv_snoozed,
                                       "snoozed": conv_snoozed},
                "preview": None if not has_conv else {
                    "channel": channel, "previewAt": iso_ms(msg_at),
                    "subject": c.pick(SUBJECTS).format(n=c.ri(1000, 99999)),
                    "text": c.pick(SENTENCES), "type": "message",
                },
                "recentItems": [
                    {"id": make_id(msg_at, "conversations", 800_000_000 + i * 4 + k, 3),
                     "meta": {"channel": channel, "title": c.pick(SUBJECTS).format(n=k), "status": "open"},
                     "type": "conversation", "updatedAt": iso_ms(self._between(c, created, updated))}
                    for k in range(c.ri(0, 3))
                ],
                "satisfactionLevel": None if r() < 0.6 else {
                    "firstSatisfaction": {"sentByTeams": self._pick_ids(c, "teams", 2), "score": c.ri(1, 5)},
                    "lastSatisfaction": {"sentByTeams": self._pick_ids(c, "teams", 2), "score": c.ri(1, 5)},
                },
                "roleGroupVersions": [],
                "rev": c.ri(1, 200),
                "custom": self._custom(c, CUSTOMER_CUSTOM, created, updated),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {
                "org": ORG_REL,
                "createdBy": rel("user", c.pick(users)) if users and r() < 0.3 else {"data": None},
                "modifiedBy": rel("user", c.pick(users)) if users else {"data": None},
                "company": rel("company", company, "companies") if company else {"data": None},
                "messages": {"links": {"self": f"/v1/customers/{id_}/messages"}},
                "conversations": {"links": {"self": f"/v1/customers/{id_}/conversations"}},
            }
            recs.append(self._finish("customers", "customer", id_, attrs, rels))
        return recs

    def _gen_kobjects(self) -> list[Record]:
        c = _Ctx(self.seed, "kobjects")
        n = self.counts["kobjects"]
        r = c.r
        names = self.klass_names
        customers = self.ids["customers"]
        if not names:
            return []
        recs = []
        self.kobject_ids_by_klass = {k: [] for k in names}
        for i in range(n):
            created, updated = self._simple_times(c)
            klass = names[0] if r() < 0.45 else c.pick(names)  # orders are the most common klass
            id_ = make_id(created, "kobjects", i, c.ri(0, 0xFFFF))
            self.ids["kobjects"].append(id_)
            self.kobject_ids_by_klass[klass].append(id_)
            cust = c.pick(customers) if customers else None
            title = {
                "order": "Order #%d" % c.ri(1001, 99999),
                "return": "Return RMA%06d" % c.ri(0, 999999),
                "Survey-Response": "NPS response ⭐ %d" % c.ri(0, 10),
                "subscription": "Subscription — %s" % c.pick(["Basic", "Plus", "Pro"]),
                "warranty_claim": "Warranty claim %d" % c.ri(1000, 9999),
                "shipment": "Shipment %s" % "1Z%08X" % int(r() * 0xFFFFFFFF),
            }.get(_klass_base(klass), "Object %d" % i)
            attrs = {
                "title": title,
                "description": None if r() < 0.3 else c.pick(SENTENCES),
                "icon": None if r() < 0.5 else c.pick(ICONS),
                "externalId": None if r() < 0.2 else "%s_%08d" % (klass, i),
                "images": [] if r() < 0.8 else [{"url": f"https://cdn.example.com/img/{id_}.png",
                                                  "caption": "product photo"}],
                "tags": [c.pick(self.ids["tags"])] if self.ids["tags"] and r() < 0.1 else [],
                "custom": self._custom(c, self.klass_specs(klass), created, updated),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
                "importedAt": None if r() < 0.7 else iso_ms(created),
            }
            rels = {
                "org": ORG_REL,
                "klass": {"data": {"type": "klass", "id": self.klass_ids[klass]},
                          "links": {"self": "/v1/klasses/" + klass}},
                "customer": rel("customer", cust, "customers"),
                "createdBy": self._user_rel(c),
                "modifiedBy": self._user_rel(c),
            }
            recs.append(self._finish("kobjects", "kobject", id_, attrs, rels, klass=klass))
        return recs

    def _activity(self, c: _Ctx, base: int, users: list[str], teams: list[str], with_counts: bool) -> dict:
        t = c.ri(60, 400_000)
        d = {
            "assignedTeams": [c.pick(teams)] if teams and c.chance(0.7) else [],
            "assignedUsers": [c.pick(users)] if users and c.chance(0.7) else [],
            "businessTime": int(t * 0.6),
            "createdAt": iso_ms(base),
            "createdBy": c.pick(users) if users else None,
            "createdByTeams": [c.pick(teams)] if teams and c.chance(0.5) else [],
            "time": t,
        }
        if with_counts:
            e, s, v = c.ri(0, 6), c.ri(0, 3), c.ri(0, 2)
            oe, os_, ov = c.ri(0, e), c.ri(0, s), c.ri(0, v)
            d.update({
                "lastMessageDirection": c.pick(["in", "out"]),
                "lastMessageDirectionType": c.pick(["initial-in", "response-out", "followup-in",
                                                    "followup-out"]),
                "messageCount": e + s + v,
                "messageCountByChannel": {"email": e, "sms": s, "voice": v},
                "noteCount": c.ri(0, 3),
                "outboundMessageCount": oe + os_ + ov,
                "outboundMessageCountByChannel": {"email": oe, "sms": os_, "voice": ov},
            })
        return d

    def _skel_conversations(self) -> None:
        c = _Ctx(self.seed, "conversations")
        n = self.counts["conversations"]
        times = self._times(c, n, "conversations")
        ids = [make_id(times[i][0], "conversations", i, c.ri(0, 0xFFFF)) for i in range(n)]
        self.ids["conversations"] = ids
        self._skel["conversations"] = times
        customers = self.ids["customers"]
        self.conv_customer = [(id_, c.pick(customers) if customers else None) for id_ in ids]

    def _body_conversations(self, lo: int, hi: int) -> list[Record]:
        c = _Ctx(self.seed, f"conversations#{lo // CHUNK}")
        r = c.r
        times = self._skel["conversations"]
        users = self.ids["users"]
        teams = self.ids["teams"]
        tags = self.ids["tags"]
        slas = self.ids["slas"]
        queues = [make_id(RANGE_START_MS - k * 86400_000, "teams", 50_000 + k, 9) for k in range(4)]
        recs = []
        for i in range(lo, hi):
            id_, cust = self.conv_customer[i]
            created, updated = times[i]
            status = c.pick(["open", "done", "done", "done", "snoozed"])
            ended = status == "done"
            channel = c.pick(CHANNELS)
            channels = [channel] + ([c.pick(CHANNELS)] if r() < 0.15 else [])
            msg_in = c.ri(1, 8)
            msg_out = c.ri(0, msg_in + 1)
            span = max(1, updated - created)
            first_in = created + int(r() * min(span, 60_000))
            first_out = first_in + int(r() * min(span * 0.3, 3 * 86400_000))
            last_msg = self._between(c, first_in, updated)
            ended_at = self._between(c, last_msg, updated) if ended else None
            user = c.pick(users) if users else None
            assigned_users = [user] if user and r() < 0.8 else []
            assigned_teams = [c.pick(teams)] if teams and r() < 0.7 else []
            sla_id = c.pick(slas) if slas and r() < 0.6 else None
            breached = r() < 0.25
            msg_ids = [make_id(first_in, "messages", 700_000_000 + i * 4 + k, 5) for k in range(4)]
            fr_time = max(0, first_out - first_in)
            first_response = None if msg_out == 0 else {
                "assignedTeams": assigned_teams, "assignedUsers": assigned_users,
                "businessTime": int(fr_time / 1000 * 0.6), "createdAt": iso_ms(first_out), "createdBy": user,
                "createdByTeams": assigned_teams, "id": msg_ids[1], "responseTime": fr_time // 1000,
                "sentAt": iso_ms(first_out), "time": fr_time // 1000,
            }
            attrs = {
                "name": c.pick(SUBJECTS).format(n=c.ri(1000, 99999)),
                "preview": c.pick(SENTENCES),
                "channels": channels,
                "direction": c.pick(["in", "in", "in", "out"]),
                "status": status,
                "priority": c.ri(1, 5),
                "externalId": None if r() < 0.8 else "ext-%08d" % i,
                "assignedTeams": assigned_teams,
                "assignedUsers": assigned_users,
                "tags": sorted({c.pick(tags) for _ in range(c.ri(0, 4))}) if tags else [],
                "suggestedTags": [c.pick(tags)] if tags and r() < 0.2 else [],
                "suggestedShortcuts": [c.pick(self.ids["shortcuts"])] if self.ids["shortcuts"] and r() < 0.2
                else [],
                "messageCount": msg_in + msg_out,
                "outboundMessageCount": msg_out,
                "noteCount": c.ri(0, 4),
                "doneCount": c.ri(1, 3) if ended else c.ri(0, 1),
                "reopenCount": c.ri(0, 2),
                "snoozeCount": c.ri(0, 3) if status == "snoozed" else 0,
                "rev": c.ri(1, 60),
                "ended": ended,
                "endedAt": iso_ms(ended_at) if ended else None,
                "endedByType": c.pick(["user", "workflow", "system"]) if ended else None,
                "endedReason": c.pick(["done", "merged", "spam", "auto-close"]) if ended else None,
                "mergedTarget": r() < 0.02,
                "importedAt": None if r() < 0.93 else iso_ms(created),
                "lastActivityAt": iso_ms(updated),
                "lastMessageAt": iso_ms(last_msg),
                "lastReceivedAt": iso_ms(last_msg),
                "lastMessageDirection": c.pick(["in", "out"]),
                "firstMessageIn": {"channel": channel, "createdAt": iso_ms(first_in), "directionType": "initial-in",
                                   "id": msg_ids[0], "sentAt": iso_ms(first_in)},
                "firstMessageOut": None if msg_out == 0 else {
                    "channel": channel, "createdAt": iso_ms(first_out), "createdBy": user,
                    "createdByTeams": assigned_teams, "directionType": "response-out", "id": msg_ids[1],
                    "sentAt": iso_ms(first_out)},
                "firstResponse": first_response,
                "firstResponseSinceLastDone": first_response,
                "lastResponse": None if msg_out == 0 else {
                    "assignedTeams": assigned_teams, "assignedUsers": assigned_users,
                    "businessTime": c.ri(0, 50_000), "createdAt": iso_ms(last_msg), "createdBy": user,
                    "createdByTeams": assigned_teams, "id": msg_ids[2], "time": c.ri(0, 90_000)},
                "lastMessageIn": {"createdAt": iso_ms(last_msg), "id": msg_ids[3], "sentAt": iso_ms(last_msg)},
                "lastMessageOut": None if msg_out == 0 else {"createdAt": iso_ms(last_msg), "id": msg_ids[2],
                                                             "sentAt": iso_ms(last_msg)},
                "lastMessageUnrespondedTo": None if r() < 0.6 else {
                    "createdAt": iso_ms(last_msg), "id": msg_ids[3], "sentAt": iso_ms(last_msg)},
                "lastMessageUnrespondedToSinceLastDone": None if r() < 0.7 else {
                    "createdAt": iso_ms(last_msg), "id": msg_ids[3], "sentAt": iso_ms(last_msg)},
                "firstDone": None if not ended else self._activity(c, ended_at, users, teams, True),
                "lastDone": None if not ended else self._activity(c, ended_at, users, teams, True),
                "satisfaction": None if r() < 0.8 else c.pick(["satisfied", "unsatisfied", "neutral"]),
                "satisfactionLevel": None if r() < 0.75 else {
                    "sentByTeams": assigned_teams, "rating": c.ri(1, 5), "score": c.ri(0, 100)},
                "sla": None if sla_id is None else {
                    "breached": breached,
                    "breach": {"at": iso_ms(first_in + 3600_000), "metric": "firstResponse"} if breached else None,
                    "matchedAt": iso_ms(first_in),
                    "metrics": {
                        "firstResponse": {"breachAt": iso_ms(first_in + 3600_000),
                                          "satisfiedAt": None if msg_out == 0 else iso_ms(first_out)},
                        "longestUnrespondedMessage": {"breachAt": iso_ms(last_msg + 7200_000),
                                                      "satisfiedAt": None if r() < 0.5 else iso_ms(updated)},
                    },
                    "status": "breached" if breached else c.pick(["active", "satisfied", "paused"]),
                    "summary": {"firstBreachAt": iso_ms(first_in + 3600_000) if breached else None,
                                "satisfiedAt": None if breached else iso_ms(updated)},
                    "version": c.ri(1, 12),
                },
                "snooze": None if status != "snoozed" else {
                    "status": "scheduled", "statusAt": iso_ms(updated), "time": iso_ms(updated + 86400_000)},
                "totalDone": {"businessTime": c.ri(0, 90_000), "time": c.ri(0, 200_000)} if ended else None,
                "totalOpen": {"businessTime": c.ri(0, 90_000), "businessTimeSinceLastDone": c.ri(0, 9_000),
                              "time": c.ri(0, 400_000), "timeSinceLastDone": c.ri(0, 20_000)},
                "totalSnooze": {"businessTime": c.ri(0, 40_000), "time": c.ri(0, 90_000)},
                "roleGroupVersions": [],
                "custom": self._custom(c, CONVERSATION_CUSTOM, created, updated),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {
                "org": ORG_REL,
                "customer": rel("customer", cust, "customers"),
                "createdBy": rel("user", user) if user and r() < 0.2 else {"data": None},
                "modifiedBy": rel("user", c.pick(users)) if users else {"data": None},
                "messages": {"links": {"self": f"/v1/conversations/{id_}/messages"}},
                "queue": {"data": {"type": "queue", "id": c.pick(queues)}},
                "sla": {"data": {"type": "sla", "id": sla_id}, "links": {"self": f"/v1/slas/{sla_id}"}}
                if sla_id else {"data": None},
                "slaVersion": {"data": {"type": "sla_version", "id": "%s%04x" % (sla_id[:20], c.ri(1, 12))}}
                if sla_id else {"data": None},
            }
            if ended:
                rels["endedBy"] = rel("user", c.pick(users)) if users else {"data": None}
            recs.append(self._finish("conversations", "conversation", id_, attrs, rels))
        return recs

    def _skel_messages(self) -> None:
        c = _Ctx(self.seed, "messages")
        n = self.counts["messages"]
        times = self._times(c, n, "messages")
        self.ids["messages"] = [make_id(times[i][0], "messages", i, c.ri(0, 0xFFFF)) for i in range(n)]
        convs = self.conv_customer
        self._skel["messages"] = times
        self._skel["messages-parents"] = [c.pick(convs) if convs else (None, None) for _ in range(n)]

    def _body_messages(self, lo: int, hi: int) -> list[Record]:
        c = _Ctx(self.seed, f"messages#{lo // CHUNK}")
        r = c.r
        times = self._skel["messages"]
        ids = self.ids["messages"]
        parents = self._skel["messages-parents"]
        users = self.ids["users"]
        teams = self.ids["teams"]
        recs = []
        for i in range(lo, hi):
            id_ = ids[i]
            created, updated = times[i]
            conv, cust = parents[i]
            channel = CHANNELS[_weighted_index(r(), CHANNEL_WEIGHTS)]
            inbound = r() < 0.55
            auto = (not inbound) and r() < 0.1
            body = self._text(c, c.ri(10, 1400 if channel == "email" else 240))
            if channel == "email" and r() < 0.05:
                body = self._text(c, c.ri(2100, 5000))
            subject = c.pick(SUBJECTS).format(n=c.ri(1000, 99999)) if channel == "email" else None
            user = c.pick(users) if users else None
            sent = created if r() < 0.7 else self._between(c, created - 120_000, created)
            if channel == "email":
                addr_cust = "customer%d@%s" % (i, c.pick(DOMAINS))
                addr_org = "support@acme.example.com"
                meta = {
                    "from": addr_cust if inbound else addr_org,
                    "to": [{"email": addr_org if inbound else addr_cust, "name": None}],
                    "cc": [] if r() < 0.9 else [{"email": "cc%d@example.com" % i, "name": "CC Person"}],
                    "bcc": [],
                    "subject": subject,
                    "messageId": "<%s@mail.example.com>" % id_,
                    "inReplyTo": None if r() < 0.6 else "<%x@mail.example.com>" % int(r() * 1e12),
                }
            elif channel in ("sms", "whatsapp", "voice"):
                cp, op = self._phone(c), "+18005550100"
                meta = {"from": cp if inbound else op, "to": [{"phone": op if inbound else cp}]}
                if channel == "voice":
                    meta["duration"] = c.ri(5, 3600)
                    meta["recordingUrl"] = None if r() < 0.5 else f"https://voice.example.com/rec/{id_}.mp3"
            else:
                meta = {"from": "customer" if inbound else "agent", "to": [],
                        "sessionId": "%016x" % int(r() * 2**63)}
            atts = []
            if r() < 0.1:
                for k in range(c.ri(1, 3)):
                    atts.append({"_id": make_id(created, "messages", 600_000_000 + i * 4 + k, 1),
                                 "name": c.pick(["receipt.pdf", "photo.jpg", "screenshot 1.png", "写真.jpeg"]),
                                 "contentType": c.pick(["application/pdf", "image/jpeg", "image/png"]),
                                 "contentLength": c.ri(1_000, 5_000_000)})
            attrs = {
                "channel": channel,
                "app": APP_BY_CHANNEL[channel],
                "size": len(body.encode("utf-8")),
                "direction": "in" if inbound else "out",
                "directionType": ("initial-in" if r() < 0.5 else "followup-in") if inbound
                else ("response-out" if r() < 0.7 else "initial-out"),
                "preview": body[:200],
                "subject": subject,
                "body": body,
                "meta": meta,
                "status": ("received" if inbound else c.pick(["sent", "sent", "sent", "delivered", "error"])),
                "errorAt": None,
                "auto": auto,
                "redacted": r() < 0.005,
                "lang": c.pick(["en", "en", "en", "fr", "es", "de", "ja", "zh"]),
                "sentiment": None if r() < 0.4 else {"confidence": round(r(), 4), "polarity": c.ri(-1, 1)},
                "assignedTeams": [c.pick(teams)] if teams and r() < 0.5 else [],
                "assignedUsers": [user] if user and r() < 0.5 else [],
                "attachments": atts,
                "reactions": [],
                "location": None,
                "importedAt": None if r() < 0.95 else iso_ms(created),
                "custom": self._custom(c, MESSAGE_CUSTOM, created, updated),
                "sentAt": iso_ms(sent),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            if attrs["status"] == "error":
                attrs["errorAt"] = iso_ms(sent)
            rels = {
                "org": ORG_REL,
                "customer": rel("customer", cust, "customers"),
                "conversation": rel("conversation", conv, "conversations"),
                "createdBy": rel("user", user) if user and not inbound else {"data": None},
                "modifiedBy": rel("user", user) if user and r() < 0.3 else {"data": None},
                "sentBy": {"data": {"type": "customer", "id": cust}} if inbound and cust else
                ({"data": {"type": "user", "id": user}} if user else {"data": None}),
            }
            recs.append(self._finish("messages", "message", id_, attrs, rels))
        return recs

    def _gen_notes(self) -> list[Record]:
        c = _Ctx(self.seed, "notes")
        n = self.counts["notes"]
        r = c.r
        convs = self.conv_customer
        users = self.ids["users"]
        recs = []
        for i in range(n):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "notes", i, c.ri(0, 0xFFFF))
            self.ids["notes"].append(id_)
            conv, cust = c.pick(convs) if convs else (None, None)
            author = c.pick(users) if users else None
            deleted = r() < 0.04
            mentions = []
            if users and r() < 0.2:
                mentions = [{"user": c.pick(users), "team": None}]
            body = self._text(c, c.ri(10, 600))
            if mentions:
                body = "@agent " + body
            attrs = {
                "body": body,
                "deleted": deleted,
                "deletedAt": iso_ms(updated) if deleted else None,
                "externalId": None if r() < 0.9 else "note-%06d" % i,
                "importedAt": None if r() < 0.95 else iso_ms(created),
                "userMentions": mentions,
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {
                "org": ORG_REL,
                "conversation": rel("conversation", conv, "conversations"),
                "customer": rel("customer", cust, "customers"),
                "createdBy": rel("user", author),
                "modifiedBy": rel("user", author),
            }
            if deleted:
                rels["deletedBy"] = self._user_rel(c)
            recs.append(self._finish("notes", "note", id_, attrs, rels))
        return recs

    # -- single records for upserts -------------------------------------------------------------------

    def new_record(self, stream: str, id_: str, seed_tag: Any, klass: str | None = None) -> dict:
        """A freshly generated JSON:API object (with id ``id_``) for an upserted record.

        Generated by a clone of this generator whose seed is derived from ``seed_tag`` so that the shared
        reference pools (users, customers, ...) are used but never modified.
        """
        g = copy.copy(self)
        g.seed = f"{self.seed}/new/{stream}/{seed_tag}"
        g.counts = dict.fromkeys(STREAMS, 0)
        g.counts[stream] = 1
        g.tie_block = 0
        # The generators only append to / reassign the pools of the stream they generate, so a shallow copy
        # with a fresh list for that stream leaves this generator's pools untouched (and costs O(streams)).
        g.ids = dict(self.ids)
        g.ids[stream] = []
        g.kobject_ids_by_klass = dict(self.kobject_ids_by_klass)
        g.klass_names = list(self.klass_names)
        g.klass_ids = dict(self.klass_ids)
        g._skel = {}
        g._keep_objects = True
        if stream == "teams":
            g._team_created = [RANGE_START_MS]
            g.ids["teams"] = [make_id(RANGE_START_MS, "teams", 0, 0)]
        if stream == "kobjects" and klass:
            if klass not in g.klass_names:
                raise ValueError(f"unknown klass {klass!r}")
            g.klass_names = [klass]
            g.kobject_ids_by_klass = {klass: []}
        if stream == "klasses":
            g.klass_names = []
            g.klass_ids = {}
        rec = getattr(g, "_gen_" + stream)()[0]
        return _replace_strings(rec.raw, rec.id, id_)


_SLUGS: dict[str, str] = {}


# chunked parallel generation of the big streams -------------------------------------------------------------

BIG_STREAMS = ("customers", "conversations", "messages")
CHUNK = 5000  # records per chunk; part of the data definition (each chunk has its own random stream)
PARALLEL_MIN_RECORDS = 40_000  # below this, fork overhead is not worth it

_WORKER_GEN: "DataGenerator | None" = None


def _default_signals() -> None:
    """Pool workers die on SIGTERM and SIGINT whatever handlers the process that forked them had installed."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _chunk_worker(task: tuple[str, int, int]) -> list[tuple]:
    stream, lo, hi = task
    recs = getattr(_WORKER_GEN, "_body_" + stream)(lo, hi)
    return [(r.id, r.updated, r.created, r.klass, r.body) for r in recs]


def _run_chunks(gen: "DataGenerator", tasks: list[tuple[str, int, int]], workers: int | None
                ) -> list[list[Record]]:
    total = sum(hi - lo for _s, lo, hi in tasks)
    if workers is None:
        # KUSTOMER_EMULATOR_WORKERS=1 forces a single-process run
        workers = int(os.environ.get("KUSTOMER_EMULATOR_WORKERS") or 0) or os.cpu_count() or 1
    if workers > 1 and len(tasks) > 1 and total >= PARALLEL_MIN_RECORDS:
        try:
            import multiprocessing as mp

            ctx = mp.get_context("fork")
        except (ImportError, ValueError):
            ctx = None
        if ctx is not None:
            global _WORKER_GEN
            _WORKER_GEN = gen
            try:
                with ctx.Pool(min(workers, len(tasks)), initializer=_default_signals) as pool:
                    raw = pool.map(_chunk_worker, tasks, chunksize=1)
                    # Let the workers finish on their own: the pool's exit would SIGTERM them, and a worker that
                    # inherited a handler (the emulator's CLI catches SIGTERM) would never die: a hang at start-up.
                    pool.close()
                    pool.join()
                return [[Record(*t) for t in part] for part in raw]
            except OSError:
                pass  # fall back to a serial run
            finally:
                _WORKER_GEN = None
    return [getattr(gen, "_body_" + s)(lo, hi) for s, lo, hi in tasks]


def _replace_strings(obj: Any, old: str, new: str) -> Any:
    """Replace ``old`` inside every string of a JSON-like structure (in place for dicts and lists)."""
    if isinstance(obj, str):
        return obj.replace(old, new) if old in obj else obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = _replace_strings(v, old, new)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            obj[i] = _replace_strings(v, old, new)
    return obj


def _slug(s: str) -> str:
    v = _SLUGS.get(s)
    if v is None:
        v = _SLUGS[s] = re.sub(r"\W+", "_", s.lower()).strip("_") or "user"
    return v


def _klass_base(name: str) -> str:
    return re.sub(r"_\d+$", "", name) if name not in KLASS_CUSTOM else name


def _weighted_index(x: float, weights: list[int]) -> int:
    total = sum(weights)
    acc = 0
    t = x * total
    for i, w in enumerate(weights):
        acc += w
        if t < acc:
            return i
    return len(weights) - 1


def generate(seed: Any = 42, counts: dict[str, int] | None = None, tie_block: int = 3000,
             workers: int | None = None) -> tuple[DataGenerator, dict[str, list[Record]]]:
    gen = DataGenerator(seed, counts, tie_block)
    return gen, gen.generate(workers)
