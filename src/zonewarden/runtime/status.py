"""A region's status as plain data: per endpoint and per enactor, for tables and JSON.

Rules kept here: a heartbeat older than a few of its role's intervals (`stale_after`)
is marked stale, so a dead or stuck role is visible at a glance, not only by its age.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from zonewarden.config import Config
from zonewarden.ports import RegionStore


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    name: str
    generation: int
    records: int
    lag: int
    empty: bool
    pinned: int | None


@dataclass(frozen=True, slots=True)
class ActorStatus:
    actor: str
    age: float
    generation: int
    phase: str
    detail: str
    stale: bool = False


@dataclass(frozen=True, slots=True)
class RegionStatus:
    newest: int
    stored_plans: int
    frozen: bool
    endpoints: tuple[EndpointStatus, ...]
    actors: tuple[ActorStatus, ...]

    @property
    def healthy(self) -> bool:
        return bool(self.endpoints) and not any(e.empty for e in self.endpoints)

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        out["healthy"] = self.healthy
        return out


STALE_AFTER = 5.0  # seconds: a few beats of a role whose interval is at most 1 s


def stale_after(config: Config) -> float:
    """How old a heartbeat may be before it counts as stale: three of the slowest
    role interval (every role beats at least once a second while waiting)."""
    slowest = max(config.planner.interval, config.enactors.config.poll_interval, 1.0)
    return max(STALE_AFTER, 3 * slowest)


def region_status(store: RegionStore, now: float, stale_after: float = STALE_AFTER) -> RegionStatus:
    index = store.index()
    zone = store.read_zone()
    newest = index.generations[-1] if index.generations else 0
    pins = store.pins()
    names = sorted(set(index.newest_names) | set(zone))
    endpoints = []
    for name in names:
        entry = zone.get(name)
        g = entry.generation if entry else 0
        count = len(entry.content.records) if entry else 0
        endpoints.append(EndpointStatus(name, g, count, newest - g, count == 0, pins.get(name)))
    actors = tuple(
        ActorStatus(
            h.actor, round(now - h.at, 3), h.generation, h.phase, h.detail, now - h.at > stale_after
        )
        for h in store.heartbeats()
    )
    return RegionStatus(newest, len(index.generations), store.frozen(), tuple(endpoints), actors)
