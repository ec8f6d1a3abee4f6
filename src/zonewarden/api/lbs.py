"""Load balancers as the dashboard, the API and the metrics show them.

From the live zone: per LB the endpoints it appears in and its total live weight (the
view's totals, computed once per refresh: api/lbtotals.py). From
the probing planner's health status (store.health_status(), shape in
runtime/health_status.py): per LB its verdict, why, capacity and planned capacity, and
per address its state (api/addresses.py); the
vantage points that are fresh or stale; what the removal budget holds back; operator
holds; fail-static. Fail-static is also read from the planner's heartbeat phase, so a
planner without a health status (static or demo health) still shows it. What no source
reports is absent (None), never zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from zonewarden.api.addresses import address_rows, by_address, problem_count, waiting_by_address
from zonewarden.api.view import RegionView, Snapshot
from zonewarden.core.alarms import HOLDING_PHASES
from zonewarden.runtime.health_status import vantage_summary

_HELD = re.compile(r"budget_held=([0-9.]+)")


def fail_static(s: Snapshot) -> tuple[bool, str]:
    alarms = s.health.get("fail_static") or []
    if alarms:
        return True, "; ".join(str(a) for a in alarms)
    for h in s.heartbeats:
        if h.actor == "planner":
            holding = h.phase in HOLDING_PHASES
            return holding, h.detail if holding else ""
    return False, ""


def budget_held(s: Snapshot) -> float | None:
    """Capacity the removal budget holds back now (wanted minus removed, summed)."""
    held = s.health.get("held_back")
    if isinstance(held, list) and s.health.get("lbs"):
        return float(sum(max(0, int(h["wanted"]) - int(h["removed"])) for h in held))
    for h in s.heartbeats:
        if h.actor == "planner":
            m = _HELD.search(h.detail)
            return float(m.group(1)) if m else None
    return None


def _probe_row(lb: str, probed: Mapping[str, Any] | None) -> dict[str, Any]:
    if probed is None:
        return {
            "az": None,
            "healthy": None,
            "why": None,
            "capacity": None,
            "planned": None,
            "address_health": {},
            "address_problems": 0,
        }
    addresses = probed.get("addresses") or {}
    return {
        "az": probed.get("az"),
        "healthy": probed.get("healthy"),
        "why": probed.get("reason"),
        "capacity": probed.get("capacity"),
        "planned": probed.get("served"),
        # each probed address: its own verdict, the votes and why (runtime/health_status)
        "address_health": addresses,
        "address_problems": problem_count(lb, addresses),
    }


def _with_address_rows(
    row: Mapping[str, Any], waiting: Mapping[tuple[str, str], str]
) -> dict[str, Any]:
    """An LB's row with `address_rows`: its addresses, one row each with its state,
    problems first; only for an LB planned by address (api/addresses.py): an LB of one
    address stays one row. Built for the rows a request returns, not for every LB."""
    rows = address_rows(row["lb"], row["address_health"], waiting)
    return {**row, "address_rows": rows if by_address(rows) else []}


def vantage_points(s: Snapshot) -> list[dict[str, Any]]:
    """Each vantage point's own view: fresh or stale (as the planner last judged it), its
    report's age, how many LBs it calls healthy, and the ones it calls down or failing.
    The planner's document covers the reports it combined; reports that enactors
    published since (or while no planner runs) come from the store."""
    by: dict[str, Mapping[str, Any]] = dict(s.health.get("by_vantage") or {})
    for report in s.vantage:
        if report.vantage not in by or by[report.vantage]["at"] < report.at:
            by[report.vantage] = vantage_summary(report)
    vantage = s.health.get("vantage") or {}
    fresh = set(vantage.get("fresh", []))
    stale = {str(x).split(" (")[0] for x in vantage.get("stale", [])}
    return [
        {
            "vantage": name,
            "fresh": True if name in fresh else False if name in stale else None,
            "age": round(max(0.0, s.taken_at - float(row["at"])), 1),
            "lbs": row["lbs"],
            "healthy": row["healthy"],
            "down": dict(row["down"]),
            "failing": dict(row["failing"]),
        }
        for name, row in sorted(by.items())
    ]


def lb_health(
    v: RegionView, offset: int = 0, limit: int | None = None, q: str = ""
) -> dict[str, Any]:
    """Health per LB and per vantage point, the budget held back and fail-static. With a
    `limit` the LBs come one page at a time, problems first (unhealthy, down at some
    vantage point, or without weight), then by name; `lb_total` counts them all."""
    s = v.snapshot
    holding, why = fail_static(s)
    vantage = s.health.get("vantage") or {}
    points, every, waiting = _lb_rows(s)
    lbs = [r for r in every if q.lower() in r["lb"].lower()] if q else every
    unhealthy = sum(1 for r in lbs if r["healthy"] is False)
    lbs_page = lbs if limit is None else lbs[offset : offset + limit]
    return {
        "fail_static": holding,
        "fail_static_reason": why,
        "budget_held_back": budget_held(s),
        "held_back": list(s.health.get("held_back") or []),
        "waiting": list(s.health.get("waiting") or []),
        "holds": list(s.health.get("holds") or []),
        "vantage": {
            "fresh": list(vantage.get("fresh", [])),
            "stale": list(vantage.get("stale", [])),
            "overload": list(vantage.get("overload", [])),
        },
        "vantage_points": points,
        "health_at": s.health.get("at"),
        "lb_total": len(lbs),
        "lb_unhealthy": unhealthy,
        "address_problems": sum(r["address_problems"] for r in lbs),
        "lb_serving": sum(1 for r in lbs if r["serving"]),
        "lb_offset": offset,
        "lbs": [_with_address_rows(r, waiting) for r in lbs_page],
    }


_memo: list[Any] = [None, None]  # [snapshot, its rows]: one snapshot's rows, built once
Rows = tuple[list[dict[str, Any]], list[dict[str, Any]], dict[tuple[str, str], str]]


def _lb_rows(s: Snapshot) -> Rows:
    """Vantage points, every LB's row (problems first, then by name) and the addresses
    waiting out their hold-down; built once per snapshot (the view replaces the snapshot
    on refresh, so identity is the key)."""
    snapshot, rows = _memo
    if snapshot is s:
        found: Rows = rows
        return found
    loads = s.lbs
    probed: Mapping[str, Any] = s.health.get("lbs") or {}
    points = vantage_points(s)
    waiting = waiting_by_address(s.health.get("waiting") or ())
    held = {
        str(h["lb"]): max(0, int(h["wanted"]) - int(h["removed"]))
        for h in s.health.get("held_back") or []
    }
    out = []
    for lb in sorted(set(loads) | set(probed)):
        load = loads.get(lb)
        out.append(
            {
                "lb": lb,
                "endpoints": load.endpoints if load else 0,
                "weight": load.weight if load else 0,
                "addresses": list(load.addresses) if load else [],
                "serving": load is not None and load.serving,
                **_probe_row(lb, probed.get(lb)),
                "down_at": [p["vantage"] for p in points if lb in p["down"]],
                "failing_at": [p["vantage"] for p in points if lb in p["failing"]],
                "held_back": held.get(lb),  # capacity the removal budget keeps here
            }
        )
    out.sort(key=lambda r: (not _problem(r), r["lb"]))
    _memo[:] = [s, (points, out, waiting)]
    return points, out, waiting


def _problem(row: Mapping[str, Any]) -> bool:
    return (
        row["healthy"] is False
        or bool(row["down_at"])
        or not row["serving"]
        or bool(row["held_back"])
        or row["address_problems"] > 0
    )
