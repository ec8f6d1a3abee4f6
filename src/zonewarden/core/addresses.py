"""An LB's addresses in the plan: which ones the plan leaves out, and the weight its
remaining records carry.

Rules kept here:
- an address a quorum of vantage points calls unhealthy is unavailable; an address the
  plan left out stays unavailable until it has been healthy for the hold-down (its
  re-entry waits, as an LB's does);
- an LB with unavailable addresses is wanted at the share of its capacity its available
  addresses make up; the decrease is granted by the removal budget and the capacity
  floor like any other (`core.grants`), so addresses leave no faster than LBs do;
- an unavailable address the plan already left out stays out (its removal was paid
  for); beyond those, the plan leaves out as many whole addresses as the served
  capacity does not cover (a partial grant keeps the address, at a lower weight):
  unavailable ones first, the ones down before the ones waiting, each in address order;
- each remaining record carries the weight of (served capacity x servable addresses /
  addresses in the plan), so the LB's share of the answers follows its served capacity
  whichever addresses carry it.

Only an LB with more than one servable address (of the record types its endpoints
serve) and a verdict per address is planned by address; every other LB as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from zonewarden.core.region_index import RegionIndex


@dataclass(frozen=True, slots=True)
class AddressPlan:
    """Which addresses of one LB the plan leaves out, and since when each left-out
    address has been healthy again (its re-entry hold-down)."""

    out: frozenset[str] = frozenset()
    since: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


NO_ADDRESS_PLAN = AddressPlan()


def unavailable(
    servable: tuple[str, ...],
    down: Iterable[str],
    plan: AddressPlan,
    now: float,
    hold_down: float,
) -> tuple[list[str], dict[str, float], list[str]]:
    """The unavailable addresses in the order the plan leaves them out (down, then
    waiting out their hold-down), the new hold-down clocks, and why each waits."""
    is_down = sorted(set(down) & set(servable))
    since = {
        a: plan.since.get(a, now) for a in sorted(plan.out) if a in servable and a not in is_down
    }
    waiting = [a for a, t in since.items() if now - t + 1e-9 < hold_down]
    why = [
        f"{a}: hold-down: healthy for {now - since[a]:.0f} s of {hold_down:g} s" for a in waiting
    ]
    return is_down + waiting, {a: since[a] for a in waiting}, why


def leave_out(
    servable: tuple[str, ...],
    order: list[str],
    previous: frozenset[str],
    basis: int,
    served: int,
) -> frozenset[str]:
    """The addresses the plan leaves out: the unavailable ones already out, and as many
    whole addresses as `served` does not cover of `basis` (the LB's capacity with every
    address in), taken from `order`, then from the ones left out before."""
    kept = [a for a in order if a in previous]
    count = len(kept)
    if basis > 0 and served < basis:
        unit = basis / len(servable)
        count = max(count, min(len(servable), int((basis - served) / unit + 1e-9)))
    rest = [a for a in order if a not in previous] + sorted(previous - set(order))
    return frozenset((kept + rest)[:count])


def record_weight(index: RegionIndex, lb_served: int, servable: int, out: int) -> int:
    """The weight each remaining record of an LB carries (see the module doc)."""
    kept = servable - out
    if kept <= 0 or lb_served <= 0:
        return 0
    if out <= 0:
        return index.weight(lb_served)
    return index.weight(round(lb_served * servable / kept))
