"""The vocabulary between an enactor state machine and whatever drives it.

An enactor never performs I/O: it returns one `Action` at a time; the driver (asyncio
runtime, simulator, model checker) executes it against a store and feeds back one
`Result`. Every action maps to exactly one store call, executed atomically, so the
checker's interleavings are exactly the store-visible steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from zonewarden.core.model import EndpointName, Generation
from zonewarden.core.outcomes import CleanupIndex, CleanupResult, Outcome


class RandomSource(Protocol):
    """The subset of random.Random the core uses; drivers pass a seeded instance."""

    def random(self) -> float: ...

    def uniform(self, a: float, b: float) -> float: ...


# -- actions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadNewest:
    """Read the newest published generation and the freeze flag."""


@dataclass(frozen=True, slots=True)
class AdvanceUnchanged:
    """Fast-forward endpoints already serving plan g's content; report who still needs a write."""

    generation: Generation


@dataclass(frozen=True, slots=True)
class ApplyIfNewer:
    """Fenced write of plan g's content for `names`, one transaction."""

    generation: Generation
    names: tuple[EndpointName, ...]


@dataclass(frozen=True, slots=True)
class ReadIndex:
    """Read stored generations and live generations, for clean-up."""


@dataclass(frozen=True, slots=True)
class DeletePlans:
    """Reference-checked delete of `generations`."""

    generations: tuple[Generation, ...]


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float
    reason: str = ""


# legacy-only actions: the unsafe 2025 protocol


@dataclass(frozen=True, slots=True)
class ReadPlanNames:
    generation: Generation


@dataclass(frozen=True, slots=True)
class ReadApplied:
    """Legacy's one-time check reads the live generations once, at the start."""


@dataclass(frozen=True, slots=True)
class TryLock:
    name: EndpointName


@dataclass(frozen=True, slots=True)
class Unlock:
    name: EndpointName


@dataclass(frozen=True, slots=True)
class LegacyWrite:
    generation: Generation
    name: EndpointName


@dataclass(frozen=True, slots=True)
class LegacyDeleteOlder:
    below: Generation


Action = (
    ReadNewest
    | AdvanceUnchanged
    | ApplyIfNewer
    | ReadIndex
    | DeletePlans
    | Sleep
    | ReadPlanNames
    | ReadApplied
    | TryLock
    | Unlock
    | LegacyWrite
    | LegacyDeleteOlder
)

# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewestIs:
    generation: Generation
    frozen: bool = False


@dataclass(frozen=True, slots=True)
class Behind:
    names: tuple[EndpointName, ...]


@dataclass(frozen=True, slots=True)
class Outcomes:
    by_name: Mapping[EndpointName, Outcome]

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.by_name.items())))


@dataclass(frozen=True, slots=True)
class IndexIs:
    index: CleanupIndex
    now: float = 0.0  # when the index was read: history retention by age counts from it


@dataclass(frozen=True, slots=True)
class Deleted:
    result: CleanupResult


@dataclass(frozen=True, slots=True)
class Woke:
    pass


@dataclass(frozen=True, slots=True)
class NamesAre:
    names: tuple[EndpointName, ...]


@dataclass(frozen=True, slots=True)
class AppliedIs:
    applied: Mapping[EndpointName, Generation] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LockResult:
    acquired: bool


@dataclass(frozen=True, slots=True)
class Unlocked:
    pass


@dataclass(frozen=True, slots=True)
class WriteDone:
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class OlderDeleted:
    generations: tuple[Generation, ...]


@dataclass(frozen=True, slots=True)
class Failed:
    """The action raised; `retryable` says whether backing off may help, `delay` is
    the least wait the failing adapter asked for (RetryableError.delay), `kind` the
    error's class, so a driver can tell distinct failures apart."""

    error: str
    retryable: bool = True
    delay: float = 0.0
    kind: str = ""


Result = (
    NewestIs
    | Behind
    | Outcomes
    | IndexIs
    | Deleted
    | Woke
    | NamesAre
    | AppliedIs
    | LockResult
    | Unlocked
    | WriteDone
    | OlderDeleted
    | Failed
)
