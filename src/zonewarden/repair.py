"""Self-repair as a sequence of store calls (architecture rule 6), shared by every driver:
the reconciler process and `zonewarden repair` (runtime) and the simulator's reconciler
and operator (sim) call this one `repair_once`, so what the simulator proves about L2
is proven about the code production runs.

Rules kept here:
- a problem must show in two consecutive reads (`survey`) before anything is done;
- the fix never moves a generation backwards: it re-applies the newest valid plan
  through the fenced write (`core.reconcile` chooses), republishing that plan's content
  first, past every live generation, when an endpoint is stuck at or above the newest;
- only the endpoints with problems are written; every pass leaves one audit row.
"""

from __future__ import annotations

from dataclasses import dataclass

from zonewarden.core.model import Content, EndpointName, Generation, PlanDraft, ZoneEntry
from zonewarden.core.outcomes import Outcome
from zonewarden.core.reconcile import Problem, diagnose, newest_valid, plan_repair
from zonewarden.errors import NotFound, PermanentError
from zonewarden.ports import RegionStore


@dataclass(frozen=True, slots=True)
class RepairReport:
    problems: tuple[Problem, ...]
    republished: Generation | None
    outcomes: dict[EndpointName, Outcome]


def _contents_or_none(store: RegionStore, g: Generation) -> dict[EndpointName, Content] | None:
    try:
        return store.contents(g)
    except NotFound:
        return None


@dataclass(frozen=True, slots=True)
class Survey:
    """One read of the region: what is live, the plans it references, and the problems."""

    newest: Generation
    zone: dict[EndpointName, ZoneEntry]
    by_gen: dict[Generation, dict[EndpointName, Content] | None]
    problems: tuple[Problem, ...]


def survey(store: RegionStore, max_lag: int) -> Survey:
    newest = store.newest()
    zone = store.read_zone()
    by_gen = {
        g: _contents_or_none(store, g) for g in {e.generation for e in zone.values()} | {newest}
    }
    lookup = {(e.generation, n): (by_gen[e.generation] or {}).get(n) for n, e in zone.items()}
    newest_plan = by_gen[newest] or {}
    problems = diagnose(zone, newest, tuple(newest_plan), lookup, max_lag=max_lag) if newest else []
    return Survey(newest, zone, by_gen, tuple(problems))


def repair_once(store: RegionStore, *, actor: str, now: float, max_lag: int = 10) -> RepairReport:
    """Find every inconsistency and fix it; returns what was found and done.

    A problem must show in two consecutive reads before anything is done, so a plan
    cleaned up between reading the zone and reading the plans is not mistaken for a
    dangling reference (every action is fenced anyway; this only avoids noise)."""
    first = survey(store, max_lag)
    if not first.problems:
        return RepairReport((), None, {})
    second = survey(store, max_lag)
    seen = {(p.endpoint, p.finding) for p in first.problems}
    problems = [p for p in second.problems if (p.endpoint, p.finding) in seen]
    if not problems:
        return RepairReport((), None, {})
    newest, zone, by_gen = second.newest, second.zone, second.by_gen
    candidates = {g: c for g, c in by_gen.items() if c is not None}
    for g in store.index().generations:
        if g not in candidates and g >= newest - 3:
            found = _contents_or_none(store, g)
            if found is not None:
                candidates[g] = found
    source = newest_valid(tuple(candidates), candidates)
    if source is None:
        raise PermanentError(
            "no valid plan left in the store to repair from: publish one with `zonewarden plan publish`"
        )
    repair = plan_repair(problems, newest, source)
    assert repair is not None
    target, republished = newest, None
    if repair.republish:
        # past every live generation, so the fenced write can reach a corrupted endpoint
        highest = max([newest, *(e.generation for e in zone.values())])
        plan = store.publish(
            PlanDraft(candidates[source]),
            source=f"repair-of-{source}",
            actor=actor,
            now=now,
            min_generation=highest + 1,
        )
        target = republished = plan.generation
    names = [n for n in repair.endpoints if n in candidates[source]]
    outcomes = store.apply_if_newer(target, names, actor=actor, now=now) if names else {}
    store.record(
        actor,
        "repair",
        now=now,
        generation=target,
        detail="; ".join(str(p) for p in problems)[:2000],
    )
    return RepairReport(tuple(problems), republished, outcomes)
