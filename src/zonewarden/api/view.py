"""The API's read model: one cached snapshot of the region, refreshed in the background.

Every page, JSON answer and metric reads the same snapshot, so a dashboard with 50,000
endpoints and a Prometheus scrape cost one store read per refresh, not one per request.

Rules kept here:
- the zone is re-read incrementally (`changed_since`) and generations with `applied()`,
  so a refresh costs what changed plus one narrow scan;
- what every page needs over all endpoints (per-LB totals, empty, lagging, largest lag)
  is computed here, once per refresh, and incrementally (api/lbtotals.py): a request
  never walks the 400,000 records of a 50,000-endpoint region;
- the audit log is followed by sequence number from where the last refresh stopped: kind
  counters are exact totals since the API started reading, and the newest events are
  kept for the dashboard, the alarms and the fence counts;
- a store that cannot be read keeps the last snapshot and says so (`error`, `stale_for`):
  the dashboard must stay up exactly when the store is in trouble.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zonewarden.api.lbtotals import NO_LOADS, LbLoad, LbTotals, Weights
from zonewarden.core.alarms import Alarm, AlarmFacts, Beat, Event, region_alarms
from zonewarden.core.incidents import IncidentBook
from zonewarden.core.model import EndpointName, ZoneEntry
from zonewarden.errors import ZoneWardenError
from zonewarden.ports import AuditEvent, Heartbeat, RegionStore

log = logging.getLogger("zonewarden.api")
RECENT_EVENTS = 5000
PLANS_DELETED = "plans-deleted"  # not an audit kind: plans deleted, summed over clean-ups
_DELETED = re.compile(r"deleted \[([0-9, ]*)\]")
AUDIT_CATCH_UP = 20_000  # events read per refresh at most, so a huge log cannot stall one


@dataclass(frozen=True, slots=True)
class EndpointRow:
    name: str
    generation: int
    records: int
    lag: int
    pinned: int | None
    weights: Weights  # (lb, address, weight)

    @property
    def empty(self) -> bool:
        return self.records == 0

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "generation": self.generation,
            "records": self.records,
            "lag": self.lag,
            "pinned": self.pinned,
            "empty": self.empty,
            "weights": [{"lb": lb, "address": a, "weight": w} for lb, a, w in self.weights],
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: float
    newest: int
    newest_at: float
    generations: tuple[int, ...]
    frozen: bool
    endpoints: tuple[EndpointRow, ...]  # sorted by name
    heartbeats: tuple[Heartbeat, ...]
    recent: tuple[AuditEvent, ...]  # newest last
    counts: Mapping[str, int]
    alarms: tuple[Alarm, ...]
    error: str = ""
    health: Mapping[str, Any] = field(default_factory=dict)  # store.health_status()
    counters: Mapping[str, Any] = field(default_factory=dict)  # store.published_counters()
    lbs: Mapping[str, LbLoad] = field(default_factory=lambda: NO_LOADS)  # per LB, live zone
    empty_endpoints: int = 0
    lagging_endpoints: int = 0
    max_lag: int = 0
    vantage: tuple[Any, ...] = ()  # store.vantage_reports(): enactors' own readings


EMPTY = Snapshot(0.0, 0, 0.0, (), False, (), (), (), {}, ())


def _row(
    entry: ZoneEntry | None,
    name: str,
    newest: int,
    pinned: int | None,
    weights: Weights | None = None,
) -> EndpointRow:
    if entry is None:
        return EndpointRow(name, 0, 0, newest, pinned, ())
    records = entry.content.records
    if weights is None:
        weights = tuple((str(r.lb), r.address, r.weight) for r in records)
    return EndpointRow(
        name, int(entry.generation), len(records), newest - int(entry.generation), pinned, weights
    )


@dataclass(frozen=True, slots=True)
class _Cached:
    """One endpoint's row and what it was built from: reused while all of it holds."""

    content: object
    generation: int
    pinned: int | None
    newest: int
    row: EndpointRow


def plans_deleted(detail: str) -> int:
    """How many plans one clean-up audit event says it deleted ("deleted [4, 5] kept
    referenced [6]", as every store writes it); 0 when the detail does not say."""
    m = _DELETED.search(detail)
    return len([g for g in m.group(1).split(",") if g.strip()]) if m else 0


@dataclass
class RegionView:
    store: RegionStore
    max_lag: int = 10
    alarm_window: float = 60.0
    stall_after: float = 10.0
    snapshot: Snapshot = EMPTY
    incidents: IncidentBook = field(default_factory=IncidentBook)
    _zone: dict[EndpointName, ZoneEntry] = field(default_factory=dict)
    _zone_version: int = 0
    _audit_seq: int = 0
    _recent: collections.deque[AuditEvent] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT_EVENTS)
    )
    _counts: collections.Counter[str] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _failed_since: float | None = None
    _rows: dict[EndpointName, _Cached] = field(default_factory=dict)
    _totals: LbTotals = field(default_factory=LbTotals)
    _inputs: tuple[Any, ...] = ()

    def refresh(self, now: float | None = None) -> Snapshot:
        """Read the store once and publish a new snapshot (thread-safe, one at a time)."""
        with self._lock:
            now = time.time() if now is None else now
            try:
                self.snapshot = self._read(now)
                if self._failed_since is not None:
                    log.warning("store readable again")
                self._failed_since = None
            except (ZoneWardenError, OSError) as exc:
                if self._failed_since is None:
                    log.warning("cannot read the store: %s (serving the last snapshot)", exc)
                    self._failed_since = now
                since = time.strftime("%H:%M:%S", time.localtime(self._failed_since))
                self.snapshot = dataclasses.replace(
                    self.snapshot, error=f"cannot read the store since {since}: {exc}"
                )
            return self.snapshot

    def _read(self, now: float) -> Snapshot:
        version, changed = self.store.changed_since(self._zone_version)
        if self._zone_version == 0:
            self._zone = dict(changed)
        else:
            self._zone.update(changed)
        self._zone_version = version
        applied = self.store.applied()
        for name in [n for n in self._zone if n not in applied]:
            del self._zone[name]
        index = self.store.index()
        generations = tuple(int(g) for g in index.generations)
        newest = generations[-1] if generations else 0
        header = self.store.header(newest) if newest else None  # type: ignore[arg-type]
        pins = self.store.pins()
        inputs = (newest, applied, pins, index.newest_names)
        if not changed and inputs == self._inputs and self.snapshot is not EMPTY:
            rows = list(self.snapshot.endpoints)  # nothing moved: the same rows, no walk
        else:
            names = sorted(set(index.newest_names) | set(applied))
            rows = self._rows_for(names, applied, newest, pins)
        self._inputs = inputs
        self._follow_audit()
        beats = tuple(self.store.heartbeats())
        recent = tuple(self._recent)
        frozen = self.store.frozen()
        alarms = tuple(self._alarms(now, newest, rows, beats, recent, frozen))
        self.incidents.observe(now, alarms)
        health = self.store.health_status()
        return Snapshot(
            now,
            newest,
            header.created_at if header else 0.0,
            generations,
            frozen,
            tuple(rows),
            beats,
            recent,
            dict(self._counts),
            alarms,
            health=health,
            counters=self.store.published_counters(),
            lbs=self._totals.loads(),
            empty_endpoints=sum(1 for r in rows if r.empty),
            lagging_endpoints=sum(1 for r in rows if r.lag > 0),
            max_lag=max((r.lag for r in rows), default=0),
            vantage=tuple(self.store.vantage_reports()),
        )

    def _rows_for(
        self,
        names: list[EndpointName],
        applied: Mapping[EndpointName, Any],
        newest: int,
        pins: Mapping[EndpointName, Any],
    ) -> list[EndpointRow]:
        """Every endpoint's row, rebuilt only where its records, generation, pin or the
        newest generation moved; the per-LB totals follow the records that changed."""
        old = self._rows
        fresh: dict[EndpointName, _Cached] = {}
        rows = []
        for name in names:
            entry = self._zone.get(name)
            if entry is not None and applied.get(name, entry.generation) != entry.generation:
                entry = ZoneEntry(entry.name, applied[name], entry.content)
            content = entry.content if entry is not None else None
            generation = int(entry.generation) if entry is not None else 0
            pin = pins.get(name)
            was = old.get(name)
            if was is not None and was.content is content:
                if (was.generation, was.pinned, was.newest) == (generation, pin, newest):
                    row = was.row
                else:
                    row = _row(entry, name, newest, pin, was.row.weights)
            else:
                row = _row(entry, name, newest, pin)
                self._totals.replace(was.row.weights if was else (), row.weights)
            fresh[name] = _Cached(content, generation, pin, newest, row)
            rows.append(row)
        for gone in old.keys() - fresh.keys():
            self._totals.replace(old[gone].row.weights, ())
        self._rows = fresh
        return rows

    def _follow_audit(self) -> None:
        read = 0
        while read < AUDIT_CATCH_UP:
            batch = self.store.audit_log(after=self._audit_seq, limit=5000)
            if not batch:
                return
            for event in batch:
                self._counts[event.kind] += 1
                if event.kind in ("cleanup", "legacy-cleanup"):
                    self._counts[PLANS_DELETED] += plans_deleted(event.detail)
            self._recent.extend(batch)
            self._audit_seq = batch[-1].seq
            read += len(batch)

    def _alarms(
        self,
        now: float,
        newest: int,
        rows: list[EndpointRow],
        beats: tuple[Heartbeat, ...],
        recent: tuple[AuditEvent, ...],
        frozen: bool,
    ) -> list[Alarm]:
        cutoff = now - self.alarm_window
        facts = AlarmFacts(
            now=now,
            newest=newest,
            empty=[r.name for r in rows if r.empty and r.generation > 0],
            lagging={r.name: r.lag for r in rows if r.lag > self.max_lag},
            heartbeats=[Beat(b.actor, b.at, b.generation, b.phase, b.detail) for b in beats],
            recent=[
                Event(e.at, e.actor, e.kind, e.endpoint, e.generation, e.detail)
                for e in recent
                if e.at >= cutoff
            ],
            frozen=frozen,
            window=self.alarm_window,
            stall_after=self.stall_after,
        )
        return region_alarms(facts)
