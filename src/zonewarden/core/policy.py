"""Capacity policy: how much capacity each load balancer is planned with, tick by tick.

Inputs per tick: the combined health verdict per LB, operator holds (disable: treated
like failed health, budgeted; drain: the fast lane, bypasses the budget on purpose), and
the previous `PolicyState`. Output: the next state, every LB change with its cause,
what the budget held back, and alarms (fail-static: nothing changes).

Rules kept here, in this order (`step`):
1. fail-static: when the evidence has problems (stale, vantage points split, source
   down) or more than `max_failing` of the LBs or of their addresses fail at once,
   change nothing and alarm;
2. increases and re-entries are free but pass hysteresis (deadband, hold-down);
3. every automatic decrease is granted by the removal budget for the LB's AZ and for
   every endpoint that uses it, and may not take an endpoint below its capacity floor;
   what does not fit is held back and retried on later ticks, LBs in id order;
4. an operator drain moves at once, is never budgeted and is named as the cause;
5. an LB planned by address (`core.addresses`) is wanted at the share of its available
   addresses, and the plan leaves out the addresses its served capacity does not cover;
   a left-out address re-enters after its own hold-down, damped by its own exits.

Endpoints that share LBs share their capacity: one served value per LB, so every
endpoint on it sees the same change. Pure: `now` is passed in.

The parts live beside it: `region_index` (the region's shape, the weight rule),
`addresses` (an LB's addresses in the plan),
`evidence` (what health and holds ask of each LB, the plausibility alarm), `grants`
(the budget's and floor's grants), `ledger` (the state and what survives a restart).
This module re-exports their names, so `core.policy` stays the one place to import from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from zonewarden.core.addresses import (
    NO_ADDRESS_PLAN,
    AddressPlan,
    exits_after,
    leave_out,
    unavailable,
)
from zonewarden.core.addresses import cause as address_cause
from zonewarden.core.budget import BudgetRule
from zonewarden.core.evidence import (
    LbHealth,
    OperatorHold,
    holds_by_lb,
    too_many_failing,
    wanted_capacity,
)
from zonewarden.core.grants import HeldBack, grant, refill, scopes
from zonewarden.core.hysteresis import Hysteresis, settle
from zonewarden.core.ledger import PolicyState, initial_state, ledger_document, state_from_ledger
from zonewarden.core.model import LbId
from zonewarden.core.region_index import MAX_WEIGHT, RegionIndex

__all__ = [
    "MAX_WEIGHT",
    "HeldBack",
    "LbChange",
    "LbHealth",
    "OperatorHold",
    "PolicySettings",
    "PolicyState",
    "RegionIndex",
    "Step",
    "holds_by_lb",
    "initial_state",
    "ledger_document",
    "state_from_ledger",
    "step",
    "wanted_capacity",
]


@dataclass(frozen=True, slots=True)
class PolicySettings:
    endpoint_budget: BudgetRule | None = field(default_factory=BudgetRule)
    az_budget: BudgetRule | None = field(default_factory=BudgetRule)
    hysteresis: Hysteresis = field(default_factory=Hysteresis)
    max_failing: float = 0.5
    capacity_floor: float = 0.3

    @property
    def rules(self) -> dict[str, BudgetRule]:
        out = {}
        if self.endpoint_budget is not None:
            out["endpoint"] = self.endpoint_budget
        if self.az_budget is not None:
            out["az"] = self.az_budget
        return out


@dataclass(frozen=True, slots=True)
class LbChange:
    lb: LbId
    before: int
    after: int
    cause: str

    def __str__(self) -> str:
        return f"{self.lb} capacity {self.before}->{self.after}: {self.cause}"


@dataclass(frozen=True, slots=True)
class Step:
    state: PolicyState
    changes: tuple[LbChange, ...] = ()
    held_back: tuple[HeldBack, ...] = ()
    alarms: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()  # LBs kept out by hysteresis, with why

    @property
    def fail_static(self) -> bool:
        return bool(self.alarms)


def step(
    state: PolicyState,
    index: RegionIndex,
    health: Mapping[LbId, LbHealth],
    holds: Iterable[OperatorHold],
    now: float,
    settings: PolicySettings,
    evidence_problems: Iterable[str] = (),
) -> Step:
    """One tick of the policy (see the module doc for the order of the rules)."""
    region = index.region
    by_lb = holds_by_lb(region, holds)
    alarms = list(evidence_problems) + too_many_failing(index, health, by_lb, settings.max_failing)
    if alarms:
        return Step(state, alarms=tuple(alarms))
    since = dict(state.healthy_since)
    for lb in region.lbs:
        h = health.get(lb)
        if h is None or h.healthy:
            since.setdefault(lb, now)
        else:
            since.pop(lb, None)
    first = not state.served
    served = dict(state.served) if not first else {}
    changes: list[LbChange] = []
    waiting: list[str] = []
    decreases: list[tuple[LbId, int, str, bool]] = []
    by_address: dict[LbId, tuple[int, list[str], dict[str, float]]] = {}
    for lb in region.lbs:
        h = health.get(lb)
        wanted, cause, drain = wanted_capacity(index, lb, h, by_lb)
        servable = index.servable[lb]
        if h is not None and h.healthy and lb not in by_lb and len(servable) > 1:
            plan = state.addresses.get(lb, NO_ADDRESS_PLAN)
            order, clocks, waits = unavailable(servable, h.down, plan, now, settings.hysteresis)
            by_address[lb] = (wanted, order, clocks)
            waiting += [f"{lb} {w}" for w in waits]
            if order or plan.out:
                cause += "; " + address_cause(order, servable, plan, now, settings.hysteresis)
            if order:
                wanted = wanted * (len(servable) - len(order)) // len(servable)
        before = served.get(lb, 0)
        if first:
            served[lb] = wanted
            changes.append(LbChange(lb, 0, wanted, cause))
        elif wanted < before:
            decreases.append((lb, wanted, cause, drain))
        else:
            after, why = settle(
                before, wanted, since.get(lb), now, settings.hysteresis, state.exits.get(lb, ())
            )
            if after != before:
                served[lb] = after
                changes.append(LbChange(lb, before, after, cause))
            if why:
                waiting.append(f"{lb}: {why}")
    rules = settings.rules
    budget = state.budget.pruned(now, rules)
    held: list[HeldBack] = []
    for lb, wanted, cause, drain in decreases:
        before = served[lb]
        if drain:
            served[lb] = wanted
            changes.append(LbChange(lb, before, wanted, cause))
            continue
        granted, bound = grant(
            index, served, budget, lb, before - wanted, now, rules, settings.capacity_floor
        )
        if granted > 0:
            served[lb] = before - granted
            budget = budget.spend(scopes(index, lb), granted, now)
            changes.append(LbChange(lb, before, before - granted, cause))
        if granted < before - wanted:
            until = refill(index, budget, lb, now, rules) if "floor" not in bound else None
            removed = before - served[lb]
            held.append(HeldBack(lb, before - wanted, removed, bound, until))
    exits = _exits(state, served, {c.lb for c in changes}, now, settings)
    addresses = _address_plans(state, by_address, served, index, now, settings.hysteresis)
    new_state = PolicyState(
        MappingProxyType(served), MappingProxyType(since), budget, exits, addresses
    )
    return Step(new_state, tuple(changes), tuple(held), (), tuple(waiting))


def _address_plans(
    state: PolicyState,
    by_address: Mapping[LbId, tuple[int, list[str], dict[str, float]]],
    served: Mapping[LbId, int],
    index: RegionIndex,
    now: float,
    h: Hysteresis,
) -> Mapping[LbId, AddressPlan]:
    """Which addresses each LB planned by address leaves out now, and their exits; an
    LB not judged by address this tick (unhealthy, held) keeps what it left out, so a
    failing LB whose removal is held back never brings a dead address back."""
    out: dict[LbId, AddressPlan] = {}
    for lb, plan in state.addresses.items():
        if lb not in by_address and (plan.out or plan.exits):
            out[lb] = plan
    for lb, (basis, order, clocks) in by_address.items():
        plan = state.addresses.get(lb, NO_ADDRESS_PLAN)
        left = leave_out(index.servable[lb], order, plan.out, basis, served.get(lb, 0))
        exits = exits_after(plan, left, state.served.get(lb, 0) > 0, now, h)
        if left or exits:
            out[lb] = AddressPlan(left, MappingProxyType(clocks), exits)
    return MappingProxyType(out)


def _exits(
    state: PolicyState,
    served: Mapping[LbId, int],
    changed: set[LbId],
    now: float,
    settings: PolicySettings,
) -> Mapping[LbId, tuple[float, ...]]:
    """Record when LBs left the plan (for damping), forgetting those past the window.
    Only a `changed` LB can have left (the others serve what they served)."""
    window = settings.hysteresis.flap_window
    out: dict[LbId, tuple[float, ...]] = {}
    for lb in set(state.exits) | changed:
        times = tuple(t for t in state.exits.get(lb, ()) if now - t <= window)
        if state.served.get(lb, 0) > 0 and served.get(lb, 0) <= 0:
            times += (now,)
        if times:
            out[lb] = times
    return MappingProxyType(out)
