"""Vantage points in processes: the planner's own prober, and an enactor's.

- `open_probe_health` builds the planner's `ProbeHealth`: a local prober thread when
  `[health] vantage` is "planner" or "both", the store's published reports when it is
  "enactors" or "both". It starts probing on `start()` and stops on `close()`.
- `VantagePoint` runs beside an enactor (started by the `enactor` command when the
  region probes from enactors): it probes every LB from the enactor's AZ and publishes
  its report to the store every interval, with each reading's time, so the planner can
  tell a fresh verdict from a stale one. A failed publish is logged once per distinct
  error and retried next interval; it never stops the enactor.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib

from zonewarden.config import Config
from zonewarden.errors import ZoneWardenError
from zonewarden.health.prober import Prober, ProberThread
from zonewarden.health.source import ProbeHealth
from zonewarden.ports import RegionStore
from zonewarden.runtime.clock import pause

log = logging.getLogger("zonewarden.vantage")


def make_prober(config: Config, vantage: str) -> Prober:
    h = config.health
    seed = zlib.crc32(f"{config.planner.seed}/{vantage}".encode())
    probes = h.probes or h.checks  # per address (a HealthSettings built by hand may lack them)
    return Prober(vantage, probes, h.probe, capacity_urls=h.capacity_urls, seed=seed)


class _ProbeHealthRunner(ProbeHealth):
    def __init__(self, config: Config, store: RegionStore | None) -> None:
        h = config.health
        self._thread = None
        local = None
        if h.vantage in ("planner", "both"):
            self._thread = ProberThread(make_prober(config, "planner"))
            local = self._thread.report
        remote = store.vantage_reports if store is not None and h.vantage != "planner" else None
        super().__init__(config.region.lbs, h.quorum, local=local, remote=remote)

    def start(self) -> None:
        if self._thread is not None:
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.stop()


def open_probe_health(config: Config, store: RegionStore | None) -> ProbeHealth:
    return _ProbeHealthRunner(config, store)


class VantagePoint:
    """An enactor's prober, publishing its report to the store."""

    def __init__(self, config: Config, store: RegionStore, vantage: str) -> None:
        self.store, self.vantage = store, vantage
        self.interval = config.health.probe.interval
        self.prober = make_prober(config, vantage)
        self._last_error = ""

    async def run(self, stop: asyncio.Event) -> None:
        thread = ProberThread(self.prober).start()
        try:
            while not stop.is_set():
                await pause(stop, self.interval)
                try:
                    report = self.prober.report(time.time())
                    await asyncio.to_thread(self.store.publish_vantage, report)
                    self._last_error = ""
                except ZoneWardenError as exc:
                    if str(exc) != self._last_error:
                        log.warning("vantage %s: report not published: %s", self.vantage, exc)
                        self._last_error = str(exc)
        finally:
            thread.stop()


def probes_from_enactors(config: Config) -> bool:
    return config.planner.health == "probe" and config.health.vantage in ("enactors", "both")
