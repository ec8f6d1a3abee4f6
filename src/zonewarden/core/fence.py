"""The fence: whether one endpoint's write of generation g goes ahead, decided here once.

Every store (memory, SQLite, etcd) calls `decide` inside its own transaction, on the
state it read in that transaction, and every DNS backend calls it on the marker it read
(`backends/base.py`); so the rule below is written once and the stores differ only in
how they read and commit atomically. In order, for one endpoint:

    frozen                          -> FROZEN        operators froze every write
    no plan g, or g lacks the name  -> MISSING_PLAN
    content fails a structural gate -> REFUSED       never empty, weights, ttl
    live generation > g             -> FENCED_OUT    a newer plan is live: success
    live generation == g, same digest -> CURRENT     nothing to write
    otherwise                       -> APPLIED       older or absent, or same generation
                                                     with other content (self-repair)

`lag` is the split `advance_unchanged` makes before any record is written: which
endpoints of plan g only need their generation moved (the live content already equals
g's) and which need a write. SQLite runs it as one `UPDATE ... FROM` and etcd as one Txn
per chunk; `tests/stores/test_fence.py` checks every store against both functions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from zonewarden.core.model import ZoneEntry
from zonewarden.core.outcomes import Outcome


class Live(NamedTuple):
    """What an endpoint serves now, as far as the fence is concerned (a tuple: stores
    build one per endpoint per write, 50,000 at a time)."""

    generation: int
    digest: str
    has_records: bool = True


def live_of(entry: ZoneEntry | None) -> Live | None:
    """The fence's view of a live zone entry."""
    if entry is None:
        return None
    return Live(entry.generation, entry.content.digest, bool(entry.content.records))


def decide(
    generation: int,
    digest: str | None,
    live: Live | None,
    *,
    valid: bool = True,
    frozen: bool = False,
) -> Outcome:
    """The per-endpoint write decision (see the module docstring); `digest` is plan
    g's content digest for the name, None when the plan or the name is missing."""
    if frozen:
        return Outcome.FROZEN
    if digest is None:
        return Outcome.MISSING_PLAN
    if not valid:
        return Outcome.REFUSED
    if live is not None and live.generation > generation:
        return Outcome.FENCED_OUT
    if live is not None and live.generation == generation and live.digest == digest:
        return Outcome.CURRENT
    return Outcome.APPLIED


class Lag(StrEnum):
    """Where one endpoint of plan g stands before `advance_unchanged(g)`."""

    DONE = "done"  # live at g with g's content, or at a newer generation: nothing to do
    UNCHANGED = "unchanged"  # older generation, same non-empty content: move g only
    BEHIND = "behind"  # needs its records written (absent, changed, emptied, or repair)


def lag(generation: int, digest: str, live: Live | None) -> Lag:
    """The advance/behind split for one endpoint of plan `generation`."""
    if live is not None and live.generation >= generation:
        if live.generation == generation and live.digest != digest:
            return Lag.BEHIND  # same generation, other content: repair it
        return Lag.DONE
    if live is not None and live.digest == digest and live.has_records:
        return Lag.UNCHANGED  # not a content change for `changed_since` readers
    return Lag.BEHIND


def older(live_generation: int | None, generation: int) -> bool:
    """Is a write of `generation` newer than what is live (None: nothing is)?"""
    return live_generation is None or live_generation < generation
