"""An outside observer of a live store: checks I1-I5 on every read, with the invariant
functions of core.invariants (I1, I2, I4 on each snapshot, I3 across snapshots) and
the audit log (I5: no write of an older generation after a newer one).

It reads the store the way a monitoring probe would, from another process, keeping
only the history it needs (last generation per endpoint, last audited write per
endpoint), and records every violation with the time it was seen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from zonewarden.core.invariants import generation_monotone, state_breaches
from zonewarden.core.model import Content, EndpointName, Generation, Plan
from zonewarden.errors import StoreUnavailable

WRITE_KINDS = ("write", "legacy-write")


@dataclass
class Observer:
    store: Any  # any RegionStore with consistent_read() (SQLite, etcd)
    last_gen: dict[str, int] = field(default_factory=dict)
    last_write: dict[str, int] = field(default_factory=dict)
    audit_seq: int = 0
    violations: list[str] = field(default_factory=list)
    reads: int = 0

    def violate(self, invariant: str, message: str) -> None:
        self.violations.append(f"{time.monotonic():.3f} {invariant}: {message}")

    def check_once(self) -> None:
        try:
            with self.store.consistent_read():
                zone = self.store.read_zone()
                stored = set(self.store.index().generations)
                planned = {
                    (e.generation, n): self.store.contents(e.generation, [n]).get(n)
                    for n, e in zone.items()
                    if e.generation in stored
                }
            events = self.store.audit_log(after=self.audit_seq, limit=100_000)
        except StoreUnavailable:
            return
        self.reads += 1
        # the same invariant functions the simulator and the checker use (core.invariants)
        by_gen: dict[Generation, dict[EndpointName, Content]] = {g: {} for g in stored}
        for (g, name), content in planned.items():
            if content is not None:
                by_gen[g][name] = content
        plans = {g: Plan(g, endpoints, "") for g, endpoints in by_gen.items()}
        applied = {n: e.generation for n, e in zone.items()}
        before = {n: Generation(g) for n, g in self.last_gen.items()}
        for breach in state_breaches(zone, plans) + generation_monotone(before, applied):
            self.violate(breach.invariant, breach.message)
        for name, g in applied.items():
            self.last_gen[name] = max(g, self.last_gen.get(name, 0))
        for e in events:
            self.audit_seq = e.seq
            if e.kind in WRITE_KINDS:
                if e.generation < self.last_write.get(e.endpoint, 0):
                    self.violate(
                        "I5",
                        f"{e.actor} wrote stale generation {e.generation} over {self.last_write[e.endpoint]} on {e.endpoint}",
                    )
                self.last_write[e.endpoint] = max(e.generation, self.last_write.get(e.endpoint, 0))
