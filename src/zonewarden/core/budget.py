"""The removal budget: how much capacity may be taken away per scope per sliding window.

A scope is anything whose capacity must not fall too fast: an endpoint, an AZ, a cell.
Each scope has a `BudgetRule` (a fraction of its capacity per window of seconds). A
`RemovalBudget` is an immutable ledger of what was removed, when, from which scopes.

Rules kept here:
- a removal is checked against the room left *after* it, never before it (Envoy's
  ejection cap checked before each ejection, so three hosts under a 67% cap were all
  ejected: envoyproxy/envoy issues 26877 and 27066);
- one removal usually touches several scopes at once (an LB belongs to an AZ and to every
  endpoint that uses it): the grant is the largest amount that fits every one of them;
- grants may be partial: an LB bigger than the room left loses part of its capacity now
  and the rest in later windows ("held back"), so no scope is ever stuck because a
  single member is larger than its budget;
- a spend leaves the window `rule.window` seconds after it was made (`at + window <= now`);
- pure: no clock, callers pass `now`.

    budget = RemovalBudget()
    room = budget.grant({Scope("az", "az1"): 400.0, Scope("endpoint", "kv."): 1200.0},
                        want=100.0, now=t, rules=rules)
    budget = budget.spend([Scope("az", "az1"), Scope("endpoint", "kv.")], room, now=t)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EPSILON = 1e-9


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """What a budget limits: a kind (endpoint, az, ...) and a name."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """At most `fraction` of a scope's capacity removed per `window` seconds."""

    fraction: float = 0.25
    window: float = 300.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"budget fraction {self.fraction} outside 0..1")
        if self.window <= 0:
            raise ValueError(f"budget window {self.window} s must be > 0")

    def describe(self) -> str:
        return f"{self.fraction:.0%} per {_duration(self.window)}"


UNLIMITED = BudgetRule(fraction=1.0, window=1e-9)


@dataclass(frozen=True, slots=True)
class Spend:
    """One granted removal: `amount` capacity units taken from `scopes` at `at`."""

    at: float
    scopes: frozenset[Scope]
    amount: float


@dataclass(frozen=True, slots=True)
class Room:
    """How much a scope may still lose now, and the numbers behind it."""

    scope: Scope
    capacity: float
    used: float
    limit: float

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class RemovalBudget:
    """The ledger of granted removals, newest last. Immutable: every change returns a copy."""

    spends: tuple[Spend, ...] = ()

    def used(self, scope: Scope, now: float, rule: BudgetRule) -> float:
        """Capacity removed from `scope` within the window ending at `now`."""
        return sum(s.amount for s in self.spends if scope in s.scopes and s.at + rule.window > now)

    def room(self, scope: Scope, capacity: float, now: float, rule: BudgetRule) -> Room:
        return Room(scope, capacity, self.used(scope, now, rule), rule.fraction * capacity)

    def grant(
        self,
        capacities: Mapping[Scope, float],
        want: float,
        now: float,
        rules: Mapping[str, BudgetRule],
    ) -> float:
        """The largest amount <= `want` that every scope's rule still allows after the
        removal. `capacities` maps each touched scope to its capacity; a scope kind with
        no rule is not limited."""
        granted = max(0.0, want)
        for scope, capacity in capacities.items():
            rule = rules.get(scope.kind)
            if rule is None:
                continue
            granted = min(granted, self.room(scope, capacity, now, rule).left)
        return 0.0 if granted < EPSILON else granted

    def spend(self, scopes: Iterable[Scope], amount: float, now: float) -> RemovalBudget:
        """Record a granted removal (amounts <= 0 are not recorded)."""
        if amount <= EPSILON:
            return self
        return RemovalBudget((*self.spends, Spend(now, frozenset(scopes), amount)))

    def pruned(self, now: float, rules: Mapping[str, BudgetRule]) -> RemovalBudget:
        """Drop spends that have left every window they could count in."""
        longest = max((r.window for r in rules.values()), default=0.0)
        kept = tuple(s for s in self.spends if s.at + longest > now)
        return self if len(kept) == len(self.spends) else RemovalBudget(kept)

    def refills_at(self, scope: Scope, now: float, rule: BudgetRule) -> float | None:
        """When the oldest spend of `scope` still in the window leaves it (None if none)."""
        times = [s.at + rule.window for s in self.spends if scope in s.scopes]
        times = [t for t in times if t > now]
        return min(times) if times else None


def within_budget(
    removed: float, capacity: float, rule: BudgetRule, scope: Scope | str
) -> str | None:
    """The gate for checkers (planner tests, simulator): None when `removed` units out of
    `capacity` fit the rule, else the violation with its numbers."""
    if capacity <= 0:
        return None
    fraction = removed / capacity
    if fraction <= rule.fraction + EPSILON:
        return None
    return (
        f"capacity removal {fraction:.0%} exceeds limit {rule.describe()} for {scope} "
        f"({removed:g} of {capacity:g})"
    )


def removed_in_window(series: Iterable[tuple[float, float]], now: float, window: float) -> float:
    """The largest drop of a capacity series (time, capacity) inside the window ending at
    `now`: the highest value seen in the window minus the value at `now`. Checkers use it
    to verify a run against the budget without trusting the planner's own ledger."""
    before: list[float] = []
    inside: list[float] = []
    for t, c in series:
        if t <= now - window:
            before = [c]  # the value the window starts from
        elif t <= now:
            inside.append(c)
    points = before + inside
    if not points:
        return 0.0
    return max(0.0, max(points) - points[-1])


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
