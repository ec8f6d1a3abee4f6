"""The enactor state machines, driven step by step against the in-memory store.

The centrepiece replays the October 2025 interleaving deterministically: a slow enactor
reads an old plan, a fast one applies newer plans and cleans up, then the slow one
writes. The safe protocol must hold; the legacy protocol must fail the same checks.
"""

from __future__ import annotations

import random

import pytest
from tests.helpers import content, draft, name

from zonewarden.core import enactor as safe
from zonewarden.core import legacy
from zonewarden.core.actions import (
    AdvanceUnchanged,
    ApplyIfNewer,
    DeletePlans,
    Failed,
    LegacyDeleteOlder,
    ReadNewest,
    Sleep,
    TryLock,
)
from zonewarden.core.enactor import EnactorConfig, Phase
from zonewarden.core.outcomes import Outcome
from zonewarden.dispatch import execute
from zonewarden.stores.memory import MemoryStore

A, B = name("a"), name("b")
CFG = EnactorConfig(batch_size=1, retention=1, keep_newest=1)


class Driver:
    """One enactor and its pending action; `until` steps it to a chosen action type."""

    def __init__(self, store: MemoryStore, actor: str, protocol: str) -> None:
        self.store, self.actor = store, actor
        self.machine = safe if protocol == "safe" else legacy
        self.state, self.action = self.machine.start(actor)
        self.rng = random.Random(0)
        self.results: list[object] = []

    def step(self) -> None:
        result = execute(self.store, self.action, actor=self.actor, now=0.0)
        self.results.append(result)
        self.state, self.action = self.machine.step(CFG, self.state, result, self.rng)

    def until(self, kind: type, limit: int = 200) -> None:
        for _ in range(limit):
            if isinstance(self.action, kind):
                return
            self.step()
        raise AssertionError(f"{self.actor} never reached {kind.__name__}")

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()


def publish(store: MemoryStore, i: int) -> None:
    store.publish(
        draft(a=content(f"10.0.{i}.1"), b=content(f"10.0.{i}.2")),
        source="planner",
        actor="p",
        now=0,
    )


def replay_2025(protocol: str) -> tuple[MemoryStore, list[tuple[str, int]]]:
    """The incident's order of events; returns the store and every (endpoint, generation)
    observed after each step from the slow enactor's write on (-1 means empty)."""
    store = MemoryStore()
    publish(store, 1)
    slow, fast = Driver(store, "slow", protocol), Driver(store, "fast", protocol)
    # 1. the slow enactor has checked plan 1 and is about to work on endpoint A
    slow.until(ApplyIfNewer if protocol == "safe" else TryLock)
    # 2. the planner races ahead; the fast enactor applies the newest plan everywhere
    for i in range(2, 6):
        publish(store, i)
    fast.until(DeletePlans if protocol == "safe" else LegacyDeleteOlder)
    history: list[tuple[str, int]] = []

    def observe() -> None:
        history.extend((n, -1 if e.empty else e.generation) for n, e in store.zone.items())

    # 3. the slow enactor finally writes its old plan over endpoint A
    for _ in range(1 if protocol == "safe" else 2):
        slow.step()
        observe()
    # 4. the fast enactor's clean-up runs, then both carry on
    fast.step()
    observe()
    for _ in range(60):
        slow.step()
        fast.step()
        observe()
    return store, history


def regressions(history: list[tuple[str, int]]) -> list[str]:
    last: dict[str, int] = {}
    found = []
    for n, g in history:
        if g == -1:
            found.append(f"{n} empty")
        elif g < last.get(n, 0):
            found.append(f"{n} {last[n]}->{g}")
        last[n] = max(g, last.get(n, 0))
    return found


def test_2025_interleaving_safe_holds():
    store, history = replay_2025("safe")
    assert regressions(history) == []
    assert store.applied() == {A: 5, B: 5}
    assert all(e.content.records for e in store.zone.values())
    # the slow enactor's stale write was stopped by the store, inside the write
    stopped = [e for e in store.audit if e.actor == "slow" and e.kind == "fenced"]
    assert stopped and all(e.generation == 1 for e in stopped)
    assert not [
        e for e in store.audit if e.actor == "slow" and e.kind == "write" and e.generation == 1
    ]


def test_2025_interleaving_legacy_fails():
    _, history = replay_2025("legacy")
    found = regressions(history)
    assert found, "the legacy protocol must regress or go empty in the 2025 interleaving"
    assert any("empty" in f for f in found), f"legacy should empty an endpoint: {found}"


def test_legacy_enactors_stay_stuck_on_a_dangling_rollback_pointer():
    store, _ = replay_2025("legacy")
    publish(store, 9)
    late = Driver(store, "late", "legacy")
    late.run(80)
    outcomes = [r.outcome for r in late.results if hasattr(r, "outcome")]
    assert Outcome.DANGLING in outcomes
    assert late.state.phase is legacy.LegacyPhase.STUCK or any(e.empty for e in store.zone.values())


def test_fenced_out_is_success_and_enactor_moves_on():
    store = MemoryStore()
    publish(store, 1)
    d = Driver(store, "e", "safe")
    d.until(ApplyIfNewer)
    publish(store, 2)
    store.apply_if_newer(2, [A, B], actor="other", now=0)
    d.step()  # its write of plan 1 is fenced out
    assert d.results[-1].by_name[A] is Outcome.FENCED_OUT
    assert isinstance(d.action, ReadNewest)  # not a retry, not an error
    d.run(20)
    assert store.applied() == {A: 2, B: 2}


def test_newer_plan_mid_apply_is_adopted_between_batches():
    store = MemoryStore()
    publish(store, 1)
    d = Driver(store, "e", "safe")
    d.until(ApplyIfNewer)
    d.step()  # wrote A at 1
    publish(store, 2)
    d.step()  # re-reads newest
    assert isinstance(d.action, AdvanceUnchanged) and d.action.generation == 2


def test_failed_write_backs_off_then_rechecks_newest():
    store = MemoryStore()
    publish(store, 1)
    d = Driver(store, "e", "safe")
    d.until(ApplyIfNewer)
    state, action = safe.step(CFG, d.state, Failed("disk on fire"), d.rng)
    assert state.phase is Phase.BACKOFF and isinstance(action, Sleep)
    assert 0 <= action.seconds <= CFG.backoff_cap
    state, action = safe.step(CFG, state, execute(store, action, actor="e", now=0), d.rng)
    assert isinstance(action, ReadNewest)


def test_frozen_store_gets_no_writes():
    store = MemoryStore()
    publish(store, 1)
    store.set_frozen(True, actor="op", now=0)
    d = Driver(store, "e", "safe")
    d.run(30)
    assert store.zone == {}
    store.set_frozen(False, actor="op", now=0)
    d.run(30)
    assert store.applied() == {A: 1, B: 1}


def _with_retired_endpoint(store: MemoryStore) -> None:
    """Plans 1-7 serve A and B; plans 1-3 also serve C, which the region then retired."""
    for i in range(1, 8):
        body = {"a": content(f"10.0.{i}.1"), "b": content(f"10.0.{i}.2")}
        if i <= 3:
            body["c"] = content(f"10.0.{i}.3")
        store.publish(draft(**body), source="planner", actor="p", now=0)


@pytest.mark.parametrize("protocol", ["safe", "legacy"])
def test_cleanup_keeps_what_is_referenced(protocol):
    """The enactor chooses plan 2 for deletion from its index read; before its delete
    runs, a stale enactor (paused since it read plan 2) writes C at generation 2. Only
    the store's own reference check, inside the delete, can keep plan 2: the candidates
    were chosen when nothing referenced it. Legacy's age-only clean-up deletes it."""
    store, c = MemoryStore(), name("c")
    _with_retired_endpoint(store)
    d = Driver(store, "e", protocol)
    if protocol == "safe":
        d.until(DeletePlans)
        assert 2 in d.action.generations
        assert store.apply_if_newer(2, [c], actor="old", now=0) == {c: Outcome.APPLIED}
    else:
        d.until(LegacyDeleteOlder)
        assert d.action.below > 2
        assert store.legacy_write(2, c, actor="old", now=0) is Outcome.APPLIED
    d.step()  # the delete
    kept = 2 in store.plans and all(e.generation in store.plans for e in store.zone.values())
    assert kept == (protocol == "safe")
    assert bool(store.zone[c].content.records) == (protocol == "safe")


@pytest.mark.parametrize("protocol", ["safe", "legacy"])
def test_unexpected_result_is_a_loud_error(protocol):
    machine = safe if protocol == "safe" else legacy
    state, _ = machine.start("e")
    with pytest.raises(ValueError, match="unexpected"):
        machine.step(CFG, state, Outcome.APPLIED, random.Random(0))  # type: ignore[arg-type]
