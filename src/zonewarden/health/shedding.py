"""Episodes of shed probes: when the prober cannot keep up, it says so once, with why.

Rules kept here:
- a probe is shed for one of two causes: the queue of due probes was full (admission),
  or it could not start before its deadline (deadline-aware dropping);
- a shed probe is no evidence: it never feeds rise/fall (an overloaded checker must not
  read as failing load balancers, or overload of the checker drains capacity);
- an episode starts at the first shed probe and is logged once per cause, with the
  numbers; it ends when a whole deadline passes with no shed probe, logged once with
  the count; `describe(now)` is the one line `zonewarden health` and status show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger("zonewarden.health")

QUEUE_FULL = "queue full"
DEADLINE = "deadline passed"


@dataclass(slots=True)
class ShedLog:
    vantage: str
    quiet_after: float  # seconds without a shed probe that end an episode
    since: float | None = None
    last: float = 0.0
    count: int = 0
    causes: dict[str, int] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    total: int = 0

    def shed(self, now: float, cause: str, detail: str) -> None:
        """Count one shed probe; the first of each cause in an episode is logged."""
        if self.since is None:
            self.since = now
        self.last, self.count, self.total = now, self.count + 1, self.total + 1
        if cause not in self.causes:
            self.details[cause] = detail
            log.warning(
                "%s: health probes shed (%s: %s); a shed probe is not a failure, its LB "
                "keeps its last verdict until probed (raise [health] max_concurrent or "
                "interval)",
                self.vantage,
                cause,
                detail,
            )
        self.causes[cause] = self.causes.get(cause, 0) + 1

    def tick(self, now: float) -> None:
        """End the episode once `quiet_after` seconds passed with nothing shed."""
        if self.since is not None and now - self.last > self.quiet_after:
            log.warning(
                "%s: health probes keep up again after %d shed in %.1f s (%s)",
                self.vantage,
                self.count,
                self.last - self.since,
                self._tally(),
            )
            self.since, self.count = None, 0
            self.causes.clear()
            self.details.clear()

    def describe(self, now: float) -> str:
        """'' when keeping up, else one line: how many, since when, why (read-only: the
        report may be asked for from another thread)."""
        if self.since is None or now - self.last > self.quiet_after:
            return ""
        detail = "; ".join(f"{c}: {d}" for c, d in self.details.items())
        return (
            f"{self.count} probes shed in the last {now - self.since:.1f} s "
            f"({self._tally()}; {detail})"
        )

    def _tally(self) -> str:
        return ", ".join(f"{n} {cause}" for cause, n in sorted(self.causes.items()))
