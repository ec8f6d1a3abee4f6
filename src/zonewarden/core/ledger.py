"""The policy's state between ticks, and the part of it that survives a restart.

`PolicyState` holds what each LB is planned with (`served`), since when it has been
healthy (re-entry hold-down), the removal budget's ledger, when each LB recently
left the plan (flap damping) and, for LBs planned by address, which addresses the plan
leaves out with their hold-down clocks and exits (`AddressPlan`).

Rules kept here:
- a planner that starts from a previous plan starts from what that plan serves
  (weights back to capacities on the region's fixed reference);
- the budget's ledger, the exits and the address plans carry over a restart or a
  leader takeover (they are written with the health status every tick), so a restart
  never opens a fresh window, never returns a waiting address early and never forgets
  an address's exits; a damaged ledger row costs its own spend, LB or address, nothing
  more;
- the previous plan stays the authority for which addresses are out: the ledger only
  supplies the clocks of addresses the plan leaves out (and every address's exits).
"""

from __future__ import annotations

import math
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
    from a served LB is left out again, and the LB's capacity is its weight's share;
    its hold-down clock, and every address's exits, come from `kept`."""
    budget = kept.budget if kept is not None else RemovalBudget()
    exits = kept.exits if kept is not None else MappingProxyType({})
    remembered = kept.addresses if kept is not None else {}
    if served_weights is None:
        plans = {lb: AddressPlan(exits=p.exits) for lb, p in remembered.items() if p.exits}
        return PolicyState(budget=budget, exits=exits, addresses=MappingProxyType(plans))
    served: dict[LbId, int] = {}
    plans = {}
    for lb in index.region.lbs:
        capacity = round(served_weights.get(lb, 0) * index.reference / MAX_WEIGHT)
        servable = index.servable[lb]
        out = frozenset(servable) - present.get(lb, frozenset()) if present else frozenset()
        if capacity <= 0 or len(out) >= len(servable):
            out = frozenset()  # the plan does not say which addresses are out
        elif out:
            capacity = round(capacity * (len(servable) - len(out)) / len(servable))
        old = remembered.get(lb)
        if out or (old is not None and old.exits):
            plans[lb] = _resumed(out, servable, old)
        served[lb] = capacity
    return PolicyState(
        served=MappingProxyType(served),
        budget=budget,
        exits=exits,
        addresses=MappingProxyType(plans),
    )


def _resumed(
    out: frozenset[str], servable: tuple[str, ...], old: AddressPlan | None
) -> AddressPlan:
    """An LB's address plan after a restart: `out` from the plan, the clocks of those
    from the ledger (`old`), and the exits of its servable addresses."""
    if old is None:
        return AddressPlan(out)
    since = {a: t for a, t in old.since.items() if a in out}
    exits = {a: t for a, t in old.exits.items() if a in servable}
    return AddressPlan(out, MappingProxyType(since), MappingProxyType(exits))


def ledger_document(state: PolicyState) -> dict[str, object]:
    """The parts of the state that must survive a restart, as JSON-able data."""
    return {
        "spends": [
            [s.at, s.amount, sorted(f"{x.kind}\t{x.name}" for x in s.scopes)]
            for s in state.budget.spends
        ],
        "exits": {lb: list(times) for lb, times in state.exits.items()},
        "addresses": {
            lb: {
                "out": sorted(plan.out),
                "since": dict(plan.since),
                "exits": {a: list(times) for a, times in plan.exits.items()},
            }
            for lb, plan in state.addresses.items()
        },
    }


def state_from_ledger(doc: Mapping[str, object]) -> PolicyState:
    """Rebuild the budget's ledger, the exits and the address plans from
    `ledger_document`'s output; rows that do not parse are skipped (a damaged row costs
    its own spend, LB or address, nothing more)."""
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
        parsed_times = _times(times)
        if parsed_times is not None:
            exits[LbId(str(lb))] = parsed_times
    plans: dict[LbId, AddressPlan] = {}
    raw = doc.get("addresses", {})
    for lb, row in raw.items() if isinstance(raw, dict) else ():
        plan = _address_plan(row)
        if plan is not None:
            plans[LbId(str(lb))] = plan
    return PolicyState(
        budget=RemovalBudget(tuple(spends)),
        exits=MappingProxyType(exits),
        addresses=MappingProxyType(plans),
    )


def _times(raw: object) -> tuple[float, ...] | None:
    """Finite times from a JSON list, or None when the row is damaged."""
    if not isinstance(raw, list):
        return None
    try:
        times = tuple(float(t) for t in raw)
    except (TypeError, ValueError):
        return None
    return times if all(math.isfinite(t) for t in times) else None


def _address_plan(row: object) -> AddressPlan | None:
    """One LB's address plan from its ledger row; a damaged address (clock or exits)
    costs only itself, a row that is not an object costs the LB's."""
    if not isinstance(row, dict):
        return None
    raw_out, raw_since, raw_exits = row.get("out", []), row.get("since", {}), row.get("exits", {})
    out = (
        frozenset(a for a in raw_out if isinstance(a, str))
        if isinstance(raw_out, list)
        else frozenset()
    )
    since: dict[str, float] = {}
    for a, t in raw_since.items() if isinstance(raw_since, dict) else ():
        if a in out and isinstance(t, (int, float)) and math.isfinite(t):
            since[a] = float(t)
    exits: dict[str, tuple[float, ...]] = {}
    for a, times in raw_exits.items() if isinstance(raw_exits, dict) else ():
        parsed = _times(times)
        if parsed:
            exits[str(a)] = parsed
    return AddressPlan(out, MappingProxyType(since), MappingProxyType(exits))
