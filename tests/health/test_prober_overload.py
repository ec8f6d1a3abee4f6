"""An overloaded prober sheds probes through the resilience WorkQueue and never reads a
shed probe as a failure (so overload of the checker cannot drain capacity); the control,
reading shed probes as failures, fails healthy LBs out. Real HTTP LBs on loopback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from zonewarden.core.checks import CheckTarget, ProbeSettings
from zonewarden.core.health import QuorumRule
from zonewarden.core.model import LbId
from zonewarden.errors import HealthUnavailable
from zonewarden.health.lbserver import LbServer
from zonewarden.health.prober import Prober
from zonewarden.health.shedding import DEADLINE, QUEUE_FULL, ShedLog
from zonewarden.health.source import ProbeHealth
from zonewarden.resilience import metrics

pytestmark = pytest.mark.servers

LBS = 12
# 12 LBs due every 0.2 s (60 probes/s) against 2 slots of 0.5 s each (4 probes/s)
OVERLOADED = ProbeSettings(
    interval=0.2, timeout=2.0, jitter=0.1, max_concurrent=2, queue_depth=4, lifo_above=2
)


async def _overload(shed_is_failure: bool) -> tuple[Prober, str]:
    lbs = [LbServer() for _ in range(LBS)]
    for lb in lbs:
        await lb.start()
        lb.set("slow", delay=0.5)  # healthy, only slow: every answer is a 200
    checks = {
        LbId(f"lb{i}"): CheckTarget("http", "127.0.0.1", lb.port, "/health")
        for i, lb in enumerate(lbs)
    }
    prober = Prober("planner", checks, OVERLOADED, shed_is_failure=shed_is_failure)
    stop = asyncio.Event()
    task = asyncio.create_task(prober.run(stop))
    try:
        await asyncio.sleep(2.5)
        overload = prober.report(0.0).overload
    finally:
        stop.set()
        await task
        for lb in lbs:
            await lb.kill()
    return prober, overload


def test_shed_probes_are_counted_logged_once_and_never_fail_an_lb(caplog):
    caplog.set_level(logging.WARNING, "zonewarden.health")
    prober, overload = asyncio.run(_overload(shed_is_failure=False))
    counts = prober.queue.counters
    assert counts["refused-full"] > 0, counts  # admission by queue size
    assert counts["dropped-expired"] > 0, counts  # not started within the interval
    assert prober.in_flight_peak <= 2
    assert prober.probes > 0
    assert all(state.healthy for state in prober.states.values())
    assert not any("unhealthy" in r.message for r in caplog.records)
    assert "probes shed in the last" in overload, overload
    shed = [r.message for r in caplog.records if "health probes shed" in r.message]
    assert len(shed) == 2, shed  # once per cause in the episode
    assert any("queue full" in m for m in shed) and any("deadline passed" in m for m in shed)
    assert counts in metrics.all_counters()  # what /metrics exports (and the planner publishes)
    assert (counts.component, counts.name) == ("work-queue", "probes/planner")


def test_control_reading_shed_probes_as_failures_drains_healthy_lbs():
    prober, _ = asyncio.run(_overload(shed_is_failure=True))
    down = [lb for lb, state in prober.states.items() if not state.healthy]
    assert len(down) >= LBS // 2, down  # healthy, merely slow LBs fail out: what must not be


@pytest.mark.parametrize("shed_is_failure", [False, True])
def test_overload_never_reads_as_unhealthy_lbs_to_the_planner(shed_is_failure):
    prober, _ = asyncio.run(_overload(shed_is_failure))
    health = ProbeHealth(list(prober.checks), QuorumRule(max_age=60.0), local=prober.report)
    now = max(s.checked_at or 0.0 for s in prober.states.values())
    try:
        observed = health.observe(now)
    except HealthUnavailable:
        observed = None  # too little evidence: the planner holds (fail-static), drains nothing
    unhealthy = [] if observed is None else [lb for lb, o in observed.items() if not o.healthy]
    if shed_is_failure:
        assert unhealthy, "the control must drain LBs"
    else:
        assert unhealthy == []


def test_an_episode_is_logged_once_per_cause_and_ends_after_a_quiet_spell(caplog):
    caplog.set_level(logging.WARNING, "zonewarden.health")
    log = ShedLog("az1", quiet_after=1.2)
    for t in (10.0, 10.1, 10.5):
        log.shed(t, QUEUE_FULL, "4 probes waiting")
    log.shed(10.6, DEADLINE, "not started within 0.2 s")
    log.tick(11.7)  # 1.1 s quiet: still the same episode
    assert log.describe(11.7).startswith("4 probes shed in the last 1.7 s (1 deadline passed")
    log.tick(11.9)
    assert log.describe(11.9) == ""
    log.shed(20.0, QUEUE_FULL, "4 probes waiting")  # a new episode says so again
    messages = [r.message for r in caplog.records]
    assert [m.split(" (")[0] for m in messages] == [
        "az1: health probes shed",
        "az1: health probes shed",
        "az1: health probes keep up again after 4 shed in 0.6 s",
        "az1: health probes shed",
    ]
    assert (log.total, log.count) == (5, 1)
