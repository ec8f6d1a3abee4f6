"""The etcd store's zone: reads, `changed_since`/watches, and the fenced writes
(`apply_if_newer`, `advance_unchanged`). Each write is one Txn whose compare holds the
generation check; see `store.py` for the rules.

A Txn that changes served content also bumps `meta/zone_version` and adds one
`changes/<id>` key naming the endpoints it changed (two puts per Txn, not per endpoint);
a write that only moves the generation writes neither, so `changed_since` and
`watch_zone` see content changes only, as the port's docstring asks. The fast path
(`_apply_blind`) cannot see the live digest inside its compare, so it logs every name it
writes: a write of identical content may be reported, which the port allows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zonewarden.core import fence
from zonewarden.core.gates import content_valid
from zonewarden.core.model import (
    EndpointName,
    Generation,
    ZoneEntry,
)
from zonewarden.core.outcomes import Outcome
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.base import Audit, _chunks
from zonewarden.stores.etcd.content import ContentReads
from zonewarden.stores.etcd.keys import (
    Keys,
    decode_zone,
    generation_prefix,
    loads,
)
from zonewarden.stores.etcd.ops import KV, Json

WHOLE_ZONE_READ = 8  # more changed endpoints than this many Txns' worth: read the zone prefix


class ZoneOps(ContentReads):
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
        """The change-log keys modified after `version` name the endpoints whose content
        changed (a generation-only advance logs none); their entries are then read at
        the same revision, a few Txn-sized reads instead of the whole zone. A version
        below the log's floor (pruned by clean-up) reads the whole zone."""
        k = self.keys
        rev, (marker, floor) = self._read([ec.get(k.zone_version), ec.get(k.changes_floor)])
        current = self._mod(self._one(marker))
        if current <= version:
            return current, {}
        pruned = int(floor[0].value) if floor else 0
        if version == 0 or version < pruned:
            return current, {n: e for n, (e, _) in self._zone_at(rev).items()}
        op = ec.get(k.changes, prefix=True)
        op["request_range"]["min_mod_revision"] = str(version + 1)
        logged = self._read([op], revision=rev)[1][0]
        names = sorted({n for kv in logged for n in loads(kv.value, kv.key)})
        if len(names) > WHOLE_ZONE_READ * self.max_txn_ops:
            zone = self._zone_at(rev)
        else:
            zone = self._zone_of(
                [
                    kv
                    for chunk in _chunks(names, self.max_txn_ops)
                    for r in self._read([ec.get(k.zone(n)) for n in chunk], revision=rev)[1]
                    for kv in r
                ]
            )
        return current, {EndpointName(n): zone[EndpointName(n)][0] for n in names if n in zone}

    def _zone_at(self, rev: int) -> dict[EndpointName, tuple[ZoneEntry, KV]]:
        """Every live entry at etcd revision `rev` (one prefix range)."""
        return self._zone_of(self._read([ec.get(self.keys.zones, prefix=True)], revision=rev)[1][0])

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
            _, (frozen, head, zone_kvs) = self._read(
                [ec.get(k.frozen), ec.get(k.plan(g)), ec.get(k.zones, prefix=True)]
            )
            contents = self._plan_cached(g) if head else None
            if self._is_frozen(self._one(frozen)) or not head or contents is None:
                return ()
            zone = self._zone_of(zone_kvs)
            behind, advance = [], []
            for name, content in contents.items():
                live = zone.get(name)
                entry = live[0] if live else None
                verdict = fence.lag(g, content.digest, fence.live_of(entry))
                if verdict is fence.Lag.UNCHANGED and live is not None:
                    advance.append((name, live[0], live[1]))
                elif verdict is fence.Lag.BEHIND:
                    behind.append(name)
            for chunk in _chunks(advance, self.batch):
                compares = [
                    ec.compare_mod(k.frozen, self._mod(self._one(frozen))),
                    ec.compare_mod(k.plan(g), head[0].mod_revision),
                ]
                compares += [ec.compare_mod(k.zone(n), self._mod(kv)) for n, _, kv in chunk]
                # same content: no change-log key and no zone version (`changed_since` readers
                # have nothing to re-read), exactly as in the memory and SQLite stores
                ops = [self._zone_put(g, n, e.content) for n, e, _ in chunk]
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
            out.update(self._apply_from(generation, chunk, actor, now, first))
        return {n: out[n] for n in names}

    def _apply_from(
        self,
        g: Generation,
        names: Sequence[EndpointName],
        actor: str,
        now: float,
        first: list[list[KV]] | None,
    ) -> dict[EndpointName, Outcome]:
        """Decide from the failed blind Txn's own read if it made one, else from fresh reads."""
        snapshots = [first]

        def attempt() -> dict[EndpointName, Outcome]:
            return self._apply_chunk(g, names, actor, now, snapshots.pop() if snapshots else None)

        return self._retrying("apply", attempt)

    def _apply_ops(self, k: Keys, g: Generation, names: Sequence[EndpointName]) -> list[Json]:
        """The reads a decision needs, in a fixed order: freeze, plan header, live (the
        plan's contents come from `_plan_cached`: immutable, and the commit compares
        that the header is unchanged)."""
        return [ec.get(k.frozen), ec.get(k.plan(g))] + [ec.get(k.zone(n)) for n in names]

    def _apply_blind(
        self, g: Generation, names: Sequence[EndpointName], actor: str, now: float
    ) -> dict[EndpointName, Outcome] | list[list[KV]] | None:
        """The common case in one round trip, without a read: "not frozen, plan g exists,
        every live generation < g" is the compare (a zone value starts with its zero-padded
        generation, so a byte-wise VALUE LESS compare is the numeric fence). Where it holds,
        `fence.decide` says APPLIED for every name (the content was checked above); where
        it fails (None), the caller reads and decides with `fence.decide` itself; a plan
        not yet cached is read here."""
        k = self.keys
        contents = self._plan_cached(g)
        if contents is None or any(
            n not in contents or content_valid(n, contents[n]) for n in names
        ):
            return self._read(self._apply_ops(k, g, names))[1]
        compares = [ec.compare_value(k.frozen, "EQUAL", b"0"), ec.compare_created(k.plan(g))]
        compares += [ec.compare_value(k.zone(n), "LESS", generation_prefix(g)) for n in names]
        audit = [("write", n, g, f"{len(contents[n].records)} records") for n in names]
        writes = [self._zone_put(g, n, contents[n]) for n in names]
        writes += self._bump_zone(names)
        # no failure branch: a tripped fence is rare, and carrying its snapshot reads in
        # every Txn cost ~15% of the rate at 60 endpoints per Txn; the caller reads instead
        res = self.client.txn(compares, writes + self._audit_op(actor, now, audit), [])
        if res.succeeded:
            return dict.fromkeys(names, Outcome.APPLIED)
        return res.ranges or None

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
        zones = ranges[2:]
        contents = (self._plan_cached(g) if head is not None else None) or {}
        out: dict[EndpointName, Outcome] = {}
        audit: list[Audit] = []
        writes: list[Json] = []
        changed_names: list[str] = []
        compares = [
            ec.compare_mod(k.frozen, self._mod(frozen)),
            ec.compare_mod(k.plan(g), self._mod(head)),
        ]
        is_frozen = self._is_frozen(frozen)
        for name, zone in zip(names, zones, strict=True):
            live_kv = self._one(zone)
            compares.append(ec.compare_mod(k.zone(name), self._mod(live_kv)))
            planned = head is not None and name in contents and not is_frozen
            content = contents[name] if planned else None
            problems = content_valid(name, content) if content is not None else []
            live = decode_zone(name, live_kv.value, live_kv.key) if live_kv else None
            outcome = fence.decide(
                g,
                content.digest if content is not None else None,
                fence.live_of(live),
                valid=not problems,
                frozen=is_frozen,
            )
            out[name] = outcome
            if outcome is Outcome.FROZEN:
                audit.append(("frozen", name, g, ""))
            elif outcome is Outcome.MISSING_PLAN:
                audit.append(("missing-plan", name, g, "plan or endpoint not in the store"))
            elif outcome is Outcome.REFUSED:
                audit.append(("refused", name, g, str(problems[0])))
            elif outcome is Outcome.FENCED_OUT and live is not None:
                audit.append(("fenced", name, g, f"live {live.generation}"))
            elif outcome is Outcome.APPLIED and content is not None:
                ops, changed = self._zone_writes(g, name, content, live)
                writes += ops
                changed_names += [name] if changed else []
                audit.append(("write", name, g, f"{len(content.records)} records"))
        if changed_names:
            writes += self._bump_zone(changed_names)
        if writes or audit:  # all CURRENT: the (linearizable) read decided; nothing to commit
            self._commit(compares, writes + self._audit_op(actor, now, audit))
        return out
