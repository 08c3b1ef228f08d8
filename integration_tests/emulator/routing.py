"""How work flowed: conversation times (handle sessions, searched), queues, team routing settings, routing statuses,
agents' work sessions and snooze options.

Endpoints (Kustomer's developer reference, "Queues and routing" and "Core resources"):

- ``POST /v1/customers/search`` with ``queryContext: "conversation_time"`` (search.py serves it): criterion
  ``conversation_time_created_at`` only, the objects have no ``updatedAt`` (append-only); search reaches the last two
  years and archive search refuses the context;
- ``GET /v1/routing/queues`` (a ``DEFAULT_QUEUE``, ``system: true``, always exists), ``/v1/routing/settings``,
  ``/v1/routing/statuses``, ``/v1/routing/work-sessions`` (filters ``active``, ``user``, ``statusType``) and
  ``GET /v1/snoozes``, paged by ``page`` and ``pageSize``;
- each refused (403, Kustomer's error document) to a key without its role: ``NO_ROUTING_TOKEN`` has every role but
  the routing ones.

Work sessions are listed most recently updated first (the emulator's choice: Kustomer's order is not documented). A
session is ``active`` until its agent signs out; sign one out with the upsert admin route
(``POST /_emulator/records/work_sessions`` with ``{"id": ..., "attributes": {"active": false, "signedOutAt": ...}}``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .builders import GeneratorBase, _Ctx
from .errors import ApiError
from .records import ORG_REL, RANGE_END_MS, RANGE_START_MS, SELF_PATH, Record, dumps, iso_ms, make_id, rel
from .lists import MAX_PAGE_SIZE, list_paging
from .routes import Request, envelope, route
from .vocab import CHANNELS

if TYPE_CHECKING:
    from .server import KustomerEmulator

# stream -> (path, largest pageSize, roles any one of which grants it)
ENDPOINTS = {
    "queues": ("/v1/routing/queues", 100, ("org.permission.queue.read", "org.permission.routing.read")),
    "team_routing_settings": ("/v1/routing/settings", 100, ("org.permission.routing.read",)),
    "routing_statuses": ("/v1/routing/statuses", 100, ("org.permission.routing_status.read", "org.permission.routing.read")),
    "work_sessions": ("/v1/routing/work-sessions", 100, ("org.permission.work_session.read", "org.permission.routing.read")),
    "snoozes": ("/v1/snoozes", 100, ("org.permission.snooze.read",)),
}
ROUTING_ROLES = sorted({role for _path, _size, roles in ENDPOINTS.values() for role in roles})
# Every role but the routing ones (conversation times, which need org.permission.conversation.read, stay readable).
NO_ROUTING_TOKEN = "no-routing-token"
SELF_PATH.update({stream: path for stream, (path, _size, _roles) in ENDPOINTS.items()})
MAX_PAGE_SIZE.update({stream: size for stream, (_path, size, _roles) in ENDPOINTS.items()})
SELF_PATH["conversation_times"] = "/v1/conversation-times"

DAY_MS = 86400_000
STATUS_TYPES = ("available", "busy", "unavailable")


class RoutingGenerator(GeneratorBase):
    def _gen_queues(self) -> list[Record]:
        c = _Ctx(self.seed, "queues")
        names = ["Tier 1", "Tier 2", "VIP", "Billing", "Returns", "Chat overflow", "Espagnol"]
        recs = []
        for i in range(self.counts["queues"]):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "queues", i, c.ri(0, 0xFFFF))
            self.ids["queues"].append(id_)
            system = i == 0
            attrs = {
                "name": "DEFAULT_QUEUE" if system else names[(i - 1) % len(names)] + ("" if i <= len(names) else f" {i}"),
                "displayName": "Default Queue" if system else None,
                "description": None if system else "Conversations routed by the %s rules." % c.pick(CHANNELS),
                "system": system,
                "priority": 0 if system else c.ri(1, 10),
                "itemSize": {c.pick(CHANNELS): c.ri(1, 4)},
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("queues", "queue", id_, attrs, rels))
        return recs

    def _gen_team_routing_settings(self) -> list[Record]:
        c = _Ctx(self.seed, "team_routing_settings")
        recs = []
        teams = self.ids["teams"]
        for i in range(self.counts["team_routing_settings"]):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "team_routing_settings", i, c.ri(0, 0xFFFF))
            self.ids["team_routing_settings"].append(id_)
            queues = self.ids["queues"]
            attrs = {
                "queues": sorted({c.pick(queues) for _ in range(c.ri(1, 10))}) if queues else [],
                "capacity": {"chat": c.ri(1, 5), "email": c.ri(1, 20), "voice": 1},
                "enabled": c.chance(0.8),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "team": rel("team", teams[i % len(teams)]) if teams else {"data": None},
                    "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("team_routing_settings", "team_routing_setting", id_, attrs, rels))
        return recs

    def _gen_routing_statuses(self) -> list[Record]:
        c = _Ctx(self.seed, "routing_statuses")
        names = [("Available", "available", True), ("Busy", "busy", True), ("Offline", "unavailable", True),
                 ("Lunch", "unavailable", False), ("Training", "busy", False), ("Café ☕", "unavailable", False)]
        recs = []
        for i in range(self.counts["routing_statuses"]):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "routing_statuses", i, c.ri(0, 0xFFFF))
            self.ids["routing_statuses"].append(id_)
            name, status_type, system = names[i % len(names)]
            attrs = {
                "name": name if i < len(names) else f"{name} {i}",
                "statusType": status_type,
                "system": system and i < len(names),
                "color": "#%06x" % c.ri(0, 0xFFFFFF),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
                "modifiedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c), "modifiedBy": self._user_rel(c)}
            recs.append(self._finish("routing_statuses", "routing_status", id_, attrs, rels))
        return recs

    def _gen_snoozes(self) -> list[Record]:
        c = _Ctx(self.seed, "snoozes")
        options = [("1 hour", 3600), ("Tomorrow morning", 57600), ("3 days", 259200), ("1 week", 604800)]
        recs = []
        for i in range(self.counts["snoozes"]):
            created, updated = self._simple_times(c)
            id_ = make_id(created, "snoozes", i, c.ri(0, 0xFFFF))
            self.ids["snoozes"].append(id_)
            name, seconds = options[i % len(options)]
            attrs = {
                "name": name if i < len(options) else f"{name} ({i})",
                "duration": seconds,
                "enabled": c.chance(0.9),
                "createdAt": iso_ms(created),
                "updatedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "createdBy": self._user_rel(c)}
            recs.append(self._finish("snoozes", "snooze", id_, attrs, rels))
        return recs

    def _gen_work_sessions(self) -> list[Record]:
        """Sessions from first status to sign-out; the last one of some agents is still active."""
        c = _Ctx(self.seed, "work_sessions")
        users = self.ids["users"] or [None]
        statuses = self.ids["routing_statuses"]
        n = self.counts["work_sessions"]
        recs = []
        for i in range(n):
            signed_in = RANGE_START_MS + int((RANGE_END_MS - RANGE_START_MS - DAY_MS) * i / max(n, 1)) + c.ri(0, 3600_000)
            active = i >= n - max(1, n // 20)  # the latest sessions are still open
            length = c.ri(1800, 10 * 3600) * 1000
            signed_out = None if active else signed_in + length
            updated = signed_in + c.ri(0, 600) * 1000 if active else signed_out
            id_ = make_id(signed_in, "work_sessions", i, c.ri(0, 0xFFFF))
            self.ids["work_sessions"].append(id_)
            by_status = {s: c.ri(0, 7200) for s in (c.pick(statuses) for _ in range(c.ri(1, 3)))} if statuses else {}
            attrs = {
                "signedInAt": iso_ms(signed_in),
                "signedOutAt": None if signed_out is None else iso_ms(signed_out),
                "active": active,
                "statusType": c.pick(STATUS_TYPES) if active else "unavailable",
                "capacity": {"chat": c.ri(1, 5), "email": c.ri(1, 20)},
                "handledConversations": c.ri(0, 60),
                "handledItems": {"chat": c.ri(0, 30), "email": c.ri(0, 40)},
                "totalTimeByStatus": by_status,
                "createdAt": iso_ms(signed_in),
                "updatedAt": iso_ms(updated),
            }
            rels = {"org": ORG_REL, "user": rel("user", users[i % len(users)]),
                    "status": rel("routing_status", c.pick(statuses), "routing/statuses") if statuses else {"data": None}}
            recs.append(self._finish("work_sessions", "work_session", id_, attrs, rels))
        return recs

    def _gen_conversation_times(self) -> list[Record]:
        """Handle sessions: append-only (no updatedAt); the search index keeps them by createdAt."""
        c = _Ctx(self.seed, "conversation_times")
        conversations = self.conv_customer or [(None, None)]
        n = self.counts["conversation_times"]
        recs = []
        for i in range(n):
            created = RANGE_START_MS + int(c.r() * (RANGE_END_MS - RANGE_START_MS))
            if c.chance(0.03):  # older than search's two years: unreachable
                created = RANGE_START_MS - c.ri(760, 900) * DAY_MS
            id_ = make_id(created, "conversation_times", i, c.ri(0, 0xFFFF))
            self.ids["conversation_times"].append(id_)
            conversation, customer = conversations[c.ri(0, len(conversations) - 1)]
            handle, message, note = c.ri(30, 3600), c.ri(0, 1800), c.ri(0, 600)
            attrs = {
                "handleTime": handle,
                "messageTime": message,
                "noteTime": note,
                "handleAt": iso_ms(created - handle * 1000),
                "messageAt": iso_ms(created - message * 1000) if message else None,
                "assignedUsers": self._pick_ids(c, "users", 2),
                "assignedTeams": self._pick_ids(c, "teams", 1, 0.7),
                "channels": sorted({c.pick(CHANNELS) for _ in range(c.ri(1, 2))}),
                "createdAt": iso_ms(created),
            }
            rels = {"org": ORG_REL, "conversation": rel("conversation", conversation),
                    "customer": rel("customer", customer), "createdBy": self._user_rel(c)}
            obj = {"type": "conversation_time", "id": id_, "attributes": attrs, "relationships": rels,
                   "links": {"self": f"{SELF_PATH['conversation_times']}/{id_}"}}
            if self._keep_objects:
                recs.append(Record(id_, attrs["createdAt"], attrs["createdAt"], None, b"", obj))
            else:
                recs.append(Record(id_, attrs["createdAt"], attrs["createdAt"], None, dumps(obj)))
        return recs


def _refuse_without_role(req: Request, roles: tuple) -> None:
    if req.token == NO_ROUTING_TOKEN:
        raise ApiError(403, f"Missing required role {roles[0]}")


def _flag(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false")
    return value == "true"


def _list(emu: "KustomerEmulator", req: Request, stream: str) -> bytes:
    path, _largest, roles = ENDPOINTS[stream]
    _refuse_without_role(req, roles)
    query, store = req.query, emu.store
    page, size = list_paging(query, stream)
    with store.lock:
        recs = store.records[stream]
        if stream == "work_sessions":
            # most recently updated first
            ids = [i for _u, i in sorted(store.upd[stream].keys, key=lambda k: (k[0], k[1]), reverse=True)]
            active, user, status_type = _flag(query.get("active"), "active"), query.get("user"), query.get("statusType")
            if active is not None or user or status_type:
                def keep(rec: Record) -> bool:
                    obj = rec.raw or json.loads(rec.body)
                    a = obj["attributes"]
                    owner = ((obj.get("relationships") or {}).get("user") or {}).get("data") or {}
                    return ((active is None or a.get("active") is active) and (not user or owner.get("id") == user)
                            and (not status_type or a.get("statusType") == status_type))
                ids = [i for i in ids if keep(recs[i])]
        else:
            ids = store.by_id[stream]
        total = len(ids)
        start = (page - 1) * size
        bodies = [recs[i].body for i in ids[start:start + size]]
    return envelope(path, page, size, total, bodies)


def _register(stream: str) -> None:
    route("GET", ENDPOINTS[stream][0])(lambda emu, req: _list(emu, req, stream))


for _stream in ENDPOINTS:
    _register(_stream)
