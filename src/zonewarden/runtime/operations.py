"""Operator and reconciler operations, each one short sequence of store calls.

Rules kept here:
- nothing moves a generation backwards: pin and rollback publish a NEW generation whose
  endpoint carries the chosen old content, then mark the endpoint pinned so the
  planner copies that content forward; unpin gives the endpoint back to the planner;
- operator-made plans pass the same gates as the planner's (structure, max change);
- repair re-applies the newest valid plan through the fenced write, republishing it
  first when an endpoint is stuck at or above the newest generation (core.reconcile).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from zonewarden.config import Config
from zonewarden.core.gates import Limits, draft_valid, max_change, require
from zonewarden.core.model import Content, EndpointName, Generation, Plan, PlanDraft, ZoneEntry
from zonewarden.core.outcomes import Outcome
from zonewarden.core.reconcile import Problem, diagnose, newest_valid, plan_repair
from zonewarden.errors import NotFound, PermanentError, RetryableError
from zonewarden.ports import RegionStore
from zonewarden.runtime.clock import pause

log = logging.getLogger("zonewarden.reconciler")


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


async def run_reconciler(config: Config, store: RegionStore, stop: asyncio.Event) -> None:
    """Repair forever; a pass is skipped when nothing changed since the last clean one."""
    clean_at: tuple[int, int] | None = None
    while not stop.is_set():
        try:
            mark = (store.newest(), store.changed_since(2**62)[0])
            if mark == clean_at:
                await pause(stop, config.reconciler.interval)
                continue
            report = await asyncio.to_thread(
                repair_once,
                store,
                actor="reconciler",
                now=time.time(),
                max_lag=config.reconciler.max_lag,
            )
            if report.problems:
                log.warning("repaired %d problem(s): %s", len(report.problems), report.problems[0])
                clean_at = None
            else:
                clean_at = mark
        except RetryableError as exc:
            log.warning("reconciler: %s", exc)
        await pause(stop, config.reconciler.interval)


def publish_operator_plan(
    store: RegionStore,
    draft: PlanDraft,
    config: Config,
    *,
    actor: str,
    now: float,
    allow_large_change: bool = False,
    source: str = "operator",
) -> Plan:
    """Publish an operator-made plan through the planner's gates."""
    expected = set(config.region.endpoints)
    named = set(draft.endpoints)
    if expected != named:
        missing, extra = sorted(expected - named), sorted(named - expected)
        raise PermanentError(
            f"a plan must cover exactly the region's endpoints; missing {missing}, unknown {extra}"
        )
    problems = draft_valid(draft, config.planner.limits)
    newest = store.newest()
    if newest and not allow_large_change:
        previous = PlanDraft(store.contents(newest))
        problems += max_change(previous, draft, config.planner.limits)
    require(problems)
    plan = store.publish(draft, source=source, actor=actor, now=now)
    if allow_large_change:
        store.record(
            actor, "override", now=now, generation=plan.generation, detail="max-change gate skipped"
        )
    return plan


def previous_content(store: RegionStore, name: EndpointName) -> Generation:
    """The newest generation whose content for `name` differs from the newest plan's."""
    newest = store.newest()
    current = store.contents(newest, [name]).get(name)
    for g in sorted(store.index().generations, reverse=True):
        old = store.contents(g, [name]).get(name)
        if old is not None and current is not None and old.digest != current.digest:
            return g
    raise NotFound(f"no stored plan has other content for {name}: nothing to roll back to")


def pin(
    store: RegionStore,
    config: Config,
    name: EndpointName,
    generation: Generation,
    *,
    actor: str,
    now: float,
) -> Plan:
    """Publish the newest plan with `name` serving generation `generation`'s content; pin it."""
    if name not in config.region.endpoints:
        raise NotFound(f"unknown endpoint {name} (known: {', '.join(config.region.endpoints)})")
    source = store.contents(generation, [name]).get(name)
    if source is None:
        raise NotFound(f"plan {generation} has no content for {name}")
    endpoints = dict(store.contents(store.newest()))
    endpoints[name] = source
    draft = PlanDraft(endpoints)
    require(draft_valid(draft, Limits()))
    store.set_pin(name, generation, actor=actor, now=now)
    return store.publish(draft, source=f"pin {name}@{generation}", actor=actor, now=now)


def freeze(store: RegionStore, *, actor: str, now: float, reason: str = "") -> None:
    """Stop every write to DNS (checked inside every write transaction)."""
    store.set_frozen(True, actor=actor, now=now, reason=reason)


def unfreeze(store: RegionStore, *, actor: str, now: float) -> None:
    store.set_frozen(False, actor=actor, now=now)


def unpin(store: RegionStore, name: EndpointName, *, actor: str, now: float) -> None:
    """Give `name` back to the planner; NotFound if it is not pinned."""
    pins = store.pins()
    if name not in pins:
        raise NotFound(f"{name} is not pinned (pinned: {sorted(pins)})")
    store.set_pin(name, None, actor=actor, now=now)


def rollback(
    store: RegionStore,
    config: Config,
    name: EndpointName,
    generation: Generation | None,
    *,
    actor: str,
    now: float,
) -> tuple[Generation, Plan]:
    """Serve `name` with an earlier plan's content (default: the last different one),
    published as a new generation and pinned; returns (source generation, new plan)."""
    source = generation if generation is not None else previous_content(store, name)
    return source, pin(store, config, name, source, actor=actor, now=now)
