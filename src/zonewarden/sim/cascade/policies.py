"""The recovery policies a cascade run can switch on, alone or combined.

`fifo-retry` is the baseline (FIFO queue, every timed-out attempt retried at once, no
budget); every other name switches on one fix. Combine with `+` (`admission+lifo`) or
by repeating `--policy`. Names are checked here, once, with one clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from zonewarden.sim.cascade.params import ParamError

NAMES = (
    "fifo-retry",
    "backoff-jitter",
    "retry-budget",
    "adaptive-throttle",
    "lifo",
    "deadline-drop",
    "admission",
    "restart",
    "velocity",
    "fail-open",
    "shed-late",
)


@dataclass(frozen=True, slots=True)
class Policy:
    backoff_jitter: bool = False
    retry_budget: bool = False
    adaptive_throttle: bool = False
    lifo: bool = False
    deadline_drop: bool = False
    admission: bool = False
    restart: bool = False
    velocity: bool = False
    fail_open: bool = False
    shed_late: bool = False  # health checks not done in time are shed: no evidence

    @property
    def label(self) -> str:
        on = [f.name.replace("_", "-") for f in fields(self) if getattr(self, f.name)]
        return "+".join(on) or "fifo-retry"


def parse_policy(text: str) -> Policy:
    """`admission+lifo` -> Policy(admission=True, lifo=True); `fifo-retry` -> the baseline."""
    flags: dict[str, bool] = {}
    for part in text.split("+"):
        name = part.strip().lower()
        if name not in NAMES:
            raise ParamError("policy", name, "one of " + ", ".join(NAMES) + " (combine with +)")
        if name != "fifo-retry":
            flags[name.replace("-", "_")] = True
    return Policy(**flags)
