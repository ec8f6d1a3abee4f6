"""Health evidence: rise/fall, capacity parsing, the vantage quorum and its problems."""

from __future__ import annotations

import pytest

from zonewarden.core.checks import CheckTarget, ProbeSettings
from zonewarden.core.health import (
    CheckState,
    LbReading,
    QuorumRule,
    RiseFall,
    VantageReport,
    combine,
    parse_capacity,
)
from zonewarden.core.model import LbId, LoadBalancer

A, B = LbId("a"), LbId("b")
RF = RiseFall(rise=2, fall=3)


def feed(results: str, state: CheckState | None = None) -> CheckState:
    state = state or CheckState()
    for i, c in enumerate(results):
        state = state.step(c == "+", "http 200" if c == "+" else "http 503", float(i), RF)
    return state


def test_fall_after_three_failures_in_a_row_rise_after_two():
    assert feed("--").healthy and feed("--+--").healthy
    down = feed("---")
    assert not down.healthy and down.reason == "http 503 (fall 3/3)"
    assert not feed("+", down).healthy and feed("++", down).healthy
    assert feed("-+-+-+-+-+").transitions == 0


def test_capacity_parsing():
    assert parse_capacity(b'{"capacity": 120.4}') == (120, "")
    assert parse_capacity(b"80") == (80, "")
    assert parse_capacity(b"true")[1] == "capacity True is not a number"
    assert parse_capacity(b'{"cap": 1}')[1] == "capacity JSON has no 'capacity' key"
    assert parse_capacity(b"\xff\xfe")[1].startswith("capacity body is not JSON")


def report(vantage: str, at: float, **health: bool) -> VantageReport:
    return VantageReport(
        vantage,
        at,
        {LbId(k): LbReading(v, at, "http 503" if not v else "") for k, v in health.items()},
    )


RULE = QuorumRule(unhealthy_share=0.5, max_age=10.0, min_fresh=2, max_split=0.5)


def test_quorum_of_fresh_vantage_points():
    reports = [report("az1", 0, a=False, b=True), report("az2", 0, a=False, b=True)]
    e = combine([*reports, report("az3", 0, a=True, b=True)], [A, B], 1.0, RULE)
    assert not e.verdicts[A].healthy and e.verdicts[A].down == 2
    assert e.verdicts[A].reason.startswith("2/3 vantage points say unhealthy: az1: http 503")
    assert e.usable


def test_stale_vantage_points_are_not_evidence():
    reports = [report("az1", 0, a=False, b=True), report("az2", -30, a=False, b=False)]
    e = combine([*reports, report("az3", 0, a=True, b=True)], [A, B], 1.0, RULE)
    assert e.stale == ("az2 (31.0 s old)",)
    assert e.verdicts[A].fresh == 2
    e = combine(reports[1:], [A, B], 1.0, RULE)
    assert e.problems[0].startswith("health evidence stale: 0 fresh vantage point(s), need 2")


def test_vantage_points_split_beyond_the_bound_is_a_problem():
    partitioned = report("az1", 0, a=False, b=False)
    e = combine([partitioned, report("az2", 0, a=True, b=True)], [A, B], 1.0, RULE)
    assert e.problems == (
        "vantage points disagree on 2/2 load balancers (100%), over the bound 50%",
    )


def test_check_urls():
    assert CheckTarget.parse("http://127.0.0.1:8080/health").url == "http://127.0.0.1:8080/health"
    assert CheckTarget.parse("https://[::1]/h?x=1").path == "/h?x=1"
    assert CheckTarget.parse("tcp://127.0.0.1:80").port == 80
    with pytest.raises(ValueError, match="unknown check scheme 'udp'"):
        CheckTarget.parse("udp://127.0.0.1:53")
    with pytest.raises(ValueError, match="needs an IP address"):
        CheckTarget.parse("http://lb.example/health")
    with pytest.raises(ValueError, match="needs a port"):
        CheckTarget.parse("tcp://127.0.0.1")
    lb = LoadBalancer(LbId("x"), "az", ("127.0.0.9",))
    assert CheckTarget.default_for(lb).url == "tcp://127.0.0.9:80"
    with pytest.raises(ValueError, match="expect_status"):
        ProbeSettings(expect_status=(300, 200))
