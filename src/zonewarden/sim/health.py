"""The health scenarios under a virtual clock: LBs die, AZs die, everything dies, LBs
flap, probes are lost, operators drain; the real probe state machine, quorum and
planner policy decide (core/health.py, core/policy.py via core/planner.plan_tick).

Theory of operation. One seed fixes a fault schedule and every probe's jitter and loss.
Each of three vantage points probes every LB every `interval` (+-jitter); a probe of a
dead LB fails, of a live one succeeds unless lost (`loss`). Every `tick` seconds the
planner combines the vantage reports with the quorum and runs one `plan_tick`; a plan it
publishes is applied at once. After every tick an independent checker, which never reads
the planner's ledger or state, counts the capacity the plan's records serve (per
address and weight, sim/address_check.served) and looks at its series:

- floor: every endpoint keeps at least `capacity_floor` of its nominal capacity, unless
  an operator drain is active on one of its LBs;
- budget: no endpoint and no AZ lost more than its budget within any window (the highest
  value in the window minus the current one, core/budget.removed_in_window), except in
  windows where an operator drained or undrained;
- fail-static: a tick at which more than `max_failing` of the LBs were dead changes
  nothing.

`run(seed, budget=False)` is the control: without the budget the checker must find a
violation on some seeds (the tests assert it does).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from zonewarden.core.budget import BudgetRule, removed_in_window
from zonewarden.core.health import (
    CheckState,
    LbReading,
    QuorumRule,
    RiseFall,
    VantageReport,
    combine,
)
from zonewarden.core.hysteresis import Hysteresis
from zonewarden.core.model import LbId, PlanDraft
from zonewarden.core.planner import TickInputs, plan_tick
from zonewarden.core.policy import LbHealth, OperatorHold, PolicySettings, PolicyState, RegionIndex
from zonewarden.core.region import Region, demo_region
from zonewarden.sim.address_check import MAX_WEIGHT, served

VANTAGE = ("az1", "az2", "az3")


@dataclass
class Outcome:
    seed: int
    violations: list[str] = field(default_factory=list)
    plans: int = 0
    holds: int = 0
    held_back: int = 0
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass(frozen=True, slots=True)
class SimSettings:
    duration: float = 1200.0
    tick: float = 2.0
    interval: float = 1.0
    jitter: float = 0.1
    loss: float = 0.02
    window: float = 300.0
    budget: float = 0.25
    floor: float = 0.3
    max_failing: float = 0.5


def schedule(rng: random.Random, region: Region, s: SimSettings) -> list[tuple[float, str, str]]:
    """A random fault schedule: (time, what, target), sorted by time."""
    lbs = list(region.lbs)
    azs = sorted({lb.az for lb in region.lbs.values()})
    out = []
    for _ in range(rng.randint(2, 6)):
        t = rng.uniform(0, s.duration * 0.8)
        kind = rng.choices(["lb", "az", "all", "flap", "drain"], [4, 3, 1, 2, 1])[0]
        target = rng.choice(azs) if kind in ("az", "drain") else rng.choice(lbs)
        out.append((t, f"kill-{kind}" if kind not in ("flap", "drain") else kind, target))
        out.append((t + rng.uniform(20, 400), f"heal-{kind}", target))
    return sorted(out)


def run(seed: int, *, budget: bool = True, settings: SimSettings | None = None) -> Outcome:
    s = settings or SimSettings()
    region = demo_region()
    index = RegionIndex(region)
    rng = random.Random(f"health/{seed}")
    rule = BudgetRule(s.budget, s.window)
    policy = PolicySettings(
        endpoint_budget=rule if budget else None,
        az_budget=rule if budget else None,
        hysteresis=Hysteresis(hold_down=30.0),
        max_failing=s.max_failing,
        capacity_floor=s.floor,
    )
    quorum = QuorumRule(unhealthy_share=0.5, max_age=5 * s.interval, min_fresh=2)
    params = RiseFall(2, 2)
    out = Outcome(seed)
    events = schedule(rng, region, s)
    out.events = [f"t={t:.0f} {what} {target}" for t, what, target in events]
    dead: set[LbId] = set()
    flapping: set[LbId] = set()
    drained: set[str] = set()
    states = {v: {lb: CheckState() for lb in region.lbs} for v in VANTAGE}
    next_probe = {(v, lb): rng.uniform(0, s.interval) for v in VANTAGE for lb in region.lbs}
    state, plan = PolicyState(), None
    series: dict[str, list[tuple[float, float]]] = {}
    operator_times: list[float] = []
    mass_since: float | None = None  # when more than max_failing of the LBs died
    detect = (params.fall + 1) * s.interval * (1 + s.jitter) + s.tick
    now = 0.0
    while now < s.duration:
        now += s.tick
        while events and events[0][0] <= now:
            _, what, target = events.pop(0)
            _apply_event(region, what, target, dead, flapping, drained)
        _probe(region, states, next_probe, dead, flapping, now, s, rng, params)
        reports = [
            VantageReport(
                v,
                now,
                {lb: _reading(st) for lb, st in states[v].items() if st.checked_at is not None},
            )
            for v in VANTAGE
        ]
        evidence = combine(reports, region.lbs, now, quorum)
        health = {
            lb: LbHealth(v.healthy, None, v.reason, v.failing)
            for lb, v in evidence.verdicts.items()
        }
        holds = tuple(OperatorHold("az", az, "drain", "sim") for az in sorted(drained))
        decision = plan_tick(
            TickInputs(
                index,
                health,
                state,
                now,
                plan,
                holds,
                settings=policy,
                evidence_problems=evidence.problems,
            )
        )
        drained_lbs = {lb for lb, c in region.lbs.items() if c.az in drained}
        if len(dead - drained_lbs) / len(region.lbs) > s.max_failing:
            mass_since = now if mass_since is None else mass_since
        else:
            mass_since = None
        if decision.action == "hold":
            out.holds += 1
        else:
            if decision.action == "publish":
                out.plans += 1
                settled = mass_since is not None and now - mass_since > detect
                if settled and any(c.after < c.before for c in decision.step.changes):
                    out.violations.append(
                        f"t={now:.0f}: {len(dead)}/{len(region.lbs)} LBs dead, yet a plan drained"
                    )
            if any(c.cause.startswith("drained by") for c in decision.step.changes):
                operator_times.append(now)  # when the drain took effect, not when asked
            state, plan = decision.state, decision.draft
        out.held_back += len(decision.step.held_back)
        _check(region, index, plan, now, s, rule, drained, operator_times, series, out)
    return out


def _apply_event(
    region: Region, what: str, target: str, dead: set[LbId], flapping: set[LbId], drained: set[str]
) -> None:
    lbs = {
        "lb": [LbId(target)],
        "az": [lb for lb, c in region.lbs.items() if c.az == target],
        "all": list(region.lbs),
    }
    kind = what.split("-", 1)[-1]
    if what.startswith("kill-"):
        dead.update(lbs[kind])
    elif what == "flap":
        flapping.add(LbId(target))
    elif what == "drain":
        drained.add(target)
    elif what == "heal-flap":
        flapping.discard(LbId(target))
    elif what == "heal-drain":
        drained.discard(target)
    elif kind in lbs:
        dead.difference_update(lbs[kind])


def _probe(
    region: Region,
    states: dict[str, dict[LbId, CheckState]],
    next_probe: dict[tuple[str, LbId], float],
    dead: set[LbId],
    flapping: set[LbId],
    now: float,
    s: SimSettings,
    rng: random.Random,
    params: RiseFall,
) -> None:
    for (v, lb), due in next_probe.items():
        while due <= now:
            up = lb not in dead and (lb not in flapping or int(due / 1.5) % 2 == 0)  # 1.5 s flaps
            ok = up and rng.random() >= s.loss
            states[v][lb] = states[v][lb].step(ok, "ok" if ok else "fail", due, params)
            due += s.interval * (1 + rng.uniform(-s.jitter, s.jitter))
        next_probe[(v, lb)] = due


def _reading(state: CheckState) -> LbReading:
    return LbReading(state.healthy, state.checked_at or 0.0, state.reason, None, not state.last_ok)


def _check(
    region: Region,
    index: RegionIndex,
    plan: PlanDraft | None,
    now: float,
    s: SimSettings,
    rule: BudgetRule,
    drained: set[str],
    operator_times: list[float],
    series: dict[str, list[tuple[float, float]]],
    out: Outcome,
) -> None:
    """The capacity the plan's records serve (sim/address_check.served), per name and
    per AZ, against the floor and the budget per window; never the planner's state."""
    if plan is None:
        return
    reference = float(index.reference)
    counted = served(region, plan, reference)
    step = 2 * reference / MAX_WEIGHT  # one weight's rounding each way, per LB
    recent_operator = any(now - t < s.window for t in operator_times)
    scopes: dict[str, tuple[float, float, float]] = {}  # scope -> (served, nominal, slack)
    for name, ep in region.endpoints.items():
        value, slack = counted.names[name], step * len(ep.lbs)
        scopes[f"endpoint {name}"] = (value, index.nominal[name], slack)
        if not drained and value + slack < s.floor * index.nominal[name]:
            out.violations.append(f"t={now:.0f}: {name} serves {value:.0f} < floor")
    for az, capacity in index.az_capacity.items():
        lbs = [lb for lb, c in region.lbs.items() if c.az == az]
        value = sum(counted.lbs[lb] for lb in lbs)
        scopes[f"az {az}"] = (value, capacity, step * len(lbs))
    for scope, (value, total, slack) in scopes.items():
        points = series.setdefault(scope, [])
        points.append((now, value))
        removed = removed_in_window(points, now, rule.window)
        if not recent_operator and removed > rule.fraction * total + slack:
            out.violations.append(
                f"t={now:.0f}: {scope} lost {removed:.0f} of {total:g} within {rule.window:g} s"
            )


def swarm(
    seeds: range, *, budget: bool = True, settings: SimSettings | None = None
) -> Mapping[int, Outcome]:
    return {seed: run(seed, budget=budget, settings=settings) for seed in seeds}
