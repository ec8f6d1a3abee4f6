"""The public status page's data: /status.json in the shape of Statuspage's
`/api/v2/summary.json`, and an Atom feed of incidents.

Generated from the incident book (core.incidents), which opens and resolves incidents
from the region's alarms by itself. Nothing here names an internal actor.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import escape

from zonewarden.core.incidents import COMPONENTS, Incident, IncidentBook

DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Partially Degraded Service",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
}
COMPONENT_TEXT = {
    "DNS answers": "Every service name answers with at least one healthy address",
    "Traffic steering": "Routing changes reach DNS promptly and in order",
    "Capacity": "Traffic follows load-balancer health and capacity",
}


def iso(at: float) -> str:
    return (
        dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _component_id(name: str) -> str:
    return name.lower().replace(" ", "-")


def _incident(page_id: str, i: Incident) -> dict[str, Any]:
    updates = [
        {
            "id": f"{i.id}-u{n}",
            "status": u.status,
            "body": u.body,
            "incident_id": i.id,
            "created_at": iso(u.at),
            "updated_at": iso(u.at),
            "display_at": iso(u.at),
            "affected_components": [{"code": _component_id(i.component), "name": i.component}],
        }
        for n, u in reversed(list(enumerate(i.updates, 1)))
    ]
    monitoring = [u.at for u in i.updates if u.status == "monitoring"]
    return {
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "impact": i.impact,
        "created_at": iso(i.created_at),
        "started_at": iso(i.created_at),
        "updated_at": iso(i.updates[-1].at),
        "monitoring_at": iso(monitoring[-1]) if monitoring else None,
        "resolved_at": iso(i.resolved_at) if i.resolved_at else None,
        "shortlink": f"/status#{i.id}",
        "page_id": page_id,
        "incident_updates": updates,
        "components": [{"id": _component_id(i.component), "name": i.component}],
    }


def summary(book: IncidentBook, *, region: str, now: float, started: float) -> dict[str, Any]:
    page_id = f"zonewarden-{region}"
    statuses = book.component_status()
    indicator = book.indicator()
    return {
        "page": {
            "id": page_id,
            "name": f"ZoneWarden {region}",
            "url": "/status",
            "time_zone": "Etc/UTC",
            "updated_at": iso(now),
        },
        "status": {"indicator": indicator, "description": DESCRIPTIONS[indicator]},
        "components": [
            {
                "id": _component_id(name),
                "name": name,
                "status": statuses[name],
                "description": COMPONENT_TEXT[name],
                "position": n,
                "created_at": iso(started),
                "updated_at": iso(now),
                "showcase": True,
                "group": False,
                "group_id": None,
                "only_show_if_degraded": False,
                "page_id": page_id,
            }
            for n, name in enumerate(COMPONENTS, 1)
        ],
        "incidents": [_incident(page_id, i) for i in book.open.values()],
        "recent_incidents": [_incident(page_id, i) for i in book.resolved[:10]],
        "scheduled_maintenances": [],
    }


def atom(book: IncidentBook, *, region: str, now: float, base: str) -> str:
    entries = []
    for i in book.all()[:50]:
        body = "".join(
            f"<p><strong>{escape(u.status.title())}</strong> ({iso(u.at)}): {escape(u.body)}</p>"
            for u in reversed(i.updates)
        )
        entries.append(
            "<entry>"
            f"<id>tag:zonewarden,{region}:{i.id}</id>"
            f"<title>{escape(i.name)}</title>"
            f"<updated>{iso(i.updates[-1].at)}</updated>"
            f"<published>{iso(i.created_at)}</published>"
            f'<link rel="alternate" type="text/html" href="{escape(base)}status#{i.id}"/>'
            f'<content type="html">{escape(body)}</content>'
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>tag:zonewarden,{region}:incidents</id>"
        f"<title>ZoneWarden {escape(region)} status</title>"
        f"<updated>{iso(now)}</updated>"
        f'<link rel="self" href="{escape(base)}feed.atom"/>'
        f'<link rel="alternate" type="text/html" href="{escape(base)}status"/>'
        "<author><name>ZoneWarden</name></author>" + "".join(entries) + "</feed>"
    )
