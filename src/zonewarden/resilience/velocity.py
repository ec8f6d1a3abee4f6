"""The velocity limiter: how much capacity health-check fail-over may remove, and when.

The rule is `core.budget` (a fraction of each scope's capacity per sliding window,
checked after the removal, partial grants); this class is its stateful driver for
callers that decide one removal at a time (the simulator's health-check fail-over, a
health source's fail-over): it keeps the ledger, prunes it, and counts what it granted
and what it held back, so a hold is visible. It never invents a second rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from zonewarden.core.budget import BudgetRule, RemovalBudget, Scope
from zonewarden.resilience.metrics import Counters


@dataclass(slots=True)
class VelocityLimiter:
    rules: Mapping[str, BudgetRule] = field(default_factory=lambda: {"az": BudgetRule()})
    name: str = "default"
    budget: RemovalBudget = field(default_factory=RemovalBudget)
    held_back: float = 0.0  # capacity asked for and not granted, in total
    counters: Counters = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.counters = Counters(
            "velocity", self.name, ("removals-granted", "removals-held", "removals-partial")
        )

    def remove(self, capacities: Mapping[Scope, float], want: float, now: float) -> float:
        """Grant (and record) the largest part of `want` every scope's rule allows now."""
        self.budget = self.budget.pruned(now, self.rules)
        granted = self.budget.grant(capacities, want, now, self.rules)
        values = self.counters.values
        if granted <= 0.0:
            values["removals-held"] += 1
        elif granted < want:
            values["removals-partial"] += 1
        else:
            values["removals-granted"] += 1
        self.held_back += max(0.0, want - granted)
        self.budget = self.budget.spend(capacities.keys(), granted, now)
        return granted
