"""Why plans differ: the causes the planner recorded for every generation in (A, B].

The planner writes one audit row of kind `cause` per LB it re-planned, with the plan's
generation and the LB id (runtime/planner.py); plans published by someone else (a pin,
a rollback, an operator plan, a repair) carry their source in their header. `causes`
collects both for `plan diff A B`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.core.model import Generation
from zonewarden.ports import RegionStore

PAGE = 5000


@dataclass
class Causes:
    by_lb: dict[str, list[str]] = field(default_factory=dict)  # "g7: lb-1a capacity ..."
    sources: dict[int, str] = field(default_factory=dict)  # generation -> who published it

    def for_lb(self, lb: str) -> list[str]:
        return self.by_lb.get(lb, [])

    def others(self) -> list[str]:
        """Plans in the range not published by the planner, e.g. "g5: pin"."""
        return [
            f"g{g}: published by {s}" for g, s in sorted(self.sources.items()) if s != "planner"
        ]


def causes(store: RegionStore, a: int, b: int) -> Causes:
    lo, hi = sorted((a, b))
    out = Causes()
    for g in range(lo + 1, hi + 1):
        header = store.header(Generation(g))
        if header is not None:
            out.sources[g] = header.source
    after = 0
    while True:
        page = store.audit_log(after=after, limit=PAGE)
        for event in page:
            if event.kind == "cause" and lo < event.generation <= hi:
                out.by_lb.setdefault(event.endpoint, []).append(
                    f"g{event.generation}: {event.detail}"
                )
        if len(page) < PAGE:
            return out
        after = page[-1].seq
