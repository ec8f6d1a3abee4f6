"""Capacity policy: how much capacity each load balancer is planned with, tick by tick.

Inputs per tick: the combined health verdict per LB, operator holds (disable: treated
like failed health, budgeted; drain: the fast lane, bypasses the budget on purpose), and
the previous `PolicyState`. Output: the next state, every LB change with its cause,
what the budget held back, and alarms (fail-static: nothing changes).

Rules kept here, in this order:
1. fail-static: when the evidence has problems (stale, vantage points split, source
   down) or more than `max_failing` of the LBs fail at once, change nothing and alarm;
2. increases and re-entries are free but pass hysteresis (deadband, hold-down);
3. every automatic decrease is granted by the removal budget for the LB's AZ and for
   every endpoint that uses it, and may not take an endpoint below its capacity floor;
   what does not fit is held back and retried on later ticks, LBs in id order;
4. an operator drain moves at once, is never budgeted and is named as the cause.

Endpoints that share LBs share their capacity: one served value per LB, so every
endpoint on it sees the same change. Pure: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from zonewarden.core.budget import BudgetRule, RemovalBudget, Scope, Spend
from zonewarden.core.hysteresis import Hysteresis, settle
from zonewarden.core.model import EndpointName, LbId
from zonewarden.core.region import Region

MAX_WEIGHT = 255  # Route 53's weight ceiling, so plans carry over to every backend


@dataclass(frozen=True, slots=True)
class OperatorHold:
    """An operator's hold on an LB or a whole AZ (`scope` "lb" or "az")."""

    scope: str
    name: str
    kind: str  # "disable" (budgeted like failed health) | "drain" (fast lane)
    reason: str
    actor: str = "operator"
    at: float = 0.0


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
class LbHealth:
    """The planner's view of one LB this tick: verdict, capacity (None: as configured)."""

    healthy: bool
    capacity: int | None = None
    reason: str = ""
    failing: bool = False  # newest probes fail, not yet fallen: counts toward fail-static


@dataclass(frozen=True, slots=True)
class LbChange:
    lb: LbId
    before: int
    after: int
    cause: str

    def __str__(self) -> str:
        return f"{self.lb} capacity {self.before}->{self.after}: {self.cause}"


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A removal the budget or floor deferred: `wanted` of it, `removed` granted so far."""

    lb: LbId
    wanted: int
    removed: int
    bound: str
    until: float | None = None

    def __str__(self) -> str:
        when = f", room again at t={self.until:.0f}" if self.until is not None else ""
        return f"{self.lb}: held back {self.wanted - self.removed} of {self.wanted} ({self.bound}{when})"


class RegionIndex:
    """What the policy needs about a region's shape, computed once per config."""

    def __init__(self, region: Region) -> None:
        self.region = region
        users: dict[LbId, list[EndpointName]] = {lb: [] for lb in region.lbs}
        for name, ep in region.endpoints.items():
            for lb in ep.lbs:
                users[lb].append(name)
        self.users = {lb: tuple(names) for lb, names in users.items()}
        self.nominal = {
            n: sum(region.lbs[lb].capacity for lb in e.lbs) for n, e in region.endpoints.items()
        }
        az: dict[str, int] = {}
        for config in region.lbs.values():
            az[config.az] = az.get(config.az, 0) + config.capacity
        self.az_capacity = az
        self.reference = max((c.capacity for c in region.lbs.values()), default=1) or 1

    def weight(self, capacity: int) -> int:
        """Planned capacity -> DNS weight 0..255 on the region's fixed reference, so one
        LB's change never re-weights the others (incremental planning relies on it)."""
        if capacity <= 0:
            return 0
        return min(MAX_WEIGHT, max(1, round(MAX_WEIGHT * capacity / self.reference)))


@dataclass(frozen=True, slots=True)
class PolicyState:
    served: Mapping[LbId, int] = field(default_factory=lambda: MappingProxyType({}))
    healthy_since: Mapping[LbId, float] = field(default_factory=lambda: MappingProxyType({}))
    budget: RemovalBudget = field(default_factory=RemovalBudget)
    exits: Mapping[LbId, tuple[float, ...]] = field(default_factory=lambda: MappingProxyType({}))


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


def wanted_capacity(
    index: RegionIndex, lb: LbId, health: LbHealth | None, holds: Mapping[LbId, OperatorHold]
) -> tuple[int, str, bool]:
    """What the evidence and the operator ask for an LB: (capacity, cause, is_drain)."""
    config = index.region.lbs[lb]
    hold = holds.get(lb)
    if hold is not None and hold.kind == "drain":
        return 0, f"drained by {hold.actor} ({hold.scope} {hold.name}): {hold.reason}", True
    if hold is not None:
        return 0, f"disabled by {hold.actor}: {hold.reason}", False
    if health is None:
        return config.capacity if config.healthy else 0, "as configured", False
    if not health.healthy:
        return 0, f"unhealthy: {health.reason}" if health.reason else "unhealthy", False
    capacity = config.capacity if health.capacity is None else health.capacity
    why = f"healthy: {health.reason}" if health.reason else "healthy"
    if health.capacity is not None:
        why += f"; capacity reported {health.capacity}"
    return capacity, why, False


def holds_by_lb(region: Region, holds: Iterable[OperatorHold]) -> dict[LbId, OperatorHold]:
    """Expand AZ holds to their LBs; a drain wins over a disable on the same LB."""
    out: dict[LbId, OperatorHold] = {}
    for hold in holds:
        targets = [
            lb for lb, c in region.lbs.items() if (c.az if hold.scope == "az" else lb) == hold.name
        ]
        for lb in targets:
            if lb not in out or hold.kind == "drain":
                out[lb] = hold
    return out


def initial_state(
    index: RegionIndex,
    served_weights: Mapping[LbId, int] | None,
    kept: PolicyState | None = None,
) -> PolicyState:
    """Start from what the previous plan serves (weights back to capacities), or, with no
    previous plan, from nothing (the first plan is built from the evidence directly);
    the budget's ledger and the exits of `kept` (restored from the store after a restart
    or a leader takeover) carry over, so a restart never opens a fresh window."""
    budget = kept.budget if kept is not None else RemovalBudget()
    exits = kept.exits if kept is not None else MappingProxyType({})
    if served_weights is None:
        return PolicyState(budget=budget, exits=exits)
    served = {
        lb: round(served_weights.get(lb, 0) * index.reference / MAX_WEIGHT)
        for lb in index.region.lbs
    }
    return PolicyState(served=MappingProxyType(served), budget=budget, exits=exits)


def ledger_document(state: PolicyState) -> dict[str, object]:
    """The parts of the state that must survive a restart, as JSON-able data."""
    return {
        "spends": [
            [s.at, s.amount, sorted(f"{x.kind}\t{x.name}" for x in s.scopes)]
            for s in state.budget.spends
        ],
        "exits": {lb: list(times) for lb, times in state.exits.items()},
    }


def state_from_ledger(doc: Mapping[str, object]) -> PolicyState:
    """Rebuild the budget's ledger and the exits from `ledger_document`'s output; rows
    that do not parse are skipped (a damaged row costs its own spend, nothing more)."""
    spends = []
    rows = doc.get("spends")
    for row in rows if isinstance(rows, list) else []:
        try:
            at, amount, scopes = row
            parsed = frozenset(Scope(*str(x).split("\t", 1)) for x in scopes)
            spends.append(Spend(float(at), parsed, float(amount)))
        except (TypeError, ValueError):
            continue
    exits: dict[LbId, tuple[float, ...]] = {}
    raw = doc.get("exits", {})
    for lb, times in raw.items() if isinstance(raw, dict) else ():
        try:
            exits[LbId(str(lb))] = tuple(float(t) for t in times)
        except (TypeError, ValueError):
            continue
    return PolicyState(budget=RemovalBudget(tuple(spends)), exits=MappingProxyType(exits))


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
    alarms = list(evidence_problems) + _too_many_failing(region, health, by_lb, settings)
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
    for lb in region.lbs:
        wanted, cause, drain = wanted_capacity(index, lb, health.get(lb), by_lb)
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
    budget = state.budget.pruned(now, settings.rules)
    held: list[HeldBack] = []
    for lb, wanted, cause, drain in decreases:
        before = served[lb]
        if drain:
            served[lb] = wanted
            changes.append(LbChange(lb, before, wanted, cause))
            continue
        granted, bound = _grant(index, served, budget, lb, before - wanted, now, settings)
        if granted > 0:
            served[lb] = before - granted
            budget = budget.spend(_scopes(index, lb), granted, now)
            changes.append(LbChange(lb, before, before - granted, cause))
        if granted < before - wanted:
            until = _refill(index, budget, lb, now, settings) if "floor" not in bound else None
            removed = before - served[lb]
            held.append(HeldBack(lb, before - wanted, removed, bound, until))
    exits = _exits(state, served, {c.lb for c in changes}, now, settings)
    new_state = PolicyState(MappingProxyType(served), MappingProxyType(since), budget, exits)
    return Step(new_state, tuple(changes), tuple(held), (), tuple(waiting))


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


def _too_many_failing(
    region: Region,
    health: Mapping[LbId, LbHealth],
    holds: Mapping[LbId, OperatorHold],
    settings: PolicySettings,
) -> list[str]:
    if not region.lbs:
        return []
    # an LB whose newest probes fail counts before its verdict falls: when everything
    # dies at once the verdicts fall over one probe interval, and the first to fall
    # must not be drained while the rest are still counting their failures
    failing = sum(1 for lb, h in health.items() if (not h.healthy or h.failing) and lb not in holds)
    fraction = failing / len(region.lbs)
    if fraction > settings.max_failing + 1e-9:
        return [
            f"{failing}/{len(region.lbs)} load balancers ({fraction:.0%}) fail at once, over the "
            f"plausibility limit {settings.max_failing:.0%}; holding last good plan"
        ]
    return []


def _scopes(index: RegionIndex, lb: LbId) -> list[Scope]:
    return [Scope("az", index.region.lbs[lb].az)] + [Scope("endpoint", n) for n in index.users[lb]]


def _grant(
    index: RegionIndex,
    served: Mapping[LbId, int],
    budget: RemovalBudget,
    lb: LbId,
    want: int,
    now: float,
    settings: PolicySettings,
) -> tuple[int, str]:
    """The whole units of `want` the budget and the floors allow, and what bound it."""
    rules = settings.rules
    granted, bound = want, ""
    az = index.region.lbs[lb].az
    checks: list[tuple[Scope, float]] = [(Scope("az", az), index.az_capacity[az])]
    checks += [(Scope("endpoint", n), index.nominal[n]) for n in index.users[lb]]
    for scope, capacity in checks:
        rule = rules.get(scope.kind)
        if rule is not None:
            room = budget.room(scope, capacity, now, rule)
            if room.left < granted:
                granted = int(room.left + 1e-9)
                bound = (
                    f"removal budget {rule.describe()} of {scope}: {room.used:g} of "
                    f"{room.limit:g} used out of {capacity:g}"
                )
        if scope.kind == "endpoint":
            ep = index.region.endpoints[EndpointName(scope.name)]
            current = sum(served.get(x, 0) for x in ep.lbs)
            floor = settings.capacity_floor * capacity
            if current - granted < floor - 1e-9:
                granted = max(0, int(current - floor + 1e-9))
                bound = (
                    f"capacity floor {settings.capacity_floor:.0%} of {scope}: serves "
                    f"{current} of {capacity:g}, floor {floor:g}"
                )
        if granted <= 0:
            return 0, bound
    return granted, bound


def _refill(
    index: RegionIndex, budget: RemovalBudget, lb: LbId, now: float, settings: PolicySettings
) -> float | None:
    times = []
    for scope in _scopes(index, lb):
        rule = settings.rules.get(scope.kind)
        if rule is not None:
            t = budget.refills_at(scope, now, rule)
            if t is not None:
                times.append(t)
    return max(times) if times else None
