"""One vantage point's prober: every LB's check on its own schedule, in one event loop.

Rules kept here:
- each LB is probed every `interval` seconds, varied by +-`jitter` of it from a seeded
  rng, starting at a random offset so thousands of checks spread over the interval;
- at most `max_concurrent` probes are in flight (a semaphore), whatever the count of LBs;
  `in_flight_peak` records the most ever seen so tests and benchmarks can check the cap;
- each result feeds the LB's rise/fall state (core/health.CheckState); each verdict
  change and each refused capacity reading is logged once with its reason;
- `report(now)` is the vantage point's current belief: per LB its verdict, the time the
  verdict was last confirmed, the reason and the last good capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping

from zonewarden.core.checks import CheckTarget, ProbeSettings
from zonewarden.core.health import CheckState, LbReading, RiseFall, VantageReport
from zonewarden.core.model import LbId
from zonewarden.health.probe import client_tls, probe, read_capacity

log = logging.getLogger("zonewarden.health")


class Prober:
    def __init__(
        self,
        vantage: str,
        checks: Mapping[LbId, CheckTarget],
        settings: ProbeSettings,
        *,
        capacity_urls: Mapping[LbId, CheckTarget] | None = None,
        seed: int = 1,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.vantage, self.checks, self.settings = vantage, dict(checks), settings
        self.capacity_urls = dict(capacity_urls or {})
        self.states: dict[LbId, CheckState] = {lb: CheckState() for lb in checks}
        self.capacity: dict[LbId, int] = {}
        self._capacity_refused: dict[LbId, str] = {}
        self._rng = random.Random(seed)
        self._clock = clock or time.time
        self._tls = client_tls(settings.tls_verify)
        self._params = RiseFall(settings.rise, settings.fall)
        self.probes = 0
        self.in_flight = 0
        self.in_flight_peak = 0

    def report(self, now: float) -> VantageReport:
        readings = {}
        for lb, state in self.states.items():
            if state.checked_at is None:
                continue  # not probed yet: no evidence either way
            readings[lb] = LbReading(
                state.healthy,
                state.checked_at,
                state.reason,
                self.capacity.get(lb),
                not state.last_ok,
            )
        return VantageReport(self.vantage, now, readings)

    async def run(self, stop: asyncio.Event) -> None:
        gate = asyncio.Semaphore(self.settings.max_concurrent)
        tasks = [asyncio.create_task(self._loop(lb, gate, stop)) for lb in self.checks]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def check_once(self, lb: LbId, gate: asyncio.Semaphore) -> None:
        async with gate:
            self.in_flight += 1
            self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
            try:
                result = await probe(self.checks[lb], self.settings, self._tls)
                capacity_url = self.capacity_urls.get(lb)
                if result.ok and capacity_url is not None:
                    await self._read_capacity(lb, capacity_url)
            finally:
                self.in_flight -= 1
        self.probes += 1
        self._record(lb, result.ok, result.reason)

    async def _loop(self, lb: LbId, gate: asyncio.Semaphore, stop: asyncio.Event) -> None:
        interval = self.settings.interval
        await asyncio.sleep(self._rng.uniform(0, interval))
        while not stop.is_set():
            await self.check_once(lb, gate)
            spread = self.settings.jitter * interval
            await asyncio.sleep(max(0.0, interval + self._rng.uniform(-spread, spread)))

    def _record(self, lb: LbId, ok: bool, reason: str) -> None:
        before = self.states[lb]
        after = before.step(ok, reason, self._clock(), self._params)
        self.states[lb] = after
        if after.healthy != before.healthy:
            word = "healthy" if after.healthy else "unhealthy"
            log.warning("%s: %s %s (%s)", self.vantage, lb, word, after.reason)

    async def _read_capacity(self, lb: LbId, url: CheckTarget) -> None:
        value, why = await read_capacity(url, self.settings, self._tls)
        if value is None:
            if self._capacity_refused.get(lb) != why:
                kept = self.capacity.get(lb)
                log.warning("%s: %s capacity refused: %s; keeping %s", self.vantage, lb, why, kept)
                self._capacity_refused[lb] = why
            return
        self._capacity_refused.pop(lb, None)
        self.capacity[lb] = value

    def refused_capacity(self) -> dict[LbId, str]:
        return dict(self._capacity_refused)


def fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (the [fast] extra): about twice the probes per
    CPU second of asyncio's own loop; else None (asyncio's default)."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


class ProberThread:
    """A prober in its own thread and event loop, so a blocking caller (the planner's
    store calls, an enactor's writes) never delays a probe and vice versa."""

    def __init__(self, prober: Prober) -> None:
        self.prober = prober
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._main, name=f"prober-{prober.vantage}", daemon=True
        )

    def start(self) -> ProberThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self.prober.run(self._stop)

        with asyncio.Runner(loop_factory=fast_loop_factory()) as runner:
            runner.run(main())

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def report(self, now: float) -> VantageReport:
        return self.prober.report(now)
