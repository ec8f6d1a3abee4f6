"""ZoneWarden's side of the benchmark: plan, publish, full apply, incremental apply.

Every phase runs the real code path: `Region.build` and `build_draft` plan,
`SqliteStore.publish` publishes, and the safe enactor state machine (`core.enactor`)
is driven through `dispatch.execute` until it goes idle, exactly as the runtime drives
it minus the asyncio thread hop. Nothing here reaches into the store's tables except
the read-only checks at the end, which prove the incremental apply rewrote exactly the
changed endpoints.
"""

from __future__ import annotations

import random
import resource
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.region import Shape, assignments, build_region, changed_assignments, changed_indexes
from bench.region import endpoint_name as name_of

from zonewarden.core import enactor
from zonewarden.core.actions import Action, ApplyIfNewer, Deleted, Outcomes, Sleep
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.model import EndpointName, Generation, PlanDraft
from zonewarden.core.planner import build_draft
from zonewarden.dispatch import execute
from zonewarden.stores.sqlite import SqliteStore

Progress = Callable[[str, int, int], None]  # (phase, done, total)
ACTOR = "bench-enactor"


def _quiet(phase: str, done: int, total: int) -> None:
    pass


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class ApplyStats:
    """What one drive of the enactor did, counted from the results it received."""

    behind: int = 0
    batches: int = 0
    deleted: int = 0  # plans the enactor's clean-up removed
    outcomes: dict[str, int] = field(default_factory=dict)
    # wall and CPU seconds from the start until the target was applied (every endpoint
    # at it), before the clean-up that follows in the same drive
    applied_wall: float = 0.0
    applied_cpu: float = 0.0


@dataclass
class Stopwatch:
    """Wall and CPU seconds of one phase (CPU time is steadier on a shared machine)."""

    wall: float = 0.0
    cpu: float = 0.0
    _w: float = field(default=0.0, repr=False)
    _c: float = field(default=0.0, repr=False)

    def __enter__(self) -> Stopwatch:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._w
        self.cpu = time.process_time() - self._c


def plan(shape: Shape, *, changed: bool = False) -> PlanDraft:
    """Build the region and run the real planner over it."""
    lbs_of = changed_assignments(shape) if changed else assignments(shape)
    return build_draft(build_region(shape, lbs_of), {})


def publish(store: SqliteStore, draft: PlanDraft) -> Generation:
    published = store.publish(draft, source="bench", actor="bench-planner", now=time.time())
    return published.generation


def drive_enactor(
    store: SqliteStore,
    config: EnactorConfig,
    target: Generation,
    *,
    progress: Progress = _quiet,
    phase: str = "apply",
) -> ApplyStats:
    """Step the safe enactor until it has applied `target` and asks to sleep idle."""
    rng = random.Random(0)
    stats = ApplyStats()
    wall, cpu = time.perf_counter(), time.process_time()
    state, action = enactor.start(ACTOR)
    while True:
        if isinstance(action, Sleep):
            if state.done >= target:
                break
            time.sleep(min(action.seconds, 0.05))  # a retry back-off: keep it short
        result = execute(store, action, actor=ACTOR, now=time.time())
        _count(stats, action, result)
        state, action = enactor.step(config, state, result, rng)
        if state.done >= target and not stats.applied_wall:
            stats.applied_wall = time.perf_counter() - wall
            stats.applied_cpu = time.process_time() - cpu
        if state.behind and not stats.behind:
            stats.behind = len(state.behind)
        if isinstance(result, Outcomes):
            progress(phase, min(state.cursor, len(state.behind)) or stats.behind, stats.behind)
    progress(phase, stats.behind, stats.behind)
    return stats


def _count(stats: ApplyStats, action: Action, result: object) -> None:
    if isinstance(result, Deleted):
        stats.deleted += len(result.result.deleted)
    if isinstance(action, ApplyIfNewer) and isinstance(result, Outcomes):
        stats.batches += 1
        for outcome in result.by_name.values():
            stats.outcomes[str(outcome)] = stats.outcomes.get(str(outcome), 0) + 1


def zone_digests(path: Path) -> dict[str, tuple[int, str]]:
    """Read-only: every live endpoint's (generation, content digest)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {n: (g, d) for n, g, d in db.execute("SELECT name, gen, digest FROM zone")}


def written_names(path: Path, generation: int) -> set[str]:
    """Read-only: endpoints whose records the store rewrote for `generation` (audit)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT endpoint FROM audit WHERE kind = 'write' AND gen = ?", (generation,)
        )
        return {r[0] for r in rows}


def run_full(
    shape: Shape, path: Path, config: EnactorConfig, progress: Progress = _quiet
) -> dict[str, object]:
    """Plan, publish into a fresh store at `path`, apply fully; figures as a dict."""
    progress("plan", 0, 1)
    with Stopwatch() as planning:
        draft = plan(shape)
    progress("plan", 1, 1)
    store = SqliteStore(path)
    try:
        with Stopwatch() as publishing:
            generation = publish(store, draft)
        del draft
        with Stopwatch() as applying:
            stats = drive_enactor(store, config, generation, progress=progress, phase="full")
    finally:
        store.close()
    peak = peak_rss_mib()
    live = zone_digests(path)
    return {
        "plan_s": planning.wall,
        "plan_cpu_s": planning.cpu,
        "publish_s": publishing.wall,
        "publish_cpu_s": publishing.cpu,
        "full_apply_s": applying.wall,
        "full_apply_cpu_s": applying.cpu,
        "full_batches": stats.batches,
        "full_outcomes": stats.outcomes,
        "full_all_at_generation": len(live) == shape.endpoints
        and all(g == generation for g, _ in live.values()),
        "full_peak_rss_mib": peak,
    }


def run_incremental(
    shape: Shape, path: Path, config: EnactorConfig, progress: Progress = _quiet
) -> dict[str, object]:
    """Plan the 1% change, publish it into the store at `path` and apply it."""
    expected = changed_names(shape)
    before = zone_digests(path)
    progress("replan", 0, 1)
    with Stopwatch() as planning:
        draft = plan(shape, changed=True)
    progress("replan", 1, 1)
    differ = {n for n, c in draft.endpoints.items() if before[n][1] != c.digest}
    store = SqliteStore(path)
    try:
        with Stopwatch() as publishing:
            generation = publish(store, draft)
        del draft
        with Stopwatch() as applying:
            stats = drive_enactor(store, config, generation, progress=progress, phase="incremental")
    finally:
        store.close()
    peak = peak_rss_mib()
    after = zone_digests(path)
    rewritten = {n for n in after if after[n][1] != before[n][1]}
    written = written_names(path, generation)
    return {
        "replan_s": planning.wall,
        "replan_cpu_s": planning.cpu,
        "incr_publish_s": publishing.wall,
        "incr_apply_s": applying.wall,
        "incr_s": publishing.wall + applying.wall,
        "incr_cpu_s": publishing.cpu + applying.cpu,
        "incr_changed": len(expected),
        "incr_plan_differs_exactly": differ == expected,
        "incr_written": len(written),
        "incr_written_exactly_changed": written == expected,
        "incr_rewritten_exactly_changed": rewritten == expected,
        "incr_all_at_generation": len(after) == shape.endpoints
        and all(g == generation for g, _ in after.values()),
        "incr_outcomes": stats.outcomes,
        "incr_peak_rss_mib": peak,
    }


def run_steady(
    shape: Shape, path: Path, config: EnactorConfig, cycles: int, progress: Progress = _quiet
) -> dict[str, object]:
    """Steady state: `cycles` more 1% plans (alternately back and forth) on the store at
    `path`, each published and applied until idle, so clean-up of plans that fall out of
    retention and WAL checkpoints are paid for as they fall due."""
    expected = changed_names(shape)
    drafts = [plan(shape), plan(shape, changed=True)]  # the store now serves the second
    walls, cpus, exact, deleted = [], [], True, 0
    store = SqliteStore(path)
    try:
        for i in range(cycles):
            progress("steady", i, cycles)
            with Stopwatch() as cycle:
                generation = publish(store, drafts[i % 2])
                stats = drive_enactor(store, config, generation)
            walls.append(cycle.wall)
            cpus.append(cycle.cpu)
            deleted += stats.deleted
            exact &= written_names(path, generation) == expected
        progress("steady", cycles, cycles)
    finally:
        store.close()
    return {
        "steady_cycles": cycles,
        "steady_s": statistics.mean(walls),
        "steady_cpu_s": statistics.mean(cpus),
        "steady_max_s": max(walls),
        "steady_plans_cleaned": deleted,
        "steady_written_exactly_changed": exact,
    }


def changed_names(shape: Shape) -> set[EndpointName]:
    return {name_of(i) for i in changed_indexes(shape)}
