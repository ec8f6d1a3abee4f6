"""The quorum per address: each address of an LB gets its own verdict from the fresh
vantage points that probed it; the LB is healthy while one address is."""

from __future__ import annotations

from zonewarden.core.health import AddressReading, LbReading, QuorumRule, VantageReport, combine
from zonewarden.core.model import LbId

LB = LbId("lb-1")
A, B = "127.0.1.1", "127.0.1.2"


def report(vantage: str, down: set[str], now: float = 10.0) -> VantageReport:
    addresses = {
        a: AddressReading(a not in down, now, "http 503" if a in down else "http 200")
        for a in (A, B)
    }
    healthy = any(r.healthy for r in addresses.values())
    return VantageReport(vantage, now, {LB: LbReading(healthy, now, "", None, False, addresses)})


def verdict(reports: list[VantageReport], share: float = 0.5, max_split: float = 1.0):
    return combine(reports, [LB], 10.0, QuorumRule(unhealthy_share=share, max_split=max_split))


def test_an_address_down_at_a_quorum_is_down_and_the_lb_lives_on_the_other():
    e = verdict([report("az1", {B}), report("az2", {B})])
    v = e.verdicts[LB]
    assert v.healthy and v.addresses_down == (B,) and v.addresses[A].healthy
    assert not e.problems


def test_an_address_down_at_fewer_than_the_quorum_stays_in():
    v = verdict([report("az1", {B}), report("az2", set()), report("az3", set())]).verdicts[LB]
    assert v.healthy and v.addresses_down == ()


def test_control_a_lower_quorum_calls_the_same_address_down():
    e = verdict([report("az1", {B}), report("az2", set()), report("az3", set())], share=0.3)
    assert e.verdicts[LB].addresses_down == (B,)


def test_an_lb_with_no_healthy_address_is_unhealthy():
    v = verdict([report("az1", {A, B}), report("az2", {A, B})]).verdicts[LB]
    assert not v.healthy and v.addresses_down == (A, B)


def test_vantage_points_split_on_an_address_are_an_evidence_problem():
    e = verdict([report("az1", {B}), report("az2", set())], share=0.6, max_split=0.25)
    assert e.verdicts[LB].split and any("disagree" in p for p in e.problems)
