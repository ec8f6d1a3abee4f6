"""Capacity policy and the planner tick: budget, floor, hysteresis, fail-static, drains."""

from __future__ import annotations

from zonewarden.core.gates import Limits
from zonewarden.core.hysteresis import Hysteresis
from zonewarden.core.model import Endpoint, EndpointName, LbId, LoadBalancer
from zonewarden.core.planner import TickInputs, plan_tick
from zonewarden.core.policy import (
    LbHealth,
    OperatorHold,
    PolicySettings,
    PolicyState,
    RegionIndex,
)
from zonewarden.core.region import Region, demo_region

REGION = demo_region()
INDEX = RegionIndex(REGION)
AZ1 = [lb for lb, c in REGION.lbs.items() if c.az == "use1-az1"]
WINDOW = 300.0
SETTINGS = PolicySettings(hysteresis=Hysteresis(hold_down=30.0))
NO_BUDGET = PolicySettings(endpoint_budget=None, az_budget=None, hysteresis=SETTINGS.hysteresis)


class Run:
    """Drive plan_tick like the runtime planner does: keep state and plan after publish."""

    def __init__(
        self, settings: PolicySettings = SETTINGS, index: RegionIndex = INDEX, limits=None
    ) -> None:
        self.settings, self.index, self.limits = settings, index, limits or Limits()
        self.state, self.plan, self.now = PolicyState(), None, 0.0
        self.last = self.tick({})

    def tick(self, health, holds=(), dt: float = 1.0):
        self.now += dt
        d = plan_tick(
            TickInputs(
                self.index,
                health,
                self.state,
                self.now,
                self.plan,
                tuple(holds),
                settings=self.settings,
                limits=self.limits,
            )
        )
        if d.action != "hold":
            self.state, self.plan = d.state, d.draft
        self.last = d
        return d

    def served_lbs(self) -> set[LbId]:
        return {r.lb for c in self.plan.endpoints.values() for r in c.records}


def down(lbs) -> dict[LbId, LbHealth]:
    return {lb: LbHealth(False, reason="http 503 (fall 2/2)") for lb in lbs}


def test_one_dead_lb_leaves_every_endpoint_with_its_cause():
    run = Run()
    d = run.tick(down(AZ1[:1]))
    assert d.action == "publish"
    assert AZ1[0] not in run.served_lbs()
    assert [str(c) for c in d.step.changes] == [
        f"{AZ1[0]} capacity 110->0: unhealthy: http 503 (fall 2/2)"
    ]
    assert set(d.changed) == set(REGION.endpoints)


def test_a_dead_az_loses_at_most_the_budget_per_window_then_the_rest():
    run = Run()
    d = run.tick(down(AZ1))
    assert AZ1[0] not in run.served_lbs() and set(AZ1[1:]) <= run.served_lbs()
    held = {h.lb: str(h) for h in d.step.held_back}
    assert "removal budget 25% per 5 min of az use1-az1: 110 of 110 used out of 440" in held[AZ1[1]]
    for _ in range(10):
        assert run.tick(down(AZ1), dt=20.0).action in ("unchanged", "publish")
    assert set(AZ1[1:]) <= run.served_lbs()  # still inside the window
    run.tick(down(AZ1), dt=WINDOW)  # 110 more of the AZ's 440: most of lb-1b (120)
    assert run.state.served[AZ1[1]] == 10
    run.tick(down(AZ1), dt=WINDOW)
    assert AZ1[1] not in run.served_lbs()
    assert run.state.served[AZ1[2]] == 0  # 10 + 100 = 110


def test_control_without_the_budget_the_az_drains_at_once():
    run = Run(NO_BUDGET)
    run.tick(down(AZ1))
    assert not set(AZ1) & run.served_lbs()


def test_everything_failing_is_fail_static_and_changes_nothing():
    run = Run()
    before = run.plan
    d = run.tick(down(REGION.lbs))
    assert d.action == "hold" and run.plan is before
    assert "12/12 load balancers (100%) fail at once, over the plausibility limit 50%" in str(
        d.reasons[0]
    )


def test_control_without_plausibility_or_budget_everything_failing_drains_to_the_floor():
    settings = PolicySettings(endpoint_budget=None, az_budget=None, max_failing=1.0)
    run = Run(settings, limits=Limits(max_removal=1.0))
    d = run.tick(down(REGION.lbs))
    assert d.action == "publish"
    assert len(run.served_lbs()) < len(REGION.lbs) / 2
    assert any("capacity floor 30%" in str(h) for h in d.step.held_back)


def test_evidence_problems_hold():
    run = Run()
    d = plan_tick(
        TickInputs(
            INDEX, {}, run.state, 5.0, run.plan, evidence_problems=("stale: az2 (30 s old)",)
        )
    )
    assert d.action == "hold" and "stale: az2" in str(d.reasons[0])


def test_drain_is_the_fast_lane_and_disable_is_budgeted():
    run = Run()
    drain = OperatorHold("az", "use1-az1", "drain", "bad rack", actor="alice")
    d = run.tick({}, [drain])
    assert not set(AZ1) & run.served_lbs()
    assert all("drained by alice (az use1-az1): bad rack" in c.cause for c in d.step.changes)
    run = Run()
    disable = OperatorHold("az", "use1-az1", "disable", "maintenance")
    run.tick({}, [disable])
    assert len(set(AZ1) & run.served_lbs()) == 3


def test_a_flapping_lb_reenters_at_most_once_per_hold_down():
    run = Run()
    lb = AZ1[0]
    entries = 0
    for i in range(120):  # alternates every 2 s for 4 minutes
        health = down([lb]) if (i // 2) % 2 == 0 else {}
        was = lb in run.served_lbs()
        run.tick(health, dt=2.0)
        entries += (lb in run.served_lbs()) and not was
    assert entries == 0  # never healthy 30 s in a row
    for _ in range(16):
        run.tick({}, dt=2.0)
    assert lb in run.served_lbs()
    assert not run.tick({}).step.waiting


def test_capacity_jitter_inside_the_deadband_changes_nothing():
    run = Run()
    lb = AZ1[0]
    assert run.tick({lb: LbHealth(True, 115)}).action == "unchanged"
    assert run.tick({lb: LbHealth(True, 200)}).action == "publish"


def test_only_endpoints_on_the_changed_lb_are_replanned():
    lbs = [LoadBalancer(LbId(f"lb{i}"), f"az{i % 3}", (f"127.0.0.{i + 1}",)) for i in range(9)]
    eps = [
        Endpoint(EndpointName(f"e{j}.example."), tuple(lbs[k].id for k in range(j % 3, 9, 3)))
        for j in range(30)
    ]
    index = RegionIndex(Region.build("r", "example.", lbs, eps))
    run = Run(NO_BUDGET, index)
    d = run.tick(down([LbId("lb1")]))
    assert d.action == "publish"
    assert sorted(d.changed) == sorted(e.name for e in eps if LbId("lb1") in e.lbs)
    assert len(d.changed) == 10


def test_each_exit_doubles_the_next_hold_down():
    from zonewarden.core.hysteresis import Hysteresis, hold_down_for

    h = Hysteresis(hold_down=10.0, flap_window=100.0, max_damping=4)
    assert hold_down_for((), 0.0, h) == 10.0
    assert hold_down_for((1.0,), 5.0, h) == 10.0
    assert hold_down_for((1.0, 2.0), 5.0, h) == 20.0
    assert hold_down_for((1.0, 2.0, 3.0, 4.0), 5.0, h) == 40.0  # capped at x4
    assert hold_down_for((1.0, 2.0), 150.0, h) == 10.0  # forgotten after the window


def test_a_flapping_lb_waits_longer_each_time():
    run = Run(
        PolicySettings(hysteresis=Hysteresis(hold_down=4.0), endpoint_budget=None, az_budget=None)
    )
    lb = AZ1[0]
    back = []
    for _ in range(3):
        run.tick(down([lb]))
        assert lb not in run.served_lbs()
        waited = 0
        while lb not in run.served_lbs():
            run.tick({}, dt=1.0)
            waited += 1
        back.append(waited)
    assert back == [5, 9, 17]  # the first healthy tick starts the hold-down: 4, 8, 16 s after it
