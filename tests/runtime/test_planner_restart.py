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


V6 = "fd00:1::1"  # lb-1a's IPv6 address (the dual-stack endpoint serves it)


class FlappingV6:
    """The planner's own vantage point: every LB healthy, lb-1a's IPv6 address up or
    down as the test says (lb-1a stays healthy on its IPv4 address)."""

    def __init__(self, region) -> None:
        self.region, self.down = region, False

    def local(self, now):
        from zonewarden.core.health import AddressReading, LbReading, VantageReport

        readings = {lb: LbReading(True, now, "http 200") for lb in self.region.lbs}
        readings["lb-1a"] = LbReading(
            True,
            now,
            "",
            addresses={
                "127.0.1.1": AddressReading(True, now, "http 200"),
                V6: AddressReading(not self.down, now, "connect refused" if self.down else ""),
            },
        )
        return VantageReport("planner", now, readings)


def v6_planned(store) -> bool:
    return any(r.address == V6 for c in store.contents(store.newest()).values() for r in c.records)


@pytest.mark.parametrize("remember", [True, False], ids=["ledger-kept", "control-forgotten"])
def test_a_restarted_planner_resumes_a_flapping_address_s_hold_down(
    tmp_path, remember, monkeypatch
):
    """lb-1a's IPv6 address left the plan three times (its next hold-down is 4 s x 4)
    and has been healthy for 5 s when the planner restarts: the new planner returns it
    16 s after it became healthy, as the old one would have. Control: a ledger without
    the address plans returns it 4 s after the restart, before its hold-down."""
    from click.testing import CliRunner

    from zonewarden.cli.common import console
    from zonewarden.cli.main import cli
    from zonewarden.core.health import QuorumRule
    from zonewarden.health.source import ProbeHealth

    path = tmp_path / "region.toml"
    path.write_text(
        cfg.demo_toml().replace('health = "demo"', 'health = "static"\nhold_down = 4.0')
    )
    config = cfg.load(path)
    store = open_store(config, create=True)
    lb = FlappingV6(config.region)

    def planner() -> Planner:
        return Planner(config, store, ProbeHealth(config.region.lbs, QuorumRule(), local=lb.local))

    first, now = planner(), 1.0
    first.once(now)
    for up in (6, 10, 6):  # down 1 s, then up: back after 4 s, then 8 s; then waiting 16 s
        lb.down = True
        now += 1
        first.once(now)
        assert not v6_planned(store)
        lb.down = False
        for _ in range(up):
            now += 1
            first.once(now)
    healthy_since = now - 5.0
    row = store.health_status()["lbs"]["lb-1a"]["addresses"][V6]
    assert row["planned"] is False and row["waiting_s"] == 11.0 and row["exits"] == 3
    monkeypatch.setattr(console, "_width", 240)  # one line per table row
    out = CliRunner().invoke(cli, ["health", "--config", str(path)]).output
    assert "waits 11 s more" in out and "left the plan 3x" in out
    causes = [e.detail for e in store.audit_log(limit=1000) if e.kind == "cause"]
    assert any(f"{V6}, left 2x in 600 s" in c for c in causes)
    assert any(f"{V6} back in after a hold-down of 8 s, damped x2" in c for c in causes)
    if not remember:
        status = store.health_status()
        del status["ledger"]["addresses"]
        store.set_health_status(status)
    restarted = planner()
    while not v6_planned(store):
        now += 1
        restarted.once(now)
    store.close()
    if remember:
        assert now - healthy_since == 16.0, "the restart changed the hold-down"
    else:
        assert now - healthy_since < 16.0, "the control should return it early"


class Lease:
    """A leader lease the test hands from planner to planner."""

    def __init__(self) -> None:
        self.holder = ""


class Held:
    def __init__(self, lease: Lease, name: str) -> None:
        self.lease, self.name, self.leading = lease, name, False

    def campaign(self) -> bool:
        self.leading = self.lease.holder == self.name
        return self.leading

    def resign(self) -> None:
        self.leading = False


@pytest.mark.parametrize("resume", [True, False], ids=["resumed", "control-stale-state"])
def test_a_planner_that_leads_again_resumes_the_other_leader_s_state(tmp_path, monkeypatch, resume):
    """Planner A leads, then B takes over while lb-1a's IPv6 address flaps (three exits:
    next hold-down 16 s); A leads again 5 s into that wait. A resumes B's ledger and the
    plan: the address returns 16 s after it became healthy. Control: A planning on its
    own state from before B (no address plan, no exits) returns it at once."""
    from zonewarden.core.health import QuorumRule
    from zonewarden.health.source import ProbeHealth

    if not resume:
        monkeypatch.setattr(Planner, "_forget_state", lambda self: None)
    path = tmp_path / "region.toml"
    path.write_text(
        cfg.demo_toml().replace('health = "demo"', 'health = "static"\nhold_down = 4.0')
    )
    config = cfg.load(path)
    store = open_store(config, create=True)
    lb, lease = FlappingV6(config.region), Lease()

    def planner(name: str) -> Planner:
        health = ProbeHealth(config.region.lbs, QuorumRule(), local=lb.local)
        return Planner(config, store, health, leadership=Held(lease, name), actor=name)

    def tick(p: Planner, now: float) -> None:
        if p.leads():
            p.once(now)

    a, b = planner("a"), planner("b")
    lease.holder, now = "a", 1.0
    tick(a, now)
    lease.holder = "b"
    for up in (6, 10, 6):
        lb.down = True
        now += 1
        tick(a, now)
        tick(b, now)
        lb.down = False
        for _ in range(up):
            now += 1
            tick(a, now)
            tick(b, now)
    healthy_since = now - 5.0
    assert not v6_planned(store)
    lease.holder = "a"
    while not v6_planned(store):
        now += 1
        tick(b, now)
        tick(a, now)
    store.close()
    if resume:
        assert now - healthy_since == 16.0, "the returning leader changed the hold-down"
    else:
        assert now - healthy_since == 6.0, "the control should return it at once"
