"""The enactor process: drives the core state machine against the store, for real.

Each action runs in a worker thread (stores are synchronous); `Sleep` is a real,
interruptible sleep. Heartbeats carry the phase and target generation so `status`
can show what every enactor is doing. Outcome counts live here, not in the state.

Failures are loud: each distinct one (error class and message) is logged once and
audited once, with a count kept while it repeats, and a line when it clears; while
failing, the heartbeat's detail names the failure and its count.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from dataclasses import replace

from zonewarden.core import enactor as safe
from zonewarden.core import legacy
from zonewarden.core.actions import (
    ApplyIfNewer,
    Failed,
    LegacyWrite,
    Outcomes,
    Result,
    Sleep,
    TryLock,
    Woke,
    WriteDone,
)
from zonewarden.core.enactor import EnactorConfig
from zonewarden.dispatch import execute
from zonewarden.errors import ConfigError, RetryableError
from zonewarden.ports import Heartbeat, RegionStore
from zonewarden.resilience import metrics as resilience_metrics
from zonewarden.resilience.retry_budget import RetryThrottle
from zonewarden.runtime.clock import pause
from zonewarden.runtime.failures import FailureLog, wait_renewing
from zonewarden.runtime.roles import RoleLease

log = logging.getLogger("zonewarden.enactor")
BEAT_EVERY = 0.25


class EnactorRunner:
    def __init__(
        self,
        enactor_id: str,
        store: RegionStore,
        config: EnactorConfig,
        *,
        protocol: str = "safe",
        seed: int | None = None,
        write_delay: float = 0.0,
        lease: RoleLease | None = None,
        plan_delay: float = 0.0,
    ) -> None:
        if protocol not in ("safe", "legacy"):  # fail closed: never guess the unsafe one
            raise ConfigError(f"unknown enactor protocol {protocol!r} (known: safe, legacy)")
        self.id, self.store, self.config, self.protocol = enactor_id, store, config, protocol
        self.machine = safe if protocol == "safe" else legacy
        self.failures = FailureLog(log, f"enactor {enactor_id}")
        self.lease = lease
        self._state: object = None
        self._failure_detail = ""
        self._failed_on: type | None = None
        self.rng = random.Random(seed)
        self.budget = (
            RetryThrottle(config.retry_budget_tokens, config.retry_budget_ratio, name=enactor_id)
            if config.retry_budget_tokens > 0
            else None
        )
        self._budget_spent = False
        self.counts: collections.Counter[str] = collections.Counter()
        self._last_beat = 0.0
        self._counters_sent: dict[str, dict[str, int]] | None = None  # None: publish once
        self._plans_seen = 0  # etcd revision of the last publish a watch reported
        # fault injection: a slow enactor (the 2025 trigger) waits this long before each write
        self.write_delay = write_delay
        # ... or this long after choosing a plan, before writing any of it (holding no lock)
        self.plan_delay = plan_delay
        self._target = 0
        if protocol == "legacy":
            log.warning("enactor %s: %s", enactor_id, legacy.WARNING)

    async def run(self, stop: asyncio.Event) -> None:
        state, action = self.machine.start(self.id)
        while not stop.is_set():
            if isinstance(action, Sleep):
                await self._idle(stop, action)
                result = execute(self.store, action, actor=self.id, now=time.time())
            else:
                if self.write_delay and isinstance(action, ApplyIfNewer | LegacyWrite):
                    await pause(stop, self.write_delay)
                result = await asyncio.to_thread(
                    execute, self.store, action, actor=self.id, now=time.time()
                )
                self._count(result)
            done = type(action)
            state, action = self.machine.step(self.config, state, result, self.rng)
            action = self._budgeted(result, action)
            self._note(done, result, action)
            self._state = state
            target = int(getattr(state, "target", 0) or 0)
            if isinstance(action, TryLock | ApplyIfNewer) and target != self._target:
                # a new plan, checked and about to be written: say so at once, then
                # (fault injection) dawdle before the first write, holding no lock
                self._target = target
                self._beat(state, force=True)
                if self.plan_delay:
                    await pause(stop, self.plan_delay)
            self._beat(state, force=isinstance(result, Failed))

    def _budgeted(self, result: Result, action: object) -> object:
        """The retry budget: while it is spent, a retryable failure waits at least
        backoff_cap, however short its back-off; said once per episode, in log and audit."""
        if self.budget is None or isinstance(result, Woke):  # waking is not a store call
            return action
        if not isinstance(result, Failed):
            self.budget.on_success()
            return action
        self.budget.on_failure()
        if not result.retryable or not isinstance(action, Sleep) or self.budget.allow_retry():
            self._budget_spent = False
            return action
        slower = replace(action, seconds=max(action.seconds, self.config.backoff_cap))
        if not self._budget_spent:
            self._budget_spent = True
            detail = f"retry budget spent: retrying at most every {slower.seconds:.1f}s"
            log.warning("enactor %s: %s", self.id, detail)
            self._audit("retry-budget", detail, time.time())
        return slower

    def _note(self, done: type, result: Result, action: object) -> None:
        """Log and audit each distinct failure once; say when it clears: when the kind of
        action that failed succeeds (a read succeeding between failing writes is not)."""
        now = time.time()
        if not isinstance(result, Failed):
            if self.failures.current is not None and done is self._failed_on:
                key = self.failures.current.key
                count = self.failures.count
                self.failures.cleared(now)
                self._failure_detail = ""
                self._audit("failure-cleared", f"after {count} attempt(s): {key}"[:500], now)
            return
        self._failed_on = done
        retry_in = action.seconds if isinstance(action, Sleep) else 0.0
        key = f"{result.kind or 'Error'}: {result.error}"
        kind = "retrying" if result.retryable else "stalled"
        if self.failures.failed(key, now, retry_in, retryable=result.retryable):
            self._audit(kind, f"{key} (next attempt in {retry_in:.1f}s)"[:500], now)
        self._failure_detail = f"{kind} x{self.failures.count}: {key}"

    def _audit(self, kind: str, detail: str, now: float) -> None:
        try:
            self.store.record(self.id, kind, now=now, detail=detail)
        except Exception as exc:  # the store may be what is failing; the log has it
            log.debug("enactor %s: could not audit %s: %s", self.id, kind, exc)

    async def _idle(self, stop: asyncio.Event, action: Sleep) -> None:
        """Sleep; an idle enactor on a store with watches (etcd) wakes as soon as a plan
        is published instead of waiting out its poll interval. Back-offs always sleep."""
        watch = getattr(self.store, "watch_plans", None)
        if watch is None or action.reason != "idle" or stop.is_set():
            # in slices: the lease is renewed and a long stall keeps a fresh heartbeat
            await wait_renewing(
                stop, action.seconds, self.lease, lambda: self._beat(self._state, force=True)
            )
            return
        deadline = time.monotonic() + action.seconds
        while not stop.is_set():  # watch in short slices so a stop is noticed quickly
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                seen = await asyncio.to_thread(watch, self._plans_seen, min(left, 1.0))
            except RetryableError:
                await pause(stop, left)
                return
            if seen:
                self._plans_seen = max(self._plans_seen, seen)
                return

    def _count(self, result: object) -> None:
        if isinstance(result, Outcomes):
            self.counts.update(str(o) for o in result.by_name.values())
        elif isinstance(result, WriteDone):
            self.counts[str(result.outcome)] += 1

    def _beat(self, state: object, *, force: bool = False) -> None:
        now = time.time()
        if self.lease is not None:
            self.lease.renew(now)  # RoleTaken: another enactor took this id over; stop
        if now - self._last_beat < BEAT_EVERY and not force:
            return
        self._last_beat = now
        target = int(getattr(state, "target", 0) or getattr(state, "done", 0))
        phase = str(getattr(state, "phase", "?"))
        detail = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        detail = f"{self.protocol} {detail}".strip()
        if self._failure_detail:
            detail = f"{detail}; {self._failure_detail}"
        try:
            self.store.beat(Heartbeat(self.id, now, target, phase, detail[:500]))
            counters = resilience_metrics.snapshot()  # its retry budget's: for /metrics
            if counters != self._counters_sent:
                self.store.publish_counters(self.id, counters)
                self._counters_sent = counters
        except Exception as exc:  # a heartbeat must never stop the enactor
            log.debug("heartbeat failed: %s", exc)  # the failure itself is logged once
