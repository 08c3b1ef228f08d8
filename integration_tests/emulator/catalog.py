"""The org's catalog: tags, shortcuts, SLAs, brands, business schedules and satisfaction forms."""

from __future__ import annotations

from .builders import GeneratorBase, _Ctx
from .records import ORG_REL, Record, iso_ms, make_id
from .vocab import CHANNELS, COLORS, SUBJECTS, TAG_WORDS


class CatalogGenerator(GeneratorBase):
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
