"""The etcd region store: plans, the live zone and control state in an etcd v3 cluster.

Rules kept here:
- every conditional write is ONE etcd Txn built optimistically: read a snapshot, decide
  exactly as MemoryStore does, then commit with compares that hold only if everything
  the decision read is unchanged (the endpoint's zone key, the freeze flag, the plan's
  key); a failed compare re-reads and decides again, so the fence holds at the moment
  of the write, never at a moment before it;
- the common apply needs no read at all: one Txn comparing "freeze flag is 0, plan g
  exists, every live value < the zero-padded g" (zone values start with their padded
  generation, so etcd's byte-wise VALUE LESS is the numeric fence); when it fails, the
  slow path above reads and decides;
- parts: `base` (reads, commits, retries), `zone` (zone reads and fenced writes),
  `legacy` (the unsafe 2025 mode), this module (plans and control), `client` (HTTP);
- clean-up's delete compares that no zone key changed since the snapshot in which it
  found the plan unreferenced (one range compare over the zone prefix), and an apply
  compares that its plan still exists: whichever commits second re-reads;
- publish assigns the next generation by comparing the counter key's mod_revision;
- the audit rows of a write go in the same Txn as the write; an audit row's seq is its
  etcd create revision x 10,000 + its index in the Txn, so seq order is commit order;
- the zone version is the mod_revision of `meta/zone_version`, touched by every Txn
  that changes an endpoint's served content (with a change-log key naming them, see
  `keys.py`), never by a generation-only advance; so `changed_since` costs one key read
  when nothing changed, reports only content changes, and `watch_zone` wakes a reader
  without polling;
- a Txn holds at most `max_txn_ops` operations (etcd's --max-txn-ops, 128 by default):
  writes over many endpoints are split into Txns that are each safe on their own, and a
  plan larger than one Txn is published in chunks behind a reserved generation and made
  visible by its header last, only if no higher header exists (`_publish_in_chunks`);
  clean-up sweeps the chunks of headerless generations below the newest header
  (`_sweep_unpublished`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from zonewarden.core.cleanup import cleanup_detail, deletable, summarise
from zonewarden.core.model import (
    NO_GENERATION,
    Content,
    EndpointName,
    Generation,
    Plan,
    PlanHeader,
)
from zonewarden.core.outcomes import CleanupIndex, CleanupResult, PlanIndex
from zonewarden.errors import NotFound
from zonewarden.ports import AuditEvent, AuditQuery, Heartbeat
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.base import AUDIT_SLOTS, Conflict, _chunks
from zonewarden.stores.etcd.gc import ContentCheck
from zonewarden.stores.etcd.keys import GEN_WIDTH, dumps, loads
from zonewarden.stores.etcd.legacy import LegacyOps
from zonewarden.stores.etcd.publish import PlanWrites
from zonewarden.stores.etcd.zone import ZoneOps
from zonewarden.stores.health_state import HealthStateOps

CHANGE_LOG_KEEP = 1024  # change-log entries clean-up keeps (one per content-changing Txn)


class EtcdStore(PlanWrites, ZoneOps, LegacyOps, ContentCheck, HealthStateOps):
    """A RegionStore on an etcd v3 cluster; safe to share between processes and hosts."""

    # -- plans (publishing: publish.py; reading: content.py) ------------------------------
    def header(self, generation: Generation) -> PlanHeader | None:
        return self._header(
            generation, self._one(self._read([ec.get(self.keys.plan(generation))])[1][0])
        )

    def plan(self, generation: Generation) -> Plan | None:
        head, endpoints = self._read_plan(generation)
        header = self._header(generation, head)
        if header is None:
            return None
        return Plan(generation, endpoints, header.digest, header.created_at, header.source)

    def contents(
        self, generation: Generation, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, Content]:
        wanted = None if names is None else list(names)
        head = self._one(self._read([ec.get(self.keys.plan(generation))])[1][0])
        cached = self._plan_cached(generation) if head is not None else None
        if cached is None:
            raise NotFound(f"plan {generation} is not in the store")
        if wanted is None:
            return dict(cached)
        return {n: cached[n] for n in wanted if n in cached}

    def plan_names(self, generation: Generation) -> tuple[EndpointName, ...]:
        return self._names_of(generation)

    def index(self) -> PlanIndex:
        k = self.keys
        rev, (plans, zone) = self._read(
            [ec.get(k.plans, prefix=True), ec.get(k.zones, prefix=True)]
        )
        headed = self._generations(plans)
        gens = tuple(sorted(headed))
        created = {}
        for g, kv in headed.items():
            head = self._header(g, kv)
            if head is not None:
                created[g] = head.created_at
        names = self._names_of(gens[-1], rev) if gens else ()
        applied = {n: e.generation for n, (e, _) in self._zone_of(zone).items()}
        return PlanIndex(gens, applied, names, created)

    def cleanup_index(self) -> CleanupIndex:
        return summarise(self.index())  # one consistent read: the index's revision

    def delete_unreferenced(
        self, generations: Sequence[Generation], *, actor: str, now: float
    ) -> CleanupResult:
        k = self.keys
        wanted = sorted(set(generations))
        deleted: list[Generation] = []

        def attempt() -> CleanupResult:
            rev, (plans, zone) = self._read(
                [ec.get(k.plans, prefix=True, keys_only=True), ec.get(k.zones, prefix=True)]
            )
            present = self._generations(plans)
            newest = max(present, default=NO_GENERATION)
            referenced = {e.generation for e, _ in self._zone_of(zone).values()}
            verdict = deletable(wanted, present, newest, referenced)
            doomed, kept_ref = verdict.deleted, verdict.kept_referenced
            chunk = doomed[: max(1, (self.max_txn_ops - 3) // 3)]
            compares = [ec.compare_unchanged_since(k.zones, rev)]
            compares += [ec.compare_mod(k.plan(g), present[g].mod_revision) for g in chunk]
            ops = [op for g in chunk for op in self._plan_deletes(g)]
            if chunk:  # the starts these plans witnessed, for collect_garbage (gc.py)
                order = sorted(present)
                ops.append(self._queue_op([(self._kept_below(order, g), g) for g in chunk]))
            last = len(chunk) == len(doomed)
            if last and (deleted or chunk or kept_ref):
                detail = cleanup_detail([*deleted, *chunk], kept_ref)
                ops += self._audit_op(actor, now, [("cleanup", "", 0, detail)])
            if ops:
                self._commit(compares, ops)
            deleted.extend(chunk)
            if not last:
                raise Conflict()  # not a conflict: the next chunk needs a fresh snapshot
            return CleanupResult(tuple(deleted), kept_ref, verdict.kept_newest)

        result = self._retrying("clean-up", attempt)
        self._sweep_unpublished(actor=actor, now=now)
        self.collect_garbage()
        self._prune_change_log()
        return result

    def _plan_deletes(self, g: int) -> list[dict[str, Any]]:
        """A plan's header and map, in either layout (its contents are gc.py's)."""
        k = self.keys
        return [
            ec.delete(k.plan(g)),
            ec.delete(k.plan_maps(g), prefix=True),
            ec.delete(k.plan_endpoints(g), prefix=True),
        ]

    def _prune_change_log(self) -> None:
        """Keep the newest CHANGE_LOG_KEEP entries of the change log. Each Txn that
        deletes older ones raises `changes_floor` to the newest revision it deletes, and
        compares the floor unchanged since read, so the floor never goes down; a reader of
        a version below the floor reads the whole zone (`changed_since`)."""
        k = self.keys
        _, (log, floor) = self._read(
            [ec.get(k.changes, prefix=True, keys_only=True), ec.get(k.changes_floor)]
        )
        if len(log) <= CHANGE_LOG_KEEP:
            return
        old = sorted(log, key=lambda kv: kv.mod_revision)[: len(log) - CHANGE_LOG_KEEP]
        floor_mod = self._mod(self._one(floor))
        for chunk in _chunks(old, self.max_txn_ops - 1):
            top = max(kv.mod_revision for kv in chunk)
            ops = [ec.put(k.changes_floor, str(top).encode())]
            ops += [ec.delete(kv.key) for kv in chunk]
            try:
                floor_mod = self._commit([ec.compare_mod(k.changes_floor, floor_mod)], ops)
            except Conflict:
                return  # another clean-up is pruning

    def _sweep_unpublished(self, *, actor: str, now: float) -> tuple[Generation, ...]:
        """Delete the endpoint keys of generations that have no header and lie below the
        newest header: a chunked publish that died (or lost) before its header. Such a
        generation can never become visible (its header Txn would compare that no higher
        header exists), so nobody can need its keys; a headerless generation above the
        newest header may still be publishing and is left alone. The walk costs one
        small range per gap between kept generations (`_headerless_below`)."""
        k = self.keys
        rev, (plans,) = self._read([ec.get(k.plans, prefix=True, keys_only=True)])
        headed = self._generations(plans)
        newest = max(headed, default=NO_GENERATION)
        orphans = sorted(
            set(self._headerless_below(k.plan_map_roots, headed, newest, rev))
            | set(self._headerless_below(k.plan_endpoint_roots, headed, newest, rev))
        )
        for chunk in _chunks(orphans, max(1, (self.max_txn_ops - 2) // 2)):
            # still headerless, and the header that makes them unpublishable still exists
            compares = [ec.compare_created(k.plan(newest))]
            compares += [ec.compare_mod(k.plan(g), 0) for g in chunk]
            ops = [
                ec.delete(root, prefix=True)
                for g in chunk
                for root in (k.plan_maps(g), k.plan_endpoints(g))
            ]
            detail = f"deleted endpoint keys of unpublished generations {list(chunk)}"
            ops += self._audit_op(actor, now, [("sweep", "", 0, detail)])
            try:
                self._commit(compares, ops)
            except Conflict:
                return ()  # the newest plan went (legacy clean-up): the next clean-up decides
        return tuple(orphans)

    def _headerless_below(
        self, roots: bytes, headed: dict[Generation, Any], newest: int, rev: int
    ) -> list[Generation]:
        """Generations with keys under `roots` (`pm/` or `pe/`) but no header, below
        `newest`: looked for only in the gaps between kept generations, one small range
        per gap (and per orphan found), so a long kept history costs nothing here."""
        k = self.keys
        kept = [0, *sorted(g for g in headed if g <= newest)]
        found_gens: list[Generation] = []
        for lo, hi in pairwise(kept):
            start, end = roots + _gen(lo + 1), roots + _gen(hi)
            while hi - lo > 1:
                found = self._read([ec.first_key(start, end)], revision=rev)[1][0]
                if not found:
                    break
                g = k.generation_of(found[0].key, roots)
                found_gens.append(g)
                start = roots + _gen(g + 1)
        return found_gens

    # -- control -------------------------------------------------------------------------
    def frozen(self) -> bool:
        return self._is_frozen(self._one(self._read([ec.get(self.keys.frozen)])[1][0]))

    def set_frozen(self, frozen: bool, *, actor: str, now: float, reason: str = "") -> None:
        audit = [("freeze" if frozen else "unfreeze", "", 0, reason)]
        self._commit(
            [],
            [
                ec.put(self.keys.frozen, b"1" if frozen else b"0"),
                *self._audit_op(actor, now, audit),
            ],
        )

    def pins(self) -> dict[EndpointName, Generation]:
        kvs = self._read([ec.get(self.keys.pins, prefix=True)])[1][0]
        return {
            EndpointName(self.keys.tail(kv.key, self.keys.pins)): Generation(int(kv.value))
            for kv in kvs
        }

    def set_pin(
        self, name: EndpointName, generation: Generation | None, *, actor: str, now: float
    ) -> None:
        key = self.keys.pin(name)
        if generation is None:
            ops = [ec.delete(key), *self._audit_op(actor, now, [("unpin", name, 0, "")])]
        else:
            ops = [
                ec.put(key, str(generation).encode()),
                *self._audit_op(actor, now, [("pin", name, generation, "")]),
            ]
        self._commit([], ops)

    def beat(self, heartbeat: Heartbeat) -> None:
        h = heartbeat
        self._commit(
            [], [ec.put(self.keys.beat(h.actor), dumps([h.at, h.generation, h.phase, h.detail]))]
        )

    def heartbeats(self) -> list[Heartbeat]:
        kvs = self._read([ec.get(self.keys.beats, prefix=True)])[1][0]
        out = []
        for kv in kvs:
            at, g, phase, detail = loads(kv.value, kv.key)
            out.append(Heartbeat(self.keys.tail(kv.key, self.keys.beats), at, g, phase, detail))
        return out

    def record(
        self,
        actor: str,
        kind: str,
        *,
        now: float,
        endpoint: str = "",
        generation: int = 0,
        detail: str = "",
    ) -> None:
        self._commit([], self._audit_op(actor, now, [(kind, endpoint, generation, detail)]))

    def audit_log(self, *, after: int = 0, limit: int = 1000) -> list[AuditEvent]:
        op = ec.get(self.keys.audits, prefix=True)
        op["request_range"].update(
            sort_order="ASCEND", sort_target="CREATE", min_create_revision=str(after // AUDIT_SLOTS)
        )
        out: list[AuditEvent] = []
        for kv in self._read([op])[1][0]:
            for i, row in enumerate(loads(kv.value, kv.key)):
                seq = kv.create_revision * AUDIT_SLOTS + i
                if seq > after:
                    at, actor, kind, endpoint, g, detail = row
                    out.append(AuditEvent(seq, at, actor, kind, endpoint, g, detail))
            if len(out) >= limit:
                break
        return out[:limit]

    def audit_page(
        self,
        *,
        limit: int,
        after: int = 0,
        before: int | None = None,
        since: float = 0.0,
        kinds: tuple[str, ...] = (),
        newest_first: bool = True,
    ) -> list[AuditEvent]:
        """Ranges over the audit keys in create-revision order, `limit` keys per read
        (each key holds one Txn's rows), from the `after`/`before` revisions inward, and
        stops once the page is full; the filter is AuditQuery's."""
        query = AuditQuery(after, before, since, tuple(kinds))
        want = max(0, limit)
        low = after // AUDIT_SLOTS  # create revisions bounding the seq range
        high = None if before is None else before // AUDIT_SLOTS
        out: list[AuditEvent] = []
        while len(out) < want:
            if high is not None and high < max(low, 1):  # 0 would mean "no bound" to etcd
                break
            op = ec.get(self.keys.audits, prefix=True)
            bounds: dict[str, str] = {"min_create_revision": str(low)}
            if high is not None:
                bounds["max_create_revision"] = str(high)
            op["request_range"].update(
                sort_order="DESCEND" if newest_first else "ASCEND",
                sort_target="CREATE",
                limit=str(max(want, 16)),
                **bounds,
            )
            kvs = self._read([op])[1][0]
            for kv in kvs:
                rows = [
                    AuditEvent(kv.create_revision * AUDIT_SLOTS + i, *row)
                    for i, row in enumerate(loads(kv.value, kv.key))
                ]
                out += [e for e in (rows[::-1] if newest_first else rows) if query.keeps(e)]
            if len(kvs) < max(want, 16):
                break
            if newest_first:
                high = kvs[-1].create_revision - 1
            else:
                low = kvs[-1].create_revision + 1
        return out[:want]

    # -- health state (stores/health_state.py) ------------------------------------------
    def _health_write(
        self, key: str, value: str | None, audit: tuple[str, str, float, str] | None
    ) -> None:
        target = self.keys.health(key)
        ops = [ec.delete(target) if value is None else ec.put(target, value.encode())]
        if audit is not None:
            kind, actor, now, detail = audit
            ops += self._audit_op(actor, now, [(kind, "", 0, detail)])
        self._commit([], ops)

    def _health_read(self, prefix: str) -> dict[str, str]:
        kvs = self._read([ec.get(self.keys.health(prefix), prefix=True)])[1][0]
        base = self.keys.health("")
        return {self.keys.tail(kv.key, base): kv.value.decode() for kv in kvs}


def _gen(g: int) -> bytes:
    return f"{g:0{GEN_WIDTH}d}/".encode()
