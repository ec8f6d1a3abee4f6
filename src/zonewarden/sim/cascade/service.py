"""The retrying-service model: one server, its queue, and clients that time out and retry.

Theory of operation. Requests arrive (Poisson at a piecewise-constant rate, and in
bursts); each is sent as an attempt that the client abandons after `timeout` seconds.
The server either has W workers fed from a `resilience.WorkQueue` (FIFO, LIFO under
overload, deadline dropping, admission by size) or unbounded concurrency whose every
attempt in flight is slowed by the others: each progresses at 1 / (s + k x concurrency)
of its work per second (processor sharing), so at a steady concurrency c an attempt
takes s + k c seconds (Brooker's model, s = 1, k = 0.01). The server never learns
that a client gave up: an abandoned attempt still occupies a worker when it is reached
(wasted work) unless deadline dropping discards it. An abandoned attempt is retried
after `retry_delay` (or the back-off with full jitter), subject to the attempt limit,
the retry budget (gRPC throttling) and the client-side adaptive throttle; a refused
request fails, or with `persistent` is tried afresh after `recheck` (a lease check).
This is the sustaining loop of a metastable failure: once waiting exceeds the timeout,
everything served is already abandoned and each abandonment adds another attempt.

With `server_timeout` (the lease manager) nobody waits outside: the server itself finds
an attempt late when it finishes it (queue wait plus work past the timeout), discards
the result and queues the work again at the back; deadline dropping hands expired work
back to its host, which asks again at its next lease check (`recheck`).

Rules kept here: time is the simulator's virtual clock (`sim.scheduler.Scheduler`);
all randomness comes from one `random.Random` seeded by the run's seed, so the same
seed gives the same run; the policies are the very classes of `zonewarden.resilience`.
Timeouts are kept in one FIFO (every attempt's deadline is its send time plus the same
timeout, so deadlines arrive in order) with a single timer, so the heap holds only
worker completions and delayed retries.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zonewarden.resilience.backoff import Backoff
from zonewarden.resilience.queueing import NO_LIMIT, WorkQueue
from zonewarden.resilience.retry_budget import RetryThrottle
from zonewarden.resilience.throttle import AdaptiveThrottle
from zonewarden.sim.cascade.params import ServiceParams
from zonewarden.sim.cascade.policies import Policy
from zonewarden.sim.scheduler import Event, Scheduler

ARRIVE, RATE, BURST, SEND, DONE, TIMEOUT, SAMPLE, OUTAGE, RESUME, RESTART = [
    "arrive",
    "rate",
    "burst",
    "send",
    "done",
    "timeout",
    "sample",
    "outage",
    "resume",
    "restart",
]
DONE_OK = -1  # live[r] for a request that succeeded
GAVE_UP = -2  # ... for one that failed for good
IDLE = 0  # ... for one with no attempt in flight

COLUMNS = (
    "t",
    "arrivals",
    "attempts",
    "goodput",
    "throughput",
    "wasted",
    "refused",
    "queue",
    "in_flight",
    "done",
    "pending",
)


def calendar_bucket(p: ServiceParams) -> float:
    """The scheduler bucket for this model: about 200 worker completions per bucket
    (1 s at most). Speed only: the scheduler pops in the same order at any bucket size."""
    per_second = (p.workers or 100) / p.service_time
    return min(1.0, max(0.001, 200.0 / per_second))


@dataclass(slots=True)
class ServiceResult:
    policy: str
    seed: int
    recovered: bool
    recovery_s: float | None
    peak_queue: int
    peak_in_flight: int
    requests: int
    succeeded: int
    failed: int
    attempts: int
    completions: int
    wasted: int
    restarts: int
    events: int
    horizon: float
    samples: list[tuple[float, ...]] = field(repr=False)
    counters: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    milestones: dict[str, float | None] = field(default_factory=dict)

    @property
    def goodput(self) -> float:
        """Successful responses per second over the whole run."""
        return self.succeeded / self.horizon

    @property
    def useful_fraction(self) -> float:
        """The share of the server's completed work that some client was still waiting for."""
        return self.succeeded / self.completions if self.completions else 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "seed": self.seed,
            "recovered": self.recovered,
            "recovery_s": self.recovery_s,
            "peak_queue_depth": self.peak_queue,
            "peak_in_flight": self.peak_in_flight,
            "goodput_per_s": round(self.goodput, 3),
            "useful_work_fraction": round(self.useful_fraction, 4),
            "requests": self.requests,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "attempts": self.attempts,
            "completions": self.completions,
            "wasted": self.wasted,
            "restarts": self.restarts,
            "events": self.events,
            "milestones": self.milestones,
            "counters": self.counters,
        }


class ServiceModel:
    """One run. `on_success(request, now)` and `handlers` let a larger model (the
    October 2025 chain) hang its later stages on the same clock."""

    def __init__(
        self,
        params: ServiceParams,
        policy: Policy,
        seed: int,
        *,
        on_success: Callable[[int, float], None] | None = None,
        sched: Scheduler | None = None,
    ) -> None:
        params.check()
        self.p = p = params
        self.policy = policy
        self.seed = seed
        self.rng = random.Random(f"cascade/{seed}")
        self.sched = sched or Scheduler(calendar_bucket(params))
        self.on_success = on_success
        self.handlers: dict[str, Callable[[Event], None]] = {}
        name = policy.label
        self.queue: WorkQueue[tuple[int, int]] = WorkQueue(
            max_depth=min(p.admitted_depth if policy.admission else NO_LIMIT, p.buffer or NO_LIMIT),
            deadline_drop=policy.deadline_drop,
            margin=p.service_time * (1.0 + p.service_jitter),
            lifo_above=p.lifo_threshold if policy.lifo else NO_LIMIT,
            name=name,
        )
        self.backoff = (
            Backoff(p.backoff_base, p.backoff_cap, name=name) if policy.backoff_jitter else None
        )
        self.budget = (
            RetryThrottle(p.budget_tokens, p.budget_ratio, name=name)
            if policy.retry_budget
            else None
        )
        self.throttle = (
            AdaptiveThrottle(p.throttle_k, p.throttle_window, name=name)
            if policy.adaptive_throttle
            else None
        )
        self.live: list[int] = []  # per request: attempt token in flight, or a DONE/IDLE mark
        self.tries: list[int] = []  # attempts in the current cycle
        self.timeouts: deque[tuple[float, int, int]] = deque()
        self.timer_pending = False
        self.token = 0
        self.idle = list(range(p.workers or 0))
        self.working: list[tuple[float, tuple[int, int]] | None] = [None] * (p.workers or 0)
        self.server_timeout = p.server_timeout
        self.on_drop = self.dropped if p.server_timeout else None
        self.in_flight = 0
        self.paused = False
        self.rate = 0.0
        self.arrive_epoch = 0
        self.unbounded = p.workers is None
        self.sharing: list[tuple[float, int, int]] = []  # (progress at completion, r, token)
        self.progress = 0.0  # work units every shared attempt has received since 0
        self.progress_at = 0.0
        self.sharing_epoch = 0
        self.admit_limit = p.admitted_depth if policy.admission else NO_LIMIT
        # totals and the current sample's counts
        self.n = dict.fromkeys(("attempts", "completions", "wasted", "succeeded", "failed"), 0)
        self.win = dict.fromkeys(
            ("arrivals", "attempts", "goodput", "throughput", "wasted", "refused"), 0
        )
        self.samples: list[tuple[float, ...]] = []
        self.peak_queue = 0
        self.peak_in_flight = 0
        self.restarts = 0
        self.good_since_check = 0
        self.last_done_at: float | None = None
        self.events = 0

    # -- requests --------------------------------------------------------------------------

    def new_request(self) -> int:
        r = len(self.live)
        self.live.append(IDLE)
        self.tries.append(0)
        self.win["arrivals"] += 1
        return r

    def send(self, r: int) -> None:
        now = self.sched.now
        if self.throttle is not None and self.throttle.should_reject(now, self.rng):
            self.tries[r] += 1
            self.fail(r, timed_out=False)
            return
        self.token += 1
        token = self.token
        self.live[r] = token
        self.tries[r] += 1
        self.n["attempts"] += 1
        self.win["attempts"] += 1
        if self.unbounded:
            if self.in_flight >= self.admit_limit:
                self.win["refused"] += 1
                self.fail(r, timed_out=False)
                return
            self.start_service(r, token)
        else:
            if not self.queue.offer(now + self.p.timeout, (r, token)):
                self.win["refused"] += 1
                self.fail(r, timed_out=False)
                return
            depth = len(self.queue)
            if depth > self.peak_queue:
                self.peak_queue = depth
            if self.idle and not self.paused:
                self.dispatch()
        if self.server_timeout:
            return
        self.timeouts.append((now + self.p.timeout, r, token))
        if not self.timer_pending:
            self.timer_pending = True
            self.sched.at(now + self.p.timeout, TIMEOUT)

    def service_time(self) -> float:
        p = self.p
        s = p.service_time + p.service_per_concurrency * self.in_flight
        if p.service_jitter:
            s *= 1.0 + p.service_jitter * (2.0 * self.rng.random() - 1.0)
        return s

    def start_service(self, r: int, token: int) -> None:
        """Processor sharing: a new attempt needs one unit of work, like every other."""
        self.advance_sharing()
        work = 1.0
        if self.p.service_jitter:
            work += self.p.service_jitter * (2.0 * self.rng.random() - 1.0)
        heapq.heappush(self.sharing, (self.progress + work, r, token))
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight
        self.next_sharing_completion()

    def advance_sharing(self) -> None:
        now = self.sched.now
        p = self.p
        speed = p.service_time + p.service_per_concurrency * self.in_flight
        self.progress += (now - self.progress_at) / speed
        self.progress_at = now

    def next_sharing_completion(self) -> None:
        self.sharing_epoch += 1
        if self.sharing:
            p = self.p
            speed = p.service_time + p.service_per_concurrency * self.in_flight
            wait = max(0.0, (self.sharing[0][0] - self.progress) * speed)
            self.sched.after(wait, DONE, 0, self.sharing_epoch)

    def sharing_done(self, epoch: int) -> None:
        if epoch != self.sharing_epoch:
            return
        self.advance_sharing()
        _, r, token = heapq.heappop(self.sharing)
        self.in_flight -= 1
        self.completed(r, token)
        self.next_sharing_completion()

    def dispatch(self) -> None:
        now = self.sched.now
        while self.idle:
            entry = self.queue.take(now, self.on_drop)
            if entry is None:
                return
            w = self.idle.pop()
            self.working[w] = entry
            self.in_flight += 1
            if self.in_flight > self.peak_in_flight:
                self.peak_in_flight = self.in_flight
            self.sched.after(self.service_time(), DONE, w)

    def dropped(self, entry: tuple[float, tuple[int, int]]) -> None:
        """Server-side expiry: expired or restarted work goes back to its host, which asks
        again at its next check."""
        r, token = entry[1]
        if self.live[r] == token:
            self.live[r] = IDLE
            self.tries[r] = 0
            self.sched.after(self.spread(self.p.recheck), SEND, r)

    def spread(self, delay: float) -> float:
        """Periodic checks are not synchronised: each host's next one is `delay` +- jitter."""
        j = self.p.recheck_jitter
        return delay * (1.0 - j + 2.0 * j * self.rng.random()) if j else delay

    def completed(self, r: int, token: int, deadline: float = 0.0) -> None:
        self.n["completions"] += 1
        self.win["throughput"] += 1
        now = self.sched.now
        if self.live[r] != token:
            self.n["wasted"] += 1
            self.win["wasted"] += 1
            return
        if self.server_timeout and now > deadline:
            self.n["wasted"] += 1
            self.win["wasted"] += 1
            self.fail(r, timed_out=True)
            return
        self.live[r] = DONE_OK
        self.n["succeeded"] += 1
        self.win["goodput"] += 1
        self.good_since_check += 1
        self.last_done_at = now
        if self.budget is not None:
            self.budget.on_success()
        if self.throttle is not None:
            self.throttle.on_accept(now)
        if self.on_success is not None:
            self.on_success(r, now)

    def fail(self, r: int, *, timed_out: bool) -> None:
        """Attempt lost (timed out or refused): retry, wait for the next check, or give up."""
        p = self.p
        self.live[r] = IDLE
        if self.budget is not None:
            self.budget.on_failure()
        exhausted = p.max_attempts is not None and self.tries[r] >= p.max_attempts
        if not exhausted and self.budget is not None and not self.budget.allow_retry():
            exhausted = True
        if exhausted:
            if p.persistent:
                self.tries[r] = 0
                self.sched.after(self.spread(p.recheck), SEND, r)
            else:
                self.live[r] = GAVE_UP
                self.n["failed"] += 1
            return
        if self.backoff is not None:
            delay = self.backoff.delay(self.tries[r] - 1, self.rng)
        else:
            delay = p.retry_delay if timed_out else 0.0
        if not timed_out:
            delay = max(delay, self.spread(p.refused_delay))
        if delay > 0.0:
            self.sched.after(delay, SEND, r)
        else:
            self.send(r)

    # -- events ----------------------------------------------------------------------------

    def on_timeout(self) -> None:
        now = self.sched.now
        timeouts = self.timeouts
        live = self.live
        while timeouts and timeouts[0][0] <= now:
            _, r, token = timeouts.popleft()
            if live[r] == token:
                self.fail(r, timed_out=True)
        if timeouts:
            self.sched.at(timeouts[0][0], TIMEOUT)
        else:
            self.timer_pending = False

    def on_sample(self) -> None:
        now = self.sched.now
        w = self.win
        done = self.n["succeeded"]
        pending = len(self.live) - done - self.n["failed"]
        self.samples.append(
            (
                now,
                w["arrivals"],
                w["attempts"],
                w["goodput"],
                w["throughput"],
                w["wasted"],
                w["refused"],
                len(self.queue),
                self.in_flight,
                done,
                pending,
            )
        )
        for k in w:
            w[k] = 0
        self.sched.after(self.p.sample, SAMPLE)

    def on_restart_check(self) -> None:
        """`restart`: drop the queue when nothing useful happened for `restart_after` s."""
        now = self.sched.now
        if now > self.p.trigger_end and self.good_since_check == 0 and len(self.queue) > 0:
            self.queue.clear(self.on_drop)
            self.restarts += 1
        self.good_since_check = 0
        self.sched.after(self.p.restart_after, RESTART)

    def schedule_arrival(self) -> None:
        if self.rate > 0.0:
            self.sched.after(self.rng.expovariate(self.rate), ARRIVE, 0, self.arrive_epoch)

    def prime(self) -> None:
        p, at = self.p, self.sched.at
        for i, (t, _) in enumerate(p.rates):
            at(t, RATE, i)
        for i, (t, _) in enumerate(p.bursts):
            at(t, BURST, i)
        for start, end in p.outages:
            at(start, OUTAGE)
            at(end, RESUME)
        at(p.sample, SAMPLE)
        if self.policy.restart:
            at(p.restart_after, RESTART)

    def run(self, progress: Callable[[float], None] | None = None) -> ServiceResult:
        self.prime()
        sched, p = self.sched, self.p
        horizon = p.horizon
        tick = horizon / 50
        next_tick = tick
        handlers = self.handlers
        working, idle, live, queue = self.working, self.idle, self.live, self.queue
        pop = sched.pop
        events = 0
        while True:
            ev = pop(horizon)
            if ev is None:
                break
            events += 1
            _, _, kind, target, epoch = ev
            if kind == DONE:
                if self.unbounded:
                    self.sharing_done(epoch)
                else:
                    self.in_flight -= 1
                    item = working[target]
                    working[target] = None
                    idle.append(target)
                    if item is not None:
                        self.completed(item[1][0], item[1][1], item[0])
                    if not self.paused and len(queue):
                        self.dispatch()
            elif kind == SEND:
                if live[target] == IDLE:
                    self.send(target)
            elif kind == TIMEOUT:
                self.on_timeout()
            elif kind == ARRIVE:
                if epoch == self.arrive_epoch:
                    self.send(self.new_request())
                    self.schedule_arrival()
            elif kind == SAMPLE:
                self.on_sample()
                if progress is not None and sched.now >= next_tick:
                    progress(sched.now)
                    next_tick += tick
            elif kind == BURST:
                for _ in range(p.bursts[target][1]):
                    self.send(self.new_request())
            elif kind == RATE:
                self.rate = p.rates[target][1]
                self.arrive_epoch += 1
                self.schedule_arrival()
            elif kind == OUTAGE:
                self.paused = True
            elif kind == RESUME:
                self.paused = False
                self.dispatch()
            elif kind == RESTART:
                self.on_restart_check()
            else:
                handlers[kind](ev)
        self.events += events
        if progress is not None:
            progress(horizon)
        return self.result()

    # -- verdict ---------------------------------------------------------------------------

    def recovery(self) -> tuple[bool, float | None]:
        p = self.p
        if p.persistent:
            pending = len(self.live) - self.n["succeeded"] - self.n["failed"]
            if not self.live:
                return True, 0.0  # nothing was lost, nothing to re-establish
            if pending or self.last_done_at is None:
                return False, None
            return True, max(0.0, self.last_done_at - p.trigger_end)
        k = max(1, round(p.judge_window / p.sample))
        arrivals = [row[1] for row in self.samples]
        goodput = [row[3] for row in self.samples]
        start: float | None = None
        for i, row in enumerate(self.samples):
            lo = max(0, i - k + 1)
            healthy = sum(goodput[lo : i + 1]) >= p.healthy_fraction * sum(arrivals[lo : i + 1])
            if not healthy:
                start = None
            elif start is None:
                start = row[0] - p.sample * (i + 1 - lo)
        if start is None or p.horizon - start < p.settle:
            return False, None
        return True, max(0.0, start - p.trigger_end)

    def result(self) -> ServiceResult:
        recovered, recovery_s = self.recovery()
        counters = {"queue": self.queue.counters.snapshot()}
        for name, part in (
            ("backoff", self.backoff),
            ("retry-budget", self.budget),
            ("adaptive-throttle", self.throttle),
        ):
            if part is not None:
                counters[name] = part.counters.snapshot()
        return ServiceResult(
            policy=self.policy.label,
            seed=self.seed,
            recovered=recovered,
            recovery_s=recovery_s,
            peak_queue=self.peak_queue,
            peak_in_flight=self.peak_in_flight,
            requests=len(self.live),
            succeeded=self.n["succeeded"],
            failed=self.n["failed"],
            attempts=self.n["attempts"],
            completions=self.n["completions"],
            wasted=self.n["wasted"],
            restarts=self.restarts,
            events=self.events,
            horizon=self.p.horizon,
            samples=self.samples,
            counters=counters,
        )
