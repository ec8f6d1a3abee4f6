"""Public incidents: opened and resolved by themselves from the region's alarms.

The status page speaks to customers, so it says in plain words what they notice
(answers, freshness, capacity), never which enactor misbehaved. An alarm kind maps to a
component and a component status here; a cause that appears opens an incident, a cause
that changes adds an update, and a cause gone for `settle` seconds resolves it.

Rules kept here:
- one open incident per (component, cause); re-seeing the same cause adds nothing;
- an incident resolves only after its cause has been absent for `settle` seconds, so a
  flapping cause does not open and close a dozen incidents;
- resolved incidents are kept (newest first, at most `keep`) for the feed and the page;
- pure: `observe(now, alarms)` is the only way time enters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zonewarden.core.alarms import Alarm

COMPONENTS = ("DNS answers", "Traffic steering", "Capacity")

# alarm kind -> (component, component status, customer-facing title)
PUBLIC: Mapping[str, tuple[str, str, str]] = {
    "endpoint-empty": ("DNS answers", "major_outage", "Some names return no addresses"),
    "empty-refused": (
        "Traffic steering",
        "degraded_performance",
        "A bad traffic plan was stopped before it reached DNS",
    ),
    "fail-static": (
        "Capacity",
        "degraded_performance",
        "Traffic is held on its last known good routing",
    ),
    "enactor-stalled": (
        "Traffic steering",
        "degraded_performance",
        "Routing updates are slower than usual",
    ),
    "endpoint-lagging": (
        "Traffic steering",
        "degraded_performance",
        "Routing updates are slower than usual",
    ),
}
STATUS_ORDER = ("operational", "degraded_performance", "partial_outage", "major_outage")
INDICATOR = {
    "operational": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}


@dataclass
class Update:
    at: float
    status: str  # investigating, identified, monitoring, resolved
    body: str


@dataclass
class Incident:
    id: str
    component: str
    cause: str
    name: str
    impact: str  # none, minor, major, critical
    created_at: float
    updates: list[Update] = field(default_factory=list)
    resolved_at: float | None = None
    last_seen: float = 0.0

    @property
    def status(self) -> str:
        return self.updates[-1].status if self.updates else "investigating"


def plain_words(alarm: Alarm) -> str:
    """What a customer is told about an alarm, without internals."""
    if alarm.kind == "endpoint-empty":
        return (
            f"{alarm.count} name(s) currently return no addresses. We are restoring the "
            "last valid routing."
        )
    if alarm.kind == "empty-refused":
        return (
            "A routing change that would have removed every address of a name was refused; "
            "names keep answering with their current addresses."
        )
    if alarm.kind == "fail-static":
        return (
            "Health signals look unreliable, so routing is held on its last known good "
            "state instead of moving traffic."
        )
    return "Routing changes are reaching DNS more slowly than usual; answers stay valid."


class IncidentBook:
    def __init__(self, *, settle: float = 30.0, keep: int = 50) -> None:
        self.settle, self.keep = settle, keep
        self.open: dict[tuple[str, str], Incident] = {}
        self.resolved: list[Incident] = []
        self._next = 1

    def observe(self, now: float, alarms: Iterable[Alarm]) -> None:
        seen: dict[tuple[str, str], Alarm] = {}
        for alarm in alarms:
            if alarm.kind in PUBLIC:
                component, _, _ = PUBLIC[alarm.kind]
                seen.setdefault((component, alarm.kind), alarm)
        for key, alarm in seen.items():
            incident = self.open.get(key)
            if incident is None:
                incident = self._open(now, alarm)
                self.open[key] = incident
            incident.last_seen = now
        for key, incident in list(self.open.items()):
            if key not in seen and now - incident.last_seen >= self.settle:
                incident.updates.append(
                    Update(now, "resolved", "This has recovered; answers are back to normal.")
                )
                incident.resolved_at = now
                del self.open[key]
                self.resolved.insert(0, incident)
                del self.resolved[self.keep :]
            elif key not in seen and incident.status != "monitoring":
                incident.updates.append(
                    Update(now, "monitoring", "A fix is in place; we are watching it hold.")
                )

    def _open(self, now: float, alarm: Alarm) -> Incident:
        component, status, title = PUBLIC[alarm.kind]
        incident = Incident(
            id=f"zw-{self._next}",
            component=component,
            cause=alarm.kind,
            name=title,
            impact=INDICATOR[status],
            created_at=now,
        )
        self._next += 1
        incident.updates.append(Update(now, "investigating", plain_words(alarm)))
        return incident

    def component_status(self) -> dict[str, str]:
        out = dict.fromkeys(COMPONENTS, "operational")
        for (component, cause), incident in self.open.items():
            status = PUBLIC[cause][1] if incident.status != "monitoring" else "operational"
            if STATUS_ORDER.index(status) > STATUS_ORDER.index(out[component]):
                out[component] = status
        return out

    def indicator(self) -> str:
        worst = max(self.component_status().values(), key=STATUS_ORDER.index)
        return INDICATOR[worst]

    def all(self) -> list[Incident]:
        """Open incidents first (newest first), then resolved ones (newest first)."""
        opened = sorted(self.open.values(), key=lambda i: -i.created_at)
        return [*opened, *self.resolved]
