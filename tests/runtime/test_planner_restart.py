"""The removal budget survives a planner restart (and so a leader takeover): the ledger
is kept in the store with the health status. Control: a planner that forgets it
removes a second LB of the dead AZ inside the same window."""

from __future__ import annotations

import pytest

from zonewarden import config as cfg
from zonewarden.core.planner import Observation
from zonewarden.core.policy import PolicyState, ledger_document, state_from_ledger
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner


class AzDown:
    def __init__(self, region) -> None:
        self.region = region

    def observe(self, now):
        return {i: Observation(lb.az != "use1-az1") for i, lb in self.region.lbs.items()}


def served_az1(store) -> set[str]:
    lbs = {r.lb for c in store.contents(store.newest()).values() for r in c.records}
    return {lb for lb in lbs if lb.startswith("lb-1")}


@pytest.mark.parametrize("remember", [True, False], ids=["ledger-kept", "control-forgotten"])
def test_a_restarted_planner_keeps_the_budget_window(tmp_path, remember):
    path = tmp_path / "region.toml"
    text = cfg.demo_toml().replace('health = "demo"', 'health = "static"\nremoval_budget = true')
    path.write_text(text)
    config = cfg.load(path)
    store = open_store(config, create=True)
    first = Planner(config, store, AzDown(config.region))
    first.once(1000.0)  # the first plan: built from the evidence directly
    first.state = PolicyState()  # as if it started with the AZ healthy: plan on weights
    store.set_health_status({})
    healthy = Planner(config, store, type("Up", (), {"observe": lambda s, now: {}})())
    healthy.once(1001.0)
    assert len(served_az1(store)) == 4
    before = Planner(config, store, AzDown(config.region))
    before.once(1002.0)
    assert len(served_az1(store)) == 3  # 25% of the AZ: one LB
    if not remember:
        status = store.health_status()
        status.pop("ledger")
        store.set_health_status(status)
    restarted = Planner(config, store, AzDown(config.region))
    restarted.once(1010.0)  # same 5-minute window
    az1 = sum(v for lb, v in restarted.state.served.items() if lb.startswith("lb-1"))
    store.close()
    if remember:
        assert az1 == 440 - 110, "the restart opened a fresh budget window"
    else:
        assert az1 == 440 - 2 * 110, "the control should remove another 25%"


def test_the_ledger_round_trips():
    from zonewarden.core.budget import RemovalBudget, Scope

    state = PolicyState(
        budget=RemovalBudget().spend([Scope("az", "a"), Scope("endpoint", "kv.x.")], 50.0, 3.0)
    )
    back = state_from_ledger(ledger_document(state))
    assert back.budget == state.budget
    assert state_from_ledger({"spends": [["bad"]], "exits": {"x": ["nan?"]}}).budget.spends == ()
