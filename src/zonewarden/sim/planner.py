"""The simulated planner: drifting load-balancer capacity and health in, plans out.

Rules kept here: every plan is built by the real `core.planner.build_draft` and
published through the store's own gate; consecutive plans always differ (a capacity
nudge when the drift happened to cancel out), so every generation changes content;
at most a third of the load balancers are ever unhealthy, so no plan is empty.
"""

from __future__ import annotations

import random

from zonewarden.core.model import LbId, Plan
from zonewarden.core.planner import Observation, build_draft
from zonewarden.core.region import Region
from zonewarden.stores.memory import MemoryStore


class SimPlanner:
    def __init__(self, region: Region, rng: random.Random) -> None:
        self.region = region
        self.rng = rng
        self.ids: list[LbId] = sorted(region.lbs)
        self.capacity = {lb: region.lbs[lb].capacity for lb in self.ids}
        self.healthy = dict.fromkeys(self.ids, True)
        self.last_digest = ""

    def drift(self) -> None:
        """Move one or two capacities and, now and then, one health state."""
        for _ in range(self.rng.randint(1, 2)):
            lb = self.rng.choice(self.ids)
            self.capacity[lb] = self.rng.randrange(50, 201, 10)
        if self.rng.random() < 0.2:
            lb = self.rng.choice(self.ids)
            unhealthy = sum(1 for h in self.healthy.values() if not h)
            if not self.healthy[lb] or unhealthy + 1 <= len(self.ids) // 3:
                self.healthy[lb] = not self.healthy[lb]

    def publish(self, store: MemoryStore, now: float) -> Plan:
        self.drift()
        draft = build_draft(self.region, self._health())
        for lb in self.ids:
            if draft.digest != self.last_digest:
                break
            if self.healthy[lb]:  # the drift cancelled out: nudge a healthy LB
                self.capacity[lb] = 50 + (self.capacity[lb] - 50 + 30) % 160
                draft = build_draft(self.region, self._health())
        self.last_digest = draft.digest
        return store.publish(draft, source="planner", actor="planner", now=now)

    def _health(self) -> dict[LbId, Observation]:
        return {lb: Observation(self.healthy[lb], self.capacity[lb]) for lb in self.ids}
