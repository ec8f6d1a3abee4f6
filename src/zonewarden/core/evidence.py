"""What the evidence and the operators ask of each LB this tick, and whether the
evidence as a whole is plausible.

Rules kept here:
- an operator drain (the fast lane) asks for 0 and is marked so it bypasses the budget;
  a disable asks for 0 like failed health and is budgeted; a drain wins over a disable
  on the same LB; an AZ hold covers every LB of the AZ;
- with no verdict an LB is as configured; a reported capacity replaces the configured
  one;
- fail-static plausibility: more than `max_failing` of the LBs failing at once (an LB
  whose newest probes fail counts before its verdict falls; held LBs do not count) is
  an evidence problem, not health; so is more than `max_failing` of the region's
  servable addresses failing at once (every address of a failing LB, and the down or
  failing addresses of an LB still up), so one address of every LB dying together
  holds the plan as every LB dying does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zonewarden.core.model import LbId
from zonewarden.core.region import Region
from zonewarden.core.region_index import RegionIndex


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
class LbHealth:
    """The planner's view of one LB this tick: verdict, capacity (None: as configured)."""

    healthy: bool
    capacity: int | None = None
    reason: str = ""
    failing: bool = False  # newest probes fail, not yet fallen: counts toward fail-static
    down: tuple[str, ...] = ()  # addresses a quorum calls unhealthy (core/addresses.py)
    failing_addresses: tuple[str, ...] = ()  # up, but their newest probes fail


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


def too_many_failing(
    index: RegionIndex,
    health: Mapping[LbId, LbHealth],
    holds: Mapping[LbId, OperatorHold],
    max_failing: float,
) -> list[str]:
    """The fail-static alarm when more than `max_failing` of the LBs, or of the
    region's servable addresses, fail at once."""
    region = index.region
    if not region.lbs:
        return []
    # an LB whose newest probes fail counts before its verdict falls: when everything
    # dies at once the verdicts fall over one probe interval, and the first to fall
    # must not be drained while the rest are still counting their failures
    failing = sum(1 for lb, h in health.items() if (not h.healthy or h.failing) and lb not in holds)
    fraction = failing / len(region.lbs)
    if fraction > max_failing + 1e-9:
        return [
            f"{failing}/{len(region.lbs)} load balancers ({fraction:.0%}) fail at once, over the "
            f"plausibility limit {max_failing:.0%}; holding last good plan"
        ]
    total = index.address_count
    failing = addresses_failing(index, health, holds)
    if total and failing / total > max_failing + 1e-9:
        return [
            f"{failing}/{total} addresses ({failing / total:.0%}) fail at once, over the "
            f"plausibility limit {max_failing:.0%}; holding last good plan"
        ]
    return []


def addresses_failing(
    index: RegionIndex, health: Mapping[LbId, LbHealth], holds: Mapping[LbId, OperatorHold]
) -> int:
    """How many of the region's servable addresses fail now: every one of a failing LB,
    the down or failing ones of an LB still up; held LBs' addresses do not count."""
    count = 0
    for lb, h in health.items():
        if lb in holds or lb not in index.servable:
            continue
        servable = index.servable[lb]
        if not h.healthy or h.failing:
            count += len(servable)
        elif h.down or h.failing_addresses:
            count += len((set(h.down) | set(h.failing_addresses)) & set(servable))
    return count
