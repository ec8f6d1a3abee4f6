"""The safety invariants of architecture.md, as named pure functions.

Each check takes plain values (the live zone, the stored plans, the applied generations
before and after a step) and returns a list of `Breach`es; an empty list means the
invariant holds. The simulator, the model checker and runtime tests share these, so an
invariant is written exactly once:

- I1 `never_empty`: every live endpoint serves at least one record;
- I2 `no_referenced_plan_deleted`: every live generation's plan is still stored;
- I3 `generation_monotone`: no endpoint's applied generation decreases in a step;
- I4 `records_match_plan`: an endpoint's records are exactly its applied plan's records;
- I5 `stale_writes_rejected`: a write of generation g changes no endpoint live at > g;
- I6 `plans_valid`: every stored plan (and live content) passes the structural gates.

Liveness (L1 convergence, L2 repair) needs time, so its drivers check it; `converged`
is the L1 predicate they use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zonewarden.core.gates import content_valid
from zonewarden.core.model import EndpointName, Generation, Plan, ZoneEntry

INVARIANTS = ("I1", "I2", "I3", "I4", "I5", "I6")


@dataclass(frozen=True, slots=True, order=True)
class Breach:
    """One invariant violation: which invariant, where, and what was seen."""

    invariant: str
    endpoint: str
    message: str

    def __str__(self) -> str:
        return f"{self.invariant} {self.message}"


def never_empty(zone: Mapping[EndpointName, ZoneEntry]) -> list[Breach]:
    """I1: no managed name may ever have zero answers."""
    return [
        Breach("I1", name, f"{name} serves 0 records (generation {e.generation})")
        for name, e in zone.items()
        if not e.content.records
    ]


def no_referenced_plan_deleted(
    zone: Mapping[EndpointName, ZoneEntry], plans: Mapping[Generation, Plan]
) -> list[Breach]:
    """I2: the plan every endpoint refers to is still in the store."""
    return [
        Breach("I2", name, f"{name} refers to generation {e.generation}, which was deleted")
        for name, e in zone.items()
        if e.generation not in plans
    ]


def generation_monotone(
    before: Mapping[EndpointName, Generation], after: Mapping[EndpointName, Generation]
) -> list[Breach]:
    """I3: an endpoint's applied generation never goes backwards."""
    return [
        Breach("I3", name, f"{name} went back from generation {before[name]} to {g}")
        for name, g in after.items()
        if name in before and g < before[name]
    ]


def records_match_plan(
    zone: Mapping[EndpointName, ZoneEntry], plans: Mapping[Generation, Plan]
) -> list[Breach]:
    """I4: the live records are exactly the applied plan's records for that endpoint."""
    out = []
    for name, e in zone.items():
        plan = plans.get(e.generation)
        planned = plan.endpoints.get(name) if plan is not None else None
        if planned is None:
            out.append(Breach("I4", name, f"{name} has no plan content at {e.generation}"))
        elif planned.digest != e.content.digest:
            out.append(
                Breach(
                    "I4",
                    name,
                    f"{name} serves {len(e.content.records)} records, plan {e.generation} "
                    f"has {len(planned.records)}",
                )
            )
    return out


def stale_writes_rejected(
    write_generation: Generation,
    names: Iterable[EndpointName],
    before: Mapping[EndpointName, ZoneEntry],
    after: Mapping[EndpointName, ZoneEntry],
) -> list[Breach]:
    """I5: a write of generation g leaves every endpoint already live at > g untouched."""
    out = []
    for name in names:
        old, new = before.get(name), after.get(name)
        if old is None or old.generation <= write_generation:
            continue
        if new != old:
            out.append(
                Breach(
                    "I5",
                    name,
                    f"stale write of generation {write_generation} accepted over "
                    f"{old.generation} at {name}",
                )
            )
    return out


def plans_valid(plans: Iterable[Plan]) -> list[Breach]:
    """I6: weights >= 0, sum > 0, never empty, ttl in range, for every endpoint of a plan."""
    out = []
    for plan in plans:
        for name, content in plan.endpoints.items():
            for v in content_valid(name, content):
                out.append(Breach("I6", name, f"plan {plan.generation}: {v}"))
    return out


def state_breaches(
    zone: Mapping[EndpointName, ZoneEntry], plans: Mapping[Generation, Plan]
) -> list[Breach]:
    """I1, I2 and I4: the invariants that are a property of one state."""
    return (
        never_empty(zone)
        + no_referenced_plan_deleted(zone, plans)
        + records_match_plan(zone, plans)
    )


def converged(
    zone: Mapping[EndpointName, ZoneEntry],
    newest: Plan | None,
) -> bool:
    """L1's goal: every endpoint of the newest plan serves exactly that plan's content."""
    if newest is None:
        return True
    for name, content in newest.endpoints.items():
        e = zone.get(name)
        if e is None or e.generation != newest.generation or e.content.digest != content.digest:
            return False
    return True
