"""Bronson et al., HotOS 2021: capacity 300/s, one retry after a 1 s timeout."""

from __future__ import annotations

import pytest

from zonewarden.sim.cascade import scenarios
from zonewarden.sim.cascade.experiments import hysteresis
from zonewarden.sim.cascade.params import ServiceParams
from zonewarden.sim.cascade.policies import parse_policy
from zonewarden.sim.cascade.service import ServiceModel, ServiceResult

pytestmark = pytest.mark.long  # simulated minutes of a service under load, per test


def run(policy: str = "fifo-retry", seed: int = 1, **kw: float) -> ServiceResult:
    return ServiceModel(scenarios.bronson(**kw), parse_policy(policy), seed).run()


def tail(r: ServiceResult, column: int, seconds: int = 30) -> float:
    return sum(row[column] for row in r.samples[-seconds:]) / seconds


def test_a_10s_outage_at_280_leaves_560_attempts_and_no_goodput_for_good() -> None:
    r = run(load=280.0, outage=10.0, horizon=300.0)
    assert not r.recovered
    assert 520 <= tail(r, 2) <= 600  # attempts/s: every request tried twice
    assert tail(r, 3) == 0  # goodput/s
    assert r.useful_fraction < 0.5


def test_the_same_load_without_the_trigger_is_stable() -> None:
    # the control: it is the trigger, not the load, that tips the system over
    r = run(load=280.0, outage=0.0, horizon=300.0)
    assert r.recovered and r.recovery_s == 0.0
    assert tail(r, 3) == pytest.approx(280, rel=0.1)


@pytest.mark.parametrize(("load", "recovers"), [(130.0, True), (170.0, False)])
def test_recovers_below_about_half_the_capacity(load: float, recovers: bool) -> None:
    assert run(load=load, outage=10.0, horizon=300.0).recovered is recovers


def test_limiting_retries_recovers_at_280() -> None:
    assert not run("fifo-retry", load=280.0, horizon=200.0).recovered
    r = run("retry-budget", load=280.0, horizon=200.0)
    assert r.recovered and r.counters["retry-budget"]["retries-refused"] > 0


def test_same_seed_same_result_other_seed_other_details() -> None:
    a, b = run(seed=7, horizon=120.0), run(seed=7, horizon=120.0)
    assert a.as_json() == b.as_json() and a.samples == b.samples
    assert run(seed=8, horizon=120.0).samples != a.samples


def test_hysteresis_goodput_differs_on_the_way_down() -> None:
    rows = hysteresis(seed=1, hold=20.0)
    up = {r.load: r.goodput for r in rows if r.phase == "up"}
    down = {r.load: r.goodput for r in rows if r.phase == "down"}
    assert up[200.0] == pytest.approx(200.0, rel=0.15)  # stable on the way up
    assert down[200.0] < 20.0  # collapsed at the same load on the way down
    assert down[100.0] == pytest.approx(100.0, rel=0.2)  # back below ~150/s


def test_parameters_are_checked_with_one_clear_message() -> None:
    from zonewarden.sim.cascade.params import ParamError

    with pytest.raises(ParamError, match=r"timeout = -1 is not allowed: must be in \(0, "):
        ServiceParams(timeout=-1.0).check()
