"""One simulated region: the real enactors, planner, clean-up and repair, under faults.

Theory of operation. Every process is a stream of events on one virtual clock. An
enactor event feeds the result of its previous action to the real state machine
(`core.enactor.step` or `core.legacy.step`), takes the next action, and executes it
atomically against the MemoryStore through `dispatch.execute`, at that instant; the
reply arrives one latency later, so other processes act between a write and its reply.
Faults change what an action does (lost race, failed write, lost reply, stale read,
half a clean-up) or when a process runs (pause, crash, restart), never the core code.

Rules kept here:
- one seed fixes everything: each process draws from its own `random.Random` derived
  from the seed, never from the global generator, so the trace is byte-identical;
- after every event that changed the store, I1-I6 are checked by `core.invariants`
  (reads cannot change them); at the end, L1 (converged to the newest plan) and,
  after an injected corruption, L2 (repair restored I1, I2 and I4).
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from zonewarden.core import enactor as safe_enactor
from zonewarden.core import invariants as inv
from zonewarden.core import legacy
from zonewarden.core.actions import (
    Action,
    AdvanceUnchanged,
    ApplyIfNewer,
    Deleted,
    DeletePlans,
    Failed,
    LegacyDeleteOlder,
    LegacyWrite,
    LockResult,
    NewestIs,
    Outcomes,
    ReadNewest,
    Result,
    Sleep,
    TryLock,
    Unlock,
    Woke,
    WriteDone,
)
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.model import (
    EndpointName,
    Generation,
    ZoneEntry,
    canonical_json,
)
from zonewarden.core.outcomes import Outcome
from zonewarden.core.region import Region, demo_region
from zonewarden.dispatch import execute
from zonewarden.errors import PermanentError
from zonewarden.repair import repair_once
from zonewarden.sim import faults as fk
from zonewarden.sim.corruption import corrupt
from zonewarden.sim.faults import Knobs
from zonewarden.sim.planner import SimPlanner
from zonewarden.sim.scheduler import Scheduler
from zonewarden.stores.memory import MemoryStore

PROTOCOLS = ("safe", "legacy")
WRITES = (ApplyIfNewer, AdvanceUnchanged, LegacyWrite, DeletePlans, LegacyDeleteOlder)
MUTATING = (*WRITES, TryLock, Unlock)
CLEANUPS = (DeletePlans, LegacyDeleteOlder)
APPLYING = frozenset({"advance", "write", "recheck", "backoff", "lock", "lock-backoff", "stuck"})
MAX_LATENCY = 5.0  # a store call slower than this has timed out, whatever the fault or reply


@dataclass(slots=True)
class Process:
    """An enactor process: the core state machine plus what the driver knows of it."""

    index: int
    name: str
    rng: random.Random
    state: Any = None
    action: Action | None = None
    result: Result | None = None
    epoch: int = 0
    paused_until: float = 0.0
    down: bool = False
    stopped: bool = False  # the operator froze the automation: no restart
    last_success: float = 0.0


@dataclass
class RunReport:
    """What a run found; `ok` is False when any invariant was breached."""

    protocol: str
    seed: int
    knobs: Knobs
    first: dict[str, tuple[float, str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    coverage: Counter[str] = field(default_factory=Counter)
    events: int = 0
    virtual_time: float = 0.0
    newest: int = 0
    repaired_at: float | None = None
    stuck_at_repair: tuple[str, ...] = ()
    empty_from: float | None = None
    samples: list[tuple[float, str, int, int]] = field(default_factory=list)
    # liveness under load: the most generations any endpoint was behind a new plan
    max_lag: dict[str, int] = field(default_factory=dict)
    trace: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.first


class Simulation:
    def __init__(
        self,
        protocol: str,
        seed: int,
        knobs: Knobs,
        *,
        keep_trace: bool = False,
        keep_samples: bool = False,
        region: Region | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
        self.protocol, self.seed, self.knobs = protocol, seed, knobs
        self.core = safe_enactor if protocol == "safe" else legacy
        self.config = EnactorConfig(
            batch_size=knobs.batch_size,
            poll_interval=knobs.poll_interval,
            backoff_base=knobs.backoff_base,
            backoff_cap=knobs.backoff_cap,
            retention=knobs.retention,
            keep_newest=knobs.keep_newest,
        )
        self.region = region or demo_region(knobs.endpoints)
        self.names = tuple(sorted(self.region.endpoints))
        self.store = MemoryStore(keep_audit=False)
        self.sched = Scheduler()
        self.net = random.Random(f"{seed}/network")
        self.planner = SimPlanner(self.region, random.Random(f"{seed}/planner"))
        self.procs = [
            Process(i, f"enactor-{i + 1}", random.Random(f"{seed}/enactor-{i + 1}"))
            for i in range(knobs.enactors)
        ]
        self.report = RunReport(protocol, seed, knobs)
        self.report.trace = [] if keep_trace else None
        self.keep_samples = keep_samples
        self.planning = True
        self.faulty = True
        self.repairing_since: float | None = None
        self.newest_at: list[tuple[float, int]] = [(0.0, 0)]

    # -- the run -----------------------------------------------------------------------
    def run(self) -> RunReport:
        k = self.knobs
        end = k.duration + k.quiet
        self._header()
        self.sched.at(0.0, "plan")
        for p in self.procs:
            self.sched.at(0.01 * (p.index + 1), "start", p.index)
        for i, f in enumerate(self.knobs.faults):
            self.sched.at(f.at, "fault", i)
        self.sched.at(k.duration, "calm")
        if k.operator_repair_after >= 0:
            self.sched.at(1.0, "operator")
        handlers = {
            "plan": self._plan,
            "start": self._start,
            "enactor": self._enactor,
            "fault": self._fault,
            "restart": self._start,
            "calm": self._calm,
            "reconcile": self._reconcile,
            "operator": self._operator,
        }
        while (event := self.sched.pop(end)) is not None:
            self.report.events += 1
            handlers[event.kind](event.target, event.epoch)
        self.report.virtual_time = max(self.sched.now, end)
        self._finish()
        return self.report

    def _finish(self) -> None:
        store, r = self.store, self.report
        r.newest = int(store.newest())
        newest = store.plans.get(store.newest())
        if self.repairing_since is not None:
            for b in inv.state_breaches(store.zone, store.plans):
                self._breach(inv.Breach("L2", b.endpoint, f"not repaired: {b}"))
        if not inv.converged(store.zone, newest):
            lag = {n: int(e.generation) for n, e in sorted(store.zone.items())}
            self._breach(inv.Breach("L1", "*", f"not converged to {r.newest}: {lag}"))
        self._log("end", "finish", newest=r.newest, ok=r.ok)

    # -- planner -----------------------------------------------------------------------
    def _plan(self, _: int, __: int) -> None:
        if not self.planning:
            return
        self._publish()
        jitter = self.net.uniform(0.8, 1.2)
        self.sched.after(self.knobs.plan_interval * jitter, "plan")

    def _publish(self) -> None:
        plan = self.planner.publish(self.store, self.sched.now)
        if plan is None:
            reasons = [str(v) for v in self.planner.held]
            self._log("planner", "hold", reasons=reasons[:3])
            self.report.coverage["planner held (fail-static)"] += 1
            return
        self.newest_at.append((self.sched.now, int(plan.generation)))
        self._log("planner", "publish", g=int(plan.generation), digest=plan.digest[:12])
        for b in inv.plans_valid([plan]):
            self._breach(b)
        lag = self.report.max_lag
        for name in self.names:
            e = self.store.zone.get(name)
            behind = plan.generation - (e.generation if e is not None else 0)
            if behind > lag.get(name, 0):
                lag[name] = behind

    # -- enactors ----------------------------------------------------------------------
    def _start(self, index: int, _: int) -> None:
        p = self.procs[index]
        if p.stopped:
            return
        p.epoch += 1
        p.down = False
        p.state, p.action = self.core.start(p.name)
        self._perform(p)

    def _enactor(self, index: int, epoch: int) -> None:
        p = self.procs[index]
        if p.down or epoch != p.epoch:
            return
        now = self.sched.now
        if now < p.paused_until:
            self.sched.at(p.paused_until, "enactor", index, epoch)
            return
        assert p.result is not None
        old = p.state
        p.state, p.action = self.core.step(self.config, p.state, p.result, p.rng)
        if old.target and p.state.target != old.target and getattr(old, "behind", ()):
            self.report.coverage["plan abandoned for a newer one"] += 1
        self._perform(p)

    def _perform(self, p: Process) -> None:
        action = p.action
        assert action is not None
        result, delay = self._outcome(p, action)
        if p.down:
            return
        p.result = result
        self._log(p.name, type(action).__name__, do=repr(action), got=repr(result))
        self.sched.after(delay, "enactor", p.index, p.epoch)

    def _outcome(self, p: Process, action: Action) -> tuple[Result, float]:
        """Execute `action` under the active faults; return its reply and its latency."""
        if isinstance(action, Sleep):
            return Woke(), action.seconds
        now = self.sched.now
        write = isinstance(action, WRITES)
        k = self.knobs
        latency = (k.write_latency if write else k.read_latency) * self.net.uniform(0.5, 1.5)
        active = [f for f in k.faults if f.active(now)] if self.faulty else []
        lost, lose_race = False, False
        for f in active:
            if isinstance(f, fk.SlowWrites) and write:
                latency *= f.factor
            elif isinstance(f, fk.LockContention) and f.target == p.index:
                lose_race = lose_race or (_contended(action) and self.net.random() < f.p)
            elif isinstance(f, fk.IncidentSkew) and f.target == p.index:
                lose_race = lose_race or self._incident_skew(p, action, f)
            elif isinstance(f, fk.FailingWrites) and write and self.net.random() < f.p:
                self.report.coverage["write failed"] += 1
                return Failed("write failed (injected)"), min(latency, MAX_LATENCY)
            elif isinstance(f, fk.LostReplies) and write and self.net.random() < f.p:
                lost = True
            elif (
                isinstance(f, fk.StaleReads)
                and f.target == p.index
                and isinstance(action, ReadNewest)
            ):
                self.report.coverage["stale read"] += 1
                return (
                    NewestIs(self._newest_at(now - f.lag), self.store.frozen()),
                    min(latency, MAX_LATENCY),
                )
            elif (
                isinstance(f, fk.CleanupCrash)
                and f.target == p.index
                and isinstance(action, CLEANUPS)
            ):
                self._half_cleanup(p, action)
                return Woke(), 0.0
        latency = min(latency, MAX_LATENCY)
        if lose_race:
            self.report.coverage["lost a lock race"] += 1
            if isinstance(action, TryLock):
                return LockResult(False), latency
            return Failed("lock busy (contention)"), latency
        result = self._execute(p, action)
        if lost:
            self.report.coverage["write applied, reply lost"] += 1
            return Failed("reply lost (injected); outcome unknown"), latency
        return result, latency

    def _execute(self, p: Process, action: Action) -> Result:
        now = self.sched.now
        if not isinstance(action, MUTATING):
            return execute(self.store, action, actor=p.name, now=now)
        before = dict(self.store.zone)
        if isinstance(action, CLEANUPS):
            self._cleanup_coverage(p)
        result = execute(self.store, action, actor=p.name, now=now)
        self._observe(p, action, result)
        self._check(action, before)
        return result

    def _observe(self, p: Process, action: Action, result: Result) -> None:
        cov = self.report.coverage
        if isinstance(result, Outcomes):
            values = set(result.by_name.values())
            if Outcome.FENCED_OUT in values:
                cov["stale enactor fenced"] += 1
            if values & {Outcome.APPLIED, Outcome.ADVANCED, Outcome.CURRENT}:
                p.last_success = self.sched.now
        elif isinstance(result, WriteDone):
            if result.outcome is Outcome.DANGLING:
                cov["rollback pointer dangles"] += 1
            elif result.outcome is Outcome.APPLIED:
                p.last_success = self.sched.now
        elif isinstance(result, Deleted) and result.result.kept_referenced:
            cov["clean-up kept a referenced plan"] += 1

    def _cleanup_coverage(self, cleaner: Process) -> None:
        for other in self.procs:
            if other is cleaner or other.down or other.state is None:
                continue
            if str(other.state.phase) in APPLYING and other.state.target < cleaner.state.target:
                self.report.coverage["clean-up ran while another enactor was mid-apply"] += 1
                return

    def _half_cleanup(self, p: Process, action: Action) -> None:
        """Delete part of what `action` would delete, then crash `p` (clean-up crash)."""
        self.report.coverage["clean-up crashed mid-sweep"] += 1
        part: Action | None = None
        if isinstance(action, DeletePlans) and len(action.generations) > 1:
            part = DeletePlans(action.generations[: len(action.generations) // 2])
        elif isinstance(action, LegacyDeleteOlder):
            oldest = min(self.store.plans, default=action.below)
            part = LegacyDeleteOlder(Generation((oldest + action.below) // 2))
        if part is not None:
            self._execute(p, part)
        self._crash(p, 1.0)

    def _incident_skew(self, p: Process, action: Action, f: fk.IncidentSkew) -> bool:
        """The incident's contention: p loses every race for `f.endpoint` while its plan
        is fewer than `f.generations` behind what is live there."""
        name = EndpointName(f.endpoint)
        if not _contended(action) or name not in _names(action):
            return False
        live = self.store.zone.get(name)
        return live is None or live.generation - p.state.target < f.generations

    # -- checking ----------------------------------------------------------------------
    def _check(self, action: Action, before: dict[EndpointName, ZoneEntry]) -> None:
        zone = self.store.zone
        changed = [n for n, e in zone.items() if before.get(n) is not e]
        if not changed and len(zone) == len(before) and not isinstance(action, CLEANUPS):
            return
        breaches = inv.generation_monotone(
            {n: e.generation for n, e in before.items()},
            {n: zone[n].generation for n in changed},
        )
        if isinstance(action, ApplyIfNewer | LegacyWrite):
            names = action.names if isinstance(action, ApplyIfNewer) else (action.name,)
            breaches += inv.stale_writes_rejected(action.generation, names, before, zone)
        if self.repairing_since is None:
            breaches += inv.state_breaches(zone, self.store.plans)
        elif not inv.state_breaches(zone, self.store.plans):
            self.report.coverage["corruption repaired"] += 1
            self.repairing_since = None
        for b in breaches:
            self._breach(b)
        if self.keep_samples:
            now = self.sched.now
            for n in changed:
                e = zone[n]
                self.report.samples.append((now, n, int(e.generation), len(e.content.records)))

    def _breach(self, b: inv.Breach) -> None:
        r = self.report
        r.counts[b.invariant] += 1
        if b.invariant == "I1":
            r.coverage["endpoint served 0 records"] += 1
            if r.empty_from is None:
                r.empty_from = self.sched.now
        if b.invariant == "I5":
            r.coverage["stale write accepted"] += 1
        if b.invariant not in r.first:
            r.first[b.invariant] = (self.sched.now, b.message)
            self._log("checker", "breach", invariant=b.invariant, message=b.message)

    # -- faults ------------------------------------------------------------------------
    def _fault(self, index: int, _: int) -> None:
        f = self.knobs.faults[index]
        self._log("fault", f.kind, target=getattr(f, "target", 0), length=f.length)
        self.report.coverage[f"fault: {f.kind}"] += 1
        if isinstance(f, fk.Pause):
            p = self.procs[f.target % len(self.procs)]
            if p.state is not None and str(p.state.phase) in APPLYING:
                self.report.coverage["enactor paused mid-plan"] += 1
            p.paused_until = max(p.paused_until, self.sched.now + f.length)
        elif isinstance(f, fk.Crash):
            p = self.procs[f.target % len(self.procs)]
            if p.state is not None and str(p.state.phase) in APPLYING:
                self.report.coverage["enactor crashed mid-plan"] += 1
            self._crash(p, f.length)
        elif isinstance(f, fk.PlannerBurst) and self.planning:
            for _ in range(f.count):
                self._publish()
        elif isinstance(f, fk.Corrupt):
            self._corrupt(f)

    def _crash(self, p: Process, restart_after: float) -> None:
        if p.down:
            return
        p.down = True
        p.epoch += 1
        self.sched.after(restart_after, "restart", p.index)

    def _corrupt(self, f: fk.Corrupt) -> None:
        """Put one endpoint in an inconsistent state; the reconciler must repair it (L2)."""
        name = self.names[f.target % len(self.names)]
        how = corrupt(self.store, name, f.how)
        if how is None:
            return
        self._log("fault", "corrupted", endpoint=name, how=how)
        self.report.coverage[f"corruption: {how}"] += 1
        self.repairing_since = self.sched.now
        self.sched.after(self.knobs.reconcile_interval, "reconcile")

    def _calm(self, _: int, __: int) -> None:
        """Faults and load stop; from here the system must converge on its own."""
        self.faulty = False
        self.planning = False
        for p in self.procs:
            p.paused_until = min(p.paused_until, self.sched.now)
        self._log("driver", "calm")

    # -- repair ------------------------------------------------------------------------
    def _reconcile(self, _: int, __: int) -> None:
        self._repair("reconciler")
        if self.repairing_since is not None:
            self.sched.after(self.knobs.reconcile_interval, "reconcile")

    def _repair(self, actor: str) -> None:
        """One pass of the production repair (the reconciler's and `zonewarden repair`'s)."""
        before = dict(self.store.zone)
        try:
            fix = repair_once(self.store, actor=actor, now=self.sched.now)
        except PermanentError as exc:  # no valid plan left to repair from
            self._log(actor, "repair-failed", error=str(exc))
            return
        if not fix.problems:
            return
        target = fix.republished if fix.republished is not None else self.store.newest()
        self._log(actor, "repair", problems=[str(p) for p in fix.problems], g=int(target))
        if fix.republished is not None:
            self.newest_at.append((self.sched.now, int(fix.republished)))
        self._check(ApplyIfNewer(target, tuple(fix.outcomes)), before)

    def _operator(self, _: int, __: int) -> None:
        """The humans of 2025: once an endpoint has been empty long enough, freeze the
        automation (stop every enactor and the planner) and repair by hand."""
        r = self.report
        now = self.sched.now
        if r.empty_from is not None and now - r.empty_from >= self.knobs.operator_repair_after:
            r.stuck_at_repair = tuple(
                f"{p.name}: {p.state.phase}, last successful write at {p.last_success:.2f}s"
                for p in self.procs
            )
            for p in self.procs:
                p.down, p.stopped, p.epoch = True, True, p.epoch + 1
            self.planning = False
            self._repair("operator")
            r.repaired_at = now
            r.coverage["operator repair"] += 1
            return
        self.sched.after(1.0, "operator")

    # -- helpers -----------------------------------------------------------------------
    def _newest_at(self, when: float) -> Generation:
        i = bisect.bisect_right(self.newest_at, (when, float("inf"))) - 1
        return Generation(self.newest_at[max(i, 0)][1])

    def _header(self) -> None:
        if self.report.trace is not None:
            head = {"protocol": self.protocol, "seed": self.seed, "knobs": self.knobs.as_json()}
            self.report.trace.append(canonical_json({"header": head}))

    def _log(self, who: str, what: str, **detail: object) -> None:
        if self.report.trace is not None:
            line = {"t": round(self.sched.now, 9), "who": who, "what": what, **detail}
            self.report.trace.append(canonical_json(line))


def _contended(action: Action) -> bool:
    return isinstance(action, TryLock | ApplyIfNewer | AdvanceUnchanged)


def _names(action: Action) -> tuple[EndpointName, ...]:
    if isinstance(action, TryLock):
        return (action.name,)
    if isinstance(action, ApplyIfNewer):
        return action.names
    return ()


def simulate(protocol: str, seed: int, knobs: Knobs, **options: Any) -> RunReport:
    """Run one seeded simulation to its end and return what it found."""
    return Simulation(protocol, seed, knobs, **options).run()
