"""The etcd store's key layout and value codecs.

Layout under the configured prefix P (generations zero-padded so key order is
generation order; every value is compact JSON, plan maps deflated):

    P/meta/schema            "3" (1 had no change log, 2 copied every endpoint's content
                             into every plan: opening marks either as 3 and reads both)
    P/meta/next_gen          the next generation to assign (publish compares its mod_revision)
    P/meta/head              the generation of the newest header ever made visible, written
                             by every header Txn (a publish compares its mod_revision)
    P/meta/frozen            "1" or "0"
    P/meta/zone_version      touched by every Txn that changes served content: its
                             mod_revision is the zone version (a generation-only advance
                             leaves it alone, as in the memory and SQLite stores)
    P/meta/changes_floor     clean-up pruned the change log up to this revision: a
                             reader of an older zone version reads the whole zone
    P/plan/<gen>             header: digest, created_at, source, endpoint_count, layout
    P/content/<digest>       one endpoint content, stored once whatever the number of
                             plans and endpoints that use it (content-addressed)
    P/pm/<gen>/<chunk>       plan <gen>'s map, {endpoint: content digest}, in chunks of
                             MAP_CHUNK endpoints (zlib-deflated JSON); keys under a generation with no header
                             are an unfinished chunked publish, or an orphan once a
                             higher header exists (clean-up sweeps those)
    P/pe/<gen>/<name>        schema 2's layout: one endpoint's full content in plan <gen>
                             (read, never written; such plans age out through clean-up)
    P/rs/<gen>/<first name>  span starts: each endpoint that has this digest from plan <gen>
                             on until a later plan changes it, {name: digest} deflated, one
                             key per publish Txn (written by the publish of <gen> for each
                             endpoint whose digest differs from the plan before it)
    P/ref/<digest>/<gen>/<name>  the same span start, indexed by digest: a content key
                             is deleted only when no ref key names it (see `gc.py`)
    P/gcq/<unique id>        clean-up's queue: generation ranges whose span starts lost
                             the plan that witnessed them (written with the deletion)
    P/zone/<name>            the live entry: "<zero-padded gen>|" + JSON (gen, digest, ttl,
                             policy, records); the prefix makes VALUE LESS the fence
    P/changes/<unique id>    the change log: one key per Txn that changes served content
                             (written in that Txn), holding the names it changed;
                             `changed_since(v)` ranges over the keys modified after v
    P/rollback/<name>        legacy mode's rollback pointer
    P/lock/<name>            legacy mode's lock: owner, expires
    P/pin/<name>, P/beat/<actor>, P/audit/<revision-ordered unique id>

Rules kept here: decoding failures raise StoreCorrupt naming the key, never KeyError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from zonewarden.core.model import (
    EMPTY_CONTENT,
    Content,
    EndpointName,
    Generation,
    LbId,
    Policy,
    Record,
    RecordType,
    ZoneEntry,
)
from zonewarden.errors import StoreCorrupt

SCHEMA_VERSION = "3"
GEN_WIDTH = 12


@dataclass(frozen=True, slots=True)
class Keys:
    """Every key of one region, built from its prefix."""

    prefix: str

    def _k(self, *parts: str) -> bytes:
        return "/".join((self.prefix.rstrip("/"), *parts)).encode()

    @property
    def schema(self) -> bytes:
        return self._k("meta", "schema")

    @property
    def next_gen(self) -> bytes:
        return self._k("meta", "next_gen")

    @property
    def frozen(self) -> bytes:
        return self._k("meta", "frozen")

    @property
    def head(self) -> bytes:
        return self._k("meta", "head")

    @property
    def zone_version(self) -> bytes:
        return self._k("meta", "zone_version")

    def plan(self, g: int) -> bytes:
        return self._k("plan", f"{g:0{GEN_WIDTH}d}")

    @property
    def plans(self) -> bytes:
        return self._k("plan", "")

    def plan_endpoints(self, g: int) -> bytes:
        return self._k("pe", f"{g:0{GEN_WIDTH}d}", "")

    def plan_endpoint(self, g: int, name: str) -> bytes:
        return self._k("pe", f"{g:0{GEN_WIDTH}d}", name)

    @property
    def plan_endpoint_roots(self) -> bytes:
        return self._k("pe", "")

    def blob(self, digest: str) -> bytes:
        return self._k("content", digest)

    @property
    def blobs(self) -> bytes:
        return self._k("content", "")

    def plan_map(self, g: int, chunk: int) -> bytes:
        return self._k("pm", f"{g:0{GEN_WIDTH}d}", f"{chunk:06d}")

    def plan_maps(self, g: int) -> bytes:
        return self._k("pm", f"{g:0{GEN_WIDTH}d}", "")

    @property
    def plan_map_roots(self) -> bytes:
        return self._k("pm", "")

    def start(self, g: int, name: str) -> bytes:
        return self._k("rs", f"{g:0{GEN_WIDTH}d}", name)

    def starts_from(self, g: int) -> bytes:
        """The first span-start key of generation g (the end of those below it)."""
        return self._k("rs", f"{g:0{GEN_WIDTH}d}", "")

    @property
    def starts(self) -> bytes:
        return self._k("rs", "")

    def ref(self, digest: str, g: int, name: str) -> bytes:
        return self._k("ref", digest, f"{g:0{GEN_WIDTH}d}", name)

    def refs(self, digest: str) -> bytes:
        return self._k("ref", digest, "")

    @property
    def all_refs(self) -> bytes:
        return self._k("ref", "")

    def gc_entry(self, unique: str) -> bytes:
        return self._k("gcq", unique)

    @property
    def gc_queue(self) -> bytes:
        return self._k("gcq", "")

    def zone(self, name: str) -> bytes:
        return self._k("zone", name)

    def change(self, unique: str) -> bytes:
        return self._k("changes", unique)

    @property
    def changes(self) -> bytes:
        return self._k("changes", "")

    @property
    def changes_floor(self) -> bytes:
        return self._k("meta", "changes_floor")

    @property
    def zones(self) -> bytes:
        return self._k("zone", "")

    def rollback(self, name: str) -> bytes:
        return self._k("rollback", name)

    def lock(self, name: str) -> bytes:
        return self._k("lock", name)

    def pin(self, name: str) -> bytes:
        return self._k("pin", name)

    @property
    def pins(self) -> bytes:
        return self._k("pin", "")

    def beat(self, actor: str) -> bytes:
        return self._k("beat", actor)

    @property
    def beats(self) -> bytes:
        return self._k("beat", "")

    def health(self, key: str) -> bytes:
        """Health state (stores/health_state.py): holds, vantage reports, status."""
        return self._k("health", key)

    def audit(self, unique: str) -> bytes:
        return self._k("audit", unique)

    @property
    def audits(self) -> bytes:
        return self._k("audit", "")

    def tail(self, key: bytes, collection: bytes) -> str:
        """The name part of a key inside `collection` (e.g. the endpoint of a zone key)."""
        return key[len(collection) :].decode()

    def start_of(self, key: bytes) -> tuple[Generation, EndpointName]:
        """(generation, name) of a span-start key."""
        gen, _, name = self.tail(key, self.starts).partition("/")
        try:
            return Generation(int(gen)), EndpointName(name)
        except ValueError as exc:
            raise StoreCorrupt(f"etcd key {key!r} is no span start") from exc

    def generation_of(self, key: bytes, collection: bytes) -> Generation:
        try:
            return Generation(int(self.tail(key, collection).split("/")[0]))
        except ValueError as exc:
            raise StoreCorrupt(f"etcd key {key!r} does not end in a generation") from exc


def dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def loads(raw: bytes, key: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise StoreCorrupt(
            f"etcd key {key.decode(errors='replace')} holds no ZoneWarden JSON; "
            "another program writes under this [store] prefix: choose another prefix"
        ) from exc


def encode_content(content: Content, **extra: object) -> bytes:
    return dumps(
        {
            "d": content.digest,
            "ttl": content.ttl,
            "p": str(content.policy),
            "r": [r.as_json() for r in content.records],
            **extra,
        }
    )


def decode_content(raw: bytes, key: bytes) -> tuple[Content, dict[str, Any]]:
    body = loads(raw, key)
    try:
        rows = tuple(Record(RecordType(t), a, int(w), LbId(lb)) for t, a, w, lb in body["r"])
        ttl, digest = int(body["ttl"]), str(body["d"])
        if not rows and ttl == 0:
            return EMPTY_CONTENT, body
        return Content.restore(ttl, Policy(body["p"]), rows, digest), body
    except (KeyError, ValueError, TypeError) as exc:
        raise StoreCorrupt(f"etcd key {key.decode(errors='replace')}: bad content ({exc})") from exc


def generation_prefix(g: int) -> bytes:
    """A zone value starts with this, so byte order of values is generation order."""
    return f"{g:0{GEN_WIDTH}d}".encode()


def encode_zone(g: int, content: Content) -> bytes:
    return generation_prefix(g) + b"|" + encode_content(content, g=g)


def decode_zone(name: str, raw: bytes, key: bytes) -> ZoneEntry:
    content, body = decode_content(raw.partition(b"|")[2], key)
    try:
        return ZoneEntry(EndpointName(name), Generation(int(body["g"])), content)
    except (KeyError, ValueError) as exc:
        raise StoreCorrupt(f"etcd key {key.decode(errors='replace')}: no generation") from exc
