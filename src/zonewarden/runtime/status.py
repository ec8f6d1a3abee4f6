"""A region's status as plain data: per endpoint and per enactor, for tables and JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


def region_status(store: RegionStore, now: float) -> RegionStatus:
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
        ActorStatus(h.actor, round(now - h.at, 3), h.generation, h.phase, h.detail)
        for h in store.heartbeats()
    )
    return RegionStatus(newest, len(index.generations), store.frozen(), tuple(endpoints), actors)
