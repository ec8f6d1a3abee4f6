"""The planner process: observe health, run the policy tick, publish or hold (fail-static).

It keeps the last published draft and the policy state (served capacity per LB, the
removal budget's ledger, hysteresis) in memory, loading the newest plan once at start.
Rules kept here:
- every publish is a compare-and-set on the generation it planned on top of, so a pin,
  rollback, repair or operator plan published meanwhile is never overwritten: the tick is
  re-planned on top of it (`PublishConflict`);
- pinned endpoints keep the newest plan's content;
- a planner that starts, or takes the leader lease (again), resumes the policy state
  the last leader left in the store (the ledger with the health status, the newest
  plan), never its own state from before;
- every change's cause is in the audit log (`cause` rows, one per LB, with the plan's
  generation), what the budget holds back is audited once per distinct hold, a
  fail-static alarm once when it starts and once when it clears (`fail-static`,
  `fail-static-cleared`), and each is in the heartbeat and the health status;
- a probing health source is given its first probe round before the first tick
  (bounded by the quorum's max_age), so a start is not a false fail-static;
- with a Route 53 backend it names, once each, the endpoints where Route 53's fail-open
  rules apply to what stays live (core/failopen.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from zonewarden.config import Config
from zonewarden.core.failopen import fail_open_warnings
from zonewarden.core.model import LbId, PlanDraft
from zonewarden.core.planner import Observation, TickDecision, TickInputs, plan_tick
from zonewarden.core.policy import LbHealth, PolicyState, RegionIndex, state_from_ledger
from zonewarden.errors import HealthUnavailable, PublishConflict, RetryableError, ZoneWardenError
from zonewarden.ports import HealthSource, Heartbeat, RegionStore
from zonewarden.resilience import metrics as resilience_metrics
from zonewarden.runtime.failures import (
    FailureLog,
    announce,
    beat_quietly,
    retry_wait,
    wait_renewing,
)
from zonewarden.runtime.health_status import status_document
from zonewarden.runtime.roles import RoleLease

log = logging.getLogger("zonewarden.planner")
SWEEP_FLOOR = 50_000  # frozen objects below which no sweep is worth its collection


class Leadership(Protocol):
    """A leader lease (stores/etcd/leader.LeaderLease): campaign renews while leading."""

    @property
    def leading(self) -> bool: ...

    def campaign(self) -> bool: ...

    def resign(self) -> None: ...


class Planner:
    def __init__(
        self,
        config: Config,
        store: RegionStore,
        health: HealthSource,
        *,
        leadership: Leadership | None = None,
        actor: str = "planner",
        compare_and_set: bool = True,
    ) -> None:
        self.store, self.health = store, health
        self.leadership, self.actor = leadership, actor
        self.compare_and_set = compare_and_set  # off only in tests, as the control
        self.previous: PlanDraft | None = None
        self.based_on = 0
        self._counters_sent: dict[str, dict[str, int]] | None = None  # None: publish once
        self._frozen_swept = gc.get_freeze_count()  # frozen objects after the last sweep
        self.state = PolicyState()
        self.observed: Mapping[LbId, Observation] = {}
        self.last: TickDecision | None = None
        self._alarm: str | None = None
        self._held: set[str] = set()
        self._fail_open: set[str] = set()
        self._fail_open_key: tuple[int, frozenset[LbId]] | None = None
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        """Adopt a new (validated) config; the policy state carries over."""
        self.config = config
        self.index = RegionIndex(config.region)
        self._route53 = config.backend.get("kind") == "route53"
        self._rebuild = True

    def _refresh_previous(self) -> bool:
        """Base the next plan on the store's newest plan whenever someone else published
        (an operator plan, a pin or rollback, a repair): True when it changed."""
        newest = self.store.newest()
        if newest and newest != self.based_on:
            self.previous = PlanDraft(self.store.contents(newest))
            self.based_on = newest
            # a whole plan is long-lived and acyclic (freed by reference counting when
            # replaced): keep the cyclic collector from rescanning its 50,000 endpoints'
            # objects on every later tick (0.2 s of CPU per 1% plan at 50k endpoints)
            self._freeze()
            return True
        return False

    def _freeze(self) -> None:
        """gc.freeze(), with a sweep: frozen objects are never collected, so a cycle that
        was garbage when frozen would stay for good. When the frozen objects have doubled
        since the last sweep, thaw, collect and freeze again: what can pile up is bounded
        by the live set, at the cost of one full collection per doubling."""
        gc.freeze()
        if gc.get_freeze_count() > 2 * max(self._frozen_swept, SWEEP_FLOOR):
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._frozen_swept = gc.get_freeze_count()

    def once(self, now: float) -> TickDecision:
        for _ in range(3):
            try:
                return self._tick(now)
            except PublishConflict as exc:
                log.info("%s", exc)
                self.store.record("planner", "publish-conflict", now=now, detail=str(exc))
        return self._tick(now)

    def _tick(self, now: float) -> TickDecision:
        if not self.state.served and not self.state.budget.spends:
            self.state = self._restored_state()
        rebuild = self._refresh_previous() or self._rebuild
        problems: tuple[str, ...] = ()
        try:
            self.observed = self.health.observe(now)
        except HealthUnavailable as exc:
            self.observed, problems = {}, (f"health source unavailable: {exc}",)
        pins = self.store.pins()
        pinned = {}
        if pins and self.previous is not None:
            pinned = {n: self.previous.endpoints[n] for n in pins if n in self.previous.endpoints}
        health = {
            lb: LbHealth(o.healthy, o.capacity, o.reason, o.failing, o.down, o.failing_addresses)
            for lb, o in self.observed.items()
            if lb in self.index.region.lbs
        }
        decision = plan_tick(
            TickInputs(
                index=self.index,
                health=health,
                state=self.state,
                now=now,
                previous=self.previous,
                holds=tuple(self.store.operator_holds()),
                pins=pinned,
                settings=self.config.health.policy,
                limits=self.config.planner.limits,
                evidence_problems=problems,
                rebuild=rebuild,
            )
        )
        if decision.action == "publish" and decision.draft is not None:
            plan = self.store.publish(
                decision.draft,
                source="planner",
                actor=self.actor,
                now=now,
                expect_newest=self.based_on if self.compare_and_set else None,
            )
            self.previous, self.based_on = decision.draft, plan.generation
            self._audit_causes(decision, plan.generation, now)
            log.info(
                "published generation %d (%d endpoints changed)",
                plan.generation,
                len(decision.changed),
            )
        if decision.action != "hold":
            self.state = decision.state
            self._rebuild = False
        self._audit_holds(decision, now)
        if self._route53:
            self._warn_fail_open(self.observed, now)
        self.last = decision
        self._beat(decision, now)
        self._publish_status(decision, now)
        return decision

    def _restored_state(self) -> PolicyState:
        """The budget's ledger and flap history the last planner left in the store (a
        restart or a takeover must not open a fresh budget window)."""
        ledger = self.store.health_status().get("ledger")
        if not isinstance(ledger, dict):
            return self.state
        restored = state_from_ledger(ledger)
        if restored.budget.spends:
            log.warning(
                "planner: resumed the removal budget's ledger (%d removals in the window)",
                len(restored.budget.spends),
            )
        waiting = sum(len(p.since) for p in restored.addresses.values())
        if waiting:
            log.warning("planner: resumed the hold-down clocks of %d left-out address(es)", waiting)
        return restored

    def _audit_causes(self, decision: TickDecision, generation: int, now: float) -> None:
        for change in decision.step.changes:
            before, after = self.index.weight(change.before), self.index.weight(change.after)
            detail = f"{change} (weight {before}->{after})"
            self.store.record(
                "planner",
                "cause",
                now=now,
                endpoint=change.lb,
                generation=generation,
                detail=detail,
            )

    def _audit_holds(self, decision: TickDecision, now: float) -> None:
        alarm = "; ".join(str(v) for v in decision.reasons) if decision.action == "hold" else None
        if alarm != self._alarm:
            if alarm is not None:
                self.store.record("planner", "fail-static", now=now, detail=alarm)
                log.error("FAIL-STATIC, holding last good plan: %s", alarm)
            else:
                self.store.record(
                    "planner", "fail-static-cleared", now=now, detail=self._alarm or ""
                )
                log.warning("fail-static cleared: planning again")
            self._alarm = alarm
        if decision.action == "hold":
            return
        held = {str(h) for h in decision.step.held_back}
        for line in sorted(held - self._held):
            self.store.record("planner", "held-back", now=now, detail=line)
            log.warning("removal held back: %s", line)
        self._held = held

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

    def _beat(self, decision: TickDecision, now: float) -> None:
        if decision.action == "hold":
            phase = (
                "fail-static"
                if any(v.gate == "fail-static" for v in decision.reasons)
                else "holding"
            )
            detail = "; ".join(str(v) for v in decision.reasons)
        else:
            phase = decision.action
            held = len(decision.step.held_back)
            detail = f"{held} removal(s) held back by the budget" if held else ""
        evidence = getattr(self.health, "last", None)
        if evidence is not None and evidence.overload:  # shown by `zonewarden status`
            detail = "; ".join([detail, *evidence.overload] if detail else evidence.overload)
        self.store.beat(Heartbeat("planner", now, self.based_on, phase, detail[:500]))

    def _publish_status(self, decision: TickDecision, now: float) -> None:
        evidence = getattr(self.health, "last", None)
        status: dict[str, Any] = status_document(
            self.index,
            self.state,
            self.observed,
            decision,
            evidence,
            now,
            self.store.operator_holds(),
            getattr(self.health, "reports", ()),
            self.config.health.policy.hysteresis,
        )
        self.store.set_health_status(status)
        counters = resilience_metrics.snapshot()  # the probe queue's among them: for /metrics
        if counters != self._counters_sent:
            self.store.publish_counters(self.actor, counters)
            self._counters_sent = counters

    def leads(self) -> bool:
        """True when this planner may publish: no election (one planner), or it holds
        the leader lease now (renewed on every tick; a standby campaigns every tick)."""
        if self.leadership is None:
            return True
        was = self.leadership.leading
        try:
            now_leading = self.leadership.campaign()
        except RetryableError as exc:
            log.warning("planner: leadership unknown, not publishing: %s", exc)
            return False
        if now_leading and not was:
            log.warning("planner: leader now (took over the lease)")
            self.based_on, self._rebuild = 0, True  # plan on top of whatever was published
            self._forget_state()
        elif was and not now_leading:
            log.warning("planner: lost the leader lease; standing by")
        return now_leading

    def _forget_state(self) -> None:
        """On taking the lease, drop this planner's own policy state (from before another
        leader ran): the next tick resumes the last leader's ledger (budget, exits,
        address clocks) and its newest plan, as a restarted planner does."""
        self.state = PolicyState()

    async def run(self, stop: asyncio.Event, lease: RoleLease | None = None) -> None:
        """Plan every interval; a failure is logged and audited once, retried (slowly
        when permanent) and reported when it clears; the planner never exits on one,
        except when another planner has taken its lease (RoleTaken)."""
        interval = self.config.planner.interval
        failures = FailureLog(log, "planner")
        start = getattr(self.health, "start", None)
        if start is not None:
            start()
        try:
            await self._warm_up(stop)
            while not stop.is_set():
                wait = interval
                try:
                    if await asyncio.to_thread(self.leads):
                        await asyncio.to_thread(self.once, time.time())
                    failures.cleared(time.time())
                except ZoneWardenError as exc:
                    wait = retry_wait(exc, interval)
                    if failures.failed(exc, time.time(), wait):
                        announce(self.store, "planner", exc, time.time(), wait, self.based_on)
                await wait_renewing(stop, wait, lease, lambda: self._beat_failing(failures))
        finally:
            if self.leadership is not None:
                with contextlib.suppress(RetryableError):
                    self.leadership.resign()
            close = getattr(self.health, "close", None)
            if close is not None:
                close()

    async def _warm_up(self, stop: asyncio.Event) -> None:
        """Until the health source has its first reading of every LB (a probing source
        after start), wait, checking every 50 ms, instead of ticking: a tick now would
        hold on "not probed yet" and raise a false fail-static alarm, and the first plan
        would wait a whole interval more. Bounded by the quorum's max_age; past it the
        ticks run and hold loudly as usual."""
        ready = getattr(self.health, "ready", None)
        if ready is None:
            return
        limit = time.monotonic() + self.config.health.quorum.max_age
        self.store.beat(
            Heartbeat("planner", time.time(), self.based_on, "warming-up", "first probe round")
        )
        while not stop.is_set() and time.monotonic() < limit:
            try:
                if await asyncio.to_thread(ready, time.time()):
                    return
            except ZoneWardenError:
                return  # the tick reports it
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    def _beat_failing(self, failures: FailureLog) -> None:
        """While a failure is retried, keep the heartbeat fresh and naming it."""
        if failures.current is not None:
            detail = f"x{failures.count}: {failures.current.key}"[:500]
            phase = "retrying" if failures.current_kind == "retryable" else "stalled"
            beat_quietly(
                self.store, Heartbeat("planner", time.time(), self.based_on, phase, detail)
            )
