"""The October 2025 chain: DNS outage -> lease manager -> network state -> health checks."""

from __future__ import annotations

from typing import Any

import pytest

from zonewarden.sim.cascade.chain import STAGES, ChainParams, run_chain
from zonewarden.sim.cascade.params import ParamError
from zonewarden.sim.cascade.policies import parse_policy

pytestmark = pytest.mark.long  # simulated minutes of a service under load, per test


def chain(policy: str, seed: int = 1, **kw: Any) -> Any:
    return run_chain(ChainParams(**kw), parse_policy(policy), seed)


def test_large_fleet_fifo_never_recovers_its_leases(small_chain: dict[str, Any]) -> None:
    small_chain["after"] = 1800.0
    p = ChainParams(**small_chain)
    drain = p.hosts * p.establish_time / p.workers
    assert drain >= 5 * p.establish_timeout  # "several times the timeout"
    r = chain("fifo-retry", **small_chain)
    assert r.milestones["leases"] is None and not r.recovered
    assert r.lease.succeeded < 0.2 * p.expired  # the first pass, then nothing
    assert r.lease.useful_fraction < 0.05


@pytest.mark.parametrize("policy", ["admission", "deadline-drop", "lifo"])
def test_large_fleet_each_fix_recovers_the_leases(policy: str, small_chain: dict[str, Any]) -> None:
    r = chain(policy, **small_chain)
    assert r.milestones["leases"] is not None
    assert r.lease.succeeded == ChainParams(**small_chain).expired


@pytest.mark.parametrize(
    "policy",
    [
        "fifo-retry",
        "backoff-jitter",
        "retry-budget",
        "adaptive-throttle",
        "lifo",
        "deadline-drop",
        "admission",
        "restart",
    ],
)
def test_small_fleet_every_policy_recovers_in_order(
    policy: str, small_chain: dict[str, Any]
) -> None:
    small_chain.update(hosts=2000, after=3600.0)
    r = chain(policy, **small_chain)
    assert r.recovered, r.milestones
    assert r.order == list(STAGES)


def test_health_fail_over_without_velocity_keeps_removing_healthy_capacity(
    small_chain: dict[str, Any],
) -> None:
    without = chain("admission", **small_chain)
    assert without.milestones["network_state"] is not None
    assert without.milestones["health_checks"] is None  # fail-over sustains the overload
    assert without.peak_healthy_removed > 0.9 * 11_000
    limited = chain("admission+velocity", **small_chain)
    assert limited.recovered and limited.order == list(STAGES)
    assert limited.counters["velocity"]["removals-held"] > 0
    kept = chain("admission+velocity+fail-open", **small_chain)
    assert kept.recovered
    assert min(row[7] for row in kept.health_rows) >= 0.34 * 6000  # capacity left in DNS


def test_shedding_late_checks_as_no_evidence_ends_the_fail_over_loop(
    small_chain: dict[str, Any],
) -> None:
    """What the runtime prober does (a check not started in time is shed, and a shed check
    is no failure): the health checks settle as soon as the network state is back."""
    control = chain("admission", **small_chain)  # late checks read as failures
    assert control.milestones["health_checks"] is None
    shed = chain("admission+shed-late", **small_chain)
    assert shed.recovered and shed.order == list(STAGES)
    back = shed.milestones["network_state"]
    assert back is not None and shed.milestones["health_checks"] is not None
    assert shed.milestones["health_checks"] - back <= 3 * ChainParams().health.interval
    assert max(row[2] for row in shed.health_rows) == 0.0  # nothing waits: no backlog
    assert max(row[3] for row in shed.health_rows) > 0.0  # ... because checks were shed


def test_same_seed_same_chain(small_chain: dict[str, Any]) -> None:
    a, b = chain("lifo", 5, **small_chain), chain("lifo", 5, **small_chain)
    assert a.as_json() == b.as_json() and a.health_rows == b.health_rows


def test_impossible_parameters_name_the_parameter_and_range() -> None:
    with pytest.raises(ParamError, match=r"hosts = -5 is not allowed: must be in \[1, "):
        ChainParams(hosts=-5).check()
    with pytest.raises(ParamError, match="workers = 0"):
        ChainParams(workers=0).check()
    with pytest.raises(ParamError, match=r"establish_timeout = 1 .*must be > establish_time 2"):
        ChainParams(establish_timeout=1.0).check()
