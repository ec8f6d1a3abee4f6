"""One vantage point's prober: every LB address's check on its own schedule, in one
event loop.

Rules kept here:
- every address of an LB is probed on its own (core/checks.address_checks says which
  and how) and has its own rise/fall state; the LB is healthy while at least one of its
  addresses is, and its reading carries each address's (`LbReading.addresses`);
- each address is due every `interval` seconds, varied by +-`jitter` of it from a seeded
  rng, starting at a random offset so thousands of checks spread over the interval;
- a due probe goes through a `resilience.WorkQueue` ("probes/<vantage>"): admission by
  size (`queue_depth`; more are shed), deadline-aware dropping (a probe that cannot
  start within `start_deadline`, by default the interval, is dropped, never run late),
  and the newest first while more than `lifo_above` wait; `max_concurrent` workers take
  from it, so at most that many probes are in flight whatever the count of LBs
  (`in_flight_peak` records the most ever seen);
- a shed or dropped probe is no evidence: it never feeds rise/fall, so an overloaded
  checker cannot fail healthy LBs out of DNS; each episode is logged once with its
  cause (health/shedding.py) and shown in the report (`VantageReport.overload`);
- each result feeds the address's rise/fall state (core/health.CheckState); each
  verdict change and each refused capacity reading is logged once with its reason; an
  LB's capacity URL is read after a successful probe of one of its addresses, at most
  once per interval;
- `report(now)` is the vantage point's current belief: per LB its verdict, the time the
  verdict was last confirmed (the oldest of its addresses'), the reason, the last good
  capacity and every address's own verdict; an LB not yet probed on every address is
  left out (no evidence either way).
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
from zonewarden.core.health import (
    CheckState,
    RiseFall,
    VantageReport,
    address_summary,
    lb_reading,
)
from zonewarden.core.model import LbId
from zonewarden.health.probe import client_tls, probe, read_capacity
from zonewarden.health.shedding import DEADLINE, QUEUE_FULL, ShedLog
from zonewarden.resilience.queueing import WorkQueue

log = logging.getLogger("zonewarden.health")

Key = tuple[LbId, str]  # one probed address of one LB


class Prober:
    def __init__(
        self,
        vantage: str,
        checks: Mapping[LbId, CheckTarget | Mapping[str, CheckTarget]],
        settings: ProbeSettings,
        *,
        capacity_urls: Mapping[LbId, CheckTarget] | None = None,
        seed: int = 1,
        clock: Callable[[], float] | None = None,
        shed_is_failure: bool = False,
    ) -> None:
        self.vantage, self.checks, self.settings = vantage, dict(checks), settings
        # a bare target is one LB-wide check, keyed by its host
        self.targets: dict[LbId, dict[str, CheckTarget]] = {
            lb: {c.host: c} if isinstance(c, CheckTarget) else dict(c) for lb, c in checks.items()
        }
        self.capacity_urls = dict(capacity_urls or {})
        self.address_states: dict[Key, CheckState] = {
            (lb, a): CheckState() for lb, by in self.targets.items() for a in by
        }
        self.capacity: dict[LbId, int] = {}
        self._capacity_read: dict[LbId, float] = {}
        self._capacity_refused: dict[LbId, str] = {}
        self._rng = random.Random(seed)
        self._clock = clock or time.time
        self._tls = client_tls(settings.tls_verify)
        self._params = RiseFall(settings.rise, settings.fall)
        self.probes = 0
        self.in_flight = 0
        self.in_flight_peak = 0
        self.queue: WorkQueue[Key] = WorkQueue(
            max_depth=settings.queue_depth,
            deadline_drop=True,
            lifo_above=settings.lifo_above,
            name=f"probes/{vantage}",
        )
        # an episode ends after three rounds (a due wait plus its deadline) with nothing shed
        self.shedding = ShedLog(vantage, 3 * (settings.interval + settings.start_deadline))
        # the control for tests only: read a shed probe as a failed one (what must not be)
        self._shed_is_failure = shed_is_failure
        self._done: dict[Key, asyncio.Future[bool]] = {}
        self._wake: asyncio.Event | None = None

    @property
    def states(self) -> dict[LbId, CheckState]:
        """Each LB's state as one check: its only address's, or the addresses' summary
        (healthy while one is, confirmed when the oldest was, failing when all fail)."""
        return {lb: self._lb_state(lb) for lb in self.targets}

    def _lb_state(self, lb: LbId) -> CheckState:
        return address_summary({a: self.address_states[(lb, a)] for a in self.targets[lb]})

    def report(self, now: float) -> VantageReport:
        readings = {}
        for lb in self.targets:
            states = {a: self.address_states[(lb, a)] for a in self.targets[lb]}
            reading = lb_reading(states, self.capacity.get(lb))
            if reading is not None:  # None: an address not probed yet, no evidence either way
                readings[lb] = reading
        return VantageReport(self.vantage, now, readings, self.shedding.describe(time.monotonic()))

    async def run(self, stop: asyncio.Event) -> None:
        self._wake = asyncio.Event()
        workers = [asyncio.create_task(self._worker()) for _ in range(self.settings.max_concurrent)]
        workers.append(asyncio.create_task(self._sweep()))
        tasks = workers + [
            asyncio.create_task(self._loop(key, stop)) for key in self.address_states
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def check_once(self, lb: LbId) -> None:
        """Probe every address of `lb` now, one after the other, and record each result."""
        for address in self.targets[lb]:
            await self.check_address((lb, address))

    async def check_address(self, key: Key) -> None:
        """Probe one address (and read the LB's capacity when it answers, at most once
        per interval) and record the result."""
        lb, address = key
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        try:
            result = await probe(self.targets[lb][address], self.settings, self._tls)
            capacity_url = self.capacity_urls.get(lb)
            if result.ok and capacity_url is not None and self._capacity_due(lb):
                await self._read_capacity(lb, capacity_url)
        finally:
            self.in_flight -= 1
        self.probes += 1
        self._record(key, result.ok, result.reason)

    def _capacity_due(self, lb: LbId) -> bool:
        now = time.monotonic()
        if now - self._capacity_read.get(lb, -1e18) < 0.9 * self.settings.interval:
            return False
        self._capacity_read[lb] = now
        return True

    async def _loop(self, lb: Key, stop: asyncio.Event) -> None:
        interval = self.settings.interval
        await asyncio.sleep(self._rng.uniform(0, interval))
        while not stop.is_set():
            if await self._due(lb):
                spread = self.settings.jitter * interval
                await asyncio.sleep(max(0.0, interval + self._rng.uniform(-spread, spread)))
            else:  # shed: come back anywhere in the next round, not with the same burst
                await asyncio.sleep(interval * self._rng.uniform(0.5, 1.5))

    async def _due(self, lb: Key) -> bool:
        """Queue one probe of `lb` and wait until it was run (True) or shed (False)."""
        now = time.monotonic()
        window = self.settings.start_deadline
        if not self.queue.offer(now + window, lb):
            self._shed(lb, now, QUEUE_FULL, f"{self.settings.queue_depth} probes waiting")
            return False
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._done[lb] = done
        assert self._wake is not None
        self._wake.set()
        return await done

    async def _worker(self) -> None:
        assert self._wake is not None
        while True:
            entry = self.queue.take(time.monotonic(), self._dropped)
            if entry is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            lb = entry[1]
            ran = False
            try:
                await self.check_address(lb)
                ran = True
            finally:
                self._finish(lb, ran)
            self.shedding.tick(time.monotonic())

    async def _sweep(self) -> None:
        """Drop waiting probes past their deadline even while every worker is busy, so a
        stuck LB loop learns at once and no drop goes uncounted."""
        pause = max(0.01, self.settings.start_deadline / 4)
        while True:
            await asyncio.sleep(pause)
            now = time.monotonic()
            self.queue.expire(now, self._dropped)
            self.shedding.tick(now)

    def _dropped(self, entry: tuple[float, Key]) -> None:
        lb = entry[1]
        window = self.settings.start_deadline
        self._shed(lb, time.monotonic(), DEADLINE, f"not started within {window:g} s")
        self._finish(lb, False)

    def _shed(self, lb: Key, now: float, cause: str, detail: str) -> None:
        self.shedding.shed(now, cause, detail)
        if self._shed_is_failure:
            self._record(lb, False, f"probe shed: {cause}")

    def _finish(self, lb: Key, ran: bool) -> None:
        done = self._done.pop(lb, None)
        if done is not None and not done.done():
            done.set_result(ran)

    def _record(self, key: Key, ok: bool, reason: str) -> None:
        before = self.address_states[key]
        after = before.step(ok, reason, self._clock(), self._params)
        self.address_states[key] = after
        if after.healthy != before.healthy:
            word = "healthy" if after.healthy else "unhealthy"
            lb, address = key
            log.warning("%s: %s %s %s (%s)", self.vantage, lb, address, word, after.reason)

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
