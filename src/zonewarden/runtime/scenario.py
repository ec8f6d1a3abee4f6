"""`up --scenario race`: the October 2025 trigger replayed live on the real processes.

The demo region runs with a planner that publishes quickly, short plan retention, and
one enactor (the victim, az1) made slow (a delay after choosing a plan, before writing
it). The replay loops, and each step waits on what the store shows, never on time:

1. pause the victim with SIGSTOP as soon as its heartbeat says it chose a plan H and
   before it wrote any of it (it now dawdles holding no lock);
2. wait until another enactor B has moved more than `retention` generations past H, so
   that B's clean-up is the one that removes H;
3. resume the victim: its stale writes of H land (legacy) or are fenced out (safe).

- safe: every stale write of the victim is fenced out (the dashboard counts them) and
  DNS never answers empty;
- legacy: the 2025 order is enforced every time. The replay holds the legacy lock of the
  plan's last endpoint (the per-endpoint lock of 2025, behind which writers back off),
  so B's pass of a plan past H + retention stops just before its age-only clean-up. The
  victim is resumed only then: its unconditional writes of H land on the endpoints B has
  just written; the victim and the other enactors are paused, the lock is released, and
  B's clean-up deletes H with its records: those names answer NOERROR with no addresses,
  and every enactor is stuck on the dangling pointer until `zonewarden repair` (the
  replay ends there, so a repaired region stays repaired). A step that does not come
  within its bound abandons the round (said in the log) and a new one starts.

Rules kept here: every decision reads only the store (audit log, heartbeats, newest
generation), so it behaves the same for any store; every pause and resume is logged
once with its reason; nothing is left paused or locked by `resume()`.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, cast

from zonewarden.config.demo import demo_toml
from zonewarden.core.model import EndpointName, Generation
from zonewarden.ports import LegacyStore, RegionStore

log = logging.getLogger("zonewarden.scenario")
VICTIM = "az1"
WRITES = frozenset({"write", "fenced", "legacy-write", "advance"})
RETENTION = 6
EXTRA_ENDPOINTS = 0
VICTIM_ARGS = ["--plan-delay", "0.3", "--write-delay", "0.02", "--poll-interval", "0.003"]
OTHERS_ARGS = ["--write-delay", "0.01"]  # a pass takes a few tens of ms, as real ones do
OWNER = "race-replay"  # the barrier lock's owner
LOCK_TTL = 30.0  # longer than any round; the replay unlocks it itself
STEP_BOUND = 5.0  # seconds one step of a round may take before the round is abandoned
FAST_POLL = 0.01
FRESH_CHOICE = 0.2  # s: a choice this recent means the victim is in its 0.3 s plan delay  # seconds between store reads while a step is about to happen


class Signalled(Protocol):
    def send_signal(self, sig: int) -> None: ...

    def poll(self) -> int | None: ...


class Step(StrEnum):
    RUNNING = "running"  # the victim runs; pause it when it next chooses a plan
    PAUSED = "paused"  # wait for the others to move past the held plan
    BARRIER = "barrier"  # legacy: the last endpoint is locked; wait for B's pass there
    REARM = "rearm"  # legacy: the barrier was lifted for passes too young; re-take it
    STALE = "stale"  # legacy: the victim writes its stale plan
    CLEANUP = "cleanup"  # legacy: only B runs; wait for its clean-up to delete H


def race_toml(protocol: str) -> str:
    """The demo region tuned for the race: fast plans, small batches, short retention."""
    text = demo_toml(planner_interval=0.05, protocol=protocol)
    text = text.replace(
        "poll_interval = 0.2",
        "poll_interval = 0.02\nbatch_size = 1\n"
        f"retention = {RETENTION}\nkeep_newest = 2\nhistory_age = 0\nhistory_count = 0\n"
        "backoff_base = 0.005\nbackoff_cap = 0.05",
    )
    text = text.replace("[planner]", "[planner]\nmax_removal = 1.0")
    # more names, more stale writes per pause: the 2025 race needs only one to land
    extra = [
        f'[[endpoint]]\nname = "svc{i:02d}.us-east-1.example."\nlbs = "*"\ntypes = ["A"]\nttl = 5\n'
        for i in range(1, EXTRA_ENDPOINTS + 1)
    ]
    return text + "\n" + "\n".join(extra)


@dataclass
class RaceScenario:
    store: RegionStore
    victim: Signalled | None = None
    others: Mapping[str, Signalled] = field(default_factory=dict)  # enactor id -> process
    protocol: str = "safe"
    retention: int = RETENTION
    run_for: tuple[float, float] = (0.15, 0.4)  # seconds the victim runs between pauses
    max_pause: float = 4.0  # safe: resume anyway after this long
    say: Callable[[str], None] = log.warning  # what a round did, for the user
    step: Step = Step.RUNNING
    step_at: float = 0.0
    held: int = 0  # the generation the victim held when paused
    next_pause: float = field(default_factory=lambda: time.monotonic() + 1.0)
    pauses: int = 0
    rounds: int = 0  # legacy rounds that ended with the held plan deleted under a stale write
    broke: bool = False  # legacy: a round left names empty; the replay is over
    writer: str = ""  # legacy: B, the enactor whose clean-up deletes the held plan
    _flip: bool = False
    _cursor: int = 0  # audit sequence read so far
    _victim_gen: int = 0  # the newest plan the victim wrote (or was fenced) with
    _others_gen: int = 0  # the newest plan another enactor has written (or was fenced)
    _last_write: dict[str, tuple[str, int]] = field(default_factory=dict)  # legacy-writes
    _cleaned: dict[str, str] = field(default_factory=dict)  # actor -> its last clean-up
    _barrier: str = ""  # the endpoint whose lock the replay holds, if any
    _stopped: set[str] = field(default_factory=set)  # others paused by the replay

    @property
    def paused_at(self) -> float | None:
        return None if self.step is Step.RUNNING else self.step_at

    def tick(self, now: float | None = None) -> None:
        """Call often (every ~0.05 s). While a step is about to happen it re-reads the
        store every few milliseconds for up to 0.05 s, so it reacts well within a pass."""
        until = time.monotonic() + 0.05
        while True:
            self._advance(now if now is not None else time.monotonic())
            if now is not None or self.step is Step.RUNNING or time.monotonic() >= until:
                return
            time.sleep(FAST_POLL)

    def _advance(self, now: float) -> None:
        self._follow()
        if self.victim is None or self.victim.poll() is not None:
            if self.step is not Step.RUNNING:
                self._abandon(now, "the victim is gone")
            return
        if self.step is Step.RUNNING:
            self._maybe_pause(now)
        elif self.step is Step.PAUSED:
            self._on_paused(now)
        elif now - self.step_at > STEP_BOUND:
            self._abandon(now, f"no progress in step {self.step} for {STEP_BOUND:.0f}s")
        elif self.step in (Step.BARRIER, Step.REARM):
            self._on_barrier(now)
        elif self.step is Step.STALE:
            self._on_stale(now)
        else:
            self._on_cleanup(now)

    # -- the steps ---------------------------------------------------------------------
    def _maybe_pause(self, now: float) -> None:
        if now < self.next_pause or self.broke:
            return  # legacy: the region is broken, and stays so after a repair
        chosen = self._chosen_plan()
        if chosen is None:
            return
        assert self.victim is not None
        self.victim.send_signal(signal.SIGSTOP)
        self.held, self.pauses = chosen, self.pauses + 1
        self._go(Step.PAUSED, now)
        log.info("race: paused %s holding plan %d", VICTIM, chosen)

    def _on_paused(self, now: float) -> None:
        if self.protocol != "legacy":
            # resume as another enactor reaches a plan whose clean-up may remove the held
            # one: the victim's stale writes come after that plan's (and are fenced)
            if self._others_gen > self.held + self.retention or now - self.step_at > self.max_pause:
                self._resume_victim(now, f"others at plan {self._others_gen}")
            return
        if int(self.store.newest()) >= self.held + self.retention:
            self._lock_barrier(now)
        elif now - self.step_at > STEP_BOUND:
            self._abandon(now, "the planner did not move on")

    def _on_barrier(self, now: float) -> None:
        names = self._names()
        if len(names) < 2:
            self._abandon(now, "the race needs two endpoints or more")
            return
        last, before = names[-1], names[-2]
        if self.step is Step.REARM:  # wait until the released passes are past the barrier
            if all(self._last_write.get(a, ("", 0))[0] != before for a in self._live_others()):
                self._lock_barrier(now)
            return
        waiting = {
            a: g
            for a in self._live_others()
            for n, g in [self._last_write.get(a, ("", 0))]
            if n == before
        }
        if not waiting or len(waiting) < len(self._live_others()):
            return  # some pass has not reached the barrier yet
        if not self._plan_exists(self.held):
            self._abandon(now, f"plan {self.held} was deleted before the stale write")
            return
        old_enough = [a for a, g in waiting.items() if g > self.held + self.retention]
        if not old_enough:  # every pass there is too young to delete H: let them finish
            self._unlock_barrier()
            self._go(Step.REARM, now)
            return
        self.writer = max(old_enough, key=lambda a: waiting[a])
        log.info(
            "race: %s wrote plan %d up to the locked %s; resuming %s holding plan %d",
            self.writer,
            waiting[self.writer],
            last,
            VICTIM,
            self.held,
        )
        assert self.victim is not None
        self.victim.send_signal(signal.SIGCONT)
        self._go(Step.STALE, now)

    def _on_stale(self, now: float) -> None:
        name, gen = self._last_write.get(VICTIM, ("", 0))
        names = self._names()
        if gen != self.held or name != names[-2]:
            return  # its stale writes are still landing
        assert self.victim is not None
        self.victim.send_signal(signal.SIGSTOP)
        for actor, proc in self.others.items():
            if actor != self.writer and proc.poll() is None:
                proc.send_signal(signal.SIGSTOP)
                self._stopped.add(actor)
        log.info(
            "race: %s's stale writes of plan %d landed; only %s runs now, to its clean-up",
            VICTIM,
            self.held,
            self.writer,
        )
        self._unlock_barrier()
        self._go(Step.CLEANUP, now)

    def _on_cleanup(self, now: float) -> None:
        if self.writer in self._cleaned and not self._plan_exists(self.held):
            self.rounds += 1
            empty = sorted(n for n, e in self.store.read_zone().items() if e.empty)
            self.broke = bool(empty)
            self.say(
                f"race: {VICTIM}'s stale writes of plan {self.held} landed, then "
                f"{self.writer}'s age-only clean-up deleted that plan: "
                + (
                    f"{', '.join(empty)} answer empty until `zonewarden repair` "
                    "(the replay stops here)"
                    if empty
                    else "nothing went empty (written anew since); another round follows"
                )
            )
            self._end_round(
                now,
                f"{self.writer}'s clean-up deleted plan {self.held}: {self._cleaned[self.writer]}",
            )

    # -- helpers -------------------------------------------------------------------------
    def _go(self, step: Step, now: float) -> None:
        self.step, self.step_at = step, now
        if step is Step.CLEANUP:
            self._cleaned.clear()

    def _abandon(self, now: float, why: str) -> None:
        if self.protocol == "legacy":
            self.say(f"race: round abandoned ({why}); another follows")
        self._end_round(now, why)

    def _end_round(self, now: float, why: str) -> None:
        self._unlock_barrier()
        for actor in sorted(self._stopped):
            proc = self.others.get(actor)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
        self._stopped.clear()
        self._resume_victim(now, why)

    def _resume_victim(self, now: float, why: str) -> None:
        if self.victim is not None and self.victim.poll() is None:
            self.victim.send_signal(signal.SIGCONT)
        log.info(
            "race: resumed %s holding plan %d (newest %d) after %.2fs: %s",
            VICTIM,
            self.held,
            int(self.store.newest()),
            now - self.step_at,
            why,
        )
        self.step, self.writer = Step.RUNNING, ""
        self._flip = not self._flip
        lo, hi = self.run_for
        self.next_pause = now + (lo if self._flip else hi)

    def _lock_barrier(self, now: float) -> None:
        names = self._names()
        locks = cast(LegacyStore, self.store)
        if names and locks.try_lock(names[-1], OWNER, now=time.time(), ttl=LOCK_TTL):
            self._barrier = names[-1]
            self._go(Step.BARRIER, now)

    def _unlock_barrier(self) -> None:
        if self._barrier:
            cast(LegacyStore, self.store).unlock(EndpointName(self._barrier), OWNER)
            self._barrier = ""

    def _follow(self) -> None:
        while True:
            events = self.store.audit_log(after=self._cursor, limit=5000)
            if not events:
                return
            for e in events:
                if e.kind == "legacy-cleanup":
                    self._cleaned[e.actor] = e.detail
                if not e.generation or e.kind not in WRITES:
                    continue
                if e.kind == "legacy-write":
                    self._last_write[e.actor] = (e.endpoint, int(e.generation))
                if e.actor == VICTIM:
                    self._victim_gen = max(self._victim_gen, int(e.generation))
                elif e.actor != "planner":
                    self._others_gen = max(self._others_gen, int(e.generation))
            self._cursor = events[-1].seq

    def _chosen_plan(self) -> int | None:
        """The plan the victim chose and has not written yet: its heartbeat is written the
        moment it picks one, then it dawdles (--plan-delay) holding no lock."""
        for beat in self.store.heartbeats():
            fresh = time.time() - beat.at < FRESH_CHOICE  # still dawdling, holding no lock
            if beat.actor == VICTIM and beat.generation > self._victim_gen and fresh:
                return int(beat.generation)
        return None

    def _names(self) -> tuple[EndpointName, ...]:
        return self.store.plan_names(self.store.newest())

    def _plan_exists(self, generation: int) -> bool:
        return self.store.header(Generation(generation)) is not None

    def _live_others(self) -> list[str]:
        return [a for a, p in self.others.items() if p.poll() is None]

    def resume(self) -> None:
        """Leave nothing paused or locked (on stop)."""
        if self.step is not Step.RUNNING or self._stopped or self._barrier:
            self._end_round(time.monotonic(), "the replay stops")
