"""The policy's state between ticks, and the part of it that survives a restart.

`PolicyState` holds what each LB is planned with (`served`), since when it has been
healthy (re-entry hold-down), the removal budget's ledger and when each LB recently
left the plan (flap damping).

Rules kept here:
- a planner that starts from a previous plan starts from what that plan serves
  (weights back to capacities on the region's fixed reference);
- the budget's ledger and the exits carry over a restart or a leader takeover (they
  are written with the health status every tick), so a restart never opens a fresh
  window; a damaged ledger row costs its own spend, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from zonewarden.core.addresses import AddressPlan
from zonewarden.core.budget import RemovalBudget, Scope, Spend
from zonewarden.core.model import LbId
from zonewarden.core.region_index import MAX_WEIGHT, RegionIndex


@dataclass(frozen=True, slots=True)
class PolicyState:
    served: Mapping[LbId, int] = field(default_factory=lambda: MappingProxyType({}))
    healthy_since: Mapping[LbId, float] = field(default_factory=lambda: MappingProxyType({}))
    budget: RemovalBudget = field(default_factory=RemovalBudget)
    exits: Mapping[LbId, tuple[float, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # LBs planned by address: which addresses the plan leaves out (core/addresses.py)
    addresses: Mapping[LbId, AddressPlan] = field(default_factory=lambda: MappingProxyType({}))


def initial_state(
    index: RegionIndex,
    served_weights: Mapping[LbId, int] | None,
    kept: PolicyState | None = None,
    present: Mapping[LbId, frozenset[str]] | None = None,
) -> PolicyState:
    """Start from what the previous plan serves (weights back to capacities), or, with no
    previous plan, from nothing (the first plan is built from the evidence directly);
    the budget's ledger and the exits of `kept` (restored from the store after a restart
    or a leader takeover) carry over, so a restart never opens a fresh window. With
    `present` (each LB's addresses in the previous plan), a servable address missing
    from a served LB is left out again, and the LB's capacity is its weight's share."""
    budget = kept.budget if kept is not None else RemovalBudget()
    exits = kept.exits if kept is not None else MappingProxyType({})
    if served_weights is None:
        return PolicyState(budget=budget, exits=exits)
    served: dict[LbId, int] = {}
    plans: dict[LbId, AddressPlan] = {}
    for lb in index.region.lbs:
        capacity = round(served_weights.get(lb, 0) * index.reference / MAX_WEIGHT)
        servable = index.servable[lb]
        out = frozenset(servable) - present.get(lb, frozenset()) if present else frozenset()
        if capacity > 0 and out and len(out) < len(servable):
            plans[lb] = AddressPlan(out)
            capacity = round(capacity * (len(servable) - len(out)) / len(servable))
        served[lb] = capacity
    return PolicyState(
        served=MappingProxyType(served),
        budget=budget,
        exits=exits,
        addresses=MappingProxyType(plans),
    )


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
