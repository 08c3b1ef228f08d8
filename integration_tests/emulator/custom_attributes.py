"""Custom attribute definitions of the standard objects and the metadata documents built from them.

Custom attributes (``attributes.custom``) follow Kustomer's suffix convention (Str, Txt, Num, Bool, At, Tree,
Url, Id).  The same definitions feed ``GET /v1/metadata/<resource>`` (``kobject.<klass name>`` for a klass, with
the klass definitions in ``kobjects.py``) so that the metadata and the data always agree.
"""

from __future__ import annotations

import re

from .vocab import TREES

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
