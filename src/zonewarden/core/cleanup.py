"""Reference-aware clean-up policy (architecture rule 5) and plan history retention.

A plan is a candidate for deletion only if it is below the low watermark minus the
retention count, is not among the newest `keep_newest` plans, and no endpoint's live
generation references it (`cleanup_candidates`, from an index read earlier). The store
repeats the check inside the delete's transaction, on what it reads there: `deletable`
is that check, the one every store (memory, SQLite, etcd) calls, so a candidate that
became referenced or the newest plan since the index was read is kept.

History retention narrows the candidates further, so operators can diff and roll back
to old plans: a plan among the newest `count` AND published less than `age` seconds
before `now` is kept (a limit of 0 is no limit; both 0 turns history off). So the
history reaches back `age` seconds or `count` plans, whichever is less, and its size
is bounded by `count` whatever the planner's rate. Retention only ever keeps more: it
never makes a plan a candidate.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass

from zonewarden.core.model import NO_GENERATION, EndpointName, Generation
from zonewarden.core.outcomes import CleanupIndex, CleanupResult, PlanIndex


@dataclass(frozen=True, slots=True)
class History:
    """How much plan history to keep: the newest `count` plans that are younger than
    `age` seconds (0: no limit of that kind)."""

    age: float = 0.0
    count: int = 0


def low_watermark(
    applied: Mapping[EndpointName, Generation], names: Iterable[EndpointName]
) -> Generation:
    """The smallest live generation over `names`; an endpoint never applied counts as 0."""
    return min((applied.get(n, NO_GENERATION) for n in names), default=NO_GENERATION)


def in_history(
    gens: list[Generation],
    created: Mapping[Generation, float],
    history: History,
    now: float,
) -> set[Generation]:
    """The generations (of sorted `gens`) the history keeps."""
    if history.count <= 0 and history.age <= 0:
        return set()
    kept = set(gens[-history.count :]) if history.count > 0 else set(gens)
    if history.age > 0:
        # a plan whose time is unknown (a store that lost it) counts as new: keep it
        kept = {g for g in kept if created.get(g, now) > now - history.age}
    return kept


def summarise(index: PlanIndex) -> CleanupIndex:
    """The clean-up facts of a full index: its low watermark and live generations."""
    return CleanupIndex(
        index.generations,
        low_watermark(index.applied, index.newest_names),
        frozenset(index.applied.values()),
        index.created,
    )


def cleanup_candidates(
    generations: Iterable[Generation],
    applied: Mapping[EndpointName, Generation],
    names: Iterable[EndpointName],
    *,
    retention: int,
    keep_newest: int,
    history: History = History(),
    created: Mapping[Generation, float] | None = None,
    now: float = 0.0,
) -> tuple[Generation, ...]:
    """`candidates` over the full maps (every endpoint's live generation, the newest
    plan's names)."""
    index = PlanIndex(tuple(generations), applied, tuple(names), created or {})
    return candidates(
        summarise(index), retention=retention, keep_newest=keep_newest, history=history, now=now
    )


def candidates(
    index: CleanupIndex,
    *,
    retention: int,
    keep_newest: int,
    history: History = History(),
    now: float = 0.0,
) -> tuple[Generation, ...]:
    """The plans clean-up may propose: below the low watermark minus `retention`, not
    among the newest `keep_newest`, not live anywhere, not kept by the history."""
    gens = sorted(index.generations)
    if not gens:
        return ()
    watermark = index.watermark
    protected = set(gens[-max(1, keep_newest) :]) | index.live
    limit = watermark - retention
    doomed = [g for g in gens if g < limit and g not in protected]
    if doomed and (history.count > 0 or history.age > 0):
        kept = in_history(gens, index.created, history, now)
        doomed = [g for g in doomed if g not in kept]
    return tuple(Generation(g) for g in doomed)


def deletable(
    wanted: Iterable[Generation],
    present: Container[Generation],
    newest: Generation,
    referenced: Container[Generation],
) -> CleanupResult:
    """The reference check at the delete (rule 5), on what the store read inside the
    delete's transaction: of the `wanted` generations still `present`, the `newest`
    plan and every plan an endpoint's live generation `references` are kept; the rest
    may be deleted. A wanted generation already gone is in none of the three."""
    deleted: list[Generation] = []
    kept_referenced: list[Generation] = []
    kept_newest: list[Generation] = []
    for g in sorted(set(wanted)):
        if g not in present:
            continue
        if g == newest:
            kept_newest.append(g)
        elif g in referenced:
            kept_referenced.append(g)
        else:
            deleted.append(g)
    return CleanupResult(tuple(deleted), tuple(kept_referenced), tuple(kept_newest))


def cleanup_detail(deleted: Iterable[Generation], kept_referenced: Iterable[Generation]) -> str:
    """The clean-up's audit detail, the same words from every store."""
    return f"deleted {list(deleted)} kept referenced {list(kept_referenced)}"
