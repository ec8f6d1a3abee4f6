"""The etcd region store: plans, the live zone and control state in an etcd v3 cluster.

Rules kept here:
- every conditional write is ONE etcd Txn built optimistically: read a snapshot, decide
  exactly as MemoryStore does, then commit with compares that hold only if everything
  the decision read is unchanged (the endpoint's zone key, the freeze flag, the plan's
  key); a failed compare re-reads and decides again, so the fence holds at the moment
  of the write, never at a moment before it;
- clean-up's delete compares that no zone key changed since the snapshot in which it
  found the plan unreferenced (one range compare over the zone prefix), and an apply
  compares that its plan still exists: whichever commits second re-reads;
- publish assigns the next generation by comparing the counter key's mod_revision;
- the audit rows of a write go in the same Txn as the write; an audit row's seq is its
  etcd create revision x 10,000 + its index in the Txn, so seq order is commit order;
- the zone version is the mod_revision of `meta/zone_version`, touched by every zone
  write, so `changed_since` costs one key read when nothing changed and `watch_zone`
  wakes a reader without polling;
- a Txn holds at most `max_txn_ops` operations (etcd's --max-txn-ops, 128 by default):
  writes over many endpoints are split into Txns that are each safe on their own.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from zonewarden.core.gates import content_valid
from zonewarden.core.model import (
    EMPTY_CONTENT,
    NO_GENERATION,
    Content,
    EndpointName,
    Generation,
    Plan,
    PlanDraft,
    PlanHeader,
    ZoneEntry,
)
from zonewarden.core.outcomes import CleanupResult, Outcome, PlanIndex
from zonewarden.errors import ConfigError, NotFound, StoreCorrupt, StoreUnavailable
from zonewarden.ports import AuditEvent, Heartbeat
from zonewarden.stores.etcd import client as ec
from zonewarden.stores.etcd.client import KV, EtcdClient, Json
from zonewarden.stores.etcd.keys import (
    SCHEMA_VERSION,
    Keys,
    decode_content,
    decode_zone,
    dumps,
    encode_content,
    encode_zone,
    generation_prefix,
    loads,
)
from zonewarden.stores.memory import require_valid

T = TypeVar("T")
AUDIT_SLOTS = 10_000
PLAN_CACHE = 16  # plans kept in memory per process (immutable, so never stale)
MAX_ATTEMPTS = 200
Audit = tuple[str, str, int, str]  # kind, endpoint, generation, detail


class Conflict(Exception):
    """A compare failed: somebody wrote what this decision read. Re-read and retry."""


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class EtcdStore:
    """A RegionStore on an etcd v3 cluster; safe to share between processes and hosts."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        prefix: str = "/zonewarden",
        timeout: float = 3.0,
        max_txn_ops: int = 128,
        open_timeout: float = 10.0,
    ) -> None:
        self.client = EtcdClient(endpoints, timeout=timeout)
        self.keys = Keys(prefix)
        self.max_txn_ops = max_txn_ops
        self.batch = max(1, (max_txn_ops - 3) // 2)  # endpoints per Txn: 2 ops each + fixed
        self._pinned = threading.local()
        self._plans: dict[Generation, dict[EndpointName, Content]] = {}
        deadline = time.monotonic() + open_timeout
        while True:  # a process may start while the cluster elects a leader: wait a little
            try:
                self._check_schema()
                break
            except StoreUnavailable:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def _check_schema(self) -> None:
        k = self.keys.schema
        res = self.client.txn(  # create-if-absent: safe to resend, so idempotent
            [ec.compare_mod(k, 0)],
            [ec.put(k, SCHEMA_VERSION.encode()), ec.put(self.keys.frozen, b"0")],
            [ec.get(k)],
            idempotent=True,
        )
        if not res.succeeded:
            found = res.ranges[0][0].value.decode(errors="replace") if res.ranges[0] else "?"
            if found != SCHEMA_VERSION:
                raise StoreCorrupt(
                    f"etcd prefix {self.keys.prefix} at {self.client.describe()} holds schema "
                    f"{found!r}, this ZoneWarden reads {SCHEMA_VERSION}: use another [store] prefix"
                )

    def close(self) -> None:
        self.client.close()

    # -- reading and committing ------------------------------------------------------------
    def _read(self, ops: list[dict[str, Any]], revision: int = 0) -> tuple[int, list[list[KV]]]:
        res = self.client.read(ops, revision=revision or getattr(self._pinned, "rev", 0))
        return res.revision, res.ranges

    @contextlib.contextmanager
    def _consistent(self) -> Iterator[None]:
        if getattr(self._pinned, "rev", 0):
            yield
            return
        self._pinned.rev, _ = self._read([ec.get(self.keys.schema)])
        try:
            yield
        finally:
            self._pinned.rev = 0

    def consistent_read(self) -> contextlib.AbstractContextManager[None]:
        """Group several reads into one snapshot: `with store.consistent_read(): ...`."""
        return self._consistent()

    def _commit(self, compares: list[dict[str, Any]], ops: list[dict[str, Any]]) -> int:
        res = self.client.txn(compares, ops)
        if not res.succeeded:
            raise Conflict()
        return res.revision

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        for n in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except Conflict:
                time.sleep(min(0.05, 0.0005 * 2 ** min(n, 7)))
        raise StoreUnavailable(
            f"{what}: {MAX_ATTEMPTS} attempts lost their compare to concurrent writers on "
            f"{self.client.describe()}; retry later"
        )

    def _audit_op(self, actor: str, now: float, rows: Sequence[Audit]) -> list[dict[str, Any]]:
        if not rows:
            return []
        body = [[now, actor, kind, ep, g, detail] for kind, ep, g, detail in rows]
        return [ec.put(self.keys.audit(uuid.uuid4().hex), dumps(body))]

    def _zone_put(self, g: int, name: str, content: Content) -> dict[str, Any]:
        return ec.put(self.keys.zone(name), encode_zone(g, content))

    def _bump_zone(self) -> dict[str, Any]:
        return ec.put(self.keys.zone_version, b"")

    @staticmethod
    def _one(kvs: list[KV]) -> KV | None:
        return kvs[0] if kvs else None

    @staticmethod
    def _mod(kv: KV | None) -> int:
        return kv.mod_revision if kv is not None else 0

    def _is_frozen(self, kv: KV | None) -> bool:
        return kv is not None and kv.value == b"1"

    def _zone_of(self, kvs: list[KV]) -> dict[EndpointName, tuple[ZoneEntry, KV]]:
        out = {}
        for kv in kvs:
            name = self.keys.tail(kv.key, self.keys.zones)
            out[EndpointName(name)] = (decode_zone(name, kv.value, kv.key), kv)
        return out

    # -- plans ---------------------------------------------------------------------------
    def publish(
        self, draft: PlanDraft, *, source: str, actor: str, now: float, min_generation: int = 0
    ) -> Plan:
        require_valid(draft)
        if len(draft.endpoints) + 3 > self.max_txn_ops:
            raise ConfigError(
                f"a plan of {len(draft.endpoints)} endpoints needs {len(draft.endpoints) + 3} "
                f"operations in one etcd Txn, above max_txn_ops {self.max_txn_ops}: start etcd "
                "with a larger --max-txn-ops and pass the same value to the store"
            )
        k = self.keys

        def attempt() -> Plan:
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
                [ec.compare_mod(k.next_gen, self._mod(counter))],
                ops + self._audit_op(actor, now, audit),
            )
            return Plan(g, draft.endpoints, draft.digest, created_at=now, source=source)

        return self._retrying("publish", attempt)

    def newest(self) -> Generation:
        op = ec.get(self.keys.plans, prefix=True, keys_only=True)
        op["request_range"].update(sort_order="DESCEND", sort_target="KEY", limit="1")
        kvs = self._read([op])[1][0]
        return self.keys.generation_of(kvs[0].key, self.keys.plans) if kvs else NO_GENERATION

    def _header(self, g: int, kv: KV | None) -> PlanHeader | None:
        if kv is None:
            return None
        body = loads(kv.value, kv.key)
        try:
            return PlanHeader(
                Generation(g),
                body["digest"],
                int(body["count"]),
                float(body["created_at"]),
                body["source"],
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise StoreCorrupt(f"etcd key {kv.key!r}: bad plan header ({exc})") from exc

    def header(self, generation: Generation) -> PlanHeader | None:
        return self._header(
            generation, self._one(self._read([ec.get(self.keys.plan(generation))])[1][0])
        )

    def _plan_contents(self, g: int, kvs: list[KV]) -> dict[EndpointName, Content]:
        base = self.keys.plan_endpoints(g)
        return {
            EndpointName(self.keys.tail(kv.key, base)): decode_content(kv.value, kv.key)[0]
            for kv in kvs
        }

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

    def _generations(self, kvs: list[KV]) -> dict[Generation, KV]:
        return {self.keys.generation_of(kv.key, self.keys.plans): kv for kv in kvs}

    def index(self) -> PlanIndex:
        k = self.keys
        rev, (plans, zone) = self._read(
            [ec.get(k.plans, prefix=True, keys_only=True), ec.get(k.zones, prefix=True)]
        )
        gens = tuple(sorted(self._generations(plans)))
        names: tuple[EndpointName, ...] = ()
        if gens:
            base = k.plan_endpoints(gens[-1])
            kvs = self._read([ec.get(base, prefix=True, keys_only=True)], revision=rev)[1][0]
            names = tuple(EndpointName(k.tail(kv.key, base)) for kv in kvs)
        applied = {n: e.generation for n, (e, _) in self._zone_of(zone).items()}
        return PlanIndex(gens, applied, names)

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

        return self._retrying("clean-up", attempt)

    # -- zone ----------------------------------------------------------------------------
    def read_zone(
        self, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, ZoneEntry]:
        wanted = None if names is None else list(names)
        if wanted is None or len(wanted) > self.batch:
            kvs = self._read([ec.get(self.keys.zones, prefix=True)])[1][0]
        else:
            kvs = [
                kv for r in self._read([ec.get(self.keys.zone(n)) for n in wanted])[1] for kv in r
            ]
        zone = {n: e for n, (e, _) in self._zone_of(kvs).items()}
        if wanted is None:
            return zone
        return {n: zone[n] for n in wanted if n in zone}

    def applied(self) -> dict[EndpointName, Generation]:
        return {n: e.generation for n, e in self.read_zone().items()}

    def changed_since(self, version: int) -> tuple[int, dict[EndpointName, ZoneEntry]]:
        rev, (marker,) = self._read([ec.get(self.keys.zone_version)])
        current = self._mod(self._one(marker))
        if current <= version:
            return current, {}
        op = ec.get(self.keys.zones, prefix=True)
        op["request_range"]["min_mod_revision"] = str(version + 1)
        kvs = self._read([op], revision=rev)[1][0]
        return current, {n: e for n, (e, _) in self._zone_of(kvs).items()}

    def watch_zone(self, version: int, timeout: float) -> int:
        """Block until the zone changes after `version` (or `timeout`); the new version or 0."""
        return self.client.watch(self.keys.zone_version, version + 1, timeout)

    def watch_plans(self, after_revision: int, timeout: float) -> int:
        """Block until a plan is published after etcd revision `after_revision`, or `timeout`."""
        return self.client.watch(self.keys.next_gen, after_revision + 1, timeout)

    def advance_unchanged(
        self, generation: Generation, *, actor: str, now: float
    ) -> tuple[EndpointName, ...]:
        k, g = self.keys, generation

        def attempt() -> tuple[EndpointName, ...]:
            _, (frozen, head, pes, zone_kvs) = self._read(
                [
                    ec.get(k.frozen),
                    ec.get(k.plan(g)),
                    ec.get(k.plan_endpoints(g), prefix=True),
                    ec.get(k.zones, prefix=True),
                ]
            )
            if self._is_frozen(self._one(frozen)) or not head:
                return ()
            zone = self._zone_of(zone_kvs)
            behind, advance = [], []
            for name, content in self._plan_contents(g, pes).items():
                live = zone.get(name)
                entry = live[0] if live else None
                if entry is not None and entry.generation >= g:
                    if entry.generation == g and entry.content.digest != content.digest:
                        behind.append(name)
                    continue
                if (
                    entry is not None
                    and entry.content.digest == content.digest
                    and entry.content.records
                ):
                    advance.append((name, entry, live[1] if live else None))
                else:
                    behind.append(name)
            for chunk in _chunks(advance, self.batch):
                compares = [
                    ec.compare_mod(k.frozen, self._mod(self._one(frozen))),
                    ec.compare_mod(k.plan(g), head[0].mod_revision),
                ]
                compares += [ec.compare_mod(k.zone(n), self._mod(kv)) for n, _, kv in chunk]
                ops = [self._zone_put(g, n, e.content) for n, e, _ in chunk] + [self._bump_zone()]
                ops += self._audit_op(
                    actor, now, [("advance", "", g, f"{len(chunk)} unchanged endpoints")]
                )
                self._commit(compares, ops)
            return tuple(behind)

        return self._retrying("advance", attempt)

    def apply_if_newer(
        self, generation: Generation, names: Sequence[EndpointName], *, actor: str, now: float
    ) -> dict[EndpointName, Outcome]:
        out: dict[EndpointName, Outcome] = {}
        for chunk in _chunks(list(dict.fromkeys(names)), self.batch):
            first = self._apply_blind(generation, chunk, actor, now)
            if isinstance(first, dict):
                out.update(first)
                continue
            snapshot = [first]  # the failed Txn's own atomic read: decide from it first
            out.update(
                self._retrying(
                    "apply",
                    lambda c=chunk, s=snapshot: self._apply_chunk(
                        generation, c, actor, now, s.pop() if s else None
                    ),
                )
            )
        return {n: out[n] for n in names}

    def _plan_cached(self, g: Generation) -> dict[EndpointName, Content] | None:
        """Plan g's contents; plans are immutable and generations never reused, so a
        process may keep them (every write still compares that the plan exists)."""
        cached = self._plans.get(g)
        if cached is None:
            _, (head, pes) = self._read(
                [ec.get(self.keys.plan(g)), ec.get(self.keys.plan_endpoints(g), prefix=True)]
            )
            if not head:
                return None
            cached = self._plans[g] = self._plan_contents(g, pes)
            while len(self._plans) > PLAN_CACHE:
                del self._plans[min(self._plans)]
        return cached

    def _apply_ops(self, k: Keys, g: Generation, names: Sequence[EndpointName]) -> list[Json]:
        """The reads a decision needs, in a fixed order: freeze, plan, contents, live."""
        ops = [ec.get(k.frozen), ec.get(k.plan(g))]
        return (
            ops
            + [ec.get(k.plan_endpoint(g, n)) for n in names]
            + [ec.get(k.zone(n)) for n in names]
        )

    def _apply_blind(
        self, g: Generation, names: Sequence[EndpointName], actor: str, now: float
    ) -> dict[EndpointName, Outcome] | list[list[KV]]:
        """The common case in one round trip, without a read: "not frozen, plan g exists,
        every live generation < g" is the compare (a zone value starts with its zero-padded
        generation, so a byte-wise VALUE LESS compare is the numeric fence). If it fails,
        the Txn's failure branch returns the snapshot to decide from."""
        k = self.keys
        contents = self._plan_cached(g)
        if contents is None or any(
            n not in contents or content_valid(n, contents[n]) for n in names
        ):
            return self._read(self._apply_ops(k, g, names))[1]
        compares = [ec.compare_value(k.frozen, "EQUAL", b"0"), ec.compare_created(k.plan(g))]
        compares += [ec.compare_value(k.zone(n), "LESS", generation_prefix(g)) for n in names]
        audit = [("write", n, g, f"{len(contents[n].records)} records") for n in names]
        writes = [self._zone_put(g, n, contents[n]) for n in names] + [self._bump_zone()]
        res = self.client.txn(
            compares, writes + self._audit_op(actor, now, audit), self._apply_ops(k, g, names)
        )
        if res.succeeded:
            return dict.fromkeys(names, Outcome.APPLIED)
        return res.ranges

    def _apply_chunk(
        self,
        g: Generation,
        names: Sequence[EndpointName],
        actor: str,
        now: float,
        ranges: list[list[KV]] | None = None,
    ) -> dict[EndpointName, Outcome]:
        k = self.keys
        if ranges is None:
            ranges = self._read(self._apply_ops(k, g, names))[1]
        frozen, head = self._one(ranges[0]), self._one(ranges[1])
        pes, zones = ranges[2 : 2 + len(names)], ranges[2 + len(names) :]
        out: dict[EndpointName, Outcome] = {}
        audit: list[Audit] = []
        writes = []
        compares = [
            ec.compare_mod(k.frozen, self._mod(frozen)),
            ec.compare_mod(k.plan(g), self._mod(head)),
        ]
        for name, pe, zone in zip(names, pes, zones, strict=True):
            live_kv = self._one(zone)
            compares.append(ec.compare_mod(k.zone(name), self._mod(live_kv)))
            if self._is_frozen(frozen):
                out[name] = Outcome.FROZEN
                audit.append(("frozen", name, g, ""))
                continue
            if head is None or not pe:
                out[name] = Outcome.MISSING_PLAN
                audit.append(("missing-plan", name, g, "plan or endpoint not in the store"))
                continue
            content = decode_content(pe[0].value, pe[0].key)[0]
            problems = content_valid(name, content)
            if problems:
                out[name] = Outcome.REFUSED
                audit.append(("refused", name, g, str(problems[0])))
                continue
            live = decode_zone(name, live_kv.value, live_kv.key) if live_kv else None
            if live is not None and live.generation > g:
                out[name] = Outcome.FENCED_OUT
                audit.append(("fenced", name, g, f"live {live.generation}"))
            elif (
                live is not None and live.generation == g and live.content.digest == content.digest
            ):
                out[name] = Outcome.CURRENT
            else:
                out[name] = Outcome.APPLIED
                writes.append(self._zone_put(g, name, content))
                audit.append(("write", name, g, f"{len(content.records)} records"))
        if writes:
            writes.append(self._bump_zone())
        if writes or audit:  # all CURRENT: the (linearizable) read decided; nothing to commit
            self._commit(compares, writes + self._audit_op(actor, now, audit))
        return out

    # -- legacy (unsafe) -----------------------------------------------------------------
    def legacy_write(
        self, generation: Generation, name: EndpointName, *, actor: str, now: float
    ) -> Outcome:
        k, g = self.keys, generation

        def attempt() -> Outcome:
            rev, ranges = self._read(
                [ec.get(k.frozen), ec.get(k.zone(name)), ec.get(k.plan_endpoint(g, name))]
            )
            frozen, live_kv, pe = (self._one(r) for r in ranges)
            if self._is_frozen(frozen):
                return Outcome.FROZEN
            compares = [
                ec.compare_mod(k.frozen, self._mod(frozen)),
                ec.compare_mod(k.zone(name), self._mod(live_kv)),
            ]
            ops = []
            if live_kv is not None:
                live = decode_zone(name, live_kv.value, live_kv.key)
                live_plan = self._one(
                    self._read([ec.get(k.plan(live.generation))], revision=rev)[1][0]
                )
                if live_plan is None:
                    return Outcome.DANGLING
                compares.append(ec.compare_mod(k.plan(live.generation), live_plan.mod_revision))
                ops.append(ec.put(k.rollback(name), str(live.generation).encode()))
            if pe is None:
                return Outcome.MISSING_PLAN
            compares.append(ec.compare_mod(pe.key, pe.mod_revision))
            content = decode_content(pe.value, pe.key)[0]
            ops += [self._zone_put(g, name, content), self._bump_zone()]  # no fence: the 2025 bug
            self._commit(
                compares, ops + self._audit_op(actor, now, [("legacy-write", name, g, "")])
            )
            return Outcome.APPLIED

        return self._retrying("legacy write", attempt)

    def legacy_delete_older(
        self, below: Generation, *, actor: str, now: float
    ) -> tuple[Generation, ...]:
        k = self.keys
        deleted: list[Generation] = []

        def attempt() -> tuple[Generation, ...]:
            rev, (plans, zone_kvs) = self._read(
                [ec.get(k.plans, prefix=True, keys_only=True), ec.get(k.zones, prefix=True)]
            )
            doomed = sorted(g for g in self._generations(plans) if g < below)
            chunk = doomed[: self.batch // 2]
            if not chunk:
                return tuple(deleted)
            emptied = [
                self._zone_put(e.generation, n, EMPTY_CONTENT)
                for n, (e, _) in self._zone_of(zone_kvs).items()
                if e.generation in chunk
            ]
            ops = [
                op
                for g in chunk
                for op in (ec.delete(k.plan(g)), ec.delete(k.plan_endpoints(g), prefix=True))
            ]
            ops += emptied + ([self._bump_zone()] if emptied else [])
            if len(chunk) == len(doomed):
                audit = [("legacy-cleanup", "", 0, f"deleted {[*deleted, *chunk]}")]
                ops += self._audit_op(actor, now, audit)
            compares = [
                ec.compare_unchanged_since(k.zones, rev),
                ec.compare_unchanged_since(k.plans, rev),
            ]
            self._commit(compares, ops)
            deleted.extend(chunk)
            raise Conflict()  # take the next chunk (or finish) from a fresh snapshot

        return self._retrying("legacy clean-up", attempt)

    def try_lock(self, name: EndpointName, owner: str, *, now: float, ttl: float) -> bool:
        key = self.keys.lock(name)

        def attempt() -> bool:
            kv = self._one(self._read([ec.get(key)])[1][0])
            if kv is not None:
                holder = loads(kv.value, key)
                if holder["owner"] != owner and holder["expires"] > now:
                    return False
            self._commit(
                [ec.compare_mod(key, self._mod(kv))],
                [ec.put(key, dumps({"owner": owner, "expires": now + ttl}))],
            )
            return True

        return self._retrying("lock", attempt)

    def unlock(self, name: EndpointName, owner: str) -> None:
        key = self.keys.lock(name)

        def attempt() -> None:
            kv = self._one(self._read([ec.get(key)])[1][0])
            if kv is not None and loads(kv.value, key)["owner"] == owner:
                self._commit([ec.compare_mod(key, kv.mod_revision)], [ec.delete(key)])

        self._retrying("unlock", attempt)

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
