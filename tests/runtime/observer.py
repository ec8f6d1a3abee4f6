"""An outside observer of a live store: checks I1-I5 on every read.

It reads the store the way a monitoring probe would, from another process, keeping
only the history it needs (last generation per endpoint, last audited write per
endpoint), and records every violation with the time it was seen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

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
        for name, entry in zone.items():
            g = entry.generation
            if entry.empty:
                self.violate("I1", f"{name} serves 0 records at generation {g}")
            if g < self.last_gen.get(name, 0):
                self.violate("I3", f"{name} went back from {self.last_gen[name]} to {g}")
            self.last_gen[name] = max(g, self.last_gen.get(name, 0))
            if g not in stored:
                self.violate("I2", f"{name} serves generation {g} whose plan is gone")
            elif not entry.empty:
                content = planned.get((g, name))
                if content is not None and content.digest != entry.content.digest:
                    self.violate("I4", f"{name} serves records that differ from plan {g}")
        for e in events:
            self.audit_seq = e.seq
            if e.kind in WRITE_KINDS:
                if e.generation < self.last_write.get(e.endpoint, 0):
                    self.violate(
                        "I5",
                        f"{e.actor} wrote stale generation {e.generation} over {self.last_write[e.endpoint]} on {e.endpoint}",
                    )
                self.last_write[e.endpoint] = max(e.generation, self.last_write.get(e.endpoint, 0))
