"""Scenario knobs and fault schedules: what can go wrong, when, and to whom.

Rules kept here: a schedule is plain data (it goes into the trace header, so a run can
be replayed from its header alone); random schedules are drawn only from the
`random.Random` passed in, never from the global generator; every number is a
parameter of the simulation, none is an AWS value.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# fault kinds; `target` is an enactor index where it matters
PAUSE = "pause"  # the enactor stops between two steps for `length` seconds
CRASH = "crash"  # the enactor loses its state; restarts after `length` seconds
SLOW_WRITES = "slow-writes"  # write latency multiplied by `factor` for everyone
FAILING_WRITES = "failing-writes"  # writes fail (not applied) with probability `p`
LOST_REPLIES = "lost-replies"  # writes are applied but the reply is lost with probability `p`
STALE_READS = "stale-reads"  # the target reads the newest generation `lag` seconds old
PLANNER_BURST = "planner-burst"  # the planner publishes `count` plans at once
CLEANUP_CRASH = "cleanup-crash"  # the target crashes half-way through its next clean-up
LOCK_CONTENTION = "lock-contention"  # the target loses lock races with probability `p`
CORRUPT = "corrupt"  # an endpoint is put in an inconsistent state (L2)

KINDS = (
    PAUSE,
    CRASH,
    SLOW_WRITES,
    FAILING_WRITES,
    LOST_REPLIES,
    STALE_READS,
    PLANNER_BURST,
    CLEANUP_CRASH,
    LOCK_CONTENTION,
)
CORRUPTIONS = ("empty", "mismatch", "dangling")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    at: float
    length: float = 0.0
    target: int = 0
    p: float = 1.0
    factor: float = 1.0
    count: int = 1
    detail: str = ""

    def active(self, now: float) -> bool:
        return self.at <= now < self.at + self.length


@dataclass(frozen=True, slots=True)
class Knobs:
    """Everything that shapes one run besides the seed."""

    enactors: int = 3
    endpoints: int = 4
    duration: float = 20.0  # load and faults stop here
    quiet: float = 20.0  # then the system must converge (L1) and repair (L2)
    plan_interval: float = 1.0
    read_latency: float = 0.005
    write_latency: float = 0.05
    poll_interval: float = 0.5
    backoff_base: float = 0.05
    backoff_cap: float = 2.0
    retention: int = 3
    keep_newest: int = 3
    batch_size: int = 1
    reconcile_interval: float = 1.0
    operator_repair_after: float = -1.0  # < 0: no operator; else repair after this long empty
    faults: tuple[Fault, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["faults"] = [asdict(f) for f in self.faults]
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Knobs:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in body.items() if k in names and k != "faults"}
        faults = tuple(Fault(**f) for f in body.get("faults", ()))
        return cls(**values, faults=faults)


def random_knobs(rng: random.Random) -> Knobs:
    """Knobs and a fault schedule for one swarm seed, drawn from `rng` only."""
    duration = 20.0
    knobs = Knobs(
        duration=duration,
        plan_interval=rng.choice((0.2, 0.5, 1.0, 2.0)),
        write_latency=rng.choice((0.01, 0.05, 0.2)),
        poll_interval=rng.choice((0.2, 0.5, 1.0)),
        backoff_cap=rng.choice((0.1, 0.5, 2.0, 5.0)),
        retention=rng.randint(1, 5),
        keep_newest=rng.randint(1, 3),
        batch_size=rng.choice((1, 2, 100)),
    )
    faults = [random_fault(rng, knobs) for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.3:
        faults.append(
            Fault(
                CORRUPT,
                duration,
                target=rng.randrange(knobs.endpoints),
                detail=rng.choice(CORRUPTIONS),
            )
        )
    faults.sort(key=lambda f: (f.at, f.kind, f.target))
    return _replace_faults(knobs, tuple(faults))


def random_fault(rng: random.Random, knobs: Knobs) -> Fault:
    kind = rng.choice(KINDS)
    at = round(rng.uniform(0.0, knobs.duration * 0.8), 3)
    length = round(rng.uniform(0.5, knobs.duration / 2), 3)
    target = rng.randrange(knobs.enactors)
    if kind == PAUSE and rng.random() < 0.3:
        length = round(rng.uniform(knobs.duration / 2, knobs.duration), 3)  # minutes-long
    return Fault(
        kind,
        at,
        length,
        target,
        p=round(rng.uniform(0.3, 0.95), 3),
        factor=rng.choice((5.0, 20.0, 100.0)),
        count=rng.randint(2, 8),
    )


def _replace_faults(knobs: Knobs, faults: tuple[Fault, ...]) -> Knobs:
    body = {f.name: getattr(knobs, f.name) for f in fields(Knobs)}
    body["faults"] = faults
    return Knobs(**body)
