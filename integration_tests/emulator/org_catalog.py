"""The rest of the org's catalog: the knowledge base (articles, categories, tags, knowledge bases), workflows, routing
queue rules, shortcut categories, snippets, role groups, spam senders and saved searches (GET lists at Kustomer's
nested paths), and SLA versions, served only by the per-SLA route ``GET /v1/slas/{id}?versions=all`` (in
``included``; the SLA list never carries them).

Shapes follow the project's API notes ("The rest of the org's catalog"): soft-deleted articles (``deleted: true``),
workflows that carry their ``variables`` inline (secrets the connector must drop), SLA versions with ``createdAt`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import records as _records
from .builders import GeneratorBase, _Ctx
from .errors import ApiError
from .records import ORG_REL, Record, dumps, iso_ms, make_id, now_iso, rel
from .routes import Request, envelope, route
from .vocab import CHANNELS

if TYPE_CHECKING:
    from .server import KustomerEmulator

# Emulator stream -> Kustomer's path (the connector's stream has the same name).
PATHS = {
    "kb_articles": "/v1/kb/articles",
    "kb_categories": "/v1/kb/categories",
    "kb_tags": "/v1/kb/tags",
    "kb_knowledge_bases": "/v1/kb/knowledge-bases",
    "workflows": "/v1/workflows",
    "queue_rules": "/v1/routing/queue-rules",
    "shortcut_categories": "/v1/shortcuts/categories",
    "snippets": "/v1/snippets",
    "role_groups": "/v1/role-groups",
    "spam_senders": "/v1/spam/senders",
    "saved_searches": "/v1/customers/searches",
}
# Their largest pageSize (a larger one is cut down to it).
MAX_PAGE_SIZE = {stream: 100 for stream in PATHS}
OBJECT_TYPES = {
    "kb_articles": "kb_article", "kb_categories": "kb_category", "kb_tags": "kb_tag",
    "kb_knowledge_bases": "kb_knowledge_base", "workflows": "workflow", "queue_rules": "queue_rule",
    "shortcut_categories": "shortcut_category", "snippets": "snippet", "role_groups": "role_group",
    "spam_senders": "spam_sender", "saved_searches": "customer_search",
}

ORDER = ("kb_knowledge_bases", "kb_categories", "kb_tags", "kb_articles", "workflows", "queue_rules",
         "shortcut_categories", "snippets", "role_groups", "spam_senders", "saved_searches")
for _stream, _path in PATHS.items():
    _records.SELF_PATH[_stream] = _path


class OrgCatalogGenerator(GeneratorBase):
    def _org_list(self, stream: str, attributes, rels=None) -> list[Record]:
        c = _Ctx(self.seed, stream)
        recs = []
        for i in range(self.counts[stream]):
            created, updated = self._simple_times(c)
            id_ = make_id(created, stream, i, c.ri(0, 0xFFFF))
            self.ids[stream].append(id_)
            attrs = {**attributes(c, i), "createdAt": iso_ms(created), "updatedAt": iso_ms(updated)}
            relationships = {"org": ORG_REL, "createdBy": self._user_rel(c), **(rels(c, i) if rels else {})}
            recs.append(self._finish(stream, OBJECT_TYPES[stream], id_, attrs, relationships))
        return recs

    def _gen_kb_knowledge_bases(self) -> list[Record]:
        return self._org_list("kb_knowledge_bases", lambda c, i: {
            "name": ["Help Center", "Internal Playbook"][i % 2] + ("" if i < 2 else f" {i}"),
            "defaultLang": "en_us", "langs": ["en_us", "fr"], "default": i == 0})

    def _gen_kb_categories(self) -> list[Record]:
        def attrs(c: _Ctx, i: int) -> dict:
            parent = self.ids["kb_categories"][c.ri(0, i - 1)] if i > 2 else None
            return {"name": f"Category {i}", "langs": ["en_us"], "parent": parent, "root": parent is None,
                    "knowledgeBase": self._pick_one(c, "kb_knowledge_bases")}
        return self._org_list("kb_categories", attrs)

    def _gen_kb_tags(self) -> list[Record]:
        return self._org_list("kb_tags", lambda c, i: {"name": f"kb-tag-{i}", "color": c.pick(["#ff0000", "#00aa00"])})

    def _gen_kb_articles(self) -> list[Record]:
        def attrs(c: _Ctx, i: int) -> dict:
            deleted = c.chance(0.08)
            attrs = {
                "title": f"How to {c.pick(['reset', 'return', 'track', 'cancel'])} an order ({i})",
                "status": c.pick(["published", "draft"]), "scope": c.pick(["public", "internal"]),
                "knowledgeBases": [self._pick_one(c, "kb_knowledge_bases")],
                "categories": [{"id": self._pick_one(c, "kb_categories"), "knowledgeBase": self._pick_one(c, "kb_knowledge_bases")}],
                "tags": self._pick_ids(c, "kb_tags", 2), "langVersions": {"en_us": 1 + i % 3}, "latestLangs": ["en_us"],
                "deleted": deleted, "deletedAt": None, "publishedAt": None,
            }
            if i % 4:  # the current version's slug and body (what includeLang/includeBody add), not for every article
                attrs.update(slug=f"article-{i}", htmlBody=f"<p>Answer {i}</p>")
            return attrs
        recs = self._org_list("kb_articles", attrs)
        for rec in recs:  # publishedAt / deletedAt at the record's own times (drawn after its dates)
            obj = rec.raw or rec.obj()
            a = obj["attributes"]
            a["modifiedAt"] = a["updatedAt"]
            a["publishedAt"] = a["createdAt"] if a["status"] == "published" else None
            a["deletedAt"] = a["updatedAt"] if a["deleted"] else None
            rec.body = b"" if rec.raw is not None else dumps(obj)
        return recs

    def _gen_workflows(self) -> list[Record]:
        return self._org_list("workflows", lambda c, i: {
            "name": f"Workflow {i}", "description": "Routes and tags incoming conversations", "enabled": c.chance(0.8),
            "callable": c.chance(0.2), "trigger": {"eventName": c.pick(["kustomer.conversation.create", "kustomer.message.create"])},
            "steps": [{"id": f"step-{i}-{n}", "appVersion": "kustomer-^1.0.0", "action": "kustomer.conversation.update"}
                      for n in range(1 + i % 3)],
            # Secrets: Kustomer keeps workflow variables with the workflow; the connector must never publish them.
            "variables": {"apiKey": {"value": f"secret-{i}-do-not-sync"}},
        })

    def _gen_queue_rules(self) -> list[Record]:
        return self._org_list("queue_rules", lambda c, i: {
            "name": f"Queue rule {i}", "enabled": i % 5 != 4, "order": i,
            "criteria": {"and": [{"conversation_channel": {"equals": c.pick(CHANNELS)}}]},
            "queue": f"queue-{i % 3}"})

    def _gen_shortcut_categories(self) -> list[Record]:
        return self._org_list("shortcut_categories", lambda c, i: {"name": f"Shortcut category {i}", "deleted": False})

    def _gen_snippets(self) -> list[Record]:
        return self._org_list("snippets", lambda c, i: {
            "name": f"snippet_{i}", "description": "Greeting", "translations": [{"lang": "en_us", "value": f"Hello {i}"}]})

    def _gen_role_groups(self) -> list[Record]:
        return self._org_list("role_groups", lambda c, i: {
            "name": ["Admins", "Agents", "Leads", "Analysts", "Bots"][i % 5], "roles": [f"org.permission.role{i}.read"]})

    def _gen_spam_senders(self) -> list[Record]:
        return self._org_list("spam_senders", lambda c, i: {"sender": f"spammer{i}@example.net", "channel": "email"})

    def _gen_saved_searches(self) -> list[Record]:
        return self._org_list("saved_searches", lambda c, i: {
            "name": f"Open VIP conversations {i}", "context": "conversation", "shared": c.chance(0.5),
            "query": {"and": [{"conversation_status": {"equals": "open"}}]}})

    def _pick_one(self, c: _Ctx, stream: str) -> str | None:
        ids = self.ids[stream]
        return ids[c.ri(0, len(ids) - 1)] if ids else None


# ---------------------------------------------------------------------------------------------------------
# routes

def _list(emu: "KustomerEmulator", req: Request, stream: str) -> bytes:
    from .lists import list_paging  # lists.py reads this module's page sizes

    page, size = list_paging(req.query, stream)
    store = emu.store
    with store.lock:
        ids = store.by_id[stream]
        bodies = [store.records[stream][i].body for i in ids[(page - 1) * size:page * size]]
        total = len(ids)
    if stream == "kb_articles" and not (req.query.get("includeBody") == "true" and req.query.get("includeLang")):
        # Without includeLang/includeBody the current version's slug and body are not part of an article.
        bodies = [_without_body(b) for b in bodies]
    return envelope(PATHS[stream], page, size, total, bodies)


def _without_body(body: bytes) -> bytes:
    import json

    obj = json.loads(body)
    obj["attributes"].pop("htmlBody", None)
    obj["attributes"].pop("slug", None)
    return dumps(obj)


def _register(stream: str, path: str) -> None:
    route("GET", path)(lambda emu, req: _list(emu, req, stream))


for _stream, _path in PATHS.items():
    _register(_stream, _path)


# SLA versions: generated from each SLA's own `version` (versions 1..n), kept per store.

def sla_versions(emu: "KustomerEmulator") -> dict[str, list[dict]]:
    store = emu.store
    with store.lock:
        versions = getattr(store, "sla_versions", None)
        if versions is None:
            versions = {}
            for sla_id in store.by_id["slas"]:
                sla = store.records["slas"][sla_id].obj()
                for n in range(1, int(sla["attributes"].get("version") or 1) + 1):
                    versions.setdefault(sla_id, []).append(_version(sla, n, sla["attributes"]["createdAt"]))
            store.sla_versions = versions
        return versions


def _version(sla: dict, n: int, created_at: str) -> dict:
    a = sla["attributes"]
    target = a["metrics"]["firstResponse"]["target"] * (1 + n % 3)
    return {"type": "sla_version", "id": f"{sla['id']}v{n:03d}", "attributes": {
        "name": a["name"], "description": a["description"], "version": n, "hours": {"businessHours": n % 2 == 0},
        "metrics": {"urgent": {"firstResponse": {"target": target}}, "high": {"firstResponse": {"target": target * 2}}},
        "criteria": a["criteria"], "createdAt": created_at},
        "relationships": {"sla": rel("sla", sla["id"], "slas")}}


def add_sla_version(emu: "KustomerEmulator", sla_id: str) -> dict:
    """A new version of one SLA (as an edit of its targets makes), at the current time; returns it."""
    versions = sla_versions(emu)
    with emu.store.lock:
        sla = emu.store.records["slas"][sla_id].obj()
        new = _version(sla, len(versions.get(sla_id, [])) + 1, now_iso())
        versions.setdefault(sla_id, []).append(new)
    return new


@route("GET", "/v1/slas/(?P<sla_id>[^/]+)")
def one_sla(emu: "KustomerEmulator", req: Request) -> bytes:
    sla_id = req.params["sla_id"]
    with emu.store.lock:
        rec = emu.store.records["slas"].get(sla_id)
    if rec is None:
        raise ApiError(404, f"sla {sla_id} not found")
    wanted = req.query.get("versions")
    included = []
    if wanted in ("all", "active"):
        versions = sla_versions(emu).get(sla_id, [])
        included = versions if wanted == "all" else versions[-1:]
    return b'{"data":' + rec.body + b',"included":' + dumps(included) + b"}"
