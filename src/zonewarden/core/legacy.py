"""The UNSAFE 2025 protocol, kept only to show how it fails. Never a default.

This reproduces the enactor behaviour described in AWS's post-event summary:
- the plan is checked against the live generations ONCE, at the start;
- each endpoint is written UNCONDITIONALLY (`LegacyWrite`) behind a per-endpoint lock,
  with back-off when the lock is taken, and without re-reading the newest plan;
- clean-up deletes plans by AGE only (older than `retention` generations behind the
  plan just applied) and, as in 2025, a deleted plan takes its record tree with it, so
  an endpoint still serving it goes empty;
- the rollback pointer of an endpoint whose plan was deleted dangles: the write then
  reports DANGLING and this enactor retries forever, as every 2025 enactor did.

Anything using this module must say loudly that it is unsafe.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from zonewarden.core.actions import (
    Action,
    AppliedIs,
    Failed,
    LegacyDeleteOlder,
    LegacyWrite,
    LockResult,
    NamesAre,
    NewestIs,
    OlderDeleted,
    RandomSource,
    ReadApplied,
    ReadNewest,
    ReadPlanNames,
    Result,
    Sleep,
    TryLock,
    Unlock,
    Unlocked,
    Woke,
    WriteDone,
)
from zonewarden.core.enactor import EnactorConfig, backoff
from zonewarden.core.model import NO_GENERATION, EndpointName, Generation
from zonewarden.core.outcomes import Outcome

WARNING = (
    "UNSAFE: the legacy protocol reproduces the October 2025 race "
    "(one-time check, unfenced writes, age-only clean-up); use it only to demonstrate failure"
)


class LegacyPhase(StrEnum):
    FIND = "find"
    CHECK = "check"
    NAMES = "names"
    LOCK = "lock"
    WRITE = "write"
    UNLOCK = "unlock"
    CLEANUP = "cleanup"
    SLEEP = "sleep"
    LOCK_BACKOFF = "lock-backoff"
    STUCK = "stuck"


@dataclass(frozen=True, slots=True)
class LegacyState:
    enactor_id: str
    phase: LegacyPhase = LegacyPhase.FIND
    target: Generation = NO_GENERATION
    done: Generation = NO_GENERATION
    names: tuple[EndpointName, ...] = ()
    cursor: int = 0
    attempt: int = 0


def start(enactor_id: str) -> tuple[LegacyState, Action]:
    return LegacyState(enactor_id), ReadNewest()


def step(
    config: EnactorConfig, state: LegacyState, result: Result, rng: RandomSource
) -> tuple[LegacyState, Action]:
    p = state.phase
    if isinstance(result, Failed):
        return _retry(config, state, rng)
    if p is LegacyPhase.FIND and isinstance(result, NewestIs):
        if result.frozen or result.generation <= state.done:
            return _sleep(config, state)
        return replace(state, phase=LegacyPhase.CHECK, target=result.generation), ReadApplied()
    if p is LegacyPhase.CHECK and isinstance(result, AppliedIs):
        # the one-time check: newer than what is live, now; never asked again
        live = max(result.applied.values(), default=NO_GENERATION)
        if state.target <= live:
            return _sleep(config, replace(state, done=state.target))
        return replace(state, phase=LegacyPhase.NAMES), ReadPlanNames(state.target)
    if p is LegacyPhase.NAMES and isinstance(result, NamesAre):
        return _lock_next(config, replace(state, names=result.names, cursor=0))
    if p in (LegacyPhase.LOCK_BACKOFF, LegacyPhase.STUCK) and isinstance(result, Woke):
        name = state.names[state.cursor]
        if p is LegacyPhase.STUCK:
            return replace(state, phase=LegacyPhase.WRITE), LegacyWrite(state.target, name)
        return replace(state, phase=LegacyPhase.LOCK), TryLock(name)
    if p is LegacyPhase.LOCK and isinstance(result, LockResult):
        name = state.names[state.cursor]
        if not result.acquired:
            return _retry(config, state, rng)
        return replace(state, phase=LegacyPhase.WRITE, attempt=0), LegacyWrite(state.target, name)
    if p is LegacyPhase.WRITE and isinstance(result, WriteDone):
        if result.outcome is Outcome.DANGLING:
            # the rollback pointer names a deleted plan; the 2025 code could not cope
            delay = backoff(config, state.attempt + 1, rng)
            stuck = replace(state, phase=LegacyPhase.STUCK, attempt=state.attempt + 1)
            return stuck, Sleep(delay, "rollback pointer dangles")
        return replace(state, phase=LegacyPhase.UNLOCK), Unlock(state.names[state.cursor])
    if p is LegacyPhase.UNLOCK and isinstance(result, Unlocked):
        return _lock_next(config, replace(state, cursor=state.cursor + 1))
    if p is LegacyPhase.CLEANUP and isinstance(result, OlderDeleted):
        return _sleep(config, state)
    if p is LegacyPhase.SLEEP and isinstance(result, Woke):
        return replace(state, phase=LegacyPhase.FIND), ReadNewest()
    raise ValueError(f"legacy enactor {state.enactor_id}: unexpected {result!r} in phase {p}")


def _lock_next(config: EnactorConfig, state: LegacyState) -> tuple[LegacyState, Action]:
    if state.cursor >= len(state.names):
        done = replace(state, phase=LegacyPhase.CLEANUP, done=state.target, names=(), cursor=0)
        # age-only clean-up: "many generations older" than the plan just applied
        return done, LegacyDeleteOlder(Generation(state.target - config.retention))
    return replace(state, phase=LegacyPhase.LOCK), TryLock(state.names[state.cursor])


def _retry(
    config: EnactorConfig, state: LegacyState, rng: RandomSource
) -> tuple[LegacyState, Action]:
    """Back off and retry the same step; the plan is never re-checked (the 2025 bug)."""
    attempt = state.attempt + 1
    delay = backoff(config, attempt, rng)
    if state.phase in (LegacyPhase.LOCK, LegacyPhase.LOCK_BACKOFF, LegacyPhase.WRITE):
        return replace(state, phase=LegacyPhase.LOCK_BACKOFF, attempt=attempt), Sleep(
            delay, "lock busy"
        )
    if state.phase is LegacyPhase.STUCK:
        return replace(state, attempt=attempt), Sleep(delay, "rollback pointer dangles")
    return replace(state, phase=LegacyPhase.SLEEP, attempt=attempt), Sleep(delay, "retry")


def _sleep(config: EnactorConfig, state: LegacyState) -> tuple[LegacyState, Action]:
    return replace(state, phase=LegacyPhase.SLEEP, attempt=0), Sleep(config.poll_interval, "idle")
