"""Hysteresis: a flapping or jittering LB must not churn plans.

Two rules, on top of the probes' rise/fall (core/health.py):
- **deadband**: a healthy LB's capacity is re-planned only when it moved by at least
  `deadband` of what the plan serves now (capacity endpoints jitter);
- **hold-down with damping**: an LB that left the plan re-enters only after its evidence
  has been healthy without a break for `hold_down` seconds, doubled for every other
  time it left within the last `flap_window` seconds (capped at `max_damping` times),
  as BGP damps a flapping route: an LB that keeps flapping waits longer each time, so
  its entries grow with the log of the time it flaps, not with the time itself. The
  same rule (`hold_down_for`, `reentry_wait`) times an address's re-entry by the
  address's own exits (core/addresses.py).
Pure: `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hysteresis:
    deadband: float = 0.1
    hold_down: float = 30.0
    flap_window: float = 600.0
    max_damping: int = 16

    def __post_init__(self) -> None:
        if not 0.0 <= self.deadband < 1.0:
            raise ValueError(f"deadband {self.deadband} outside 0..1")
        if self.hold_down < 0:
            raise ValueError(f"hold-down {self.hold_down} s must be >= 0")


def hold_down_for(exits: tuple[float, ...], now: float, h: Hysteresis) -> float:
    """The hold-down before re-entry, after the LB left the plan at times `exits`."""
    recent = sum(1 for t in exits if now - t <= h.flap_window)
    damping: int = min(h.max_damping, 1 << max(0, recent - 1))
    return h.hold_down * damping


def reentry_wait(healthy_for: float, exits: tuple[float, ...], now: float, h: Hysteresis) -> str:
    """Why something that left the plan (an LB, an address) waits before re-entry after
    `healthy_for` seconds healthy, having left at times `exits`; "" once it may."""
    hold = hold_down_for(exits, now, h)
    if healthy_for + 1e-9 >= hold:
        return ""
    damped = (
        f", damped x{hold / h.hold_down:g} after {len(exits)} exits" if hold > h.hold_down else ""
    )
    return f"hold-down: healthy for {healthy_for:.0f} s of {hold:g} s before re-entry{damped}"


def settle(
    served: int,
    wanted: int,
    healthy_since: float | None,
    now: float,
    h: Hysteresis,
    exits: tuple[float, ...] = (),
) -> tuple[int, str]:
    """The capacity to plan an LB at, given what the plan serves (`served`) and what the
    evidence asks for (`wanted`, 0 when unhealthy), and why when it is not `wanted`;
    `exits` are the times it left the plan (for damping)."""
    if wanted <= 0 or wanted == served:
        return wanted, ""
    if served <= 0:
        since = 0.0 if healthy_since is None else now - healthy_since
        why = reentry_wait(since, exits, now, h)
        return (0, why) if why else (wanted, "")
    if abs(wanted - served) < h.deadband * served:
        return served, ""  # inside the deadband: no cause, nothing changes
    return wanted, ""
