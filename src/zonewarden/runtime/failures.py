"""Loud, not noisy: each distinct failure of a running role is logged once, with a count.

Rules kept here:
- the first occurrence of a failure (its error class and message) is logged at once,
  with whether it is retryable and when the next attempt comes;
- repeats are counted, not logged, except for one "still failing" line a minute, so a
  retry loop of 79 attempts in half a second is one line plus its count, never silence
  and never 79 lines;
- when the failure stops (success, or a different failure) one line says it cleared,
  after how many attempts and how long;
- the caller records the same first occurrence in the audit log (`first` is True).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from zonewarden.errors import RetryableError, StoreCorrupt, StoreReadOnly, ZoneWardenError
from zonewarden.ports import Heartbeat, RegionStore
from zonewarden.runtime.clock import pause

STILL_FAILING_EVERY = 60.0
STALL_RETRY = 10.0  # a permanent failure is retried this often, so it clears by itself


@dataclass
class _Current:
    key: str
    since: float
    kind: str = "permanent"
    count: int = 1
    last_report: float = 0.0


class FailureLog:
    def __init__(self, log: logging.Logger, role: str) -> None:
        self.log, self.role = log, role
        self.current: _Current | None = None

    @staticmethod
    def key_of(exc: BaseException | str) -> str:
        if isinstance(exc, str):
            return exc
        return f"{type(exc).__name__}: {exc}"

    def failed(
        self,
        exc: BaseException | str,
        now: float,
        retry_in: float,
        *,
        retryable: bool | None = None,
    ) -> bool:
        """Note one failure; True when it is new (the caller audits it then)."""
        key = self.key_of(exc)
        if retryable is None:
            retryable = isinstance(exc, RetryableError)
        kind = "retryable" if retryable else "permanent"
        cur = self.current
        if cur is not None and cur.key == key:
            cur.count += 1
            if now - cur.last_report >= STILL_FAILING_EVERY:
                cur.last_report = now
                self.log.error(
                    "%s: still failing after %d attempts over %.0fs: %s",
                    self.role,
                    cur.count,
                    now - cur.since,
                    key,
                )
            return False
        self.cleared(now)
        self.current = _Current(key, now, kind, last_report=now)
        self.log.error("%s: %s (%s; next attempt in %.1fs)", self.role, key, kind, retry_in)
        return True

    def cleared(self, now: float) -> bool:
        """The failure stopped; True when there was one (logged with its count)."""
        cur, self.current = self.current, None
        if cur is None:
            return False
        self.log.warning(
            "%s: cleared after %d failed attempt(s) over %.1fs: %s",
            self.role,
            cur.count,
            now - cur.since,
            cur.key,
        )
        return True

    @property
    def count(self) -> int:
        return self.current.count if self.current else 0

    @property
    def current_kind(self) -> str:
        return self.current.kind if self.current else ""


def retry_wait(exc: ZoneWardenError, interval: float, stall_retry: float = STALL_RETRY) -> float:
    """How long a role waits after `exc`: at least the adapter's delay when retryable,
    and slowly (`stall_retry`) when retrying soon cannot help."""
    if isinstance(exc, RetryableError):
        return max(interval, exc.delay)
    return max(interval, stall_retry)


def phase_of(exc: ZoneWardenError) -> str:
    return "retrying" if isinstance(exc, RetryableError) else "stalled"


def announce(
    store: RegionStore, actor: str, exc: ZoneWardenError, now: float, wait: float, generation: int
) -> None:
    """Put a new failure in the audit log and the heartbeat, where the store can take it
    (when the store itself is what fails, the log line is the record)."""
    phase = phase_of(exc)
    detail = f"{type(exc).__name__}: {exc} (next attempt in {wait:.1f}s)"[:500]
    if isinstance(exc, StoreCorrupt | StoreReadOnly):
        return  # writing to a damaged or read-only store only adds noise
    try:
        store.record(actor, phase, now=now, generation=generation, detail=detail)
        store.beat(Heartbeat(actor, now, generation, phase, detail))
    except ZoneWardenError as err:  # the store is what fails: the log line is the record
        logging.getLogger("zonewarden").debug("%s: could not record %s: %s", actor, phase, err)


class Renewable(Protocol):
    def renew(self, now: float) -> None: ...


async def wait_renewing(
    stop: asyncio.Event,
    seconds: float,
    lease: Renewable | None,
    on_slice: Callable[[], None] | None = None,
    slice_seconds: float = 1.0,
) -> None:
    """Wait `seconds` in slices, renewing the role's lease (and calling `on_slice`, e.g. a
    heartbeat) between them, so a long back-off neither loses the role nor looks dead."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        if lease is not None:
            lease.renew(time.time())  # RoleTaken propagates: someone else has the role
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await pause(stop, min(left, slice_seconds))
        if on_slice is not None and deadline - time.monotonic() > 0:
            on_slice()


def beat_quietly(store: RegionStore, heartbeat: Heartbeat) -> None:
    try:
        store.beat(heartbeat)
    except ZoneWardenError as err:
        logging.getLogger("zonewarden").debug("heartbeat not written: %s", err)
