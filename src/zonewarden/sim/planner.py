"""The simulated planner: drifting load-balancer capacity and health in, plans out.

Rules kept here: every plan is decided by the production planner's tick,
`core.planner.plan_tick` (the capacity policy's fail-static, capacity floor and
hysteresis, the incremental build and its gates: a held plan is not published), with the
policy settings `[planner] health = "demo"` gets, and published through the store's own
gate; the planner re-plans every endpoint when someone else published (a repair), as
runtime/planner.py does; consecutive plans always differ (a capacity nudge when the drift
happened to cancel out), so every generation changes content; at most a third of the
load balancers are ever unhealthy, so no plan is empty.
"""

from __future__ import annotations

import random

from zonewarden.core.gates import Violation
from zonewarden.core.hysteresis import Hysteresis
from zonewarden.core.model import LbId, Plan, PlanDraft
from zonewarden.core.planner import TickDecision, TickInputs, plan_tick
from zonewarden.core.policy import LbHealth, PolicySettings, PolicyState, RegionIndex
from zonewarden.core.region import Region
from zonewarden.stores.memory import MemoryStore

# what config/health.py gives a region whose health is "demo" or "static": no removal
# budget, no hysteresis, the same plausibility limit and capacity floor
DEMO_POLICY = PolicySettings(endpoint_budget=None, az_budget=None, hysteresis=Hysteresis(0.0, 0.0))


class SimPlanner:
    def __init__(
        self, region: Region, rng: random.Random, settings: PolicySettings = DEMO_POLICY
    ) -> None:
        self.region = region
        self.index = RegionIndex(region)
        self.rng = rng
        self.settings = settings
        self.ids: list[LbId] = sorted(region.lbs)
        self.capacity = {lb: region.lbs[lb].capacity for lb in self.ids}
        self.healthy = dict.fromkeys(self.ids, True)
        self.previous: PlanDraft | None = None
        self.state = PolicyState()
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
        """Drift, tick and publish; None when the planner holds (the reasons are in
        `held`) or nothing changed."""
        newest = store.newest()
        rebuild = False
        if newest and newest != self.based_on:  # a repair published: plan from it, as
            self.previous = PlanDraft(store.contents(newest))  # runtime/planner.py does
            self.based_on = newest
            rebuild = True
        self.drift()
        decision = self._tick(now, rebuild)
        for lb in self.ids:
            if decision.action != "unchanged":
                break
            if self.healthy[lb]:  # the drift cancelled out: nudge a healthy LB
                self.capacity[lb] = 50 + (self.capacity[lb] - 50 + 30) % 160
                decision = self._tick(now, rebuild)
        if decision.action == "hold":
            self.held = decision.reasons
            return None
        self.held = ()
        self.state = decision.state
        if decision.action != "publish" or decision.draft is None:
            return None
        self.previous = decision.draft
        plan = store.publish(decision.draft, source="planner", actor="planner", now=now)
        self.based_on = plan.generation
        return plan

    def _tick(self, now: float, rebuild: bool) -> TickDecision:
        health = {lb: LbHealth(self.healthy[lb], self.capacity[lb]) for lb in self.ids}
        return plan_tick(
            TickInputs(
                index=self.index,
                health=health,
                state=self.state,
                now=now,
                previous=self.previous,
                settings=self.settings,
                rebuild=rebuild,
            )
        )
