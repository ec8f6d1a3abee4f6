"""The health scenarios under a virtual clock, many seeds: floor, budget per window and
fail-static hold on every seed; without the budget (the control) the checker catches
violations."""

from __future__ import annotations

import pytest

from zonewarden.sim.health import SimSettings, run, swarm

pytestmark = pytest.mark.long  # many seeds of simulated health scenarios

SHORT = SimSettings(duration=900.0)


def test_every_seed_keeps_the_floor_the_budget_and_fail_static():
    outcomes = swarm(range(24), settings=SHORT)
    bad = {seed: o.violations[:2] for seed, o in outcomes.items() if not o.ok}
    assert not bad, f"replay with zonewarden.sim.health.run(seed): {bad}"
    assert sum(o.plans for o in outcomes.values()) > 24  # the scenarios do change plans
    assert sum(o.held_back for o in outcomes.values()) > 0  # and the budget held some back


def test_control_without_the_budget_the_checker_catches_it():
    outcomes = swarm(range(8), budget=False, settings=SHORT)
    assert sum(not o.ok for o in outcomes.values()) >= 4
    assert any("within 300 s" in v for o in outcomes.values() for v in o.violations)


def test_a_seed_replays_exactly():
    a, b = run(11, settings=SHORT), run(11, settings=SHORT)
    assert (a.events, a.plans, a.held_back, a.violations) == (
        b.events,
        b.plans,
        b.held_back,
        b.violations,
    )
