"""A RegionStore whose live records are at an external DNS backend.

`ExternalZoneRegion(store, backend)` keeps plans, control state and a fenced mirror of
applied generations (the intent ledger) in the region store (SQLite, etcd), and the
records themselves at the backend (RFC 2136 server, Route 53). The enactor cannot tell
the difference: it talks to a RegionStore through `dispatch.execute` as before.

One endpoint write, in this order:
1. fenced write in the ledger (`store.apply_if_newer`): the ledger's generation never
   goes back, and clean-up's reference check (one store transaction) sees every
   generation an enactor may still be writing to the backend, so a plan cannot be
   deleted from under a write in flight;
2. fenced write at the backend for the names the ledger accepted (APPLIED, or CURRENT:
   a previous attempt may have stopped between 1 and 2): the server's own
   compare-and-set on the marker stops a stale enactor there, even one whose ledger
   write was accepted before a newer enactor overtook it (FENCED_OUT);
3. read-back verification by the backend.
The ledger's entry from just before step 1 is passed as a hint of the live marker, so
the common case sends the UPDATE without reading first; the prerequisite checks it.

Repair: `advance_unchanged` also returns names whose backend marker differs from the
ledger at the target generation (a write stopped between steps 1 and 2, or someone
edited the server), so the normal apply path pushes them again.

Known window: between a newer ledger write and its backend write, the server may still
serve an older generation that clean-up is allowed to delete from the store. The
records served stay valid and non-empty (I1 holds at the server); the marker never goes
back (I3) and no stale write reaches the server (I5).

Legacy mode writes the ledger, then the backend without prerequisites, and its age-only
clean-up removes the records of every name still serving a deleted plan: the 2025 empty
answer, at a real server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from zonewarden.core import fence
from zonewarden.core.model import (
    Content,
    EndpointName,
    Generation,
    Plan,
    PlanDraft,
    PlanHeader,
    ZoneEntry,
)
from zonewarden.core.outcomes import CleanupIndex, CleanupResult, Outcome, PlanIndex
from zonewarden.ports import AuditEvent, DnsBackend, Heartbeat, LegacyStore, Marker, RegionStore

TO_BACKEND = (Outcome.APPLIED, Outcome.CURRENT)


class Ledger(RegionStore, LegacyStore, Protocol):
    """The region store under the backend: every role, the legacy one too (legacy mode
    writes the ledger before the backend)."""


def _marker_of(entry: ZoneEntry | None) -> Marker | None:
    if entry is None or entry.empty:
        return None
    return Marker(entry.generation, entry.content.digest)


class ExternalZoneRegion:
    """Plans and control in `store`; records at `backend`; every write fenced at both."""

    def __init__(self, store: Ledger, backend: DnsBackend) -> None:
        self.store, self.backend = store, backend

    def __getattr__(self, name: str) -> Any:  # store extras (consistent_read, ...)
        return getattr(self.store, name)

    # -- zone: ledger first, then the backend --------------------------------------------
    def apply_if_newer(
        self, generation: Generation, names: Sequence[EndpointName], *, actor: str, now: float
    ) -> dict[EndpointName, Outcome]:
        before = self.store.read_zone(names)
        out = self.store.apply_if_newer(generation, names, actor=actor, now=now)
        todo = [n for n, o in out.items() if o in TO_BACKEND]
        if not todo:
            return out
        contents = self.store.contents(generation, todo)
        for name in todo:
            if name not in contents:  # the ledger moved on and the plan was cleaned up
                out[name] = Outcome.FENCED_OUT
        # what the server holds if it kept up with the ledger: saves the read before
        # the write; the server's prerequisite still checks it (a wrong hint is a retry)
        hints = {n: _marker_of(before.get(n)) for n in contents if out[n] is Outcome.APPLIED}
        at_server = self.backend.apply_fenced(generation, contents, hints)
        for name, outcome in at_server.items():
            in_ledger = out[name]
            if outcome is Outcome.FENCED_OUT:
                self.store.record(
                    actor,
                    "fenced",
                    now=now,
                    endpoint=name,
                    generation=generation,
                    detail=f"at {self.backend.description}",
                )
                out[name] = outcome
            elif outcome is Outcome.APPLIED and in_ledger is Outcome.CURRENT:
                self.store.record(
                    actor,
                    "repair",
                    now=now,
                    endpoint=name,
                    generation=generation,
                    detail=f"pushed to {self.backend.description}",
                )
                out[name] = outcome
            elif outcome is Outcome.REFUSED:
                out[name] = outcome
        return out

    def advance_unchanged(
        self, generation: Generation, *, actor: str, now: float
    ) -> tuple[EndpointName, ...]:
        behind = list(self.store.advance_unchanged(generation, actor=actor, now=now))
        ledger = {
            n: e
            for n, e in self.store.read_zone(self.store.plan_names(generation)).items()
            if e.generation == generation and n not in behind
        }
        if ledger:
            live = self.backend.read(list(ledger))
            for name, entry in ledger.items():
                marker = live[name].marker if name in live else None
                seen = None if marker is None else fence.Live(marker.generation, marker.digest)
                if fence.decide(generation, entry.content.digest, seen) is Outcome.APPLIED:
                    behind.append(name)  # the server is older than the ledger says
        return tuple(sorted(behind))

    def read_zone(
        self, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, ZoneEntry]:
        return self.store.read_zone(names)

    def applied(self) -> dict[EndpointName, Generation]:
        return self.store.applied()

    def changed_since(self, version: int) -> tuple[int, dict[EndpointName, ZoneEntry]]:
        return self.store.changed_since(version)

    # -- legacy (unsafe 2025 protocol) ----------------------------------------------------
    def legacy_write(
        self, generation: Generation, name: EndpointName, *, actor: str, now: float
    ) -> Outcome:
        outcome = self.store.legacy_write(generation, name, actor=actor, now=now)
        if outcome is Outcome.APPLIED:
            content = self.store.contents(generation, [name]).get(name)
            if content is not None:
                self.backend.write_unfenced(generation, name, content)
        return outcome

    def legacy_delete_older(
        self, below: Generation, *, actor: str, now: float
    ) -> tuple[Generation, ...]:
        doomed = self.store.legacy_delete_older(below, actor=actor, now=now)
        if doomed:
            names = list(self.store.read_zone())
            for name, live in self.backend.read(names).items():
                if live.marker is not None and live.marker.generation in doomed:
                    self.backend.remove_records(name)
        return doomed

    def try_lock(self, name: EndpointName, owner: str, *, now: float, ttl: float) -> bool:
        return self.store.try_lock(name, owner, now=now, ttl=ttl)

    def unlock(self, name: EndpointName, owner: str) -> None:
        self.store.unlock(name, owner)

    # -- plans and control: the store's --------------------------------------------------
    def publish(
        self,
        draft: PlanDraft,
        *,
        source: str,
        actor: str,
        now: float,
        min_generation: int = 0,
        expect_newest: int | None = None,
    ) -> Plan:
        return self.store.publish(
            draft,
            source=source,
            actor=actor,
            now=now,
            min_generation=min_generation,
            expect_newest=expect_newest,
        )

    def newest(self) -> Generation:
        return self.store.newest()

    def header(self, generation: Generation) -> PlanHeader | None:
        return self.store.header(generation)

    def plan(self, generation: Generation) -> Plan | None:
        return self.store.plan(generation)

    def contents(
        self, generation: Generation, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, Content]:
        return self.store.contents(generation, names)

    def plan_names(self, generation: Generation) -> tuple[EndpointName, ...]:
        return self.store.plan_names(generation)

    def index(self) -> PlanIndex:
        return self.store.index()

    def cleanup_index(self) -> CleanupIndex:
        return self.store.cleanup_index()

    def delete_unreferenced(
        self, generations: Sequence[Generation], *, actor: str, now: float
    ) -> CleanupResult:
        return self.store.delete_unreferenced(generations, actor=actor, now=now)

    def frozen(self) -> bool:
        return self.store.frozen()

    def set_frozen(self, frozen: bool, *, actor: str, now: float, reason: str = "") -> None:
        self.store.set_frozen(frozen, actor=actor, now=now, reason=reason)

    def pins(self) -> dict[EndpointName, Generation]:
        return self.store.pins()

    def set_pin(
        self, name: EndpointName, generation: Generation | None, *, actor: str, now: float
    ) -> None:
        self.store.set_pin(name, generation, actor=actor, now=now)

    def beat(self, heartbeat: Heartbeat) -> None:
        self.store.beat(heartbeat)

    def heartbeats(self) -> list[Heartbeat]:
        return self.store.heartbeats()

    def record(
        self,
        actor: str,
        kind: str,
        *,
        now: float,
        endpoint: str = "",
        generation: int = 0,
        detail: str = "",
    ) -> None:
        self.store.record(
            actor, kind, now=now, endpoint=endpoint, generation=generation, detail=detail
        )

    def audit_log(self, *, after: int = 0, limit: int = 1000) -> list[AuditEvent]:
        return self.store.audit_log(after=after, limit=limit)

    def audit_page(
        self,
        *,
        limit: int,
        after: int = 0,
        before: int | None = None,
        since: float = 0.0,
        kinds: tuple[str, ...] = (),
        newest_first: bool = True,
    ) -> list[AuditEvent]:
        return self.store.audit_page(
            limit=limit,
            after=after,
            before=before,
            since=since,
            kinds=kinds,
            newest_first=newest_first,
        )

    def close(self) -> None:
        try:
            self.backend.close()
        finally:
            self.store.close()
