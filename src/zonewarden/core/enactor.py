"""The safe enactor: a sans-IO state machine (architecture rules 2-6).

Theory of operation. An enactor repeatedly finds the newest plan and brings every
endpoint to it. It never trusts an earlier look:

    FIND ──NewestIs──▶ ADVANCE ──Behind──▶ WRITE ──Outcomes──▶ RECHECK
      ▲                   ▲                  ▲                    │
      │                   └──── newer plan ──┼────────────────────┤
      │                                      └──── more names ────┤
      │                                                           ▼ all written
    SLEEP ◀──Deleted── DELETE ◀──IndexIs── INDEX ◀────────────────┘

- every write is `ApplyIfNewer`, whose fence is evaluated by the store inside the
  write's own transaction (rule 2); a FENCED_OUT outcome is success (rule 3);
- between batches and after every failure the enactor re-reads the newest generation
  and abandons its plan as soon as a newer one exists (rule 3);
- endpoints at the target generation whose live content differs from the plan (empty,
  corrupted) are reported behind by the store and rewritten: self-repair (rule 6);
- clean-up only proposes candidates chosen by `core.cleanup.candidates`; the store re-checks
  references inside the delete (rule 5);
- a retryable failure backs off for at least the delay the adapter asked for; a
  permanent one (a refused TSIG key, a damaged store) is STALLED: retried every
  `stall_retry` seconds from FIND, which clears the stall by itself once the cause goes.

The state is a frozen value and holds no counters, so the model checker can hash it;
drivers count outcomes from the results they deliver.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from zonewarden.core.actions import (
    Action,
    AdvanceUnchanged,
    ApplyIfNewer,
    Behind,
    Deleted,
    DeletePlans,
    Failed,
    IndexIs,
    NewestIs,
    Outcomes,
    RandomSource,
    ReadIndex,
    ReadNewest,
    Result,
    Sleep,
    Woke,
)
from zonewarden.core.backoff import full_jitter
from zonewarden.core.cleanup import History, candidates
from zonewarden.core.model import NO_GENERATION, EndpointName, Generation
from zonewarden.core.outcomes import Outcome


class Phase(StrEnum):
    FIND = "find"
    ADVANCE = "advance"
    WRITE = "write"
    RECHECK = "recheck"
    INDEX = "index"
    DELETE = "delete"
    SLEEP = "sleep"
    BACKOFF = "backoff"
    STALLED = "stalled"  # a permanent error: retried slowly until its cause goes


@dataclass(frozen=True, slots=True)
class EnactorConfig:
    """Knobs of one enactor; all are parameters, none is an AWS value."""

    batch_size: int = 100
    poll_interval: float = 0.5
    backoff_base: float = 0.05
    backoff_cap: float = 2.0
    retention: int = 3
    keep_newest: int = 3
    # plan history kept from clean-up: the newest `history_count` plans younger than
    # `history_age` s (core.cleanup.History; both 0, the default here, is no history;
    # the config's defaults are a day and 1,000 plans)
    history_age: float = 0.0
    history_count: int = 0
    cleanup: bool = True
    stall_retry: float = 10.0  # seconds between attempts while stalled on a permanent error
    # the driver's retry budget (gRPC-style retry throttling; 0 tokens turns it off): while
    # spent, a retryable failure waits at least backoff_cap. The state machine ignores them.
    retry_budget_tokens: float = 10.0
    retry_budget_ratio: float = 0.1


@dataclass(frozen=True, slots=True)
class EnactorState:
    enactor_id: str
    phase: Phase = Phase.FIND
    target: Generation = NO_GENERATION
    done: Generation = NO_GENERATION  # last generation fully applied by this enactor
    refused: Generation = NO_GENERATION  # a plan the store refused: never retried
    behind: tuple[EndpointName, ...] = ()
    cursor: int = 0
    attempt: int = 0
    # endpoints an abandoned pass had not reached yet: the next pass writes them first,
    # so a planner faster than one pass cannot starve the endpoints late in the order
    carry: tuple[EndpointName, ...] = ()


def start(enactor_id: str) -> tuple[EnactorState, Action]:
    return EnactorState(enactor_id), ReadNewest()


def backoff(config: EnactorConfig, attempt: int, rng: RandomSource) -> float:
    """Capped exponential back-off with full jitter (the one rule: core.backoff)."""
    return full_jitter(config.backoff_base, config.backoff_cap, attempt, rng)


def step(
    config: EnactorConfig, state: EnactorState, result: Result, rng: RandomSource
) -> tuple[EnactorState, Action]:
    """Consume the result of the last action; return the new state and the next action."""
    if isinstance(result, Failed):
        return _failed(config, state, result, rng)
    phase = state.phase
    if phase in (Phase.FIND, Phase.RECHECK) and isinstance(result, NewestIs):
        return _newest(config, state, result)
    if phase is Phase.ADVANCE and isinstance(result, Behind):
        behind = _carried_first(result.names, state.carry)
        return _next_batch(config, replace(state, behind=behind, cursor=0, attempt=0, carry=()))
    if phase is Phase.WRITE and isinstance(result, Outcomes):
        return _written(config, state, result)
    if phase is Phase.INDEX and isinstance(result, IndexIs):
        return _index(config, state, result)
    if phase is Phase.DELETE and isinstance(result, Deleted):
        return _sleep(config, state, "idle")
    if phase in (Phase.SLEEP, Phase.BACKOFF, Phase.STALLED) and isinstance(result, Woke):
        next_phase = Phase.RECHECK if phase is Phase.BACKOFF else Phase.FIND
        return replace(state, phase=next_phase), ReadNewest()
    raise ValueError(f"enactor {state.enactor_id}: unexpected {result!r} in phase {phase}")


def _newest(
    config: EnactorConfig, state: EnactorState, result: NewestIs
) -> tuple[EnactorState, Action]:
    g = result.generation
    if result.frozen:
        return _sleep(config, state, "frozen")
    if state.phase is Phase.RECHECK and g <= state.target:
        return _next_batch(config, state)
    if g == NO_GENERATION or g <= state.done or g == state.refused:
        return _sleep(config, replace(state, target=NO_GENERATION, behind=()), "idle")
    # a newer plan: abandon whatever we were doing with the old one (rule 3)
    carry = state.behind[state.cursor :] if state.phase is Phase.RECHECK else ()
    fresh = replace(
        state, phase=Phase.ADVANCE, target=g, behind=(), cursor=0, attempt=0, carry=carry
    )
    return fresh, AdvanceUnchanged(g)


def _carried_first(
    names: tuple[EndpointName, ...], carry: tuple[EndpointName, ...]
) -> tuple[EndpointName, ...]:
    """`names` with those an abandoned pass had not reached moved to the front."""
    if not carry:
        return names
    pending = set(carry)
    present = set(names)
    first = tuple(n for n in carry if n in present)
    return first + tuple(n for n in names if n not in pending)


def _next_batch(config: EnactorConfig, state: EnactorState) -> tuple[EnactorState, Action]:
    if state.cursor >= len(state.behind):
        done = replace(state, done=state.target, behind=(), cursor=0)
        if config.cleanup:
            return replace(done, phase=Phase.INDEX), ReadIndex()
        return _sleep(config, done, "idle")
    batch = state.behind[state.cursor : state.cursor + config.batch_size]
    return replace(state, phase=Phase.WRITE), ApplyIfNewer(state.target, batch)


def _written(
    config: EnactorConfig, state: EnactorState, result: Outcomes
) -> tuple[EnactorState, Action]:
    outcomes = set(result.by_name.values())
    if Outcome.FROZEN in outcomes:
        return _sleep(config, replace(state, behind=(), cursor=0), "frozen")
    if Outcome.REFUSED in outcomes:
        # never apply a plan the store refused; wait for a newer one
        refused = replace(state, refused=state.target, target=NO_GENERATION, behind=(), cursor=0)
        return _sleep(config, refused, "plan refused")
    if Outcome.MISSING_PLAN in outcomes:
        # clean-up removed our plan: every endpoint is far past it; start over
        return replace(state, phase=Phase.FIND, behind=(), cursor=0, attempt=0), ReadNewest()
    moved = replace(state, phase=Phase.RECHECK, cursor=state.cursor + config.batch_size, attempt=0)
    return moved, ReadNewest()


def _index(
    config: EnactorConfig, state: EnactorState, result: IndexIs
) -> tuple[EnactorState, Action]:
    doomed = candidates(
        result.index,
        retention=config.retention,
        keep_newest=config.keep_newest,
        history=History(config.history_age, config.history_count),
        now=result.now,
    )
    if not doomed:
        return _sleep(config, state, "idle")
    return replace(state, phase=Phase.DELETE), DeletePlans(doomed)


def _failed(
    config: EnactorConfig, state: EnactorState, result: Failed, rng: RandomSource
) -> tuple[EnactorState, Action]:
    # a failed write resumes at the same batch after re-reading the newest generation;
    # any other failure starts over from FIND, which re-reads everything it needs
    attempt = state.attempt + 1
    if not result.retryable:  # backing off fast cannot help: stall, retry slowly
        delay = max(config.stall_retry, result.delay)
        return replace(state, phase=Phase.STALLED, attempt=attempt), Sleep(
            delay, f"stalled: {result.error}"
        )
    delay = max(backoff(config, attempt, rng), result.delay)
    phase = Phase.BACKOFF if state.phase is Phase.WRITE else Phase.SLEEP
    return replace(state, phase=phase, attempt=attempt), Sleep(delay, f"retry: {result.error}")


def _sleep(config: EnactorConfig, state: EnactorState, reason: str) -> tuple[EnactorState, Action]:
    return replace(state, phase=Phase.SLEEP, attempt=0), Sleep(config.poll_interval, reason)
