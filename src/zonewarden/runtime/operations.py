"""Operator and reconciler operations, each one short sequence of store calls.

Rules kept here:
- nothing moves a generation backwards: pin and rollback publish a NEW generation whose
  endpoint carries the chosen old content, then mark the endpoint pinned so the
  planner copies that content forward; unpin gives the endpoint back to the planner;
- operator-made plans pass the same gates as the planner's (structure, max change);
- repair is `zonewarden.repair.repair_once` (shared with the simulator), run here
  forever by the reconciler.
"""

from __future__ import annotations

import asyncio
import logging
import time

from zonewarden.config import Config
from zonewarden.core.gates import Limits, draft_valid, max_change, require
from zonewarden.core.model import EndpointName, Generation, Plan, PlanDraft
from zonewarden.errors import NotFound, PermanentError, PublishConflict, ZoneWardenError
from zonewarden.ports import RegionStore
from zonewarden.repair import RepairReport as RepairReport  # one layer down, shared with sim
from zonewarden.repair import Survey as Survey
from zonewarden.repair import repair_once as repair_once
from zonewarden.repair import survey as survey
from zonewarden.runtime.clock import pause
from zonewarden.runtime.failures import FailureLog, announce, retry_wait

log = logging.getLogger("zonewarden.reconciler")


async def run_reconciler(config: Config, store: RegionStore, stop: asyncio.Event) -> None:
    """Repair forever; a pass is skipped when nothing changed since the last clean one."""
    clean_at: tuple[int, int] | None = None
    failures = FailureLog(log, "reconciler")
    while not stop.is_set():
        wait = config.reconciler.interval
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
            failures.cleared(time.time())
        except ZoneWardenError as exc:  # retryable or not: loud once, retried, never fatal
            wait = retry_wait(exc, config.reconciler.interval)
            if failures.failed(exc, time.time(), wait):
                announce(store, "reconciler", exc, time.time(), wait, 0)
        await pause(stop, wait)


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
    """Publish an operator-made plan through the planner's gates; a refused plan is
    audited (`publish-rejected`, with the reason) before the error reaches the caller."""
    try:
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
    except PermanentError as exc:
        store.record(actor, "publish-rejected", now=now, detail=str(exc)[:2000])
        raise
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


PIN_ATTEMPTS = 5


def pin(
    store: RegionStore,
    config: Config,
    name: EndpointName,
    generation: Generation,
    *,
    actor: str,
    now: float,
    compare_and_set: bool = True,
) -> Plan:
    """Publish the newest plan with `name` serving generation `generation`'s content; pin it.

    The publish is a compare-and-set on the newest plan it copied, so a planner tick
    published meanwhile is not overwritten (its changes to other endpoints would be lost
    until the planner's next tick): on a conflict the pin copies the newer plan and tries
    again, each retry audited (`publish-conflict`), at most PIN_ATTEMPTS times
    (`compare_and_set=False` is the tests' control only)."""
    if name not in config.region.endpoints:
        raise NotFound(f"unknown endpoint {name} (known: {', '.join(config.region.endpoints)})")
    source = store.contents(generation, [name]).get(name)
    if source is None:
        raise NotFound(f"plan {generation} has no content for {name}")
    store.set_pin(name, generation, actor=actor, now=now)
    for attempt in range(1, PIN_ATTEMPTS + 1):
        newest = store.newest()
        endpoints = dict(store.contents(newest))
        endpoints[name] = source
        draft = PlanDraft(endpoints)
        require(draft_valid(draft, Limits()))
        try:
            return store.publish(
                draft,
                source=f"pin {name}@{generation}",
                actor=actor,
                now=now,
                expect_newest=newest if compare_and_set else None,
            )
        except PublishConflict as exc:
            if attempt == PIN_ATTEMPTS:
                raise
            log.info("pin %s: %s (attempt %d of %d)", name, exc, attempt, PIN_ATTEMPTS)
            store.record(actor, "publish-conflict", now=now, detail=f"pin {name}: {exc}")
    raise AssertionError("unreachable")  # the loop returns or raises


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
