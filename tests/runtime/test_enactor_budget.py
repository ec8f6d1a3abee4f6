"""The enactor's retry budget (resilience.RetryThrottle): after a run of retryable
failures it retries no faster than backoff_cap, says so once in log and audit, and a
success refills it; with the budget off (0 tokens) the back-off alone decides."""

from __future__ import annotations

import logging

from zonewarden.core.actions import Failed, NewestIs, Sleep
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.model import Generation
from zonewarden.runtime.enactor import EnactorRunner
from zonewarden.stores.memory import MemoryStore

CONFIG = EnactorConfig(backoff_base=0.001, backoff_cap=0.5)
FAIL = Failed("store unavailable", retryable=True, kind="StoreUnavailable")


def waits(runner: EnactorRunner, n: int) -> list[float]:
    out = []
    for _ in range(n):
        action = runner._budgeted(FAIL, Sleep(0.01, "backoff"))
        assert isinstance(action, Sleep)
        out.append(action.seconds)
    return out


def test_a_spent_budget_slows_retries_to_the_cap_once_said(caplog) -> None:
    store = MemoryStore()
    runner = EnactorRunner("az1", store, CONFIG)
    with caplog.at_level(logging.WARNING, logger="zonewarden.enactor"):
        seen = waits(runner, 8)
    assert seen[:4] == [0.01] * 4  # 10 tokens: retries allowed while tokens > 5
    assert seen[4:] == [0.5] * 4
    assert [r.getMessage() for r in caplog.records if "retry budget" in r.getMessage()]
    assert [e.kind for e in store.audit_log()].count("retry-budget") == 1
    for _ in range(50):  # successes refill it (0.1 token each)
        runner._budgeted(NewestIs(Generation(1)), Sleep(0.5, "idle"))
    assert waits(runner, 1) == [0.01]


def test_permanent_failures_and_a_budget_of_zero_are_left_to_the_state_machine() -> None:
    off = EnactorRunner("az1", MemoryStore(), EnactorConfig(backoff_cap=0.5, retry_budget_tokens=0))
    assert waits(off, 8) == [0.01] * 8  # the control: without the budget nothing slows
    runner = EnactorRunner("az2", MemoryStore(), CONFIG)
    permanent = Failed("TSIG key refused", retryable=False, kind="BackendRejected")
    for _ in range(8):
        assert runner._budgeted(permanent, Sleep(10.0, "stalled")) == Sleep(10.0, "stalled")
