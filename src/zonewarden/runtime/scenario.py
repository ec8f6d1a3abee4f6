"""`up --scenario race`: the October 2025 trigger replayed live on the real processes.

The demo region runs with a planner that publishes quickly, short plan retention, and
one enactor (the victim, az1) made slow (a delay before each write). The scenario then
loops: pause the victim with SIGSTOP while it holds a plan, keep it paused until the
others have moved about `retention` generations past that plan (so its plan is old but
still stored), resume it, let it run briefly, and pause it again.

- safe: every stale write of the victim is fenced out (the dashboard counts them) and
  DNS never answers empty;
- legacy: the victim's unconditional write of an old plan lands, the others' age-only
  clean-up then deletes that plan and its records: the name answers NOERROR with no
  addresses, and every enactor is stuck on the dangling pointer until `zonewarden repair`.

Rules kept here: the pause decision reads only the store (newest generation and the
victim's last heartbeat), so it behaves the same for any store; every pause and resume
is logged once with its reason.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Protocol

from zonewarden.config.demo import demo_toml
from zonewarden.ports import RegionStore

log = logging.getLogger("zonewarden.scenario")
VICTIM = "az1"
WRITES = frozenset({"write", "fenced", "legacy-write", "advance"})
RETENTION = 6
EXTRA_ENDPOINTS = 0
VICTIM_ARGS = ["--plan-delay", "0.3", "--write-delay", "0.02", "--poll-interval", "0.003"]
OTHERS_ARGS = ["--write-delay", "0.01"]  # a pass takes a few tens of ms, as real ones do


class Signalled(Protocol):
    def send_signal(self, sig: int) -> None: ...

    def poll(self) -> int | None: ...


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
    retention: int = RETENTION
    run_for: tuple[float, float] = (0.15, 0.4)  # seconds the victim runs between pauses
    max_pause: float = 4.0
    paused_at: float | None = None
    held: int = 0  # the generation the victim held when paused
    next_pause: float = field(default_factory=lambda: time.monotonic() + 1.0)
    pauses: int = 0
    _flip: bool = False
    _cursor: int = 0  # audit sequence read so far
    _victim_gen: int = 0  # the plan the victim last wrote (or was fenced) with
    _others_gen: int = 0  # the newest plan another enactor has started writing

    def tick(self, now: float | None = None) -> None:
        """Call often (every ~0.05 s): pause or resume the victim as the plan moves on."""
        now = time.monotonic() if now is None else now
        self._follow()
        if self.victim is None or self.victim.poll() is not None:
            self.paused_at = None
            return
        if self.paused_at is None:
            if now >= self.next_pause:
                self.held = self._held_plan()
                self.victim.send_signal(signal.SIGSTOP)
                self.paused_at, self.pauses = now, self.pauses + 1
            return
        newest = int(self.store.newest())
        # resume as another enactor starts the first plan whose clean-up removes the held
        # one: the victim's stale write lands just before that clean-up (the 2025 timing)
        old_enough = self._others_gen > self.held + self.retention
        if old_enough or now - self.paused_at > self.max_pause:
            self.victim.send_signal(signal.SIGCONT)
            log.info(
                "race: resumed %s holding plan %d (newest %d) after %.2fs",
                VICTIM,
                self.held,
                newest,
                now - self.paused_at,
            )
            self.paused_at = None
            self._flip = not self._flip
            lo, hi = self.run_for
            self.next_pause = now + (lo if self._flip else hi)

    def _follow(self) -> None:
        while True:
            events = self.store.audit_log(after=self._cursor, limit=5000)
            if not events:
                return
            for e in events:
                if not e.generation or e.kind not in WRITES:
                    continue
                if e.actor == VICTIM:
                    self._victim_gen = int(e.generation)
                elif e.actor != "planner":
                    self._others_gen = max(self._others_gen, int(e.generation))
            self._cursor = events[-1].seq

    def _held_plan(self) -> int:
        """The plan the victim holds: its heartbeat is written the moment it picks one."""
        for beat in self.store.heartbeats():
            if beat.actor == VICTIM and beat.generation:
                return int(beat.generation)
        return self._victim_gen or int(self.store.newest())

    def resume(self) -> None:
        if self.victim is not None and self.paused_at is not None:
            self.victim.send_signal(signal.SIGCONT)
            self.paused_at = None
