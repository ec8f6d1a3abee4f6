"""LBs planned by address: a failed address leaves its LB's records, within the removal
budget and the re-entry hold-down, like an LB does; each rule beside its control."""

from __future__ import annotations

from zonewarden.core.hysteresis import Hysteresis
from zonewarden.core.model import Endpoint, EndpointName, LbId, LoadBalancer
from zonewarden.core.planner import TickInputs, plan_tick
from zonewarden.core.policy import LbHealth, PolicySettings, PolicyState, RegionIndex
from zonewarden.core.region import Region

# two AZs of four LBs, each LB two IPv4 addresses (x.1 and x.2), one endpoint on all
LBS = [
    LoadBalancer(LbId(f"lb-{az}{i}"), f"az{az}", (f"127.0.{az}{i}.1", f"127.0.{az}{i}.2"))
    for az in (1, 2)
    for i in range(4)
]
REGION = Region.build(
    "r", "example.", LBS, [Endpoint(EndpointName("kv.example."), tuple(lb.id for lb in LBS))]
)
INDEX = RegionIndex(REGION)
NAME = EndpointName("kv.example.")
HOLD = Hysteresis(deadband=0.0, hold_down=30.0)
SETTINGS = PolicySettings(hysteresis=HOLD)
NO_BUDGET = PolicySettings(endpoint_budget=None, az_budget=None, hysteresis=HOLD)
NO_HOLD = PolicySettings(hysteresis=Hysteresis(deadband=0.0, hold_down=0.0))


class Run:
    """plan_tick as the runtime drives it: state and plan kept after each publish."""

    def __init__(self, settings: PolicySettings = SETTINGS) -> None:
        self.settings, self.state, self.plan, self.now = settings, PolicyState(), None, 0.0
        self.tick({})

    def tick(self, health: dict[LbId, LbHealth], dt: float = 1.0, rebuild: bool = False) -> str:
        self.now += dt
        d = plan_tick(
            TickInputs(
                INDEX,
                health,
                self.state,
                self.now,
                self.plan,
                settings=self.settings,
                rebuild=rebuild,
            )
        )
        if d.action != "hold":
            self.state, self.plan = d.state, d.draft
        return d.action

    def records(self) -> dict[str, int]:
        assert self.plan is not None
        return {r.address: r.weight for r in self.plan.endpoints[NAME].records}


def healthy(down: dict[LbId, tuple[str, ...]] | None = None) -> dict[LbId, LbHealth]:
    down = down or {}
    return {lb.id: LbHealth(True, down=down.get(lb.id, ())) for lb in LBS}


def test_a_failed_address_leaves_its_lbs_records_and_the_rest_carry_its_share():
    run = Run()
    before = run.records()
    assert len(before) == 16
    run.tick(healthy({LbId("lb-10"): ("127.0.10.2",)}))
    after = run.records()
    assert "127.0.10.2" not in after and "127.0.10.1" in after
    # the LB serves half its capacity: its one record carries what two carried
    assert after["127.0.10.1"] == before["127.0.10.1"]
    assert run.state.served[LbId("lb-10")] == 50
    assert all(after[a] == w for a, w in before.items() if not a.startswith("127.0.10."))


def _az1_loses_every_second_address(settings: PolicySettings) -> int:
    """Every LB of az1 loses one of its two addresses at once: how many leave at once."""
    run = Run(settings)
    run.tick(healthy({lb.id: (lb.ipv4[1],) for lb in LBS if lb.az == "az1"}))
    return sum(1 for lb in LBS if lb.az == "az1" and lb.ipv4[1] not in run.records())


def test_addresses_leave_no_faster_than_the_removal_budget_allows():
    # az1 has 400 of capacity; 25% per window is 100: two of the four addresses
    assert _az1_loses_every_second_address(SETTINGS) == 2


def test_control_without_the_budget_every_failed_address_leaves_at_once():
    assert _az1_loses_every_second_address(NO_BUDGET) == 4


def _back_after(settings: PolicySettings, seconds: float) -> bool:
    """An address fails, leaves, recovers: is it back `seconds` after recovering?"""
    run = Run(settings)
    run.tick(healthy({LbId("lb-10"): ("127.0.10.2",)}))
    assert "127.0.10.2" not in run.records()
    run.tick(healthy(), dt=1.0)
    run.tick(healthy(), dt=seconds)
    return "127.0.10.2" in run.records()


def test_a_recovered_address_waits_out_the_hold_down_before_it_returns():
    assert not _back_after(SETTINGS, 10.0)
    assert _back_after(SETTINGS, 31.0)


def test_control_without_the_hold_down_a_recovered_address_returns_at_once():
    assert _back_after(NO_HOLD, 0.0)


def _restarted() -> set[str]:
    """A planner with half of az1's x.2 addresses out restarts with its budget spent (the
    ledger is kept, the address plan is not) and re-plans every endpoint (as after an
    operator's rollback): which x.2 addresses does it serve while all are still down?"""
    down = healthy({lb.id: (lb.ipv4[1],) for lb in LBS if lb.az == "az1"})
    run = Run()
    run.tick(down)
    restarted = Run()
    restarted.plan, restarted.now = run.plan, run.now
    restarted.state = PolicyState(budget=run.state.budget, exits=run.state.exits)
    restarted.tick(down, rebuild=True)
    return {lb.ipv4[1] for lb in LBS if lb.az == "az1"} & set(restarted.records())


def test_a_restarted_planner_keeps_failed_addresses_out():
    assert len(_restarted()) == 2  # the two the budget let go stay gone


def test_control_a_planner_that_forgets_the_left_out_addresses_brings_them_back(monkeypatch):
    from zonewarden.core import planner

    monkeypatch.setattr(planner, "addresses_in", lambda draft: {})
    assert len(_restarted()) == 4  # dead addresses back in DNS: what must not happen
