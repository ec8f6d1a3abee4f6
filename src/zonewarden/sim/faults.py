"""Scenario knobs and fault schedules: what can go wrong, when, and to whom.

Rules kept here: one frozen dataclass per fault kind, holding only what that kind
means (a stale read's `lag` is seconds, a slow write's `factor` a multiplier); a
schedule is plain data (it goes into the trace header, so a run can be replayed from
its header alone); random schedules are drawn only from the
`random.Random` passed in, never from the global generator; every number is a
parameter of the simulation, none is an AWS value.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


class _Window:
    """A fault is active from `at` for `length` seconds (every kind has both)."""

    __slots__ = ()
    at: float
    length: float

    def active(self, now: float) -> bool:
        return self.at <= now < self.at + self.length


# one dataclass per kind; `target` is an enactor index (an endpoint index for Corrupt)
@dataclass(frozen=True, slots=True)
class Pause(_Window):
    """The enactor stops between two steps for `length` seconds."""

    kind: ClassVar[str] = "pause"
    at: float
    length: float
    target: int = 0


@dataclass(frozen=True, slots=True)
class Crash(_Window):
    """The enactor loses its state; it restarts after `length` seconds."""

    kind: ClassVar[str] = "crash"
    at: float
    length: float
    target: int = 0


@dataclass(frozen=True, slots=True)
class SlowWrites(_Window):
    """Write latency multiplied by `factor` for everyone."""

    kind: ClassVar[str] = "slow-writes"
    at: float
    length: float
    factor: float = 1.0


@dataclass(frozen=True, slots=True)
class FailingWrites(_Window):
    """Writes fail (not applied) with probability `p`."""

    kind: ClassVar[str] = "failing-writes"
    at: float
    length: float
    p: float = 1.0


@dataclass(frozen=True, slots=True)
class LostReplies(_Window):
    """Writes are applied but the reply is lost with probability `p`."""

    kind: ClassVar[str] = "lost-replies"
    at: float
    length: float
    p: float = 1.0


@dataclass(frozen=True, slots=True)
class StaleReads(_Window):
    """The target reads the newest generation as it was `lag` seconds ago."""

    kind: ClassVar[str] = "stale-reads"
    at: float
    length: float
    target: int = 0
    lag: float = 1.0


@dataclass(frozen=True, slots=True)
class PlannerBurst(_Window):
    """The planner publishes `count` plans at once (at `at`)."""

    kind: ClassVar[str] = "planner-burst"
    at: float
    length: float = 0.0
    count: int = 1


@dataclass(frozen=True, slots=True)
class CleanupCrash(_Window):
    """The target crashes half-way through its next clean-up."""

    kind: ClassVar[str] = "cleanup-crash"
    at: float
    length: float
    target: int = 0


@dataclass(frozen=True, slots=True)
class LockContention(_Window):
    """The target loses lock races with probability `p`."""

    kind: ClassVar[str] = "lock-contention"
    at: float
    length: float
    target: int = 0
    p: float = 1.0


@dataclass(frozen=True, slots=True)
class Corrupt(_Window):
    """Endpoint number `target` is put in the inconsistent state `how` (L2)."""

    kind: ClassVar[str] = "corrupt"
    at: float
    length: float = 0.0
    target: int = 0
    how: str = "empty"


@dataclass(frozen=True, slots=True)
class IncidentSkew(_Window):
    """The incident's contention (sim.scenarios): enactor `target` loses every race for
    `endpoint` while its plan is fewer than `generations` behind what is live there."""

    kind: ClassVar[str] = "incident-skew"
    at: float
    length: float
    target: int = 0
    endpoint: str = ""
    generations: int = 1


Fault = (
    Pause
    | Crash
    | SlowWrites
    | FailingWrites
    | LostReplies
    | StaleReads
    | PlannerBurst
    | CleanupCrash
    | LockContention
    | Corrupt
    | IncidentSkew
)
BY_KIND: dict[str, type[Fault]] = {
    c.kind: c
    for c in (
        Pause,
        Crash,
        SlowWrites,
        FailingWrites,
        LostReplies,
        StaleReads,
        PlannerBurst,
        CleanupCrash,
        LockContention,
        Corrupt,
        IncidentSkew,
    )
}
# the kinds a swarm seed draws from, in the order its draws depend on
KINDS = (
    Pause.kind,
    Crash.kind,
    SlowWrites.kind,
    FailingWrites.kind,
    LostReplies.kind,
    StaleReads.kind,
    PlannerBurst.kind,
    CleanupCrash.kind,
    LockContention.kind,
)
CORRUPTIONS = ("empty", "mismatch", "dangling")


def fault_json(f: Fault) -> dict[str, Any]:
    return {"kind": f.kind, **asdict(f)}


def fault_from_json(body: Mapping[str, Any]) -> Fault:
    values = dict(body)
    kind = values.pop("kind")
    if kind not in BY_KIND:
        raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(BY_KIND)})")
    return BY_KIND[kind](**values)


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
        body = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "faults"}
        body["faults"] = [fault_json(f) for f in self.faults]
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Knobs:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in body.items() if k in names and k != "faults"}
        faults = tuple(fault_from_json(f) for f in body.get("faults", ()))
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
            Corrupt(duration, target=rng.randrange(knobs.endpoints), how=rng.choice(CORRUPTIONS))
        )
    faults.sort(key=lambda f: (f.at, f.kind, getattr(f, "target", 0)))
    return _replace_faults(knobs, tuple(faults))


def random_fault(rng: random.Random, knobs: Knobs) -> Fault:
    kind = rng.choice(KINDS)
    at = round(rng.uniform(0.0, knobs.duration * 0.8), 3)
    length = round(rng.uniform(0.5, knobs.duration / 2), 3)
    target = rng.randrange(knobs.enactors)
    if kind == Pause.kind and rng.random() < 0.3:
        length = round(rng.uniform(knobs.duration / 2, knobs.duration), 3)  # minutes-long
    # every kind draws all three, so a seed's schedule does not depend on which it got
    p = round(rng.uniform(0.3, 0.95), 3)
    factor = rng.choice((5.0, 20.0, 100.0))
    count = rng.randint(2, 8)
    if kind == SlowWrites.kind:
        return SlowWrites(at, length, factor=factor)
    if kind == FailingWrites.kind:
        return FailingWrites(at, length, p=p)
    if kind == LostReplies.kind:
        return LostReplies(at, length, p=p)
    if kind == StaleReads.kind:
        return StaleReads(at, length, target, lag=factor)  # seconds: 5, 20 or 100
    if kind == PlannerBurst.kind:
        return PlannerBurst(at, length, count=count)
    if kind == LockContention.kind:
        return LockContention(at, length, target, p=p)
    if kind == Pause.kind:
        return Pause(at, length, target)
    if kind == Crash.kind:
        return Crash(at, length, target)
    return CleanupCrash(at, length, target)


def _replace_faults(knobs: Knobs, faults: tuple[Fault, ...]) -> Knobs:
    body = {f.name: getattr(knobs, f.name) for f in fields(Knobs)}
    body["faults"] = faults
    return Knobs(**body)
