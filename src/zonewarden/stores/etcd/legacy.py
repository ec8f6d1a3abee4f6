"""The unsafe 2025 protocol on etcd, for `legacy` mode only: unfenced writes behind a
lock, age-only clean-up that empties live endpoints. Each call is still one Txn (the
store stays consistent); what is missing on purpose is the generation check."""

from __future__ import annotations

from zonewarden.core.model import (
    EMPTY_CONTENT,
    EndpointName,
    Generation,
)
from zonewarden.core.outcomes import Outcome
from zonewarden.stores.etcd import ops as ec
from zonewarden.stores.etcd.base import Conflict
from zonewarden.stores.etcd.gc import ContentGc
from zonewarden.stores.etcd.keys import (
    decode_zone,
    dumps,
    loads,
)


class LegacyOps(ContentGc):
    # -- legacy (unsafe) -----------------------------------------------------------------
    def legacy_write(
        self, generation: Generation, name: EndpointName, *, actor: str, now: float
    ) -> Outcome:
        k, g = self.keys, generation

        def attempt() -> Outcome:
            rev, ranges = self._read([ec.get(k.frozen), ec.get(k.zone(name)), ec.get(k.plan(g))])
            frozen, live_kv, head = (self._one(r) for r in ranges)
            if self._is_frozen(frozen):
                return Outcome.FROZEN
            compares = [
                ec.compare_mod(k.frozen, self._mod(frozen)),
                ec.compare_mod(k.zone(name), self._mod(live_kv)),
            ]
            ops = []
            live = None
            if live_kv is not None:
                live = decode_zone(name, live_kv.value, live_kv.key)
                live_plan = self._one(
                    self._read([ec.get(k.plan(live.generation))], revision=rev)[1][0]
                )
                if live_plan is None:
                    return Outcome.DANGLING
                compares.append(ec.compare_mod(k.plan(live.generation), live_plan.mod_revision))
                ops.append(ec.put(k.rollback(name), str(live.generation).encode()))
            contents = self._plan_cached(g) if head is not None else None
            if head is None or contents is None or name not in contents:
                return Outcome.MISSING_PLAN
            compares.append(ec.compare_mod(head.key, head.mod_revision))
            content = contents[name]
            writes, changed = self._zone_writes(g, name, content, live)  # no fence: the 2025 bug
            ops += writes + (self._bump_zone([name]) if changed else [])
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
            chunk = doomed[: self.batch // 4]
            if not chunk:
                return tuple(deleted)
            emptied, changed = [], []  # the plan's records go with it: endpoints go empty
            for n, (e, _) in self._zone_of(zone_kvs).items():
                if e.generation in chunk:
                    writes, served = self._zone_writes(e.generation, n, EMPTY_CONTENT, e)
                    emptied += writes
                    changed += [n] if served else []
            order = sorted(self._generations(plans))
            ops = [
                op
                for g in chunk
                for op in (
                    ec.delete(k.plan(g)),
                    ec.delete(k.plan_maps(g), prefix=True),
                    ec.delete(k.plan_endpoints(g), prefix=True),
                )
            ]
            ops.append(self._queue_op([(self._kept_below(order, g), g) for g in chunk]))
            ops += emptied + (self._bump_zone(changed) if changed else [])
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

        deleted_now = self._retrying("legacy clean-up", attempt)
        self.collect_garbage()  # contents only the deleted plans named (gc.py)
        return deleted_now

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
