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
from typing import Any

from zonewarden.core.cleanup import summarise
from zonewarden.core.gates import require_valid
from zonewarden.core.model import (
    NO_GENERATION,
    Content,
    EndpointName,
    Generation,
    Plan,
    PlanDraft,
    PlanHeader,
)
from zonewarden.core.outcomes import CleanupIndex, CleanupResult, PlanIndex
from zonewarden.errors import NotFound, NotLeader, StoreUnavailable, check_expected
from zonewarden.ports import AuditEvent, AuditQuery, Heartbeat
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.base import AUDIT_SLOTS, Conflict, _chunks
from zonewarden.stores.etcd.keys import (
    dumps,
    encode_content,
    loads,
)
from zonewarden.stores.etcd.legacy import LegacyOps
from zonewarden.stores.etcd.zone import ZoneOps
from zonewarden.stores.health_state import HealthStateOps

CHANGE_LOG_KEEP = 1024  # change-log entries clean-up keeps (one per content-changing Txn)
PUBLISH_ATTEMPTS = 5  # chunked publishes overtaken by newer plans before giving up


class EtcdStore(ZoneOps, LegacyOps, HealthStateOps):
    """A RegionStore on an etcd v3 cluster; safe to share between processes and hosts."""

    # compares every publish Txn adds: a planner's leader lease (stores/etcd/leader.py)
    publish_fence: tuple[dict[str, Any], ...] = ()

    def _check_fence(self) -> None:
        if self.publish_fence and not self.client.txn(list(self.publish_fence), []).succeeded:
            raise NotLeader(
                f"not publishing: this planner does not hold the leader lease on "
                f"{self.client.describe()} (another planner leads, or the lease lapsed)"
            )

    # -- plans ---------------------------------------------------------------------------
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
        if len(draft.endpoints) + 3 > self.max_txn_ops:
            return self._publish_in_chunks(
                draft,
                source=source,
                actor=actor,
                now=now,
                min_generation=min_generation,
                expect_newest=expect_newest,
            )
        k = self.keys
        fence = self._newest_is(expect_newest)

        def attempt() -> Plan:
            self._check_fence()
            check_expected(expect_newest, self.newest())
            counter = self._one(self._read([ec.get(k.next_gen)])[1][0])
            stored = int(counter.value) if counter is not None else 1
            g = Generation(max(stored, min_generation))
            header = {
                "digest": draft.digest,
                "created_at": now,
                "source": source,
                "count": len(draft.endpoints),
            }
            ops = [ec.put(k.next_gen, str(g + 1).encode()), ec.put(k.plan(g), dumps(header))]
            ops += [
                ec.put(k.plan_endpoint(g, n), encode_content(c)) for n, c in draft.endpoints.items()
            ]
            audit = [("publish", "", g, f"{len(draft.endpoints)} endpoints")]
            self._commit(
                [ec.compare_mod(k.next_gen, self._mod(counter)), *fence, *self.publish_fence],
                ops + self._audit_op(actor, now, audit),
            )
            return Plan(g, draft.endpoints, draft.digest, created_at=now, source=source)

        return self._retrying("publish", attempt)

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
        write its endpoints in Txn-sized chunks while it is still invisible, then make it
        visible by writing its header. Readers find plans by header only, so nobody sees
        half a plan. The header Txn compares that no higher header exists (headers stay
        strictly increasing, so a generation below the newest header can never become
        visible) and that the first chunk is still there (no sweep took it); if either
        fails, the plan is written again under a fresh generation. A publisher that dies
        before the header leaves a skipped generation and invisible endpoint keys, which
        clean-up sweeps once a higher header exists (`_sweep_unpublished`)."""
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

        def reserve() -> Generation:
            counter = self._one(self._read([ec.get(k.next_gen)])[1][0])
            stored = int(counter.value) if counter is not None else 1
            g = Generation(max(stored, min_generation))
            self._commit(
                [ec.compare_mod(k.next_gen, self._mod(counter))],
                [ec.put(k.next_gen, str(g + 1).encode())],
            )
            return g

        g = self._retrying("publish", reserve)
        items = list(draft.endpoints.items())
        step = max(1, self.max_txn_ops - 1)
        first_at = 0
        for i in range(0, len(items), step):
            chunk = [
                ec.put(k.plan_endpoint(g, n), encode_content(c)) for n, c in items[i : i + step]
            ]
            written_at = self._commit([], chunk)
            first_at = first_at or written_at
        header = {"digest": draft.digest, "created_at": now, "source": source, "count": len(items)}
        audit = [("publish", "", g, f"{len(items)} endpoints in {-(-len(items) // step)} chunks")]
        compares = [
            ec.compare_none_in(k.plan(g + 1), ec.prefix_end(k.plans)),
            ec.compare_mod(k.plan_endpoint(g, items[0][0]), first_at),
            *self._newest_is(expect_newest),
            *self.publish_fence,
        ]
        try:
            self._commit(
                compares, [ec.put(k.plan(g), dumps(header)), *self._audit_op(actor, now, audit)]
            )
        except Conflict:
            return None  # a newer plan is visible: g never can be; its keys are an orphan
        return Plan(g, draft.endpoints, draft.digest, created_at=now, source=source)

    def newest(self) -> Generation:
        op = ec.get(self.keys.plans, prefix=True, keys_only=True)
        op["request_range"].update(sort_order="DESCEND", sort_target="KEY", limit="1")
        kvs = self._read([op])[1][0]
        return self.keys.generation_of(kvs[0].key, self.keys.plans) if kvs else NO_GENERATION

    def header(self, generation: Generation) -> PlanHeader | None:
        return self._header(
            generation, self._one(self._read([ec.get(self.keys.plan(generation))])[1][0])
        )

    def plan(self, generation: Generation) -> Plan | None:
        _, (head, pes) = self._read(
            [
                ec.get(self.keys.plan(generation)),
                ec.get(self.keys.plan_endpoints(generation), prefix=True),
            ]
        )
        header = self._header(generation, self._one(head))
        if header is None:
            return None
        endpoints = self._plan_contents(generation, pes)
        return Plan(generation, endpoints, header.digest, header.created_at, header.source)

    def contents(
        self, generation: Generation, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, Content]:
        k, g = self.keys, generation
        wanted = None if names is None else list(names)
        if wanted is None or len(wanted) > self.batch:
            ops = [ec.get(k.plan(g)), ec.get(k.plan_endpoints(g), prefix=True)]
        else:
            ops = [ec.get(k.plan(g))] + [ec.get(k.plan_endpoint(g, n)) for n in wanted]
        _, ranges = self._read(ops)
        if not ranges[0]:
            raise NotFound(f"plan {generation} is not in the store")
        found = self._plan_contents(g, [kv for r in ranges[1:] for kv in r])
        if wanted is None:
            return found
        return {n: found[n] for n in wanted if n in found}

    def plan_names(self, generation: Generation) -> tuple[EndpointName, ...]:
        base = self.keys.plan_endpoints(generation)
        kvs = self._read([ec.get(base, prefix=True, keys_only=True)])[1][0]
        return tuple(EndpointName(self.keys.tail(kv.key, base)) for kv in kvs)

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
        names: tuple[EndpointName, ...] = ()
        if gens:
            base = k.plan_endpoints(gens[-1])
            kvs = self._read([ec.get(base, prefix=True, keys_only=True)], revision=rev)[1][0]
            names = tuple(EndpointName(k.tail(kv.key, base)) for kv in kvs)
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
            kept_new = [g for g in wanted if g in present and g == newest]
            kept_ref = [g for g in wanted if g in present and g != newest and g in referenced]
            doomed = [g for g in wanted if g in present and g != newest and g not in referenced]
            chunk = doomed[: self.batch]
            compares = [ec.compare_unchanged_since(k.zones, rev)]
            compares += [ec.compare_mod(k.plan(g), present[g].mod_revision) for g in chunk]
            ops = [
                op
                for g in chunk
                for op in (ec.delete(k.plan(g)), ec.delete(k.plan_endpoints(g), prefix=True))
            ]
            last = len(chunk) == len(doomed)
            if last and (deleted or chunk or kept_ref):
                detail = f"deleted {deleted + chunk} kept referenced {kept_ref}"
                ops += self._audit_op(actor, now, [("cleanup", "", 0, detail)])
            if ops:
                self._commit(compares, ops)
            deleted.extend(chunk)
            if not last:
                raise Conflict()  # not a conflict: the next chunk needs a fresh snapshot
            return CleanupResult(tuple(deleted), tuple(kept_ref), tuple(kept_new))

        result = self._retrying("clean-up", attempt)
        self._sweep_unpublished(actor=actor, now=now)
        self._prune_change_log()
        return result

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
        small range per generation present under `pe/`."""
        k = self.keys
        rev, (plans,) = self._read([ec.get(k.plans, prefix=True, keys_only=True)])
        headed = self._generations(plans)
        newest = max(headed, default=NO_GENERATION)
        end = ec.prefix_end(k.plan_endpoint_roots)
        orphans: list[Generation] = []
        start = k.plan_endpoint_roots
        while True:
            found = self._read([ec.first_key(start, end)], revision=rev)[1][0]
            if not found:
                break
            g = k.generation_of(found[0].key, k.plan_endpoint_roots)
            if g >= newest:
                break  # the newest plan, or a publish that may still be in progress
            if g not in headed:
                orphans.append(g)
            start = k.plan_endpoints(g + 1)
        for chunk in _chunks(orphans, self.batch):
            # still headerless, and the header that makes them unpublishable still exists
            compares = [ec.compare_created(k.plan(newest))]
            compares += [ec.compare_mod(k.plan(g), 0) for g in chunk]
            ops = [ec.delete(k.plan_endpoints(g), prefix=True) for g in chunk]
            detail = f"deleted endpoint keys of unpublished generations {list(chunk)}"
            ops += self._audit_op(actor, now, [("sweep", "", 0, detail)])
            try:
                self._commit(compares, ops)
            except Conflict:
                return ()  # the newest plan went (legacy clean-up): the next clean-up decides
        return tuple(orphans)

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
