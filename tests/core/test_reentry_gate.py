"""The per-plan change backstop (max-change) and capacity coming back: a name drained to
one LB gets its LBs back when the drain ends (the address simulator's seed 6 found the
planner holding that undrain forever); a removal of the same size is still held."""

from __future__ import annotations

from zonewarden.core.hysteresis import Hysteresis
from zonewarden.core.model import Endpoint, EndpointName, LbId, LoadBalancer, RecordType
from zonewarden.core.planner import TickDecision, TickInputs, plan_tick
from zonewarden.core.policy import LbHealth, OperatorHold, PolicySettings, PolicyState, RegionIndex
from zonewarden.core.region import Region

LBS = [
    LoadBalancer(LbId(f"lb-{i}"), "az1" if i < 3 else "az2", (f"127.0.9.{i + 1}",), capacity=100)
    for i in range(4)
]
NAME = EndpointName("cell.example.")
REGION = Region.build(
    "r", "example.", LBS, [Endpoint(NAME, tuple(lb.id for lb in LBS), (RecordType.A,), 5)]
)
INDEX = RegionIndex(REGION)
HEALTHY = {lb.id: LbHealth(True) for lb in LBS}


class Run:
    def __init__(self, settings: PolicySettings) -> None:
        self.settings = settings
        self.state, self.plan, self.now = PolicyState(), None, 0.0
        self.tick(HEALTHY)

    def tick(self, health, holds=()) -> TickDecision:
        self.now += 2.0
        d = plan_tick(
            TickInputs(
                INDEX, health, self.state, self.now, self.plan, tuple(holds), settings=self.settings
            )
        )
        if d.action != "hold":
            self.state, self.plan = d.state, d.draft
        return d

    def lbs(self) -> set[str]:
        return {r.lb for r in self.plan.endpoints[NAME].records}


def test_an_undrain_that_brings_most_of_a_name_back_is_published():
    run = Run(PolicySettings(hysteresis=Hysteresis(hold_down=30.0)))
    drain = OperatorHold("az", "az1", "drain", "rack work")
    assert run.tick(HEALTHY, [drain]).action == "publish"
    assert run.lbs() == {"lb-3"}
    d = run.tick(HEALTHY)  # the drain ends: 3 of 4 LBs come back, lb-3's share 100% -> 25%
    while d.action == "unchanged" and run.now < 60:  # (after their hold-down)
        d = run.tick(HEALTHY)
    assert d.action == "publish", d.reasons
    assert run.lbs() == {"lb-0", "lb-1", "lb-2", "lb-3"}


def test_control_a_removal_as_large_is_still_held_by_the_backstop():
    run = Run(
        PolicySettings(
            endpoint_budget=None,
            az_budget=None,
            hysteresis=Hysteresis(0.0, 0.0),
            capacity_floor=0,
            max_failing=1.0,
        )
    )
    dead = {**HEALTHY, **{LbId(f"lb-{i}"): LbHealth(False, reason="refused") for i in range(3)}}
    d = run.tick(dead)
    assert d.action == "hold" and d.reasons[0].gate == "max-change", d.reasons
