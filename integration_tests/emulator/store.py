"""The store: every stream's records, the (updatedAt, id) indexes, soft/hard deletes, upserts, the audit events
they write, and the matching of parsed search criteria."""

from __future__ import annotations

import bisect
import json
import threading
import time
from typing import Any

from .custom_attributes import STANDARD_CUSTOM, metadata_document
from .errors import ApiError
from .generate import DataGenerator
from .records import OBJECT_TYPE, STREAMS, Record, dumps, iso_ms, make_id, normalize_iso, now_iso, parse_iso_ms
from .search import matches, order


class _UpdIndex:
    """Records of one stream (or one klass) sorted by (updatedAt, id)."""

    __slots__ = ("keys",)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.keys = sorted(pairs)

    def add(self, upd: str, id_: str) -> None:
        bisect.insort(self.keys, (upd, id_))

    def remove(self, upd: str, id_: str) -> None:
        i = bisect.bisect_left(self.keys, (upd, id_))
        if i < len(self.keys) and self.keys[i] == (upd, id_):
            del self.keys[i]


class Store:
    def __init__(self, gen: DataGenerator, recs: dict[str, list[Record]]) -> None:
        self.lock = threading.RLock()
        self.gen = gen
        self.version = 0
        self.records: dict[str, dict[str, Record]] = {s: {r.id: r for r in recs.get(s, [])} for s in STREAMS}
        self.by_id: dict[str, list[str]] = {s: sorted(self.records[s]) for s in STREAMS}
        self.upd: dict[Any, _UpdIndex] = {
            s: _UpdIndex([(r.updated, r.id) for r in self.records[s].values()]) for s in STREAMS
        }
        self.klass_names = list(gen.klass_names)
        for k in self.klass_names:
            self.upd[("kobjects", k)] = _UpdIndex(
                [(r.updated, r.id) for r in self.records["kobjects"].values() if r.klass == k])
        self.new_seq = {s: len(self.records[s]) for s in STREAMS}
        # soft-deleted objects (attributes.deleted true): search leaves them out unless includeDeleted
        self.deleted: dict[str, set[str]] = {
            s: {r.id for r in self.records[s].values() if b'"deleted":true' in r.body and r.obj()["attributes"].get("deleted") is True}
            for s in STREAMS}
        # the audit log, oldest first: a few create/update events of the search-backed objects, then one event per
        # upsert and per hard delete
        self.audit: list[dict] = []
        for stream in ("customers", "conversations", "messages", "companies"):
            for n, id_ in enumerate(self.by_id[stream][:40]):
                r = self.records[stream][id_]
                changes = None
                if stream == "conversations" and not n % 2:  # a status change, as Kustomer records one
                    changes = {"attributes": {"status": {"op": "replace", "before": "open", "after": ("snoozed", "done")[n % 4 // 2]}}}
                self._audit_event(stream, id_, "create" if n % 2 else "update", r.updated, changes)
        self.audit.sort(key=lambda e: e["attributes"]["createdAt"])
        self._search_cache: dict[Any, list[Record]] = {}
        # Search-index lag (config index_lag_seconds): upserted objects search finds only from this wall time on.
        self.index_lag = 0.0
        self.indexed_at: dict[str, dict[str, float]] = {s: {} for s in STREAMS}
        # metadata documents (the same definitions that generated the custom attributes)
        self.metadata: dict[str, bytes] = {
            res: dumps(metadata_document(res, specs)) for res, specs in STANDARD_CUSTOM.items()
        }
        for k in self.klass_names:
            self.metadata["kobject." + k] = dumps(metadata_document("kobject." + k, gen.klass_specs(k)))

    def _audit_event(self, stream: str, id_: str, verb: str, at: str, changes: dict | None = None) -> dict:
        """One event, as Kustomer's help center keeps it: updates about 90 days, creates and deletes about a year."""
        object_type = OBJECT_TYPE[stream]
        seq = len(self.audit)
        kept_days = 90 if verb == "update" else 365
        event = {"type": "audit_log", "id": "%024x" % (0xa0d170000000 + seq), "attributes": {
            "eventName": f"kustomer.{object_type}.{verb}", "eventVerb": verb, "objectType": object_type,
            "objectId": id_, "userId": None, "userType": "user", "client": "api", "createdAt": at, "publishedAt": at,
            "expiresAt": iso_ms(parse_iso_ms(at) + kept_days * 86400_000), "changes": changes or {}}}
        self.audit.append(event)
        return event

    def hard_delete(self, stream: str, ids: list) -> list[str]:
        """Deletes objects for good (gone from every search) and records each deletion in the audit log."""
        if stream not in STREAMS:
            raise ApiError(404, f"Unknown stream {stream!r}")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, 'Body must be {"ids": ["...", ...]}')
        gone = []
        with self.lock:
            for id_ in ids:
                rec = self.records[stream].pop(id_, None)
                if rec is None:
                    continue
                self.upd[stream].remove(rec.updated, id_)
                if rec.klass:
                    self.upd[("kobjects", rec.klass)].remove(rec.updated, id_)
                self.by_id[stream].remove(id_)
                self.deleted[stream].discard(id_)
                self._audit_event(stream, id_, "delete", now_iso())
                gone.append(id_)
            self.version += 1
            self._search_cache.clear()
        return gone
    def index_for(self, stream: str, klass: str | None) -> _UpdIndex:
        return self.upd[(stream, klass)] if klass else self.upd[stream]

    def upsert(self, stream: str, items: list[dict]) -> list[tuple[dict, Record]]:
        """Insert or merge records; returns (object, stored record) pairs."""
        if stream not in STREAMS:
            raise ApiError(404, f"Unknown stream {stream!r}")
        if not isinstance(items, list):
            raise ApiError(400, "Body must be {\"records\": [...]}")
        out = []
        with self.lock:
            for item in items:
                if not isinstance(item, dict):
                    raise ApiError(400, "Each record must be an object")
                attrs = item.get("attributes") or {}
                if not isinstance(attrs, dict):
                    raise ApiError(400, "attributes must be an object")
                id_ = item.get("id")
                existing = self.records[stream].get(id_) if id_ else None
                if existing is not None:
                    obj = existing.obj()
                    klass = existing.klass
                else:
                    klass = None
                    if stream == "kobjects":
                        klass = item.get("klass") or (self.klass_names[0] if self.klass_names else None)
                        if klass not in self.klass_names:
                            raise ApiError(400, f"Unknown klass {klass!r}")
                    seq = self.new_seq[stream]
                    self.new_seq[stream] += 1
                    if id_ is None:
                        id_ = make_id(int(time.time() * 1000), stream, seq, seq * 7919)
                    elif not isinstance(id_, str) or not id_:
                        raise ApiError(400, "id must be a non-empty string")
                    try:
                        obj = self.gen.new_record(stream, id_, seq, klass)
                    except ValueError as e:
                        raise ApiError(400, str(e)) from None
                a = obj["attributes"]
                for k, v in attrs.items():
                    if k == "custom" and isinstance(v, dict) and isinstance(a.get("custom"), dict):
                        a["custom"].update(v)
                    else:
                        a[k] = v
                try:
                    a["updatedAt"] = normalize_iso(attrs["updatedAt"]) if "updatedAt" in attrs else now_iso()
                    if "createdAt" in attrs:
                        a["createdAt"] = normalize_iso(attrs["createdAt"])
                except ValueError:
                    raise ApiError(400, "updatedAt/createdAt must be ISO-8601 date-times") from None
                if existing is None and "createdAt" not in attrs and a["createdAt"] > a["updatedAt"]:
                    a["createdAt"] = a["updatedAt"]
                if "modifiedAt" not in attrs and "modifiedAt" in a:
                    a["modifiedAt"] = a["updatedAt"]
                rels = item.get("relationships")
                if isinstance(rels, dict):
                    obj.setdefault("relationships", {}).update(rels)
                rec = Record(id_, a["updatedAt"], a["createdAt"], klass, dumps(obj))
                if existing is not None:
                    self.upd[stream].remove(existing.updated, existing.id)
                    if existing.klass:
                        self.upd[("kobjects", existing.klass)].remove(existing.updated, existing.id)
                else:
                    bisect.insort(self.by_id[stream], id_)
                self.records[stream][id_] = rec
                if a.get("deleted") is True:
                    self.deleted[stream].add(id_)
                else:
                    self.deleted[stream].discard(id_)
                if stream in OBJECT_TYPE:
                    self._audit_event(stream, id_, "update" if existing is not None else "create", now_iso())
                if self.index_lag:
                    self.indexed_at[stream][id_] = time.time() + self.index_lag
                self.upd[stream].add(rec.updated, id_)
                if klass:
                    self.upd[("kobjects", klass)].add(rec.updated, id_)
                self.version += 1
                self._search_cache.clear()
                out.append((obj, rec))
        return out

    # -- search -----------------------------------------------------------------------------------------

    def search_page(self, stream: str, klass: str | None, terms: list, or_terms: list,
                    sort: list[tuple[str, str]], start: int, size: int, include_deleted: bool = False
                    ) -> tuple[int, list[bytes]]:
        """(total, bodies of records [start, start+size)) for a parsed search."""
        return self._search(stream, klass, terms, or_terms, sort, start, size, include_deleted)

    def touch_first(self, stream: str, klass: str | None, terms: list, or_terms: list, sort: list[tuple[str, str]],
                    count: int, include_deleted: bool = False) -> list[str]:
        """Updates the first ``count`` results of a parsed search (updatedAt now, as an edit in Kustomer would); their
        ids. (Not a search served: tests that log ``search_page`` do not see it.)"""
        with self.lock:
            _total, bodies = self._search(stream, klass, terms, or_terms, sort, 0, count, include_deleted)
            ids = [json.loads(body)["id"] for body in bodies]
            self.upsert(stream, [{"id": id_, "attributes": {}} for id_ in ids])
        return ids

    def _search(self, stream: str, klass: str | None, terms: list, or_terms: list, sort: list[tuple[str, str]],
                start: int, size: int, include_deleted: bool) -> tuple[int, list[bytes]]:
        with self.lock:
            hidden = set() if include_deleted else self.deleted[stream]
            lagging = self.indexed_at[stream]
            if lagging:
                now = time.time()
                for id_ in [i for i, at in lagging.items() if at <= now]:
                    del lagging[id_]
                if lagging:  # not in the search index yet: found neither at their new nor at their old place
                    hidden = set(hidden) | set(lagging)
            fast = (not hidden and not or_terms and all(isinstance(t, tuple) and t[0] == "updated" for t in terms)
                    and len(sort) == 1 and sort[0][0] == "updated")
            if fast:
                return self._fast_page(stream, klass, terms, sort[0][1], start, size)
            key = (stream, klass, repr(terms), repr(or_terms), tuple(sort), bool(hidden), self.version,
                   time.time() if lagging else None)
            hits = self._search_cache.get(key)
            if hits is None:
                recs = self.records[stream].values()
                if klass:
                    recs = [r for r in recs if r.klass == klass]
                hits = [r for r in recs if r.id not in hidden and matches(r.updated, r.created, terms, or_terms)]
                order(hits, sort, getattr)
                if len(self._search_cache) > 32:
                    self._search_cache.clear()
                self._search_cache[key] = hits
            return len(hits), [r.body for r in hits[start:start + size]]

    def _fast_page(self, stream, klass, terms, direction, start, size):
        """The page of a search on updatedAt alone, from the (updatedAt, id) index: the records that ``matches``
        are one run of the index, found by bisecting with it (lower bounds, then upper bounds)."""
        keys = self.index_for(stream, klass).keys
        lower = [t for t in terms if t[1] in _LOWER_BOUNDS]
        upper = [t for t in terms if t[1] in _UPPER_BOUNDS]
        lo = _first(keys, lambda k: matches(k[0], k[0], lower), 0)
        hi = _first(keys, lambda k: not matches(k[0], k[0], upper), lo)
        total = max(0, hi - lo)
        recs = self.records[stream]
        if start >= total:
            return total, []
        if direction == "asc":
            page = keys[lo + start: lo + min(total, start + size)]
        else:
            # updatedAt descending, ties by id ascending: take the matching slice of the ascending index,
            # widened to whole tie groups, and re-sort it.
            a = hi - min(total, start + size)
            b = hi - start
            a = max(lo, bisect.bisect_left(keys, (keys[a][0],), lo, hi))
            b = min(hi, bisect.bisect_right(keys, (keys[b - 1][0], "\uffff"), lo, hi))
            chunk = keys[a:b]
            order(chunk, [("updated", "desc")], lambda k, f: k[1] if f == "id" else k[0])
            offset = start - (hi - b)
            page = chunk[offset: offset + min(size, total - start)]
        return total, [recs[i].body for _u, i in page]


# Operators that bound updatedAt from below and from above (a search's criteria on it make one run of the index).
_LOWER_BOUNDS = ("gt", "gte", "equals")
_UPPER_BOUNDS = ("lt", "lte", "equals")


def _first(keys: list, reached, lo: int) -> int:
    """The first index from ``lo`` where ``reached(key)`` holds, for a predicate false and then true along ``keys``."""
    hi = len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if reached(keys[mid]):
            hi = mid
        else:
            lo = mid + 1
    return lo
