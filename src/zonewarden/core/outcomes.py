"""Results that cross the core/store boundary: write outcomes and clean-up facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from zonewarden.core.model import EndpointName, Generation


class Outcome(StrEnum):
    """The result of one endpoint's write."""

    APPLIED = "applied"  # records and generation written
    ADVANCED = "advanced"  # same content already live; generation moved forward
    CURRENT = "current"  # already at this generation with this content
    FENCED_OUT = "fenced-out"  # a newer generation is live: success, nothing to do
    REFUSED = "refused"  # the content failed a gate (never empty, weights)
    FROZEN = "frozen"  # operators froze writes
    MISSING_PLAN = "missing-plan"  # plan or endpoint not in the plan store
    DANGLING = "dangling"  # legacy only: the live generation's plan is gone


SUCCESS = frozenset({Outcome.APPLIED, Outcome.ADVANCED, Outcome.CURRENT, Outcome.FENCED_OUT})


@dataclass(frozen=True, slots=True)
class CleanupResult:
    deleted: tuple[Generation, ...] = ()
    kept_referenced: tuple[Generation, ...] = ()
    kept_newest: tuple[Generation, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanIndex:
    """What clean-up needs: stored generations, live generations, the newest plan's names,
    when each plan was published (for history retention by age)."""

    generations: tuple[Generation, ...]
    applied: Mapping[EndpointName, Generation] = field(default_factory=dict)
    newest_names: tuple[EndpointName, ...] = ()
    created: Mapping[Generation, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CleanupIndex:
    """What the enactor's clean-up reads, without a row per endpoint: the stored
    generations and when each was published, the low watermark over the newest plan's
    names (an endpoint never applied counts as 0) and every live generation.
    `core.cleanup.summarise` is the rule; a store may compute it where its data is
    (the store contract checks it agrees with `summarise(store.index())`)."""

    generations: tuple[Generation, ...]
    watermark: Generation
    live: frozenset[Generation]
    created: Mapping[Generation, float] = field(default_factory=dict)
