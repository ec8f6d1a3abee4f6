"""Ports: the Protocols every adapter implements, and the values crossing them.

One Protocol per role, named for what its users need: `PlanStore` (the planner,
clean-up), `ZoneStore` (enactors, the DNS server), `ControlStore` (operators: freeze,
pins, heartbeats), `AuditLog` (every writer; the API's history), `HealthStore` (the
probing planner), and `LegacyStore` (the unsafe 2025 protocol: legacy mode, the
simulator and the tests, never the safe path). `RegionStore` is the production port,
every role but the legacy one; a store implements them all over one transactional
medium, because clean-up's reference check and an enactor's fenced write must see plans
and the live zone in the same transaction. New store methods go in the role whose users
call them.

Write semantics every ZoneStore keeps (the contract suite checks them):
- `apply_if_newer(g, names)` installs plan g's content for each name, in one
  transaction, only where the live generation is < g, or == g with different content
  (self-repair); content that fails a gate is refused; a freeze refuses everything;
- `advance_unchanged(g)` moves endpoints whose live content already equals plan g's to
  generation g (same fence), and returns the names that still need a write;
- `delete_unreferenced(gens)` never deletes the newest plan nor a plan any endpoint's
  live generation references; the check is inside the delete's transaction;
- the decision of every fenced write is `core.fence.decide` / `core.fence.lag`;
- `LegacyStore` reproduces the unsafe 2025 protocol for `legacy` mode and the simulator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from zonewarden.core.health import VantageReport
from zonewarden.core.model import (
    Content,
    EndpointName,
    Generation,
    LbId,
    Plan,
    PlanDraft,
    PlanHeader,
    RecordType,
    ZoneEntry,
)
from zonewarden.core.outcomes import SUCCESS, CleanupIndex, CleanupResult, Outcome, PlanIndex
from zonewarden.core.planner import Observation
from zonewarden.core.policy import OperatorHold


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the append-only audit log."""

    seq: int
    at: float
    actor: str
    kind: str  # publish, write, fenced, refused, cleanup, freeze, pin, repair, hold, ...
    endpoint: str = ""
    generation: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """The filter of `AuditLog.audit_page`, in one place for every store."""

    after: int = 0
    before: int | None = None
    since: float = 0.0
    kinds: tuple[str, ...] = ()

    def keeps(self, e: AuditEvent) -> bool:
        return (
            e.seq > self.after
            and (self.before is None or e.seq < self.before)
            and e.at >= self.since
            and (not self.kinds or e.kind in self.kinds)
        )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """An enactor's (or planner's) last report of life and progress."""

    actor: str
    at: float
    generation: int
    phase: str
    detail: str = ""


@runtime_checkable
class PlanStore(Protocol):
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
        """Store `draft` as the next generation (at least `min_generation`, which repair
        uses to get past a corrupted, too-high live generation). With `expect_newest`
        the publish is a compare-and-set: it raises PublishConflict, writing nothing,
        unless the newest generation is still that one (checked in the same
        transaction), so a planner never publishes over a pin or rollback it has not seen."""
        ...

    def newest(self) -> Generation: ...

    def header(self, generation: Generation) -> PlanHeader | None: ...

    def plan(self, generation: Generation) -> Plan | None: ...

    def contents(
        self, generation: Generation, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, Content]: ...

    def plan_names(self, generation: Generation) -> tuple[EndpointName, ...]: ...

    def index(self) -> PlanIndex: ...

    def cleanup_index(self) -> CleanupIndex:
        """What clean-up reads: `core.cleanup.summarise(self.index())`, which a store
        may compute without reading a row per endpoint."""
        ...

    def delete_unreferenced(
        self, generations: Sequence[Generation], *, actor: str, now: float
    ) -> CleanupResult: ...


@runtime_checkable
class ZoneStore(Protocol):
    def read_zone(
        self, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, ZoneEntry]: ...

    def applied(self) -> dict[EndpointName, Generation]: ...

    def advance_unchanged(
        self, generation: Generation, *, actor: str, now: float
    ) -> tuple[EndpointName, ...]: ...

    def apply_if_newer(
        self, generation: Generation, names: Sequence[EndpointName], *, actor: str, now: float
    ) -> dict[EndpointName, Outcome]: ...

    def changed_since(self, version: int) -> tuple[int, dict[EndpointName, ZoneEntry]]:
        """Entries whose served content changed after zone version `version`, and the
        current version.

        Version 0 returns the whole zone. Readers (the DNS server) poll this cheaply and
        swap in a new snapshot only when something changed. A generation-only advance
        (`advance_unchanged`) serves nothing new, so a store need not report it: the
        memory and SQLite stores do not, which keeps a 1% plan at 1% of the work."""
        ...


@runtime_checkable
class LegacyStore(Protocol):
    """The unsafe 2025 protocol, for `legacy` mode only: unfenced writes behind a lock
    and age-only clean-up. Not part of `RegionStore`; `dispatch` asks for it only when
    it executes a legacy action."""

    def legacy_write(
        self, generation: Generation, name: EndpointName, *, actor: str, now: float
    ) -> Outcome: ...

    def legacy_delete_older(
        self, below: Generation, *, actor: str, now: float
    ) -> tuple[Generation, ...]: ...

    def try_lock(self, name: EndpointName, owner: str, *, now: float, ttl: float) -> bool: ...

    def unlock(self, name: EndpointName, owner: str) -> None: ...


@runtime_checkable
class ControlStore(Protocol):
    def frozen(self) -> bool: ...

    def set_frozen(self, frozen: bool, *, actor: str, now: float, reason: str = "") -> None: ...

    def pins(self) -> dict[EndpointName, Generation]: ...

    def set_pin(
        self, name: EndpointName, generation: Generation | None, *, actor: str, now: float
    ) -> None: ...

    def beat(self, heartbeat: Heartbeat) -> None: ...

    def heartbeats(self) -> list[Heartbeat]: ...


@runtime_checkable
class AuditLog(Protocol):
    """The append-only audit log; a store writes its own rows in the transaction of the
    change they describe, `record` adds a row of its own."""

    def record(
        self,
        actor: str,
        kind: str,
        *,
        now: float,
        endpoint: str = "",
        generation: int = 0,
        detail: str = "",
    ) -> None: ...

    def audit_log(self, *, after: int = 0, limit: int = 1000) -> list[AuditEvent]: ...

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
        """Up to `limit` events with `after` < seq < `before`, at >= `since` and a kind in
        `kinds` (any if empty): the newest ones, newest first, or the oldest ones, oldest
        first. The store pages itself (an SQL LIMIT, an etcd range with a limit): the
        cost follows the page, not the length of the log (`AuditQuery.keeps` is the filter)."""
        ...


@runtime_checkable
class HealthStore(Protocol):
    """Health state: operator holds on LBs and AZs (audited), vantage points' reports,
    the probing planner's status (what `status`, the API and the dashboard show)."""

    def operator_holds(self) -> list[OperatorHold]: ...

    def set_operator_hold(self, hold: OperatorHold) -> None: ...

    def clear_operator_hold(
        self, scope: str, name: str, kind: str, *, actor: str, now: float, reason: str = ""
    ) -> bool: ...

    def publish_vantage(self, report: VantageReport) -> None: ...

    def vantage_reports(self) -> list[VantageReport]: ...

    def publish_counters(self, process: str, counters: Mapping[str, Mapping[str, int]]) -> None:
        """Keep `process`'s resilience counters ("component/name" -> counts) for /metrics."""

    def published_counters(self) -> dict[str, dict[str, dict[str, int]]]: ...

    def set_health_status(self, status: Mapping[str, Any]) -> None: ...

    def health_status(self) -> dict[str, Any]: ...


class RegionStore(PlanStore, ZoneStore, ControlStore, AuditLog, HealthStore, Protocol):
    """Everything a region keeps, in one transactional medium (the legacy protocol is
    `LegacyStore`, apart)."""

    def close(self) -> None: ...


__all__ = ["SUCCESS", "CleanupResult", "Outcome", "PlanIndex"]


class HealthSource(Protocol):
    """Where the planner learns load-balancer health; raises HealthUnavailable when blind."""

    def observe(self, now: float) -> Mapping[LbId, Observation]: ...


# -- external DNS backends ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Marker:
    """An endpoint's generation marker as kept at an external DNS server.

    It is the backend's fencing token: every fenced write requires the marker to hold
    exactly the value read before, and replaces it with (generation, content digest)."""

    generation: Generation
    digest: str

    PREFIX = "zw1"

    def text(self) -> str:
        return f"{self.PREFIX} g={int(self.generation)} d={self.digest}"

    @classmethod
    def parse(cls, text: str) -> Marker | None:
        """The marker in a TXT string, or None if it is not one of ours."""
        parts = text.split()
        if len(parts) != 3 or parts[0] != cls.PREFIX:
            return None
        if not parts[1].startswith("g=") or not parts[2].startswith("d="):
            return None
        try:
            return cls(Generation(int(parts[1][2:])), parts[2][2:])
        except ValueError:
            return None


Served = frozenset[tuple[RecordType, str]]


@dataclass(frozen=True, slots=True)
class LiveEndpoint:
    """What an external server holds for one endpoint: its marker and served addresses."""

    name: EndpointName
    marker: Marker | None
    addresses: Served = frozenset()
    ttl: int | None = None
    weights: tuple[tuple[RecordType, str, int], ...] = ()  # only where the server keeps them

    @property
    def empty(self) -> bool:
        return not self.addresses


@runtime_checkable
class DnsBackend(Protocol):
    """An external authoritative DNS service (RFC 2136 server, Route 53, in-memory model).

    - `apply_fenced(g, contents)`: for each endpoint, write `contents[name]` and marker
      (g, digest) in one conditional operation at the server, only where the live marker
      is older than g (or equal to g with another digest); the server itself rejects the
      write if the marker changed since it was read. Outcomes: APPLIED, CURRENT,
      FENCED_OUT, REFUSED (content fails a gate). Verified by reading back. `hints`
      (the marker the caller believes is live) may replace the read before the write:
      the server's compare-and-set still decides, a wrong hint only costs a retry.
    - `write_unfenced` / `remove_records`: the unsafe 2025 protocol (legacy mode only).
    """

    description: str

    def read(self, names: Sequence[EndpointName]) -> dict[EndpointName, LiveEndpoint]: ...

    def apply_fenced(
        self,
        generation: Generation,
        contents: Mapping[EndpointName, Content],
        hints: Mapping[EndpointName, Marker | None] | None = None,
    ) -> dict[EndpointName, Outcome]: ...

    def write_unfenced(
        self, generation: Generation, name: EndpointName, content: Content
    ) -> None: ...

    def remove_records(self, name: EndpointName) -> None: ...

    def close(self) -> None: ...
