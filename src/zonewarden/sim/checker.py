"""Exhaustive breadth-first exploration of every interleaving of the real core.

Theory of operation. A global state is the store, every enactor's (state, pending
action) and how many plans the planner has published. A transition is one atomic
store-visible step: the planner publishes the next generation, or one enactor's
pending action is executed by `dispatch.execute` on a copy of the MemoryStore and the
reply is fed to the real `step` (`core.enactor` or `core.legacy`). Breadth-first order
makes the first counterexample found for an invariant a shortest one.

Abstractions, each sound for safety (I1-I6 do not depend on time or on who wrote):
- time is frozen at 0 and Sleep is store-invisible, so a step that ends in Sleep also
  consumes it (the Woke reply) in the same transition; back-off delays are irrelevant,
  so the retry counter `attempt` is folded to 0 (it only sizes the delay);
- under `safe`, enactors are interchangeable (their id appears only in the audit log,
  which is off), so states equal up to a permutation of enactors are one state;
- an idle enactor polling with nothing new returns to a state already seen: loops
  close in the visited set, which keeps the state space finite.
"""

from __future__ import annotations

import gc
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from zonewarden.core import enactor as safe_enactor
from zonewarden.core import invariants as inv
from zonewarden.core import legacy
from zonewarden.core.actions import (
    Action,
    AdvanceUnchanged,
    ApplyIfNewer,
    DeletePlans,
    LegacyDeleteOlder,
    LegacyWrite,
    ReadNewest,
    Result,
    Sleep,
    TryLock,
    Unlock,
    Woke,
)
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.model import (
    NO_GENERATION,
    Endpoint,
    EndpointName,
    LbId,
    LoadBalancer,
    Plan,
    PlanDraft,
)
from zonewarden.core.planner import Observation, build_draft
from zonewarden.core.region import Region
from zonewarden.dispatch import execute
from zonewarden.stores.memory import MemoryStore

MUTATING = (
    ApplyIfNewer,
    AdvanceUnchanged,
    DeletePlans,
    LegacyWrite,
    LegacyDeleteOlder,
    TryLock,
    Unlock,
)


class _NoJitter:
    """Back-off delays do not matter to the checker: always the lower bound."""

    def random(self) -> float:
        return 0.0

    def uniform(self, a: float, b: float) -> float:
        return a


NO_JITTER = _NoJitter()


@dataclass(frozen=True, slots=True)
class CheckSpec:
    protocol: str = "safe"
    enactors: int = 2
    endpoints: int = 1
    generations: int = 3
    retention: int = 3
    keep_newest: int = 3
    batch_size: int = 100
    goal: str = "I1"  # stop at the first breach of this invariant ("any": of any)
    max_states: int = 5_000_000


@dataclass(frozen=True, slots=True)
class Step:
    """One transition of a counterexample; formatted only when printed."""

    who: str
    action: object
    result: object = None

    def __str__(self) -> str:
        if self.who == "planner":
            return f"planner publishes generation {self.action}"
        return f"{self.who}: {_show(self.action)} -> {_show(self.result)}"


@dataclass
class CheckResult:
    spec: CheckSpec
    states: int = 0
    transitions: int = 0
    depth: int = 0
    seconds: float = 0.0
    complete: bool = False
    counterexamples: dict[str, tuple[inv.Breach, list[Step]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.counterexamples

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else 0.0


def check_region(endpoints: int) -> Region:
    """Each endpoint served by two load balancers of its own, so a plan can change one
    endpoint and leave the others' content unchanged (AdvanceUnchanged is exercised)."""
    lbs, eps = [], []
    for e in range(endpoints):
        ids = []
        for k in range(2):
            lb = LbId(f"lb-{e}{k}")
            lbs.append(LoadBalancer(lb, f"az{k + 1}", ipv4=(f"10.0.{e}.{k + 1}",), capacity=100))
            ids.append(lb)
        eps.append(Endpoint(EndpointName(f"e{e}.kv.example."), tuple(ids), ttl=5))
    return Region.build("check", "example.", lbs, eps)


def check_drafts(region: Region, generations: int) -> list[PlanDraft]:
    """Generation g changes the weights of endpoint (g-2) mod P only: each plan is new,
    and the other endpoints keep their content from the previous plan."""
    capacity = {lb: 100 for lb in region.lbs}
    names = sorted(region.endpoints)
    drafts = []
    for g in range(1, generations + 1):
        if g > 1:
            lb = region.endpoints[names[(g - 2) % len(names)]].lbs[0]
            capacity[lb] = 100 - 5 * g  # a weight it never had, under the reference
        health = {lb: Observation(True, cap) for lb, cap in capacity.items()}
        drafts.append(build_draft(region, health))
    return drafts


Proc = tuple[Any, Action, int]  # state, pending action, interned id of the pair
Node = tuple[MemoryStore, tuple[Proc, ...], int]
Successor = tuple[Node, "Step", list[inv.Breach]]


class Checker:
    def __init__(self, spec: CheckSpec) -> None:
        if spec.protocol not in ("safe", "legacy"):
            raise ValueError(f"unknown protocol {spec.protocol!r} (known: safe, legacy)")
        self.spec = spec
        self.core = safe_enactor if spec.protocol == "safe" else legacy
        self.symmetric = spec.protocol == "safe"
        self.config = EnactorConfig(
            batch_size=spec.batch_size,
            retention=spec.retention,
            keep_newest=spec.keep_newest,
        )
        self.region = check_region(spec.endpoints)
        self.names = tuple(sorted(self.region.endpoints))
        self.drafts = check_drafts(self.region, spec.generations)
        self.result = CheckResult(spec)
        self._steps: dict[tuple[Any, Result], Proc] = {}
        self._local_ids: dict[object, int] = {}
        self._store_breaches: dict[tuple[object, ...], list[inv.Breach]] = {}

    # -- successors --------------------------------------------------------------------
    def _advance(self, state: Any, result: Result) -> Proc:
        """The core's step, memoised: it is pure and the checker's rng has no jitter."""
        try:
            key = (state, result)
            hit = self._steps.get(key)
        except TypeError:  # a result holding a dict (IndexIs) is not hashable
            return self._step(state, result)
        if hit is None:
            hit = self._steps[key] = self._step(state, result)
        return hit

    def _step(self, state: Any, result: Result) -> Proc:
        state, action = self.core.step(self.config, state, result, NO_JITTER)
        if isinstance(action, Sleep):  # store-invisible: consume it now
            state, action = self.core.step(self.config, state, Woke(), NO_JITTER)
        if state.attempt:
            state = replace(state, attempt=0)
        return self._proc(state, action)

    def _proc(self, state: Any, action: Action) -> Proc:
        """An enactor's (state, pending action) and a small int naming that pair, for
        cheap hashing; under symmetry the id leaves out the enactor's name."""
        # every field but the name, so a field added to the core state is never dropped
        local = (replace(state, enactor_id=""), action) if self.symmetric else (state, action)
        lid = self._local_ids.setdefault(local, len(self._local_ids))
        return (state, action, lid)

    def _key(self, node: Node) -> tuple[object, ...]:
        store, procs, published = node
        zone = store.zone
        zone_key = tuple(
            (e.generation, e.content.digest) if (e := zone.get(n)) is not None else None
            for n in self.names
        )
        if self.symmetric:
            local = tuple(sorted([p[2] for p in procs]))
            return (tuple(store.plans), zone_key, published, local)
        locks = tuple(sorted((n, o) for n, (o, _) in store.locks.items()))
        return (tuple(store.plans), zone_key, locks, published, tuple(p[2] for p in procs))

    def _reduced(self, node: Node) -> list[Successor] | None:
        """Partial-order reduction (ample set of one transition).

        Once every plan is published, ReadNewest returns the same answer wherever it is
        scheduled and changes nothing in the store: it is independent of every other
        transition and invisible to I1-I6, so exploring it alone loses no reachable
        breach. Cycle proviso: a reduced step moves its enactor off ReadNewest, or to an
        idle state whose next read is a stutter (never chosen), so no cycle consists of
        reduced steps only and every cycle passes a fully expanded state."""
        store, procs, published = node
        if published < len(self.drafts):
            return None
        for i, (state, action, lid) in enumerate(procs):
            if isinstance(action, ReadNewest):
                result = execute(store, action, actor=state.enactor_id, now=0.0)
                nxt = self._advance(state, result)
                if nxt[2] == lid:
                    continue  # an idle enactor with nothing new: a stutter step
                child: Node = (store, (*procs[:i], nxt, *procs[i + 1 :]), published)
                return [(child, Step(state.enactor_id, action, result), [])]
        return None

    def _successors(self, node: Node) -> list[Successor]:
        store, procs, published = node
        out: list[Successor] = []
        if published < len(self.drafts):
            twin = store.fork()
            plan = twin.publish(self.drafts[published], source="planner", actor="planner", now=0)
            out.append(((twin, procs, published + 1), Step("planner", plan.generation), []))
        for i, (state, action, _) in enumerate(procs):
            if isinstance(action, MUTATING):
                twin = store.fork()
                result = execute(twin, action, actor=state.enactor_id, now=0.0)
                breaches = self._step_breaches(action, store, twin)
            else:
                twin = store
                result = execute(store, action, actor=state.enactor_id, now=0.0)
                breaches = []
            nxt = self._advance(state, result)
            new_procs = (*procs[:i], nxt, *procs[i + 1 :])
            step = Step(state.enactor_id, action, result)
            out.append(((twin, new_procs, published), step, breaches))
        return out

    def _state_breaches(self, store: MemoryStore, key: tuple[object, ...]) -> list[inv.Breach]:
        """I1, I2, I4 of the store part of a state, memoised on that part of its key."""
        store_key = key[:2]
        found = self._store_breaches.get(store_key)
        if found is None:
            found = self._store_breaches[store_key] = inv.state_breaches(store.zone, store.plans)
        return found

    def _step_breaches(
        self, action: Action, before: MemoryStore, after: MemoryStore
    ) -> list[inv.Breach]:
        old, new = before.zone, after.zone
        if len(old) == len(new) and all(new.get(n) is e for n, e in old.items()):
            return []
        out = inv.generation_monotone(
            {n: e.generation for n, e in old.items()}, {n: e.generation for n, e in new.items()}
        )
        if isinstance(action, ApplyIfNewer):
            out += inv.stale_writes_rejected(action.generation, action.names, old, new)
        elif isinstance(action, LegacyWrite):
            out += inv.stale_writes_rejected(action.generation, (action.name,), old, new)
        return out

    # -- search ------------------------------------------------------------------------
    def run(self, progress: Callable[[int, int], None] | None = None) -> CheckResult:
        # millions of small tuples that live until the end: the cyclic GC would rescan
        # them again and again for nothing
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            return self._search(progress)
        finally:
            if gc_was_on:
                gc.enable()

    def _search(self, progress: Callable[[int, int], None] | None) -> CheckResult:
        started = time.perf_counter()
        res = self.result
        for d in self.drafts:  # I6 is a property of the plans: check each once
            for b in inv.plans_valid([_as_plan(d)]):
                res.counterexamples.setdefault("I6", (b, []))
        procs = tuple(
            self._proc(*self.core.start(f"enactor-{i + 1}")) for i in range(self.spec.enactors)
        )
        root: Node = (MemoryStore(keep_audit=False), procs, 0)
        root_key = self._key(root)
        parents: dict[tuple[object, ...], tuple[tuple[object, ...] | None, Step | None]] = {
            root_key: (None, None)
        }
        frontier: deque[tuple[Node, tuple[object, ...], int]] = deque([(root, root_key, 0)])
        goal_met = False
        while frontier and not goal_met:
            node, key, depth = frontier.popleft()
            res.depth = max(res.depth, depth)
            successors = self._reduced(node) or self._successors(node)
            for child, step, breaches in successors:
                res.transitions += 1
                ckey = self._key(child)
                if ckey in parents:
                    if breaches:
                        goal_met |= self._found(breaches, parents, key, step)
                    continue
                parents[ckey] = (key, step)
                breaches = breaches + self._state_breaches(child[0], ckey)
                if breaches:
                    goal_met |= self._found(breaches, parents, ckey, None)
                frontier.append((child, ckey, depth + 1))
                if len(parents) >= self.spec.max_states:
                    frontier.clear()
                    break
            if progress is not None and len(parents) % 1024 < 8:
                progress(len(parents), depth)
        res.states = len(parents)
        res.complete = not frontier and not goal_met and len(parents) < self.spec.max_states
        res.seconds = time.perf_counter() - started
        return res

    def _found(
        self,
        breaches: list[inv.Breach],
        parents: dict[tuple[object, ...], tuple[tuple[object, ...] | None, Step | None]],
        key: tuple[object, ...],
        last: Step | None,
    ) -> bool:
        """Record the first (shortest) counterexample per invariant; True at the goal."""
        path: list[Step] | None = None
        for b in breaches:
            if b.invariant in self.result.counterexamples:
                continue
            if path is None:
                path = _path(parents, key) + ([last] if last is not None else [])
            self.result.counterexamples[b.invariant] = (b, path)
        goal = self.spec.goal
        return goal == "any" or goal in self.result.counterexamples


def _path(
    parents: dict[tuple[object, ...], tuple[tuple[object, ...] | None, Step | None]],
    key: tuple[object, ...] | None,
) -> list[Step]:
    steps: list[Step] = []
    while key is not None:
        parent, step = parents[key]
        if step is not None:
            steps.append(step)
        key = parent
    return steps[::-1]


def _show(value: object) -> str:
    """A short readable form of an action or result for counterexample steps."""
    text = _OUTCOME.sub(r"\1", repr(value))
    for long, short in (("generation=", "g="), (".kv.example.", ""), ("by_name=", "")):
        text = text.replace(long, short)
    return text


_OUTCOME = re.compile(r"<Outcome\.(\w+): '[^']*'>")


def _as_plan(draft: PlanDraft) -> Plan:
    return Plan(NO_GENERATION, draft.endpoints, draft.digest)


def check(spec: CheckSpec, progress: Callable[[int, int], None] | None = None) -> CheckResult:
    return Checker(spec).run(progress)
