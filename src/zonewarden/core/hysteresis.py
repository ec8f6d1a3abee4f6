"""Hysteresis: a flapping or jittering LB must not churn plans.

Two rules, on top of the probes' rise/fall (core/health.py):
- **deadband**: a healthy LB's capacity is re-planned only when it moved by at least
  `deadband` of what the plan serves now (capacity endpoints jitter);
- **hold-down**: an LB that left the plan re-enters only after its evidence has been
  healthy for `hold_down` seconds without a break, so an LB alternating faster than that
  enters the plan at most once per `hold_down` and leaves it at most as fast as the
  removal budget allows.
Pure: `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hysteresis:
    deadband: float = 0.1
    hold_down: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.deadband < 1.0:
            raise ValueError(f"deadband {self.deadband} outside 0..1")
        if self.hold_down < 0:
            raise ValueError(f"hold-down {self.hold_down} s must be >= 0")


def settle(
    served: int, wanted: int, healthy_since: float | None, now: float, h: Hysteresis
) -> tuple[int, str]:
    """The capacity to plan an LB at, given what the plan serves (`served`) and what the
    evidence asks for (`wanted`, 0 when unhealthy), and why when it is not `wanted`."""
    if wanted <= 0 or wanted == served:
        return wanted, ""
    if served <= 0:
        since = 0.0 if healthy_since is None else now - healthy_since
        if since + 1e-9 < h.hold_down:
            return 0, f"hold-down: healthy for {since:.0f} s of {h.hold_down:g} s before re-entry"
        return wanted, ""
    if abs(wanted - served) < h.deadband * served:
        return served, ""  # inside the deadband: no cause, nothing changes
    return wanted, ""
