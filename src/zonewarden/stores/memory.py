"""The in-memory region store: the reference model of every store's semantics.

Every other store must agree with this one (contract suite, hypothesis agreement test).
It is also what the simulator and the exhaustive checker run against: `fingerprint()`
gives a hashable view of the safety-relevant state and `clone()` a deep copy.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from zonewarden.core import fence
from zonewarden.core.cleanup import cleanup_detail, deletable, summarise
from zonewarden.core.gates import content_valid, require_valid
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
from zonewarden.core.outcomes import CleanupIndex, CleanupResult, Outcome, PlanIndex
from zonewarden.errors import NotFound, check_expected
from zonewarden.ports import AuditEvent, AuditQuery, Heartbeat
from zonewarden.stores.health_state import HealthStateOps


@dataclass
class MemoryStore(HealthStateOps):
    """Plans, the live zone and control state, all in one process's memory."""

    plans: dict[Generation, Plan] = field(default_factory=dict)
    zone: dict[EndpointName, ZoneEntry] = field(default_factory=dict)
    rollback: dict[EndpointName, Generation] = field(default_factory=dict)
    locks: dict[EndpointName, tuple[str, float]] = field(default_factory=dict)
    is_frozen: bool = False
    pinned: dict[EndpointName, Generation] = field(default_factory=dict)
    beats: dict[str, Heartbeat] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    next_generation: int = 1
    changes: int = 0
    versions: dict[EndpointName, int] = field(default_factory=dict)
    keep_audit: bool = True
    health_kv: dict[str, str] = field(default_factory=dict)

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
        check_expected(expect_newest, self.newest())
        g = Generation(max(self.next_generation, min_generation))
        self.next_generation = g + 1
        plan = Plan(g, draft.endpoints, draft.digest, created_at=now, source=source)
        self.plans[g] = plan
        self.record(
            actor, "publish", now=now, generation=g, detail=f"{len(draft.endpoints)} endpoints"
        )
        return plan

    def newest(self) -> Generation:
        return max(self.plans, default=NO_GENERATION)

    def header(self, generation: Generation) -> PlanHeader | None:
        p = self.plans.get(generation)
        if p is None:
            return None
        return PlanHeader(p.generation, p.digest, len(p.endpoints), p.created_at, p.source)

    def plan(self, generation: Generation) -> Plan | None:
        return self.plans.get(generation)

    def contents(
        self, generation: Generation, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, Content]:
        p = self.plans.get(generation)
        if p is None:
            raise NotFound(f"plan {generation} is not in the store")
        if names is None:
            return dict(p.endpoints)
        return {n: p.endpoints[n] for n in names if n in p.endpoints}

    def plan_names(self, generation: Generation) -> tuple[EndpointName, ...]:
        p = self.plans.get(generation)
        return p.names if p else ()

    def index(self) -> PlanIndex:
        return PlanIndex(
            generations=tuple(sorted(self.plans)),
            applied=self.applied(),
            newest_names=self.plan_names(self.newest()),
            created={g: p.created_at for g, p in self.plans.items()},
        )

    def cleanup_index(self) -> CleanupIndex:
        return summarise(self.index())

    def delete_unreferenced(
        self, generations: Sequence[Generation], *, actor: str, now: float
    ) -> CleanupResult:
        referenced = {e.generation for e in self.zone.values()}
        result = deletable(generations, self.plans, self.newest(), referenced)
        for g in result.deleted:
            del self.plans[g]
        if result.deleted or result.kept_referenced:
            detail = cleanup_detail(result.deleted, result.kept_referenced)
            self.record(actor, "cleanup", now=now, detail=detail)
        return result

    # -- zone ----------------------------------------------------------------------------
    def read_zone(
        self, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, ZoneEntry]:
        if names is None:
            return dict(sorted(self.zone.items()))
        return {n: self.zone[n] for n in names if n in self.zone}

    def applied(self) -> dict[EndpointName, Generation]:
        return {n: e.generation for n, e in sorted(self.zone.items())}

    def changed_since(self, version: int) -> tuple[int, dict[EndpointName, ZoneEntry]]:
        changed = {
            n: self.zone[n] for n, v in self.versions.items() if v > version and n in self.zone
        }
        return self.changes, dict(sorted(changed.items()))

    def _put(self, entry: ZoneEntry) -> None:
        self.changes += 1
        self.zone[entry.name] = entry
        self.versions[entry.name] = self.changes

    def advance_unchanged(
        self, generation: Generation, *, actor: str, now: float
    ) -> tuple[EndpointName, ...]:
        plan = self.plans.get(generation)
        if plan is None or self.is_frozen:
            return ()
        behind, advanced = [], 0
        for name, content in plan.endpoints.items():
            entry = self.zone.get(name)
            verdict = fence.lag(generation, content.digest, fence.live_of(entry))
            if verdict is fence.Lag.UNCHANGED and entry is not None:
                # same content: not a change for `changed_since` readers
                self.zone[name] = ZoneEntry(name, generation, entry.content)
                advanced += 1
            elif verdict is fence.Lag.BEHIND:
                behind.append(name)
        if advanced:
            self.record(
                actor,
                "advance",
                now=now,
                generation=generation,
                detail=f"{advanced} unchanged endpoints",
            )
        return tuple(behind)

    def apply_if_newer(
        self, generation: Generation, names: Sequence[EndpointName], *, actor: str, now: float
    ) -> dict[EndpointName, Outcome]:
        plan = self.plans.get(generation)
        out: dict[EndpointName, Outcome] = {}
        for name in names:
            out[name] = self._apply_one(plan, generation, name, actor, now)
        return out

    def _apply_one(
        self, plan: Plan | None, g: Generation, name: EndpointName, actor: str, now: float
    ) -> Outcome:
        content = plan.endpoints.get(name) if plan is not None else None
        frozen = self.is_frozen
        problems = content_valid(name, content) if content is not None and not frozen else []
        entry = self.zone.get(name)
        outcome = fence.decide(
            g,
            content.digest if content is not None else None,
            fence.live_of(entry),
            valid=not problems,
            frozen=frozen,
        )
        if outcome is Outcome.APPLIED and content is not None:
            self._put(ZoneEntry(name, g, content))
            detail = f"{len(content.records)} records"
        elif outcome is Outcome.FENCED_OUT and entry is not None:
            detail = f"live {entry.generation}"
        elif outcome is Outcome.REFUSED:
            detail = str(problems[0])
        else:
            detail = _DETAIL.get(outcome, "")
        kind = _AUDIT_KIND.get(outcome)
        if kind is not None:
            self.record(actor, kind, now=now, endpoint=name, generation=g, detail=detail)
        return outcome

    # -- legacy (unsafe) -----------------------------------------------------------------
    def legacy_write(
        self, generation: Generation, name: EndpointName, *, actor: str, now: float
    ) -> Outcome:
        if self.is_frozen:
            return Outcome.FROZEN
        entry = self.zone.get(name)
        if entry is not None and entry.generation not in self.plans:
            return Outcome.DANGLING
        plan = self.plans.get(generation)
        if plan is None or name not in plan.endpoints:
            return Outcome.MISSING_PLAN
        if entry is not None:
            self.rollback[name] = entry.generation
        self._put(ZoneEntry(name, generation, plan.endpoints[name]))
        self.record(actor, "legacy-write", now=now, endpoint=name, generation=generation)
        return Outcome.APPLIED

    def legacy_delete_older(
        self, below: Generation, *, actor: str, now: float
    ) -> tuple[Generation, ...]:
        doomed = tuple(sorted(g for g in self.plans if g < below))
        for g in doomed:
            del self.plans[g]
            for name, entry in list(self.zone.items()):
                if entry.generation == g:  # the plan's record tree goes with it
                    self._put(ZoneEntry(name, g, EMPTY_CONTENT))
        if doomed:
            self.record(actor, "legacy-cleanup", now=now, detail=f"deleted {list(doomed)}")
        return doomed

    def try_lock(self, name: EndpointName, owner: str, *, now: float, ttl: float) -> bool:
        holder = self.locks.get(name)
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        self.locks[name] = (owner, now + ttl)
        return True

    def unlock(self, name: EndpointName, owner: str) -> None:
        holder = self.locks.get(name)
        if holder is not None and holder[0] == owner:
            del self.locks[name]

    # -- control -------------------------------------------------------------------------
    def frozen(self) -> bool:
        return self.is_frozen

    def set_frozen(self, frozen: bool, *, actor: str, now: float, reason: str = "") -> None:
        self.is_frozen = frozen
        self.record(actor, "freeze" if frozen else "unfreeze", now=now, detail=reason)

    def pins(self) -> dict[EndpointName, Generation]:
        return dict(sorted(self.pinned.items()))

    def set_pin(
        self, name: EndpointName, generation: Generation | None, *, actor: str, now: float
    ) -> None:
        if generation is None:
            self.pinned.pop(name, None)
            self.record(actor, "unpin", now=now, endpoint=name)
        else:
            self.pinned[name] = generation
            self.record(actor, "pin", now=now, endpoint=name, generation=generation)

    def beat(self, heartbeat: Heartbeat) -> None:
        self.beats[heartbeat.actor] = heartbeat

    def heartbeats(self) -> list[Heartbeat]:
        return [self.beats[k] for k in sorted(self.beats)]

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
        if self.keep_audit:
            self.audit.append(
                AuditEvent(len(self.audit) + 1, now, actor, kind, endpoint, generation, detail)
            )

    def audit_log(self, *, after: int = 0, limit: int = 1000) -> list[AuditEvent]:
        return [e for e in self.audit if e.seq > after][:limit]

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
        query = AuditQuery(after, before, since, tuple(kinds))
        events = reversed(self.audit) if newest_first else iter(self.audit)
        return list(itertools.islice((e for e in events if query.keeps(e)), max(0, limit)))

    def close(self) -> None:
        pass

    def _health_write(
        self, key: str, value: str | None, audit: tuple[str, str, float, str] | None
    ) -> None:
        if value is None:
            self.health_kv.pop(key, None)
        else:
            self.health_kv[key] = value
        if audit is not None:
            kind, actor, now, detail = audit
            self.record(actor, kind, now=now, detail=detail)

    def _health_read(self, prefix: str) -> dict[str, str]:
        return {k: v for k, v in self.health_kv.items() if k.startswith(prefix)}

    # -- for the simulator and the checker ----------------------------------------------
    def clone(self) -> MemoryStore:
        return copy.deepcopy(self)

    def fork(self) -> MemoryStore:
        """A cheap copy for the checker's hot loop: the containers are new, the immutable
        Plans and ZoneEntries are shared, and the audit log is neither copied nor kept."""
        twin = MemoryStore.__new__(MemoryStore)
        twin.plans = dict(self.plans)
        twin.zone = dict(self.zone)
        twin.rollback = dict(self.rollback)
        twin.locks = dict(self.locks)
        twin.is_frozen = self.is_frozen
        twin.pinned = dict(self.pinned)
        twin.beats = dict(self.beats)
        twin.audit = []
        twin.next_generation = self.next_generation
        twin.changes = self.changes
        twin.versions = dict(self.versions)
        twin.keep_audit = False
        twin.health_kv = dict(self.health_kv)
        return twin

    def fingerprint(self) -> tuple[object, ...]:
        """A hashable view of the safety-relevant state (no audit, no heartbeats)."""
        return (
            tuple(sorted((g, p.digest) for g, p in self.plans.items())),
            tuple(sorted((n, e.generation, e.content.digest) for n, e in self.zone.items())),
            tuple(sorted((n, o) for n, (o, _) in self.locks.items())),
            self.is_frozen,
            self.next_generation,
        )


# the audit row each outcome of a fenced write leaves (CURRENT leaves none)
_AUDIT_KIND = {
    Outcome.FROZEN: "frozen",
    Outcome.MISSING_PLAN: "missing-plan",
    Outcome.REFUSED: "refused",
    Outcome.FENCED_OUT: "fenced",
    Outcome.APPLIED: "write",
}
_DETAIL = {Outcome.MISSING_PLAN: "plan or endpoint not in the store"}
