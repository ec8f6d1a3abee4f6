"""Load balancers as the dashboard and metrics show them: what each one serves now.

From the live zone: per LB the endpoints it appears in and its total weight; from the
planner's heartbeat: whether fail-static is engaged and why. Health per vantage point
and the removal budget held back come from the health source when it reports them in
the planner's heartbeat detail (`budget_held=`), otherwise they are absent, not zero.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from zonewarden.api.view import RegionView, Snapshot

_HELD = re.compile(r"budget_held=([0-9.]+)")


def fail_static(s: Snapshot) -> tuple[bool, str]:
    for h in s.heartbeats:
        if h.actor == "planner":
            return h.phase == "holding", h.detail if h.phase == "holding" else ""
    return False, ""


def budget_held(s: Snapshot) -> float | None:
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


def lb_health(v: RegionView) -> dict[str, Any]:
    s = v.snapshot
    holding, why = fail_static(s)
    rows = lb_weights(s)
    return {
        "fail_static": holding,
        "fail_static_reason": why,
        "budget_held_back": budget_held(s),
        "lbs": [
            {
                "lb": lb,
                "endpoints": row["endpoints"],
                "weight": row["weight"],
                "addresses": sorted(row["addresses"]),
                "serving": row["weight"] > 0,
            }
            for lb, row in sorted(rows.items())
        ],
    }
