"""The removal budget's grants: how much of an automatic decrease may happen now.

Rules kept here:
- a decrease is granted only in whole units that fit the removal budget of the LB's AZ
  AND of every endpoint that uses it, checked after the removal (the Envoy ejection
  bug, issues 26877/27066: a cap checked before each ejection lets all go);
- no grant takes an endpoint below its capacity floor (a share of its nominal
  capacity);
- what does not fit is held back, with the bound that held it and, for a budget, the
  time it has room again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zonewarden.core.budget import BudgetRule, RemovalBudget, Scope
from zonewarden.core.model import EndpointName, LbId
from zonewarden.core.region_index import RegionIndex


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


def scopes(index: RegionIndex, lb: LbId) -> list[Scope]:
    """The budget scopes a removal from `lb` spends: its AZ and every endpoint on it."""
    return [Scope("az", index.region.lbs[lb].az)] + [Scope("endpoint", n) for n in index.users[lb]]


def grant(
    index: RegionIndex,
    served: Mapping[LbId, int],
    budget: RemovalBudget,
    lb: LbId,
    want: int,
    now: float,
    rules: Mapping[str, BudgetRule],
    capacity_floor: float,
) -> tuple[int, str]:
    """The whole units of `want` the budget and the floors allow, and what bound it."""
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
            floor = capacity_floor * capacity
            if current - granted < floor - 1e-9:
                granted = max(0, int(current - floor + 1e-9))
                bound = (
                    f"capacity floor {capacity_floor:.0%} of {scope}: serves "
                    f"{current} of {capacity:g}, floor {floor:g}"
                )
        if granted <= 0:
            return 0, bound
    return granted, bound


def refill(
    index: RegionIndex,
    budget: RemovalBudget,
    lb: LbId,
    now: float,
    rules: Mapping[str, BudgetRule],
) -> float | None:
    """When every budget `lb`'s removal spends has room again (None: no budget binds)."""
    times = []
    for scope in scopes(index, lb):
        rule = rules.get(scope.kind)
        if rule is not None:
            t = budget.refills_at(scope, now, rule)
            if t is not None:
                times.append(t)
    return max(times) if times else None
