"""Self-repair (architecture rule 6): find inconsistent states and choose the fix.

Findings, per endpoint:
- EMPTY: no records are served;
- DANGLING: the live generation's plan is not in the store;
- MISMATCH: the live records differ from the live generation's plan;
- AHEAD: the live generation is newer than the newest plan (only corruption does this);
- LAGGING: more than `max_lag` generations behind the newest plan;
- MISSING: the newest plan names the endpoint but nothing is live for it.

The repair never moves a generation backwards: it re-applies the newest valid plan
through the fenced write, first republishing that plan's content as a new generation
when some endpoint sits at or above the newest generation with bad state (a fenced
write could not otherwise reach it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from zonewarden.core.gates import content_valid
from zonewarden.core.model import Content, EndpointName, Generation, ZoneEntry


class Finding(StrEnum):
    EMPTY = "empty"
    DANGLING = "dangling"
    MISMATCH = "mismatch"
    AHEAD = "ahead"
    LAGGING = "lagging"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Problem:
    endpoint: EndpointName
    finding: Finding
    generation: Generation
    detail: str = ""

    def __str__(self) -> str:
        return (
            f"{self.endpoint}: {self.finding} at generation {self.generation} {self.detail}".strip()
        )


@dataclass(frozen=True, slots=True)
class RepairPlan:
    """What to do: republish `source`'s content as a new generation first, or not; then
    apply the resulting newest plan to `endpoints`."""

    source: Generation
    republish: bool
    endpoints: tuple[EndpointName, ...]


def diagnose(
    zone: Mapping[EndpointName, ZoneEntry],
    newest: Generation,
    newest_names: Sequence[EndpointName],
    plan_content: Mapping[tuple[Generation, EndpointName], Content | None],
    *,
    max_lag: int = 10,
) -> list[Problem]:
    """List every inconsistency; `plan_content[(g, name)]` is None when plan g is gone."""
    problems: list[Problem] = []
    for name in newest_names:
        if name not in zone:
            problems.append(Problem(name, Finding.MISSING, Generation(0)))
    for name, entry in sorted(zone.items()):
        g = entry.generation
        if entry.empty:
            problems.append(Problem(name, Finding.EMPTY, g))
        planned = plan_content.get((g, name))
        if g > newest:
            problems.append(Problem(name, Finding.AHEAD, g, f"(newest is {newest})"))
        elif planned is None:
            problems.append(Problem(name, Finding.DANGLING, g, "(its plan was deleted)"))
        elif planned.digest != entry.content.digest and not entry.empty:
            problems.append(Problem(name, Finding.MISMATCH, g))
        if newest - g > max_lag:
            problems.append(Problem(name, Finding.LAGGING, g, f"({newest - g} behind {newest})"))
    return problems


def newest_valid(
    generations: Sequence[Generation], contents: Mapping[Generation, Mapping[EndpointName, Content]]
) -> Generation | None:
    """The newest stored plan whose every endpoint passes the structural gates."""
    for g in sorted(generations, reverse=True):
        plan = contents.get(g)
        if plan and all(not content_valid(n, c) for n, c in plan.items()):
            return g
    return None


def plan_repair(
    problems: Sequence[Problem], newest: Generation, source: Generation
) -> RepairPlan | None:
    """Choose the fix for `problems`, given the newest valid plan `source`."""
    if not problems:
        return None
    names = tuple(sorted({p.endpoint for p in problems}))
    stuck_at_top = any(
        p.generation >= newest and p.finding is not Finding.LAGGING for p in problems
    )
    republish = source != newest or stuck_at_top
    return RepairPlan(source=source, republish=republish, endpoints=names)
