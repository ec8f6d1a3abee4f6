"""Publishing plans into the etcd store's content-addressed layout.

A publish writes (see `keys.py`): the contents no kept plan stored yet (`content/<d>`,
once each), the plan's map of digests (`pm/<gen>/...`), a span start (`rs/<gen>/<name>`
and `ref/<d>/<gen>/<name>`) for every endpoint whose digest differs from the plan
before it (its *predecessor*: the newest header when this one becomes visible), then the
header, which makes the plan visible, and `meta/head`.

Rules kept here (clean-up's side is `gc.py`):
- coverage: every endpoint of every kept plan is covered by a span start at or below
  the plan whose span (the plans from the start on that give the endpoint the same
  digest) reaches it. A publish relies on its predecessor's coverage for endpoints it
  leaves unchanged, so its header Txn compares that the predecessor is still the newest
  header ever made visible (`meta/head` unchanged) and still exists; if either fails it
  computes the starts again against the new predecessor (extra starts are harmless);
- the Txn that writes a start also puts the content it names (content-addressed: the
  same bytes if it is stored already), so no content key is missing while a start
  names it: clean-up's delete compares that the content's ref keys did not change, so
  it either commits before this Txn (which then writes the content again) or fails;
- a plan that fits one Txn is one Txn; a larger one reserves its generation, writes its
  map and starts in Txn-sized chunks while it is invisible, and is made visible by its
  header last, only if no higher header exists (`_publish_in_chunks`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

from zonewarden.core.gates import require_valid
from zonewarden.core.model import (
    NO_GENERATION,
    Content,
    EndpointName,
    Generation,
    Plan,
    PlanDraft,
)
from zonewarden.errors import NotLeader, StoreUnavailable, check_expected
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.base import Conflict, _chunks
from zonewarden.stores.etcd.content import ContentReads
from zonewarden.stores.etcd.keys import dumps, encode_content
from zonewarden.stores.etcd.ops import KV, Json

PUBLISH_ATTEMPTS = 5  # chunked publishes overtaken by newer plans before giving up
HEADER_ATTEMPTS = 20  # header Txns of one chunked publish that lost to a new predecessor
MAP_CHUNK = 256  # endpoints per map key (~20 KB of JSON, ~9 KB deflated)
MAP_LEVEL = 6  # zlib's default level: level 9 saves ~1% more for twice the CPU
TXN_BYTES = 1_000_000  # payload per Txn, under etcd's default --max-request-bytes 1.5 MiB
LAYOUT = "digests"  # the header's mark of a plan stored as a map of digests (schema 3)

Item = tuple[EndpointName, Content]


def _map_values(items: Sequence[Item]) -> list[bytes]:
    """The map chunks' values: compact JSON, deflated (names share their suffixes and
    digests are hex, so a chunk shrinks to about half its JSON)."""
    return [
        zlib.compress(dumps({n: c.digest for n, c in chunk}), MAP_LEVEL)
        for chunk in _chunks(list(items), MAP_CHUNK)
    ]


class PlanWrites(ContentReads):
    # compares every publish Txn adds: a planner's leader lease (stores/etcd/leader.py)
    publish_fence: tuple[dict[str, Any], ...] = ()

    def _check_fence(self) -> None:
        if self.publish_fence and not self.client.txn(list(self.publish_fence), []).succeeded:
            raise NotLeader(
                f"not publishing: this planner does not hold the leader lease on "
                f"{self.client.describe()} (another planner leads, or the lease lapsed)"
            )

    def publish(
        self,
        draft: PlanDraft,
        *,
        source: str,
        actor: str,
        now: float,
        min_generation: int = 0,
        expect_newest: int | None = None,
    ) -> Plan:
        require_valid(draft)
        items = list(draft.endpoints.items())
        k = self.keys
        fence = self._newest_is(expect_newest)

        def attempt() -> Plan | None:
            self._check_fence()
            check_expected(expect_newest, self.newest())
            rev, (counter_r, head_r, newest_r) = self._read(
                [ec.get(k.next_gen), ec.get(k.head), self._newest_op()]
            )
            counter = self._one(counter_r)
            stored = int(counter.value) if counter is not None else 1
            g = Generation(max(stored, min_generation))
            held, prev = self._predecessor(self._one(head_r), self._one(newest_r), rev)
            starts = [(n, c) for n, c in items if prev.get(n) != c.digest]
            if 2 * len(starts) > self.max_txn_ops:
                return None  # too big for one Txn: publish in chunks
            data = self._start_ops(g, starts)
            maps = _map_values(items)
            header = self._header_value(draft, now, source, len(maps))
            ops = [
                ec.put(k.next_gen, str(g + 1).encode()),
                ec.put(k.plan(g), header),
                ec.put(k.head, str(g).encode()),
                *(ec.put(k.plan_map(g, i), v) for i, v in enumerate(maps)),
                *data,
                *self._audit_op(actor, now, [("publish", "", g, f"{len(items)} endpoints")]),
            ]
            compares = [
                ec.compare_mod(k.next_gen, self._mod(counter)),
                *held,
                *fence,
                *self.publish_fence,
            ]
            size = sum(len(v) for v in maps) + len(starts) * 700
            if max(len(ops), len(compares)) > self.max_txn_ops or size > TXN_BYTES:
                return None  # too big for one Txn: publish in chunks
            self._commit(compares, ops)
            return Plan(g, draft.endpoints, draft.digest, created_at=now, source=source)

        plan = self._retrying("publish", attempt)
        if plan is not None:
            return plan
        return self._publish_in_chunks(
            draft,
            source=source,
            actor=actor,
            now=now,
            min_generation=min_generation,
            expect_newest=expect_newest,
        )

    def newest(self) -> Generation:
        op = ec.get(self.keys.plans, prefix=True, keys_only=True)
        op["request_range"].update(sort_order="DESCEND", sort_target="KEY", limit="1")
        kvs = self._read([op])[1][0]
        return self.keys.generation_of(kvs[0].key, self.keys.plans) if kvs else NO_GENERATION

    def _header_value(self, draft: PlanDraft, now: float, source: str, chunks: int) -> bytes:
        return dumps(
            {
                "digest": draft.digest,
                "created_at": now,
                "source": source,
                "count": len(draft.endpoints),
                "layout": LAYOUT,
                "chunks": chunks,
            }
        )

    def _newest_op(self, below: int | None = None) -> Json:
        """The newest header (below generation `below` if given)."""
        k = self.keys
        end = ec.prefix_end(k.plans) if below is None else k.plan(below)
        op = ec.get_range(k.plans, end, limit=1)
        op["request_range"].update(sort_order="DESCEND", sort_target="KEY")
        return op

    def _predecessor(
        self, head: KV | None, newest: KV | None, rev: int
    ) -> tuple[list[Json], dict[EndpointName, str]]:
        """The compares that keep `newest` this publish's predecessor, and the digests
        the publish may rely on it to cover ({} when there is none to rely on: no plan,
        a schema-2 plan, or a newer plan was visible once and is gone)."""
        k = self.keys
        compares = [ec.compare_mod(k.head, self._mod(head))]
        if newest is None:
            return compares, {}
        p = k.generation_of(newest.key, k.plans)
        compares.append(ec.compare_mod(k.plan(p), newest.mod_revision))
        if head is None or head.value != str(p).encode():
            return compares, {}
        if loads_layout(newest) != LAYOUT:
            return compares, {}
        return compares, self._digest_map(p, rev) or {}

    def _start_ops(self, g: int, starts: Sequence[Item]) -> list[Json]:
        """The puts of plan g's span starts `starts`: the content each names (put even
        if stored: content-addressed, so the same bytes, and a delete racing this Txn
        then either sees its ref key or is undone by it), one ref key per start, and
        one packed start key for the lot (`rs/<gen>/<first name>`, deflated like a map
        chunk). Two operations per start, one more per Txn; no read, no compare."""
        k = self.keys
        ops: list[Json] = []
        seen: set[str] = set()
        for name, content in starts:
            d = content.digest
            if d not in seen:
                seen.add(d)
                ops.append(ec.put(k.blob(d), encode_content(content)))
            ops.append(ec.put(k.ref(d, g, name), b""))
        if starts:
            packed = zlib.compress(dumps({n: c.digest for n, c in starts}), MAP_LEVEL)
            ops.append(ec.put(k.start(g, starts[0][0]), packed))
        return ops

    def _newest_is(self, expect_newest: int | None) -> list[dict[str, object]]:
        """The compare of a compare-and-set publish: no plan header above the expected."""
        if expect_newest is None:
            return []
        k = self.keys
        return [ec.compare_none_in(k.plan(expect_newest + 1), ec.prefix_end(k.plans))]

    def _publish_in_chunks(
        self,
        draft: PlanDraft,
        *,
        source: str,
        actor: str,
        now: float,
        min_generation: int,
        expect_newest: int | None = None,
    ) -> Plan:
        """A plan larger than one Txn: reserve its generation (compare on the counter),
        write its map and span starts in Txn-sized chunks while it is still invisible,
        then make it visible by writing its header. Readers find plans by header only,
        so nobody sees half a plan. The header Txn compares that no higher header exists
        (headers stay strictly increasing, so a generation below the newest header can
        never become visible), that the first map chunk is still there (no sweep took
        it) and that its predecessor is unchanged (else it writes the starts the new
        predecessor needs and tries again); if a higher header appeared, the plan is
        written again under a fresh generation. A publisher that dies before the header
        leaves a skipped generation and invisible keys, which clean-up sweeps once a
        higher header exists (`_sweep_unpublished`, and `gc.py` for its starts)."""
        for _ in range(PUBLISH_ATTEMPTS):
            self._check_fence()
            check_expected(expect_newest, self.newest())
            plan = self._publish_chunked_once(
                draft, source, actor, now, min_generation, expect_newest
            )
            if plan is not None:
                return plan
        raise StoreUnavailable(
            f"publish of a {len(draft.endpoints)}-endpoint plan lost {PUBLISH_ATTEMPTS} times "
            f"to newer plans published while it wrote its chunks on {self.client.describe()}; "
            "retry later, or publish from one planner at a time"
        )

    def _reserve(self, min_generation: int) -> Generation:
        k = self.keys

        def reserve() -> Generation:
            counter = self._one(self._read([ec.get(k.next_gen)])[1][0])
            stored = int(counter.value) if counter is not None else 1
            g = Generation(max(stored, min_generation))
            self._commit(
                [ec.compare_mod(k.next_gen, self._mod(counter))],
                [ec.put(k.next_gen, str(g + 1).encode())],
            )
            return g

        return self._retrying("publish", reserve)

    def _write_map(self, g: int, items: Sequence[Item]) -> int:
        """Plan g's map chunks, as many per Txn as fit; the first one's revision."""
        k = self.keys
        values = _map_values(items)
        per = max(1, min(self.max_txn_ops, TXN_BYTES // max(1, max(len(v) for v in values))))
        first_at = 0
        for start in range(0, len(values), per):
            puts = [ec.put(k.plan_map(g, start + i), v) for i, v in enumerate(values[start:][:per])]
            written_at = self._commit([], puts)
            first_at = first_at or written_at
        return first_at

    def _write_starts(self, g: int, starts: Sequence[Item], written: set[tuple[str, str]]) -> None:
        """The span starts of plan g not written yet, with the contents they name, in
        Txns of at most max_txn_ops operations (2 per start, 1 per Txn)."""
        todo = [(n, c) for n, c in starts if (n, c.digest) not in written]
        for chunk in _chunks(todo, max(1, (self.max_txn_ops - 1) // 2)):
            self._commit([], self._start_ops(g, chunk))
            written.update((n, c.digest) for n, c in chunk)

    def _publish_chunked_once(
        self,
        draft: PlanDraft,
        source: str,
        actor: str,
        now: float,
        min_generation: int,
        expect_newest: int | None = None,
    ) -> Plan | None:
        k = self.keys
        g = self._reserve(min_generation)
        items = list(draft.endpoints.items())
        first_at = self._write_map(g, items)
        chunks = -(-len(items) // MAP_CHUNK)
        header = self._header_value(draft, now, source, chunks)
        written: set[tuple[str, str]] = set()
        for _ in range(HEADER_ATTEMPTS):
            rev, (head_r, above, newest_r) = self._read(
                [
                    ec.get(k.head),
                    ec.get_range(k.plan(g + 1), ec.prefix_end(k.plans), keys_only=True, limit=1),
                    self._newest_op(below=g),
                ]
            )
            if above:
                return None  # a newer plan is visible: g never can be; its keys are an orphan
            held, prev = self._predecessor(self._one(head_r), self._one(newest_r), rev)
            self._write_starts(g, [(n, c) for n, c in items if prev.get(n) != c.digest], written)
            audit = [("publish", "", g, f"{len(items)} endpoints in {chunks} map chunks")]
            compares = [
                ec.compare_none_in(k.plan(g + 1), ec.prefix_end(k.plans)),
                ec.compare_mod(k.plan_map(g, 0), first_at),
                *held,
                *self._newest_is(expect_newest),
                *self.publish_fence,
            ]
            ops = [ec.put(k.plan(g), header), ec.put(k.head, str(g).encode())]
            try:
                self._commit(compares, ops + self._audit_op(actor, now, audit))
            except Conflict:
                continue  # a new predecessor, or overtaken: the next read says which
            return Plan(g, draft.endpoints, draft.digest, created_at=now, source=source)
        return None


def loads_layout(header: KV) -> str:
    """The layout a header names ("" for schema 2's full-copy plans)."""
    try:
        body = json.loads(header.value)
    except ValueError:
        return ""
    return str(body.get("layout", "")) if isinstance(body, dict) else ""
