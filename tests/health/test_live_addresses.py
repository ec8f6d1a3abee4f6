"""LBs with two addresses each, every address its own real LB process on loopback, real
planner, enactor and DNS server: a dead address leaves the DNS answers while its LB's
other address stays, and no faster than the removal budget allows (control: off)."""

from __future__ import annotations

import time

import pytest
from bench.health_region import Region

pytestmark = pytest.mark.servers

FIRST = {f"127.0.1.{i}" for i in (1, 2, 3, 4)}
SECOND = {f"127.0.11.{i}" for i in (1, 2, 3, 4)}
WINDOW = 3.0


@pytest.fixture
def region(tmp_path, request):
    keys = getattr(request, "param", {})
    r = Region(tmp_path / "region", planner_keys=keys, azs=1, addresses=2)
    r.start()
    try:
        r.wait_answers(lambda a: a == FIRST | SECOND, timeout=30)
        yield r
    finally:
        r.stop()


def test_a_dead_address_leaves_the_answers_and_its_lb_stays(region):
    region.second["lb-1a"].kill()
    answers = region.wait_answers(lambda a: "127.0.11.1" not in a, timeout=15)
    assert answers == (FIRST | SECOND) - {"127.0.11.1"}  # lb-1a still answers on .1.1
    status = region.store()
    row = status.health_status()["lbs"]["lb-1a"]
    status.close()
    assert row["healthy"] is True
    assert row["addresses"]["127.0.11.1"]["healthy"] is False
    assert row["addresses"]["127.0.11.1"]["planned"] is False


def _removed_at_once(region) -> int:
    """Every LB's second address dies at once: the most that left within 1.5 s of the
    first one leaving (the budget window is 3 s; one address is 50 of the AZ's 400)."""
    for lb in region.second.values():
        lb.kill()
    region.wait_answers(lambda a: bool(SECOND - a), timeout=15)
    first_gone = time.monotonic()
    most = 0
    while time.monotonic() - first_gone < 1.5:
        answers = region.answers()
        if answers:
            assert answers >= FIRST  # every LB keeps its live address
            most = max(most, len(SECOND - answers))
        time.sleep(0.05)
    return most


def test_dead_addresses_leave_no_faster_than_the_budget(region):
    assert _removed_at_once(region) <= 2  # 25% of 400 per window: two addresses of 50


@pytest.mark.parametrize("region", [{"removal_budget": False}], indirect=True, ids=["no-budget"])
def test_control_without_the_budget_they_leave_at_once(region):
    assert _removed_at_once(region) == 4
