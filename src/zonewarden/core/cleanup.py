"""Reference-aware clean-up policy (architecture rule 5).

A plan is a candidate for deletion only if it is below the low watermark minus the
retention count, is not among the newest `keep_newest` plans, and no endpoint's live
generation references it. The store repeats the reference check inside the delete's
transaction; this function only chooses candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from zonewarden.core.model import NO_GENERATION, EndpointName, Generation


def low_watermark(
    applied: Mapping[EndpointName, Generation], names: Iterable[EndpointName]
) -> Generation:
    """The smallest live generation over `names`; an endpoint never applied counts as 0."""
    return min((applied.get(n, NO_GENERATION) for n in names), default=NO_GENERATION)


def cleanup_candidates(
    generations: Iterable[Generation],
    applied: Mapping[EndpointName, Generation],
    names: Iterable[EndpointName],
    *,
    retention: int,
    keep_newest: int,
) -> tuple[Generation, ...]:
    gens = sorted(generations)
    if not gens:
        return ()
    watermark = low_watermark(applied, names)
    protected = set(gens[-max(1, keep_newest) :]) | set(applied.values())
    limit = watermark - retention
    return tuple(Generation(g) for g in gens if g < limit and g not in protected)
