"""Failures keep their meaning through dispatch and the state machine: a retryable error
waits at least the adapter's delay, a permanent one stalls and is retried slowly, and
the stall clears by itself when the cause goes."""

from __future__ import annotations

import random

from tests.helpers import content, draft

from zonewarden.core import enactor
from zonewarden.core.actions import Failed, ReadNewest, Sleep, Woke
from zonewarden.core.enactor import EnactorConfig, EnactorState, Phase
from zonewarden.dispatch import execute
from zonewarden.errors import BackendRejected, StoreUnavailable
from zonewarden.stores.memory import MemoryStore

CFG = EnactorConfig(backoff_base=0.05, backoff_cap=2.0, stall_retry=7.0)


def writing() -> EnactorState:
    return EnactorState("az1", phase=Phase.WRITE, target=3, behind=("a.example.",))


def test_retryable_waits_at_least_the_adapters_delay():
    rng = random.Random(1)
    for _ in range(50):
        state, action = enactor.step(CFG, writing(), Failed("out of space", delay=5.0), rng)
        assert isinstance(action, Sleep) and action.seconds >= 5.0
        assert state.phase is Phase.BACKOFF


def test_permanent_stalls_and_retries_slowly():
    state, action = enactor.step(CFG, writing(), Failed("TSIG refused", retryable=False), None)
    assert state.phase is Phase.STALLED
    assert isinstance(action, Sleep) and action.seconds == 7.0
    assert "stalled: TSIG refused" in action.reason
    state, action = enactor.step(CFG, state, Woke(), None)
    assert state.phase is Phase.FIND and isinstance(action, ReadNewest)


def test_a_stall_clears_by_itself_when_the_cause_goes():
    store = MemoryStore()
    store.publish(draft(a=content("10.0.0.1")), source="t", actor="t", now=0.0)
    broken = {"on": True}
    real = store.apply_if_newer

    def apply(*args, **kwargs):
        if broken["on"]:
            raise BackendRejected("the server refuses the TSIG key")
        return real(*args, **kwargs)

    store.apply_if_newer = apply  # type: ignore[method-assign]
    state, action = enactor.start("az1")
    phases = []
    for i in range(40):
        if i == 20:
            broken["on"] = False
        result = execute(store, action, actor="az1", now=float(i))
        state, action = enactor.step(CFG, state, result, random.Random(i))
        phases.append(state.phase)
    assert Phase.STALLED in phases[:20]
    assert state.done == 1 and store.read_zone()["a.example."].generation == 1


def test_dispatch_keeps_the_class_and_the_delay():
    store = MemoryStore()

    def newest():
        raise StoreUnavailable("etcd: out of space", delay=5.0)

    store.newest = newest  # type: ignore[method-assign]
    result = execute(store, ReadNewest(), actor="az1", now=0.0)
    assert result == Failed("etcd: out of space", True, 5.0, "StoreUnavailable")
    store.newest = lambda: (_ for _ in ()).throw(BackendRejected("bad key"))  # type: ignore[method-assign]
    result = execute(store, ReadNewest(), actor="az1", now=0.0)
    assert isinstance(result, Failed) and not result.retryable and result.kind == "BackendRejected"
