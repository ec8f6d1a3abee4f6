"""The health scenarios by LB address, many seeds (sim/address_health.py): the capacity
the plan's records serve keeps the floor and the budget per window per name and per AZ,
fail-static holds, no name is ever empty and dead addresses leave; the controls (budget
off: every dead address leaves at once; planning per LB only) are caught."""

from __future__ import annotations

import pytest

from zonewarden.core.model import (
    Content,
    Endpoint,
    EndpointName,
    LbId,
    LoadBalancer,
    PlanDraft,
    Policy,
    Record,
    RecordType,
)
from zonewarden.core.region import Region
from zonewarden.sim.address_check import served
from zonewarden.sim.address_health import AddressSettings, run, swarm
from zonewarden.sim.address_world import Fault, Key

SHORT = AddressSettings(duration=700.0)


@pytest.mark.long
def test_every_seed_keeps_the_floor_the_budget_and_lets_dead_addresses_leave():
    outcomes = swarm(range(12), settings=SHORT)
    bad = {seed: o.violations[:2] for seed, o in outcomes.items() if not o.ok}
    assert not bad, f"replay with zonewarden.sim.address_health.run(seed): {bad}"
    assert sum(o.plans for o in outcomes.values()) > 12  # the scenarios do change plans
    assert sum(o.addresses_out for o in outcomes.values()) > 8  # addresses leave alone
    assert sum(o.held_back for o in outcomes.values()) > 0  # and the budget held some back


@pytest.mark.long
def test_control_without_the_budget_every_dead_address_leaves_at_once_and_is_caught():
    outcomes = swarm(range(8), budget=False, settings=SHORT)
    assert sum(not o.ok for o in outcomes.values()) >= 4, "most seeds must fail"
    assert any("within 300 s" in v for o in outcomes.values() for v in o.violations)


@pytest.mark.long
def test_control_planning_per_lb_only_leaves_dead_addresses_in_and_is_caught():
    outcomes = swarm(range(6), addresses=False, settings=SHORT)
    lingering = [
        o for o in outcomes.values() if any("still in the plan" in v for v in o.violations)
    ]
    assert len(lingering) >= 3


def every_lb_loses_one_address(region: Region) -> list[Fault]:
    keys: tuple[Key, ...] = tuple((lb, c.ipv4[-1]) for lb, c in region.lbs.items())
    return [Fault(60.0, "every", keys), Fault(500.0, "every", keys, heal=True)]


@pytest.mark.long
def test_one_address_of_every_lb_at_once_keeps_every_invariant():
    """The fail-static case by address: more than half the region's addresses failing
    at once holds the plan (fail-static counts addresses); fewer leave within the
    budget; the control (budget and plausibility limit off) drains at once and is
    caught."""
    short = AddressSettings(duration=600.0)
    for seed in (1, 7):  # seed 7: those are 12 of its 21 addresses, more than half
        o = run(seed, settings=short, faults=every_lb_loses_one_address)
        assert o.ok, o.violations[:3]
        if seed == 7:  # most of its addresses at once: fail-static holds, nothing leaves
            assert o.holds > 100 and o.addresses_out == 0 and o.held_back == 0
        else:  # fewer than half: they leave within the budget
            assert o.addresses_out > 0 and o.held_back > 0
        control = run(
            seed,
            budget=False,
            plausibility=False,
            settings=short,
            faults=every_lb_loses_one_address,
        )
        assert not control.ok


def test_a_seed_replays_exactly():
    short = AddressSettings(duration=200.0)
    a, b = run(7, settings=short), run(7, settings=short)
    assert (a.events, a.plans, a.addresses_out, a.violations) == (
        b.events,
        b.plans,
        b.addresses_out,
        b.violations,
    )


def test_served_capacity_counts_each_address_of_an_lb():
    lbs = [
        LoadBalancer(LbId("a"), "z1", tuple(f"127.0.8.{i}" for i in range(1, 5)), capacity=200),
        LoadBalancer(LbId("b"), "z2", ("127.0.8.9",), capacity=100),
    ]
    name = EndpointName("n.example.")
    region = Region.build("r", "example.", lbs, [Endpoint(name, (LbId("a"), LbId("b")))])
    # a's 4th address left out; its 3 records carry 200 x 3/4 = 150 at weight 4/3 of 150
    records = tuple(Record(RecordType.A, f"127.0.8.{i}", 255, LbId("a")) for i in range(1, 4))
    b = Record(RecordType.A, "127.0.8.9", 51, LbId("b"))
    plan = PlanDraft({name: Content(5, Policy.WEIGHTED_MULTI, (*records, b))})
    s = served(region, plan, 200.0)
    assert s.lbs[LbId("a")] == pytest.approx(150.0)
    assert s.lbs[LbId("b")] == pytest.approx(51 * 200 / 255)
    assert s.names[name] == pytest.approx(150.0 + 51 * 200 / 255)
    assert not s.empty


def ipv4_outage(region: Region) -> list[Fault]:
    """Every IPv4 address fails; every LB stays healthy on IPv6."""
    keys: tuple[Key, ...] = tuple((lb, a) for lb, c in region.lbs.items() for a in c.ipv4)
    return [Fault(60.0, "addr", keys), Fault(500.0, "addr", keys, heal=True)]


@pytest.mark.xfail(
    strict=True,
    reason="known gap: the budget charges an LB's address by its share of ALL its servable "
    "addresses (IPv4 and IPv6), but a name serving only A records loses the LB's whole "
    "share when its IPv4 addresses leave: an IPv4 outage on dual-stack LBs takes A-only "
    "names past the budget per window (about 2x)",
)
def test_an_ipv4_outage_on_dual_stack_lbs_keeps_a_only_names_within_the_budget():
    o = run(1, settings=AddressSettings(duration=200.0), faults=ipv4_outage, dualstack=True)
    assert o.addresses_out > 0  # the IPv4 addresses do leave the plan
    assert o.ok, o.violations[:3]
