"""The health-change phase of bench/plan_apply.py: a few LBs fail, the planner's tick
re-plans only the endpoints that use them, publishes and the enactor applies.

The store serves the region after the steady phase (either assignment, found by the
warm-up tick). The
planner starts as the runtime's does (the newest plan loaded, policy state from its
weights), ticks once with every LB healthy (must be "unchanged"), then LBs fail until
1% of the endpoints are affected; that tick is timed: `plan_tick` (policy, budget,
incremental build, gates), `publish` (compare-and-set), and the safe enactor until idle.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from bench.region import Shape, assignments, build_region, changed_assignments
from bench.zonewarden_run import Progress, Stopwatch, _quiet, drive_enactor, written_names

from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.model import Generation, LbId, PlanDraft
from zonewarden.core.planner import TickInputs, plan_tick
from zonewarden.core.policy import LbHealth, PolicySettings, PolicyState, RegionIndex
from zonewarden.stores.sqlite import SqliteStore


def failing_lbs(index: RegionIndex, share: float) -> list[LbId]:
    """LBs in id order until `share` of the endpoints use one of them."""
    target = share * len(index.region.endpoints)
    out: list[LbId] = []
    affected: set[str] = set()
    for lb, users in sorted(index.users.items()):
        if len(affected) >= target:
            break
        if users:
            out.append(lb)
            affected.update(users)
    return out


def run_health(
    shape: Shape, path: Path, config: EnactorConfig, progress: Progress = _quiet
) -> dict[str, object]:
    progress("health", 0, 1)
    store = SqliteStore(path)
    try:
        newest = store.newest()
        previous = PlanDraft(store.contents(newest))
        settings = PolicySettings()  # the removal budget and hysteresis on, as for probes
        for lbs_of in (changed_assignments(shape), assignments(shape)):  # what the store serves
            index = RegionIndex(build_region(shape, lbs_of))
            first = plan_tick(
                TickInputs(index, {}, PolicyState(), 1.0, previous, settings=settings)
            )
            if first.action == "unchanged":
                break
        assert first.action == "unchanged", f"the warm-up tick must change nothing: {first.action}"
        gc.freeze()  # as the planner does after loading a plan (runtime/planner.py)
        down = failing_lbs(index, 0.01)
        health = {lb: LbHealth(False, reason="http 503 (fall 2/2)") for lb in down}
        with Stopwatch() as planning:
            decision = plan_tick(
                TickInputs(index, health, first.state, 2.0, previous, settings=settings)
            )
        assert decision.action == "publish" and decision.draft is not None, decision.reasons
        with Stopwatch() as publishing:
            plan = store.publish(
                decision.draft,
                source="planner",
                actor="bench-planner",
                now=time.time(),
                expect_newest=newest,
            )
        with Stopwatch() as applying:
            stats = drive_enactor(
                store, config, Generation(plan.generation), progress=progress, phase="health"
            )
    finally:
        store.close()
    expected = {n for lb in down for n in index.users[lb]}
    written = written_names(path, plan.generation)
    progress("health", 1, 1)
    return {
        "health_lbs_failed": len(down),
        "health_changed": len(decision.changed),
        "health_plan_s": planning.wall,
        "health_plan_cpu_s": planning.cpu,
        "health_publish_s": publishing.wall,
        "health_apply_s": applying.wall,
        "health_total_s": planning.wall + publishing.wall + applying.wall,
        "health_total_cpu_s": planning.cpu + publishing.cpu + applying.cpu,
        # the same until every endpoint is at the new plan (the enactor's clean-up of
        # older plans, which follows in the same drive, left out)
        "health_applied_s": planning.wall + publishing.wall + stats.applied_wall,
        "health_applied_cpu_s": planning.cpu + publishing.cpu + stats.applied_cpu,
        "health_replanned_exactly_affected": set(decision.changed) == expected,
        "health_written_exactly_affected": written == expected,
    }
