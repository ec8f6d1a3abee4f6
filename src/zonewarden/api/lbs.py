"""Load balancers as the dashboard, the API and the metrics show them.

From the live zone: per LB the endpoints it appears in and its total live weight. From
the probing planner's health status (store.health_status(), shape in
runtime/health_status.py): per LB its verdict, why, capacity and planned capacity; the
vantage points that are fresh or stale; what the removal budget holds back; operator
holds; fail-static. Fail-static is also read from the planner's heartbeat phase, so a
planner without a health status (static or demo health) still shows it. What no source
reports is absent (None), never zero.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from zonewarden.api.view import RegionView, Snapshot

_HELD = re.compile(r"budget_held=([0-9.]+)")
HOLDING_PHASES = frozenset({"holding", "fail-static"})


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


def lb_weights(s: Snapshot) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"endpoints": 0, "weight": 0, "addresses": set()}
    )
    for e in s.endpoints:
        seen = set()
        for lb, address, weight in e.weights:
            row = out[lb]
            row["weight"] += weight
            row["addresses"].add(address)
            if lb not in seen:
                row["endpoints"] += 1
                seen.add(lb)
    return out


def _probe_row(probed: Mapping[str, Any] | None) -> dict[str, Any]:
    if probed is None:
        return {"az": None, "healthy": None, "why": None, "capacity": None, "planned": None}
    return {
        "az": probed.get("az"),
        "healthy": probed.get("healthy"),
        "why": probed.get("reason"),
        "capacity": probed.get("capacity"),
        "planned": probed.get("served"),
    }


def lb_health(v: RegionView) -> dict[str, Any]:
    s = v.snapshot
    holding, why = fail_static(s)
    rows = lb_weights(s)
    probed: Mapping[str, Any] = s.health.get("lbs") or {}
    vantage = s.health.get("vantage") or {}
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
        },
        "health_at": s.health.get("at"),
        "lbs": [
            {
                "lb": lb,
                "endpoints": rows[lb]["endpoints"] if lb in rows else 0,
                "weight": rows[lb]["weight"] if lb in rows else 0,
                "addresses": sorted(rows[lb]["addresses"]) if lb in rows else [],
                "serving": lb in rows and rows[lb]["weight"] > 0,
                **_probe_row(probed.get(lb)),
            }
            for lb in sorted(set(rows) | set(probed))
        ],
    }
