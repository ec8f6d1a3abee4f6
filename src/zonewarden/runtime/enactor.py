"""The enactor process: drives the core state machine against the store, for real.

Each action runs in a worker thread (stores are synchronous); `Sleep` is a real,
interruptible sleep. Heartbeats carry the phase and target generation so `status`
can show what every enactor is doing. Outcome counts live here, not in the state.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time

from zonewarden.core import enactor as safe
from zonewarden.core import legacy
from zonewarden.core.actions import ApplyIfNewer, LegacyWrite, Outcomes, Sleep, WriteDone
from zonewarden.core.enactor import EnactorConfig
from zonewarden.dispatch import execute
from zonewarden.errors import RetryableError
from zonewarden.ports import Heartbeat, RegionStore
from zonewarden.runtime.clock import pause

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
    ) -> None:
        self.id, self.store, self.config, self.protocol = enactor_id, store, config, protocol
        self.machine = safe if protocol == "safe" else legacy
        self.rng = random.Random(seed)
        self.counts: collections.Counter[str] = collections.Counter()
        self._last_beat = 0.0
        self._plans_seen = 0  # etcd revision of the last publish a watch reported
        # fault injection: a slow enactor (the 2025 trigger) waits this long before each write
        self.write_delay = write_delay
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
            state, action = self.machine.step(self.config, state, result, self.rng)  # type: ignore[arg-type]
            self._beat(state)

    async def _idle(self, stop: asyncio.Event, action: Sleep) -> None:
        """Sleep; an idle enactor on a store with watches (etcd) wakes as soon as a plan
        is published instead of waiting out its poll interval. Back-offs always sleep."""
        watch = getattr(self.store, "watch_plans", None)
        if watch is None or action.reason != "idle" or stop.is_set():
            await pause(stop, action.seconds)
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

    def _beat(self, state: object) -> None:
        now = time.time()
        if now - self._last_beat < BEAT_EVERY:
            return
        self._last_beat = now
        target = int(getattr(state, "target", 0) or getattr(state, "done", 0))
        phase = str(getattr(state, "phase", "?"))
        detail = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        try:
            self.store.beat(
                Heartbeat(self.id, now, target, phase, f"{self.protocol} {detail}".strip())
            )
        except Exception as exc:  # a heartbeat must never stop the enactor
            log.warning("heartbeat failed: %s", exc)
