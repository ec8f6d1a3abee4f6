"""The health scenarios by LB address under a virtual clock: single addresses die, stall
and flap, whole LBs and AZs die, one address of every LB dies at once, operators drain;
the production quorum per address (`core.health.combine`) and planner tick
(`core.planner.plan_tick`, which plans by address through `core.addresses`) decide.

Theory of operation. One seed fixes a region (sim/address_world.py), a fault schedule
and every probe. Three vantage points probe every address; every `tick` seconds the
planner combines their reports with the quorum and runs one `plan_tick` with each LB's
verdict, the addresses a quorum calls down and those whose newest probes fail, exactly
as runtime/planner.py does; a plan it publishes is in force at once. After every tick the independent checker
(sim/address_check.py) counts capacity from the plan's records and checks the floor,
the budget per window, fail-static, never-empty and that dead addresses leave.

Controls (the tests assert they fail): `budget=False` (the removal budget off: every
dead address leaves at once) breaks the budget per window on most seeds;
`addresses=False` (the verdicts without the addresses that are down, as planning per
LB did) leaves dead addresses in the plan with room to remove them;
`plausibility=False` (with the budget off) drains when most addresses die at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from zonewarden.core.budget import BudgetRule
from zonewarden.core.health import QuorumRule, RiseFall, combine
from zonewarden.core.hysteresis import Hysteresis
from zonewarden.core.planner import TickInputs, plan_tick
from zonewarden.core.policy import LbHealth, OperatorHold, PolicySettings, PolicyState, RegionIndex
from zonewarden.core.region import Region
from zonewarden.sim.address_check import Checker, Limits
from zonewarden.sim.address_world import (
    Fault,
    Faults,
    Probes,
    address_region,
    in_order,
    lb_addresses,
    schedule,
)

# the planner's fail-static counts addresses (core/evidence.py), so the checker expects
# one address of every LB dying together to hold the plan when they are most of them
ADDRESS_FAIL_STATIC = True


@dataclass(frozen=True, slots=True)
class AddressSettings:
    duration: float = 900.0
    tick: float = 2.0
    interval: float = 1.0
    jitter: float = 0.1
    loss: float = 0.02
    timeout: float = 0.8
    window: float = 300.0
    budget: float = 0.25
    floor: float = 0.3
    max_failing: float = 0.5
    hold_down: float = 30.0


@dataclass
class AddressOutcome:
    seed: int
    violations: list[str] = field(default_factory=list)
    plans: int = 0
    holds: int = 0
    held_back: int = 0
    addresses_out: int = 0  # address removals planned (an address leaving the plan)
    lingered: int = 0  # ticks a dead address stayed in with room to leave
    lbs: int = 0
    addresses: int = 0
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def run(
    seed: int,
    *,
    budget: bool = True,
    addresses: bool = True,
    settings: AddressSettings | None = None,
    faults: Callable[[Region], list[Fault]] | None = None,
    dualstack: bool = False,
    plausibility: bool = True,
) -> AddressOutcome:
    """One seed; `faults` replaces the seed's random schedule (a scenario); `dualstack`
    gives every LB IPv6 addresses and one name AAAA records (address_region);
    `plausibility=False` is fail-static's control (the planner's limit at 100%)."""
    s = settings or AddressSettings()
    rng = random.Random(f"addresses/{seed}")
    region = address_region(rng, dualstack=dualstack)
    index = RegionIndex(region)
    rule = BudgetRule(s.budget, s.window)
    policy = PolicySettings(
        endpoint_budget=rule if budget else None,
        az_budget=rule if budget else None,
        hysteresis=Hysteresis(hold_down=s.hold_down),
        max_failing=s.max_failing if plausibility else 1.0,
        capacity_floor=s.floor,
    )
    quorum = QuorumRule(unhealthy_share=0.5, max_age=5 * s.interval, min_fresh=2)
    params = RiseFall(2, 2)
    detect = (params.fall + 1) * s.interval * (1 + s.jitter) + s.timeout + 2 * s.tick
    checker = Checker(
        region,
        Limits(
            s.budget,
            s.window,
            s.floor,
            s.max_failing,
            detect=detect,
            grace=3,
            recover=s.hold_down + detect,
            address_fail_static=ADDRESS_FAIL_STATIC,
        ),
    )
    out = AddressOutcome(seed, lbs=len(region.lbs))
    out.addresses = sum(len(lb_addresses(c)) for c in region.lbs.values())
    events = schedule(rng, region, s.duration) if faults is None else in_order(faults(region))
    out.events = [str(f) for f in events]
    active = Faults()
    probes = Probes(
        region,
        rng,
        interval=s.interval,
        jitter=s.jitter,
        loss=s.loss,
        timeout=s.timeout,
        params=params,
    )
    state, plan = PolicyState(), None
    now = 0.0
    while now < s.duration:
        now += s.tick
        while events and events[0].at <= now:
            probes.run_until(events[0].at, active)  # the probes before it see the old world
            active.apply(events.pop(0))
        probes.run_until(now, active)
        evidence = combine(probes.reports(now), region.lbs, now, quorum)
        health = {
            lb: LbHealth(
                v.healthy,
                None,
                v.reason,
                v.failing,
                v.addresses_down if addresses else (),
                v.addresses_failing if addresses else (),
            )
            for lb, v in evidence.verdicts.items()
        }
        holds = tuple(OperatorHold("az", az, "drain", "sim") for az in sorted(active.drained))
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
        held = decision.action == "hold"
        published = decision.action == "publish"
        if held:
            out.holds += 1
        else:
            out.plans += published
            out.addresses_out += _left(state, decision.state)
            state, plan = decision.state, decision.draft
        out.held_back += len(decision.step.held_back)
        drains = any(c.cause.startswith("drained by") for c in decision.step.changes)
        checker.step(
            now,
            plan,
            published=published,
            held=held,
            drained_azs=active.drained,
            operator_drained=drains and not held,
            broken=[k for k in probes.keys if active.broken(k)],
        )
    out.violations = checker.violations
    out.lingered = checker.lingered
    return out


def _left(before: PolicyState, after: PolicyState) -> int:
    """How many addresses left the plan between two states."""
    return sum(
        len(p.out - before.addresses[lb].out if lb in before.addresses else p.out)
        for lb, p in after.addresses.items()
    )


def swarm(
    seeds: range,
    *,
    budget: bool = True,
    addresses: bool = True,
    settings: AddressSettings | None = None,
) -> Mapping[int, AddressOutcome]:
    return {
        seed: run(seed, budget=budget, addresses=addresses, settings=settings) for seed in seeds
    }
