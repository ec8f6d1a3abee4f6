"""The network-state propagation backlog that builds once leases come back.

Theory of operation. Every re-established lease releases the instance launches that
waited for it (`launches_per_host`, fractional amounts accumulate); each launch needs
its network configuration propagated before the instance has connectivity. The
propagation service works FIFO at `rate` items per second, so an item's completion
time follows Lindley's recursion (done = max(arrival, previous done) + 1 / rate) and
costs no events. Until its item is done an instance is registered with the load
balancer but fails its health checks (incident.md section 3: 06:21-10:36).

Rules kept here: launches are spread over the AZs in turn (deterministic); the stage
only answers "how many instances of AZ a are launched and not yet connected at t".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class NetworkBacklog:
    rate: float  # propagations per second
    launches_per_host: float
    azs: int
    busy_until: float = 0.0
    owed: float = 0.0  # fractional launches not yet released
    launched: int = 0
    connected_total: int = 0
    peak_backlog: int = 0
    last_done: float | None = None
    _pending: deque[tuple[float, int]] = field(default_factory=deque)  # (done at, az)
    _unconnected: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._unconnected = [0] * self.azs

    def lease_back(self, now: float) -> None:
        """One lease re-established at `now`: release its launches into the backlog."""
        self.owed += self.launches_per_host
        step = 1.0 / self.rate
        while self.owed >= 1.0:
            self.owed -= 1.0
            done = max(now, self.busy_until) + step
            self.busy_until = done
            az = self.launched % self.azs
            self.launched += 1
            self._pending.append((done, az))
            self._unconnected[az] += 1
        backlog = len(self._pending)
        if backlog > self.peak_backlog:
            self.peak_backlog = backlog

    def advance(self, now: float) -> int:
        """Connect every instance whose propagation finished by `now`; returns how many."""
        pending = self._pending
        n = 0
        while pending and pending[0][0] <= now:
            done, az = pending.popleft()
            self._unconnected[az] -= 1
            self.last_done = done
            n += 1
        self.connected_total += n
        return n

    def unconnected(self, az: int) -> int:
        return self._unconnected[az]

    @property
    def backlog(self) -> int:
        return len(self._pending)
