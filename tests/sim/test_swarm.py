"""The swarm gate: legacy fails within 100 seeds, safe never; failing seeds replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from zonewarden.sim.swarm import SeedResult, iter_results, run_seed, run_swarm

SEEDS_FILE = Path(__file__).with_name("seeds.txt")


def first_failure(protocol: str, limit: int) -> SeedResult | None:
    for r in iter_results(protocol, range(limit)):
        if not r.ok:
            return r
    return None


def test_swarm_finds_a_legacy_failure_within_100_seeds() -> None:
    found = first_failure("legacy", 100)
    assert found is not None
    assert {"I3", "I5"} <= {inv for inv, _, _ in found.first}


@pytest.mark.long
def test_swarm_finds_nothing_for_safe_in_150_seeds() -> None:
    summary = run_swarm("safe", range(150))
    assert summary.failures == []
    # the schedule really did reach the dangerous places
    for reached in (
        "stale enactor fenced",
        "clean-up ran while another enactor was mid-apply",
        "plan abandoned for a newer one",
        "write applied, reply lost",
        "clean-up crashed mid-sweep",
        "enactor crashed mid-plan",
        "enactor paused mid-plan",
        "stale read",
        "corruption repaired",
    ):
        assert summary.reached[reached] > 0, reached


@pytest.mark.servers
def test_swarm_jobs_do_not_change_the_summary() -> None:
    one = run_swarm("legacy", range(24), jobs=1).as_json()
    two = run_swarm("legacy", range(24), jobs=2).as_json()
    assert one == two


def kept_seeds() -> list[tuple[str, int, str]]:
    rows = []
    for line in SEEDS_FILE.read_text().splitlines():
        body = line.split("#", 1)[0].split()
        if body:
            rows.append((body[0], int(body[1]), body[2]))
    return rows


@pytest.mark.parametrize(("protocol", "seed", "expect"), kept_seeds())
def test_kept_seed_replays_forever(protocol: str, seed: int, expect: str) -> None:
    r = run_seed(protocol, seed)
    assert r.ok == (expect == "ok"), r.first
