"""Corruption and repair: break one endpoint on purpose, then repair by the book.

`corrupt` injects the inconsistent states L2 is about (empty records, records that do
not match their plan, a plan deleted under a live endpoint). `repair_once` diagnoses
with core.reconcile and fixes through the fenced write.

Used by the simulated reconciler (L2: the system repairs itself) and by the simulated
operator of the legacy incident (a person repairing what the 2025 automation could
not). Rules kept here: the fix never moves a generation backwards; a plan is
republished as a new generation when an endpoint is stuck at or above the newest one;
every endpoint of the newest plan is then written with `apply_if_newer`.
"""

from __future__ import annotations

from dataclasses import dataclass

from zonewarden.core.model import EMPTY_CONTENT, Content, EndpointName, Generation, ZoneEntry
from zonewarden.core.outcomes import Outcome
from zonewarden.core.reconcile import Problem, diagnose, newest_valid, plan_repair
from zonewarden.stores.memory import MemoryStore


@dataclass(frozen=True, slots=True)
class Repair:
    problems: tuple[Problem, ...]
    republished: Generation | None
    generation: Generation
    outcomes: tuple[tuple[EndpointName, Outcome], ...]


def repair_once(store: MemoryStore, *, actor: str, now: float) -> Repair | None:
    """Diagnose the store and apply the chosen fix; None when nothing is wrong."""
    zone = store.read_zone()
    newest = store.newest()
    plan_content: dict[tuple[Generation, EndpointName], Content | None] = {}
    for name, entry in zone.items():
        plan = store.plans.get(entry.generation)
        plan_content[(entry.generation, name)] = plan.endpoints.get(name) if plan else None
    problems = diagnose(zone, newest, store.plan_names(newest), plan_content)
    if not problems:
        return None
    contents = {g: p.endpoints for g, p in store.plans.items()}
    source = newest_valid(tuple(store.plans), contents)
    fix = plan_repair(problems, newest, source) if source is not None else None
    if fix is None or source is None:
        return Repair(tuple(problems), None, newest, ())
    target, republished = newest, None
    if fix.republish:
        draft = store.plans[source].draft()
        target = republished = store.publish(
            draft, source="repair", actor=actor, now=now
        ).generation
    names = store.plan_names(target)
    outcomes = store.apply_if_newer(target, names, actor=actor, now=now)
    return Repair(tuple(problems), republished, target, tuple(sorted(outcomes.items())))


def corrupt(store: MemoryStore, name: EndpointName, how: str) -> str | None:
    """Break `name` in the way `how` says (empty, mismatch, dangling); return what was
    done (empty when the asked-for breakage is impossible here), None if not live."""
    entry = store.zone.get(name)
    if entry is None:
        return None
    g = entry.generation
    if how == "dangling" and g in store.plans and g != store.newest():
        del store.plans[g]
        return how
    if how == "mismatch" and len(entry.content.records) > 1:
        c = entry.content
        store.zone[name] = ZoneEntry(name, g, Content(c.ttl, c.policy, c.records[:-1]))
        return how
    store.zone[name] = ZoneEntry(name, g, EMPTY_CONTENT)
    return "empty"
