"""Customers, companies, users and teams."""

from __future__ import annotations

import re

from .builders import CHUNK, GeneratorBase, _Ctx, _slug
from .custom_attributes import COMPANY_CUSTOM, CUSTOMER_CUSTOM
from .records import ORG_REL, RANGE_END_MS, RANGE_START_MS, Record, iso_ms, make_id, rel
from .vocab import CHANNELS, CITIES, COMPANY_SUFFIX, COMPANY_WORDS, ICONS, LOCALES, SENTENCES, SUBJECTS, TIMEZONES


class PeopleGenerator(GeneratorBase):
    def _gen_customers(self) -> list[Record]:
        self._skel_customers()
        n = self.counts["customers"]
        return [r for lo in range(0, n, CHUNK) for r in self._body_customers(lo, min(n, lo + CHUNK))]

    def _prepare_team_ids(self) -> None:
        c = _Ctx(self.seed, "teams-ids")
        n = self.counts["teams"]
        created = [RANGE_START_MS - int(c.r() * 900 * 86400_000) for _ in range(n)]
        self._team_created = created
        self.ids["teams"] = [make_id(created[i], "teams", i, c.ri(0, 0xFFFF)) for i in range(n)]

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
