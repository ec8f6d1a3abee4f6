"""The simulated planner: drifting load-balancer capacity and health in, plans out.

Rules kept here: every plan is decided by the production planner's `core.planner.decide`
(its gates and fail-static hold included: a held plan is not published) and published
through the store's own gate; consecutive plans always differ (a capacity nudge when the
drift happened to cancel out), so every generation changes content; at most a third of
the load balancers are ever unhealthy, so no plan is empty.
"""

from __future__ import annotations

import random

from zonewarden.core.gates import Violation
from zonewarden.core.model import LbId, Plan, PlanDraft
from zonewarden.core.planner import Decision, Observation, PlanningInputs, decide
from zonewarden.core.region import Region
from zonewarden.stores.memory import MemoryStore


class SimPlanner:
    def __init__(self, region: Region, rng: random.Random) -> None:
        self.region = region
        self.rng = rng
        self.ids: list[LbId] = sorted(region.lbs)
        self.capacity = {lb: region.lbs[lb].capacity for lb in self.ids}
        self.healthy = dict.fromkeys(self.ids, True)
        self.previous: PlanDraft | None = None
        self.based_on = 0
        self.held: tuple[Violation, ...] = ()

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

    def publish(self, store: MemoryStore, now: float) -> Plan | None:
        """Drift, decide and publish; None when the planner holds (the reasons are in
        `held`)."""
        newest = store.newest()
        if newest and newest != self.based_on:  # a repair published: plan from it, as
            self.previous = PlanDraft(store.contents(newest))  # runtime/planner.py does
            self.based_on = newest
        self.drift()
        decision = self._decide()
        for lb in self.ids:
            if decision.action != "unchanged":
                break
            if self.healthy[lb]:  # the drift cancelled out: nudge a healthy LB
                self.capacity[lb] = 50 + (self.capacity[lb] - 50 + 30) % 160
                decision = self._decide()
        if decision.action != "publish" or decision.draft is None:
            self.held = decision.reasons
            return None
        self.held = ()
        self.previous = decision.draft
        plan = store.publish(decision.draft, source="planner", actor="planner", now=now)
        self.based_on = plan.generation
        return plan

    def _decide(self) -> Decision:
        return decide(PlanningInputs(self.region, self._health(), previous=self.previous))

    def _health(self) -> dict[LbId, Observation]:
        return {lb: Observation(self.healthy[lb], self.capacity[lb]) for lb in self.ids}
