"""An LB's addresses in the plan: which ones the plan leaves out, and the weight its
remaining records carry.

Rules kept here:
- an address a quorum of vantage points calls unhealthy is unavailable; an address the
  plan left out stays unavailable until it has been healthy for the hold-down (its
  re-entry waits, as an LB's does);
- an LB with unavailable addresses is wanted at the share of its capacity its available
  addresses make up; the decrease is granted by the removal budget and the capacity
  floor like any other (`core.grants`), so addresses leave no faster than LBs do;
- a left-out address's hold-down is damped by its own exits (the times it left the
  plan) with the LBs' rule (`core.hysteresis.hold_down_for`): a flapping address
  waits longer each time it leaves; exits older than the flap window are forgotten;
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

from zonewarden.core.hysteresis import Hysteresis, hold_down_for, reentry_wait
from zonewarden.core.region_index import RegionIndex


@dataclass(frozen=True, slots=True)
class AddressPlan:
    """Which addresses of one LB the plan leaves out, since when each left-out address
    has been healthy again (its re-entry hold-down), and when each address recently
    left the plan (its damping; kept after it returns, for the next time)."""

    out: frozenset[str] = frozenset()
    since: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    exits: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: MappingProxyType({}))


NO_ADDRESS_PLAN = AddressPlan()


def unavailable(
    servable: tuple[str, ...],
    down: Iterable[str],
    plan: AddressPlan,
    now: float,
    h: Hysteresis,
) -> tuple[list[str], dict[str, float], list[str]]:
    """The unavailable addresses in the order the plan leaves them out (down, then
    waiting out their damped hold-down), the new hold-down clocks, and why each waits."""
    is_down = sorted(set(down) & set(servable))
    since = {
        a: plan.since.get(a, now) for a in sorted(plan.out) if a in servable and a not in is_down
    }
    why = {a: reentry_wait(now - t, plan.exits.get(a, ()), now, h) for a, t in since.items()}
    waiting = [a for a in since if why[a]]
    return is_down + waiting, {a: since[a] for a in waiting}, [f"{a}: {why[a]}" for a in waiting]


def waiting_left(plan: AddressPlan, address: str, now: float, h: Hysteresis) -> float | None:
    """Seconds a left-out healthy address still waits before re-entry (None: it is not
    waiting: in the plan, or down)."""
    if address not in plan.out or address not in plan.since:
        return None
    hold = hold_down_for(plan.exits.get(address, ()), now, h)
    return max(0.0, hold - (now - plan.since[address]))


def recent_exits(plan: AddressPlan, address: str, now: float, h: Hysteresis) -> int:
    """How often the address left the plan within the flap window."""
    return sum(1 for t in plan.exits.get(address, ()) if now - t <= h.flap_window)


def exits_after(
    plan: AddressPlan, left: frozenset[str], was_in: bool, now: float, h: Hysteresis
) -> Mapping[str, tuple[float, ...]]:
    """The exits to keep once the plan leaves out `left`: an address newly left out of
    an LB that was in the plan (`was_in`) exits now; those past the window go."""
    new = left - plan.out if was_in else frozenset()
    if not new and not plan.exits:
        return plan.exits
    out: dict[str, tuple[float, ...]] = {}
    for a in sorted(set(plan.exits) | new):
        times = tuple(t for t in plan.exits.get(a, ()) if now - t <= h.flap_window)
        if a in new:
            times += (now,)
        if times:
            out[a] = times
    return MappingProxyType(out)


def cause(
    order: list[str],
    servable: tuple[str, ...],
    plan: AddressPlan,
    now: float,
    h: Hysteresis,
) -> str:
    """What an LB's cause says of its addresses: those out (with their recent exits)
    and those back in after their hold-down (with its damping)."""
    parts = []
    if order:
        named = []
        for a in order:
            n = recent_exits(plan, a, now, h)
            named.append(f"{a}, left {n}x in {h.flap_window:g} s" if n else a)
        parts.append(f"{len(order)}/{len(servable)} addresses out ({'; '.join(named)})")
    back = sorted((plan.out & set(servable)) - set(order))
    for a in back:
        exits = plan.exits.get(a, ())
        hold = hold_down_for(exits, now, h)
        damped = (
            f", damped x{hold / h.hold_down:g} after {len(exits)} exits"
            if hold > h.hold_down
            else ""
        )
        parts.append(f"{a} back in after a hold-down of {hold:g} s{damped}")
    return "; ".join(parts)


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
