"""Self-repair (L2): from injected inconsistent states, one repair pass restores I1-I4.

Every state here is one the legacy protocol can reach; the legacy enactor cannot leave
it by itself (asserted), the repair can.
"""

from __future__ import annotations

import random

import pytest
from tests.helpers import content, draft, name, run_enactor

from zonewarden.core import legacy
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.model import EMPTY_CONTENT, Generation, ZoneEntry
from zonewarden.dispatch import execute
from zonewarden.runtime.operations import repair_once
from zonewarden.stores.memory import MemoryStore

A, B = name("a"), name("b")


def region(gens: int = 3) -> MemoryStore:
    store = MemoryStore()
    for i in range(1, gens + 1):
        store.publish(
            draft(a=content(f"10.0.{i}.1"), b=content(f"10.0.{i}.2")), source="p", actor="p", now=0
        )
    store.apply_if_newer(Generation(gens), [A, B], actor="e", now=0)
    return store


def assert_consistent(store: MemoryStore) -> None:
    newest = store.newest()
    for n, e in store.zone.items():
        assert e.content.records, f"{n} empty"
        assert e.generation in store.plans, f"{n} dangling"
        assert store.plans[e.generation].endpoints[n].digest == e.content.digest, f"{n} mismatch"
        assert e.generation == newest


INJECTIONS = {
    "empty": lambda s: s.zone.__setitem__(A, ZoneEntry(A, s.zone[A].generation, EMPTY_CONTENT)),
    "mismatch": lambda s: s.zone.__setitem__(
        A, ZoneEntry(A, s.zone[A].generation, content("192.0.2.66"))
    ),
    "dangling": lambda s: s.plans.pop(s.zone[A].generation),
    "ahead": lambda s: s.zone.__setitem__(A, ZoneEntry(A, Generation(99), s.zone[A].content)),
    "lagging": lambda s: s.zone.__setitem__(
        A, ZoneEntry(A, Generation(1), s.plans[1].endpoints[A])
    ),
    "missing": lambda s: s.zone.pop(A),
}


@pytest.mark.parametrize("kind", sorted(INJECTIONS))
def test_repair_restores_invariants(kind):
    store = region()
    INJECTIONS[kind](store)
    report = repair_once(store, actor="reconciler", now=1.0, max_lag=1)
    assert report.problems, f"{kind} must be diagnosed"
    run_enactor(store, "az1", 40)  # the enactors converge on whatever repair published
    assert_consistent(store)
    assert repair_once(store, actor="reconciler", now=2.0).problems == ()


def test_legacy_cannot_leave_the_dangling_state_but_repair_can():
    store = region()
    store.legacy_delete_older(Generation(4), actor="fast", now=0)  # 2025: the active plan deleted
    assert store.zone[A].empty
    store.publish(draft(a=content("10.0.9.1"), b=content("10.0.9.2")), source="p", actor="p", now=0)
    state, action = legacy.start("e")
    rng = random.Random(0)
    for _ in range(200):
        state, action = legacy.step(
            EnactorConfig(), state, execute(store, action, actor="e", now=0), rng
        )
    assert store.zone[A].empty, "legacy enactors are stuck on the dangling rollback pointer"
    repair_once(store, actor="operator", now=1.0)
    run_enactor(store, "az1", 40)
    assert_consistent(store)
