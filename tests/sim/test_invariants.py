"""The invariant functions of core.invariants, each shown holding and breached."""

from __future__ import annotations

from zonewarden.core import invariants as inv
from zonewarden.core.model import (
    EMPTY_CONTENT,
    Content,
    EndpointName,
    Generation,
    LbId,
    Plan,
    PlanDraft,
    Policy,
    Record,
    RecordType,
    ZoneEntry,
)

NAME = EndpointName("kv.example.")


def content(weight: int = 10) -> Content:
    return Content(5, Policy.WEIGHTED_MULTI, (Record(RecordType.A, "10.0.0.1", weight, LbId("a")),))


def plan(g: int, c: Content | None = None) -> Plan:
    d = PlanDraft({NAME: c or content()})
    return Plan(Generation(g), d.endpoints, d.digest)


def entry(g: int, c: Content | None = None) -> ZoneEntry:
    return ZoneEntry(NAME, Generation(g), c or content())


def test_never_empty() -> None:
    assert inv.never_empty({NAME: entry(1)}) == []
    assert [b.invariant for b in inv.never_empty({NAME: entry(1, EMPTY_CONTENT)})] == ["I1"]


def test_no_referenced_plan_deleted() -> None:
    assert inv.no_referenced_plan_deleted({NAME: entry(1)}, {Generation(1): plan(1)}) == []
    assert inv.no_referenced_plan_deleted({NAME: entry(1)}, {Generation(2): plan(2)})


def test_generation_monotone() -> None:
    assert inv.generation_monotone({NAME: Generation(2)}, {NAME: Generation(3)}) == []
    [b] = inv.generation_monotone({NAME: Generation(7)}, {NAME: Generation(1)})
    assert b.invariant == "I3" and "7 to 1" in b.message


def test_records_match_plan() -> None:
    plans = {Generation(1): plan(1)}
    assert inv.records_match_plan({NAME: entry(1)}, plans) == []
    assert inv.records_match_plan({NAME: entry(1, content(20))}, plans)


def test_stale_writes_rejected() -> None:
    before = {NAME: entry(5)}
    assert inv.stale_writes_rejected(Generation(3), [NAME], before, before) == []
    [b] = inv.stale_writes_rejected(Generation(3), [NAME], before, {NAME: entry(3)})
    assert b.invariant == "I5"


def test_plans_valid() -> None:
    assert inv.plans_valid([plan(1)]) == []
    assert {b.invariant for b in inv.plans_valid([plan(1, content(-1))])} == {"I6"}


def test_converged() -> None:
    assert inv.converged({NAME: entry(2)}, plan(2))
    assert not inv.converged({NAME: entry(1)}, plan(2))
