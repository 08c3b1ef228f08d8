"""The shared builders of every generator family: per-stream random streams, value helpers, custom attribute
values and the final JSON:API record."""

from __future__ import annotations

import re
import random
import unicodedata
from typing import Any, Callable

from .custom_attributes import CustomSpec
from .records import (RANGE_END_MS, RANGE_START_MS, SELF_PATH, TIE_STREAMS, TIE_UPDATED_AT, Record, dumps, iso_ms,
                      parse_iso_ms, rel)
from .vocab import CITIES, CJK_FULL_NAMES, DOMAINS, FIRST_NAMES, LAST_NAMES, SENTENCES, TREES

_EMAIL_BASE: dict[tuple[str, str], str] = {}
_SLUGS: dict[str, str] = {}
CHUNK = 5000  # records per chunk; part of the data definition (each chunk has its own random stream)


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


class GeneratorBase:
    """Value helpers shared by the family generators (people, conversations, catalog, kobjects)."""

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

    def _simple_times(self, c: _Ctx) -> tuple[int, int]:
        updated = RANGE_START_MS + int(c.r() * (RANGE_END_MS - RANGE_START_MS))
        created = updated - int(c.r() * c.r() * 600 * 86400_000)
        return created, updated


def _slug(s: str) -> str:
    v = _SLUGS.get(s)
    if v is None:
        v = _SLUGS[s] = re.sub(r"\W+", "_", s.lower()).strip("_") or "user"
    return v


def _weighted_index(x: float, weights: list[int]) -> int:
    total = sum(weights)
    acc = 0
    t = x * total
    for i, w in enumerate(weights):
        acc += w
        if t < acc:
            return i
    return len(weights) - 1
