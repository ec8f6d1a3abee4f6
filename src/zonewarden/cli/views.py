"""Rich renderings shared by commands: the region status tables."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from zonewarden.core.names import display_name
from zonewarden.runtime.status import RegionStatus


def status_view(st: RegionStatus, title: str = "") -> Group:
    head = Text(f"{title}newest generation {st.newest}, {st.stored_plans} plans stored")
    if st.frozen:
        head.append("  FROZEN: no writes until `zonewarden unfreeze`", style="bold red")
    endpoints = Table("endpoint", "applied", "records", "lag", "pinned", title="endpoints")
    for e in st.endpoints:
        endpoints.add_row(
            display_name(e.name),
            str(e.generation),
            str(e.records),
            str(e.lag),
            str(e.pinned or ""),
            style="bold red" if e.empty else None,
        )
    actors = Table(
        "actor", "last heartbeat", "plan", "phase", "detail", title="planner and enactors"
    )
    for a in st.actors:
        style = "yellow" if a.phase in ("holding", "stalled", "retrying") else None
        age = f"{a.age:.1f}s ago"
        if a.stale:  # no heartbeat for several intervals: dead, stuck or cut off
            style, age = "bold red", f"{age} STALE"
        actors.add_row(a.actor, age, str(a.generation), a.phase, a.detail, style=style)
    return Group(head, endpoints, actors)
