"""Conversations, messages and notes."""

from __future__ import annotations

from .builders import CHUNK, GeneratorBase, _Ctx, _weighted_index
from .custom_attributes import CONVERSATION_CUSTOM, MESSAGE_CUSTOM
from .records import ORG_REL, RANGE_START_MS, Record, iso_ms, make_id, rel
from .vocab import APP_BY_CHANNEL, CHANNEL_WEIGHTS, CHANNELS, DOMAINS, SENTENCES, SUBJECTS


class ConversationGenerator(GeneratorBase):
    def _gen_conversations(self) -> list[Record]:
        self._skel_conversations()
        n = self.counts["conversations"]
        return [r for lo in range(0, n, CHUNK) for r in self._body_conversations(lo, min(n, lo + CHUNK))]

    def _gen_messages(self) -> list[Record]:
        self._skel_messages()
        n = self.counts["messages"]
        return [r for lo in range(0, n, CHUNK) for r in self._body_messages(lo, min(n, lo + CHUNK))]

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
