"""Alarms: what is wrong in a region right now, ranked so the one that matters is on top.

In 2025 the root-cause alarm was lost among hundreds of others. This module turns one
read of the region (plain facts, no I/O) into a short list of alarms, one per cause,
sorted by rank: an endpoint answering empty first, then an empty answer refused at the
gate, then fail-static (the planner holding its last good plan), an enactor stalled, a
fence tripping repeatedly, endpoints lagging, and a freeze last. Many endpoints with one
cause make ONE alarm that counts them, never one alarm each.

Rules kept here:
- the rank of a kind is fixed in `RANKS` and nowhere else;
- every alarm says, in plain words, what happened and what to do;
- `since` is when the cause was first seen in the facts given (audit time or heartbeat
  time), so the caller never needs a clock of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

RANKS: Mapping[str, int] = {
    "endpoint-empty": 0,  # clients get no answer: the outage itself
    "empty-refused": 1,  # a write that would have emptied a name was stopped
    "fail-static": 2,  # the planner holds the last good plan: health inputs look wrong
    "enactor-stalled": 3,  # an enactor stopped reporting or stopped making progress
    "fence-repeated": 4,  # a stale enactor keeps trying old plans (the 2025 trigger)
    "endpoint-lagging": 5,  # endpoints far behind the newest plan
    "frozen": 6,  # operators stopped writes on purpose
}
# the planner heartbeat's phases while it holds its last good plan: "fail-static" when the
# evidence looks wrong (runtime/planner.py), "holding" when another gate refused the plan
HOLDING_PHASES = frozenset({"holding", "fail-static"})
SEVERITY: Mapping[str, str] = {
    "endpoint-empty": "critical",
    "empty-refused": "major",
    "fail-static": "major",
    "enactor-stalled": "minor",
    "fence-repeated": "minor",
    "endpoint-lagging": "minor",
    "frozen": "minor",
}


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: str
    subject: str  # an endpoint, an actor, or "region"
    message: str
    since: float
    count: int = 1

    @property
    def rank(self) -> int:
        return RANKS[self.kind]

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "rank": self.rank,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "since": self.since,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """The parts of an audit event alarms look at."""

    at: float
    actor: str
    kind: str
    endpoint: str = ""
    generation: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Beat:
    actor: str
    at: float
    generation: int
    phase: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    """One read of the region, as alarms need it."""

    now: float
    newest: int
    empty: Sequence[str]  # endpoints whose live record set is empty
    lagging: Mapping[str, int]  # endpoint -> generations behind (only those over max_lag)
    heartbeats: Sequence[Beat]
    recent: Sequence[Event]  # audit events of the last `window` seconds, any order
    frozen: bool = False
    window: float = 60.0
    stall_after: float = 10.0
    fence_threshold: int = 5


def region_alarms(f: AlarmFacts) -> list[Alarm]:
    """Every alarm the facts show, ranked (lowest rank first, then oldest first)."""
    alarms: list[Alarm] = []
    alarms += _empty(f)
    alarms += _refused(f.recent)
    alarms += _holding(f)
    alarms += _stalled(f)
    alarms += _fences(f)
    alarms += _lagging(f)
    if f.frozen:
        frozen_at = max((e.at for e in f.recent if e.kind == "freeze"), default=f.now)
        alarms.append(
            Alarm("frozen", "region", "writes are frozen: `zonewarden unfreeze` resumes", frozen_at)
        )
    return rank(alarms)


def rank(alarms: Iterable[Alarm]) -> list[Alarm]:
    return sorted(alarms, key=lambda a: (a.rank, a.since, a.subject))


def _names(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _empty(f: AlarmFacts) -> list[Alarm]:
    if not f.empty:
        return []
    return [
        Alarm(
            "endpoint-empty",
            _names(f.empty),
            f"{len(f.empty)} endpoint(s) answer with no records: {_names(f.empty)}; "
            "run `zonewarden repair` (it re-applies the newest valid plan)",
            f.now,
            len(f.empty),
        )
    ]


def _refused(recent: Sequence[Event]) -> list[Alarm]:
    refused = [e for e in recent if e.kind == "refused"]
    if not refused:
        return []
    names = sorted({e.endpoint for e in refused})
    return [
        Alarm(
            "empty-refused",
            _names(names),
            f"{len(refused)} write(s) refused because they would leave {_names(names)} empty "
            "or without weight; nothing was served empty, but the plan source is wrong",
            min(e.at for e in refused),
            len(refused),
        )
    ]


def _holding(f: AlarmFacts) -> list[Alarm]:
    planner = [b for b in f.heartbeats if b.actor == "planner" and b.phase in HOLDING_PHASES]
    if not planner:
        return []
    holds = [e.at for e in f.recent if e.kind == "hold"]
    why = planner[0].detail or "health inputs look implausible"
    return [
        Alarm(
            "fail-static",
            "planner",
            f"fail-static engaged: the planner holds the last good plan ({why}); "
            "check the health source before unfreezing anything",
            min(holds, default=planner[0].at),
        )
    ]


def _stalled(f: AlarmFacts) -> list[Alarm]:
    out = []
    for b in f.heartbeats:
        if b.actor == "planner" or b.actor.startswith(("operator", "reconciler")):
            continue
        age = f.now - b.at
        behind = f.newest - b.generation
        if age > f.stall_after:
            out.append(
                Alarm(
                    "enactor-stalled",
                    b.actor,
                    f"enactor {b.actor} last reported {age:.0f}s ago (at plan {b.generation}, "
                    f"{b.phase}); its process may be paused or dead",
                    b.at,
                )
            )
        elif b.phase == "stuck" or (b.phase == "backoff" and behind > 0):
            out.append(
                Alarm(
                    "enactor-stalled",
                    b.actor,
                    f"enactor {b.actor} is {b.phase} at plan {b.generation}, "
                    f"{behind} behind the newest ({b.detail}); `zonewarden repair` fixes "
                    "what it cannot",
                    b.at,
                )
            )
    return out


def _fences(f: AlarmFacts) -> list[Alarm]:
    fenced = Counter(e.actor for e in f.recent if e.kind == "fenced")
    first: dict[str, float] = {}
    for e in f.recent:
        if e.kind == "fenced":
            first[e.actor] = min(first.get(e.actor, e.at), e.at)
    return [
        Alarm(
            "fence-repeated",
            actor,
            f"{actor} had {n} stale write(s) fenced out in the last {f.window:.0f}s: it is "
            "applying old plans (each was rejected, nothing went backwards)",
            first[actor],
            n,
        )
        for actor, n in fenced.items()
        if n >= f.fence_threshold
    ]


def _lagging(f: AlarmFacts) -> list[Alarm]:
    if not f.lagging:
        return []
    worst = max(f.lagging.values())
    names = list(f.lagging)
    return [
        Alarm(
            "endpoint-lagging",
            _names(names),
            f"{len(names)} endpoint(s) are up to {worst} generations behind the newest plan",
            f.now,
            len(names),
        )
    ]
