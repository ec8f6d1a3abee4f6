"""Execute one enactor action against a RegionStore and return its result.

Legacy actions also need the store's `LegacyStore` role (every store has one).

The runtime, the simulator and the checker all call `execute`, so an action means the
same store call everywhere. Errors from the store become `Failed` results that keep
what the error knew (retryable or not, the adapter's `delay`, the error's class); the
enactor state machine decides what to do with them.
"""

from __future__ import annotations

from typing import cast

from zonewarden.core.actions import (
    Action,
    AdvanceUnchanged,
    AppliedIs,
    ApplyIfNewer,
    Behind,
    Deleted,
    DeletePlans,
    Failed,
    IndexIs,
    LegacyDeleteOlder,
    LegacyWrite,
    LockResult,
    NamesAre,
    NewestIs,
    OlderDeleted,
    Outcomes,
    ReadApplied,
    ReadIndex,
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
from zonewarden.errors import PermanentError, RetryableError
from zonewarden.ports import LegacyStore, RegionStore

LOCK_TTL = 10.0


def execute(store: RegionStore, action: Action, *, actor: str, now: float) -> Result:
    """Run `action` against `store`; never raises for store errors."""
    try:
        return _execute(store, action, actor, now)
    except RetryableError as exc:
        return Failed(str(exc), retryable=True, delay=exc.delay, kind=type(exc).__name__)
    except PermanentError as exc:
        return Failed(str(exc), retryable=False, kind=type(exc).__name__)


def _execute(store: RegionStore, action: Action, actor: str, now: float) -> Result:
    match action:
        case ReadNewest():
            return NewestIs(store.newest(), store.frozen())
        case AdvanceUnchanged(generation=g):
            return Behind(store.advance_unchanged(g, actor=actor, now=now))
        case ApplyIfNewer(generation=g, names=names):
            return Outcomes(store.apply_if_newer(g, names, actor=actor, now=now))
        case ReadIndex():
            return IndexIs(store.cleanup_index(), now)
        case DeletePlans(generations=gens):
            return Deleted(store.delete_unreferenced(gens, actor=actor, now=now))
        case Sleep():
            return Woke()
        case ReadPlanNames(generation=g):
            return NamesAre(store.plan_names(g))
        case ReadApplied():
            return AppliedIs(store.applied())
        case TryLock(name=name):
            return LockResult(_legacy(store).try_lock(name, actor, now=now, ttl=LOCK_TTL))
        case Unlock(name=name):
            _legacy(store).unlock(name, actor)
            return Unlocked()
        case LegacyWrite(generation=g, name=name):
            return WriteDone(_legacy(store).legacy_write(g, name, actor=actor, now=now))
        case LegacyDeleteOlder(below=below):
            return OlderDeleted(_legacy(store).legacy_delete_older(below, actor=actor, now=now))
    raise TypeError(f"unknown action {action!r}")


_HAS_LEGACY: dict[type, bool] = {}  # isinstance on a Protocol is slow: once per class


def _legacy(store: RegionStore) -> LegacyStore:
    """The store's legacy role, for the legacy enactor's actions only."""
    kind = type(store)
    has = _HAS_LEGACY.get(kind)
    if has is None:
        has = _HAS_LEGACY[kind] = isinstance(store, LegacyStore)
    if has:
        return cast(LegacyStore, store)
    raise PermanentError(
        f'{type(store).__name__} does not implement the legacy protocol; use protocol = "safe"'
    )
