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


# -- fail-static counts addresses: one address of every LB failing at once is implausible

PLAUSIBLE_40 = PolicySettings(hysteresis=HOLD, max_failing=0.4)


def _half_down_half_failing(monkeypatch=None) -> tuple[str, int, list[str]]:
    """Every LB's x.2 address fails at once: half of them have fallen (down), the rest
    still count their failures (failing). With a 40% limit, 8 of the 16 addresses
    (50%) failing is implausible while no LB fails: what does the tick do?"""
    run = Run(PLAUSIBLE_40)
    half = {lb.id for lb in LBS[::2]}
    health = {
        lb.id: LbHealth(True, down=(lb.ipv4[1],))
        if lb.id in half
        else LbHealth(True, failing_addresses=(lb.ipv4[1],))
        for lb in LBS
    }
    action = run.tick(health)
    d = plan_tick(TickInputs(INDEX, health, run.state, run.now, run.plan, settings=PLAUSIBLE_40))
    gone = sum(1 for lb in LBS if lb.ipv4[1] not in run.records())
    return action, gone, [v.message for v in d.reasons]


def test_one_address_of_every_lb_failing_at_once_is_fail_static():
    action, gone, alarms = _half_down_half_failing()
    assert action == "hold" and gone == 0
    assert alarms == [
        "8/16 addresses (50%) fail at once, over the plausibility limit 40%; holding last good plan"
    ]


def test_control_counting_lbs_only_the_address_outage_drains_within_the_budget(monkeypatch):
    from zonewarden.core import evidence

    monkeypatch.setattr(evidence, "addresses_failing", lambda index, health, holds: 0)
    action, gone, alarms = _half_down_half_failing()
    assert action == "publish" and alarms == []
    assert gone == 4  # the four fallen ones, two per AZ (the budget's 25% of each AZ)


def test_control_fallen_addresses_alone_are_under_the_limit(monkeypatch):
    """Without counting the addresses still counting their failures, the 4 fallen of 16
    (25%) are under the limit: the first to fall would drain while the rest still count."""
    from zonewarden.core import evidence

    real = evidence.addresses_failing
    monkeypatch.setattr(
        evidence,
        "addresses_failing",
        lambda index, health, holds: real(
            index, {lb: LbHealth(h.healthy, down=h.down) for lb, h in health.items()}, holds
        ),
    )
    action, gone, _ = _half_down_half_failing()
    assert action == "publish" and gone == 4


def test_the_limit_is_a_share_of_the_region_s_addresses_not_of_one_lb():
    """Both addresses of one LB and one of another: 3 of 16 addresses, under 40%."""
    run = Run(PLAUSIBLE_40)
    health = healthy({LbId("lb-11"): ("127.0.11.2",)})
    health[LbId("lb-10")] = LbHealth(False, reason="http 503", down=("127.0.10.1", "127.0.10.2"))
    assert run.tick(health) == "publish"


# -- flap damping per address: each exit doubles the address's next hold-down

DAMPED = PolicySettings(
    endpoint_budget=None,
    az_budget=None,
    hysteresis=Hysteresis(deadband=0.0, hold_down=4.0, flap_window=600.0, max_damping=16),
)
FLAPPER = "127.0.10.2"


def _flap_entries() -> tuple[int, Run]:
    """lb-10's second address is down for 1 s in every 10 s for two minutes (up 9 s,
    more than its plain 4 s hold-down): how often does it enter the plan?"""
    run = Run(DAMPED)
    entries = 0
    for _ in range(12):
        for tick in range(10):
            was = FLAPPER in run.records()
            run.tick(healthy({LbId("lb-10"): (FLAPPER,)}) if tick == 0 else healthy())
            entries += FLAPPER in run.records() and not was
    return entries, run


def test_a_flapping_address_enters_the_plan_at_most_as_often_as_damping_allows():
    entries, run = _flap_entries()
    # hold-downs of 4, 8, then 16 s: only the first two fit in 9 s up
    assert entries == 2
    plan = run.state.addresses[LbId("lb-10")]
    assert plan.exits[FLAPPER] == (2.0, 12.0, 22.0) and FLAPPER in plan.out  # out since
    # once it stops flapping it returns, after the damped hold-down of its 3 exits:
    # 16 s from its first healthy tick (t=112), 8 s of which it was up in the last cycle
    waited = 0
    while FLAPPER not in run.records():
        run.tick(healthy())
        waited += 1
    assert waited == 8


def test_control_without_an_address_s_exits_it_re_enters_every_time(monkeypatch):
    from zonewarden.core import policy

    monkeypatch.setattr(policy, "exits_after", lambda plan, *rest: plan.exits)
    entries, _ = _flap_entries()
    assert entries == 12


def test_the_damping_shows_in_the_wait_and_the_cause():
    run = Run(DAMPED)
    for up in (6, 10):  # leaves, returns after 4 s; leaves, returns after 8 s
        run.tick(healthy({LbId("lb-10"): (FLAPPER,)}))
        for _ in range(up):
            run.tick(healthy())
        assert FLAPPER in run.records()

    def tick(health: dict[LbId, LbHealth], dt: float):
        run.now += dt
        d = plan_tick(TickInputs(INDEX, health, run.state, run.now, run.plan, settings=DAMPED))
        run.state, run.plan = d.state, d.draft
        return d.step

    step = tick(healthy({LbId("lb-10"): (FLAPPER,)}), 1.0)
    (change,) = [c for c in step.changes if c.lb == LbId("lb-10")]
    assert f"1/2 addresses out ({FLAPPER}, left 2x in 600 s)" in change.cause
    step = tick(healthy(), 1.0)
    assert step.waiting == (
        f"lb-10 {FLAPPER}: hold-down: healthy for 0 s of 16 s before re-entry, "
        "damped x4 after 3 exits",
    )
    assert not tick(healthy(), 15.0).changes
    (change,) = tick(healthy(), 1.0).changes
    assert f"{FLAPPER} back in after a hold-down of 16 s, damped x4 after 3 exits" in change.cause


# -- a restart resumes the waiting addresses' clocks and exits from the ledger


def _flapped_three_times() -> Run:
    """lb-10's second address left the plan three times (next hold-down 4 s x 4 = 16 s),
    and has been healthy for 5 s of it."""
    run = Run(DAMPED)
    for up in (6, 10, 6):
        run.tick(healthy({LbId("lb-10"): (FLAPPER,)}))
        for _ in range(up):
            run.tick(healthy())
    assert FLAPPER not in run.records()
    return run


def _healthy_when_back(forget: tuple[str, ...] = ()) -> float:
    """Restart the planner from the store's plan and its ledger (minus what it
    `forget`s): how long has the address been healthy when it returns?"""
    import json

    from zonewarden.core.policy import ledger_document, state_from_ledger

    run = _flapped_three_times()
    first_healthy = run.now - 5.0
    doc = json.loads(json.dumps(ledger_document(run.state)))  # as the store keeps it
    row = doc["addresses"]["lb-10"]
    for key in forget:
        row[key] = {}
    restarted = Run(DAMPED)
    restarted.plan, restarted.now = run.plan, run.now
    restarted.state = state_from_ledger(doc)
    restarted.tick(healthy(), rebuild=True)
    while FLAPPER not in restarted.records():
        restarted.tick(healthy())
    return restarted.now - first_healthy


def test_a_restarted_planner_resumes_a_waiting_address_s_hold_down():
    assert _healthy_when_back() == 16.0  # neither early nor late


def test_control_forgetting_the_exits_returns_the_address_before_its_hold_down():
    assert _healthy_when_back(forget=("exits",)) < 16.0  # plain 4 s from the restart


def test_control_forgetting_the_clocks_restarts_the_hold_down():
    assert _healthy_when_back(forget=("since",)) > 16.0  # 16 s again from the restart


def test_the_plan_not_the_ledger_says_which_addresses_are_out():
    """A ledger row naming an address the plan carries (or a damaged row) changes
    nothing; an address the plan left out without a ledger clock waits a full hold-down."""
    from zonewarden.core.policy import state_from_ledger

    run = _flapped_three_times()
    doc = {
        "addresses": {
            "lb-10": {"out": [FLAPPER], "since": {FLAPPER: "soon"}, "exits": {FLAPPER: [1.0, "x"]}},
            "lb-11": {"out": ["127.0.11.2"], "since": {"127.0.11.2": 0.0}, "exits": {}},
            "lb-12": "damaged",
        }
    }
    state = state_from_ledger(doc)
    assert set(state.addresses) == {LbId("lb-10"), LbId("lb-11")}
    assert state.addresses[LbId("lb-10")].since == {} and state.addresses[LbId("lb-10")].exits == {}
    restarted = Run(DAMPED)
    restarted.plan, restarted.now, restarted.state = run.plan, run.now, state
    restarted.tick(healthy(), rebuild=True)
    assert "127.0.11.2" in restarted.records()  # in the plan: in, whatever the ledger says
    for _ in range(3):
        restarted.tick(healthy())
    assert FLAPPER not in restarted.records()  # no clock, no exits: the plain 4 s
    restarted.tick(healthy())
    assert FLAPPER in restarted.records()
