"""The planner process: observe health, decide, publish or hold (fail-static).

It keeps the last published draft in memory (loading the newest plan once at start),
copies pinned endpoints' content forward from the newest plan, and audits a hold once
per distinct reason rather than on every tick. With a Route 53 backend it also names,
once each, the endpoints where Route 53's fail-open rules apply to what stays live
(core/failopen.py), in the log and the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from zonewarden.config import Config
from zonewarden.core.failopen import fail_open_warnings
from zonewarden.core.model import LbId, PlanDraft
from zonewarden.core.planner import Decision, Observation, PlanningInputs, decide
from zonewarden.errors import HealthUnavailable, RetryableError
from zonewarden.ports import HealthSource, Heartbeat, RegionStore
from zonewarden.runtime.clock import pause

log = logging.getLogger("zonewarden.planner")


class Planner:
    def __init__(self, config: Config, store: RegionStore, health: HealthSource) -> None:
        self.config, self.store, self.health = config, store, health
        self.previous: PlanDraft | None = None
        self.based_on = 0
        self._held_for: str | None = None
        self._fail_open: set[str] = set()
        self._fail_open_key: tuple[int, frozenset[LbId]] | None = None
        self._route53 = config.backend.get("kind") == "route53"

    def _refresh_previous(self) -> None:
        """Base the next plan on the store's newest plan whenever someone else published
        (an operator plan, a pin or rollback, a repair), not on our own last draft."""
        newest = self.store.newest()
        if newest and newest != self.based_on:
            self.previous = PlanDraft(self.store.contents(newest))
            self.based_on = newest

    def once(self, now: float) -> Decision:
        self._refresh_previous()
        try:
            observed, source_ok = self.health.observe(now), True
        except HealthUnavailable:
            observed, source_ok = {}, False
        pins = self.store.pins()
        pinned = {}
        if pins and self.previous is not None:
            pinned = {n: self.previous.endpoints[n] for n in pins if n in self.previous.endpoints}
        decision = decide(
            PlanningInputs(
                region=self.config.region,
                health=observed,
                previous=self.previous,
                pins=pinned,
                limits=self.config.planner.limits,
                health_source_ok=source_ok,
                max_unhealthy_fraction=self.config.planner.max_unhealthy_fraction,
            )
        )
        if decision.action == "publish" and decision.draft is not None:
            plan = self.store.publish(decision.draft, source="planner", actor="planner", now=now)
            self.previous = decision.draft
            self.based_on = plan.generation
            self._held_for = None
            log.info("published generation %d", plan.generation)
        elif decision.action == "hold":
            reason = "; ".join(str(v) for v in decision.reasons)
            if reason != self._held_for:
                self.store.record("planner", "hold", now=now, detail=reason)
                log.warning("holding last good plan: %s", reason)
                self._held_for = reason
        if self._route53:
            self._warn_fail_open(observed, now)
        self._beat(decision, now)
        return decision

    def _warn_fail_open(self, observed: Mapping[LbId, Observation], now: float) -> None:
        """Name each new fail-open case of what stays live (published or held) once."""
        if self.previous is None:
            return
        key = (self.based_on, frozenset(lb for lb, obs in observed.items() if not obs.healthy))
        if key == self._fail_open_key:
            return  # same live plan, same health: the same warnings as last tick
        self._fail_open_key = key
        healthy = {lb: obs.healthy for lb, obs in observed.items()}
        current = {
            w
            for name, content in self.previous.endpoints.items()
            for w in fail_open_warnings(name, content, healthy)
        }
        for warning in sorted(current - self._fail_open):
            log.warning("Route 53 fail-open: %s", warning)
            self.store.record("planner", "route53-fail-open", now=now, detail=warning)
        self._fail_open = current

    def _beat(self, decision: Decision, now: float) -> None:
        detail = "; ".join(str(v) for v in decision.reasons) if decision.action == "hold" else ""
        phase = "holding" if decision.action == "hold" else decision.action
        self.store.beat(Heartbeat("planner", now, self.based_on, phase, detail[:500]))

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.config.planner.interval
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.once, time.time())
            except RetryableError as exc:
                log.warning("planner: %s", exc)
            await pause(stop, interval)
