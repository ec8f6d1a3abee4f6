"""Static and demo health sources.

- `StaticHealth` reports what the config says (health and capacity per LB);
- `DemoHealth` drifts capacities and occasionally takes one LB out for a few rounds,
  from a seeded rng, so a demo region keeps producing new plans. It never takes more
  than one LB out at a time, so it never trips the planner's plausibility check.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from zonewarden.core.model import LbId
from zonewarden.core.planner import Observation
from zonewarden.core.region import Region


class StaticHealth:
    def __init__(self, region: Region) -> None:
        self._obs = {i: Observation(lb.healthy, lb.capacity) for i, lb in region.lbs.items()}

    def observe(self, now: float) -> Mapping[LbId, Observation]:
        return self._obs


class DemoHealth:
    def __init__(self, region: Region, seed: int = 1) -> None:
        self._region = region
        self._rng = random.Random(seed)
        self._capacity = {i: lb.capacity for i, lb in region.lbs.items()}
        self._down: dict[LbId, int] = {}

    def observe(self, now: float) -> Mapping[LbId, Observation]:
        ids = list(self._capacity)
        lb = self._rng.choice(ids)
        base = self._region.lbs[lb].capacity
        self._capacity[lb] = max(1, round(base * self._rng.uniform(0.7, 1.3)))
        self._down = {k: v - 1 for k, v in self._down.items() if v > 1}
        if not self._down and self._rng.random() < 0.1:
            self._down[self._rng.choice(ids)] = 3
        return {i: Observation(i not in self._down, c) for i, c in self._capacity.items()}
