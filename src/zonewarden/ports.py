"""Ports: the Protocols every adapter implements, and the values crossing them.

One Protocol per port. A store implements PlanStore, ZoneStore and ControlStore over
one transactional medium, because clean-up's reference check and an enactor's fenced
write must see plans and the live zone in the same transaction.

Write semantics every ZoneStore keeps (the contract suite checks them):
- `apply_if_newer(g, names)` installs plan g's content for each name, in one
  transaction, only where the live generation is < g, or == g with different content
  (self-repair); content that fails a gate is refused; a freeze refuses everything;
- `advance_unchanged(g)` moves endpoints whose live content already equals plan g's to
  generation g (same fence), and returns the names that still need a write;
- `delete_unreferenced(gens)` never deletes the newest plan nor a plan any endpoint's
  live generation references; the check is inside the delete's transaction;
- the `legacy_*` methods reproduce the unsafe 2025 protocol for the simulator and tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from zonewarden.core.actions import RandomSource
from zonewarden.core.model import (
    Content,
    EndpointName,
    Generation,
    LbId,
    Plan,
    PlanDraft,
    PlanHeader,
    ZoneEntry,
)
from zonewarden.core.outcomes import SUCCESS, CleanupResult, Outcome, PlanIndex
from zonewarden.core.planner import Observation


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
class Heartbeat:
    """An enactor's (or planner's) last report of life and progress."""

    actor: str
    at: float
    generation: int
    phase: str
    detail: str = ""


class Clock(Protocol):
    def now(self) -> float: ...


Rng = RandomSource


@runtime_checkable
class PlanStore(Protocol):
    def publish(
        self, draft: PlanDraft, *, source: str, actor: str, now: float, min_generation: int = 0
    ) -> Plan:
        """Store `draft` as the next generation (at least `min_generation`, which repair
        uses to get past a corrupted, too-high live generation)."""
        ...

    def newest(self) -> Generation: ...

    def header(self, generation: Generation) -> PlanHeader | None: ...

    def plan(self, generation: Generation) -> Plan | None: ...

    def contents(
        self, generation: Generation, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, Content]: ...

    def plan_names(self, generation: Generation) -> tuple[EndpointName, ...]: ...

    def index(self) -> PlanIndex: ...

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
        """Entries changed after zone version `version`, and the current version.

        Version 0 returns the whole zone. Readers (the DNS server) poll this cheaply and
        swap in a new snapshot only when something changed."""
        ...

    # -- the unsafe 2025 protocol, for `legacy` mode only --------------------------------
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


class RegionStore(PlanStore, ZoneStore, ControlStore, Protocol):
    """Everything a region keeps, in one transactional medium."""

    def close(self) -> None: ...


__all__ = ["SUCCESS", "CleanupResult", "Outcome", "PlanIndex"]


class HealthSource(Protocol):
    """Where the planner learns load-balancer health; raises HealthUnavailable when blind."""

    def observe(self, now: float) -> Mapping[LbId, Observation]: ...
