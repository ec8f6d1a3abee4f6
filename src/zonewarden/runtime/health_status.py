"""The planner's health status document, as `HealthStore.set_health_status` keeps it.

Shape (JSON; what `status`, the admin API and the dashboard read):

    {"at": 1764612345.6, "action": "publish" | "unchanged" | "hold",
     "fail_static": ["12/12 load balancers (100%) fail at once, ..."],   # empty when not
     "held_back": [{"lb": "lb-1b", "wanted": 120, "removed": 0, "bound": "...",
                    "until": 1764612645.0}],
     "waiting": ["lb-1a: hold-down: healthy for 12 s of 30 s before re-entry"],
     "lbs": {"lb-1a": {"az": "use1-az1", "healthy": false, "reason": "...",
                       "capacity": 110, "served": 0, "weight": 0,
                       "addresses": {"127.0.1.1": {"healthy": false, "reason": "...",
                                                   "down": 2, "fresh": 2, "planned": true,
                                                   "waiting_s": null, "exits": 1}}}},
     "vantage": {"fresh": ["planner", "az1"], "stale": ["az2 (31.0 s old)"],
                 "overload": ["planner: 40 probes shed in the last 3.1 s (...)"]},
     "by_vantage": {"az1": {"at": 1764612345.1, "lbs": 12, "healthy": 11,
                            "down": {"lb-1a": "http 503"}, "failing": {}, "overload": ""}},
     "holds": [{"scope": "az", "name": "use1-az2", "kind": "drain", "reason": "...",
                "actor": "alice", "at": 1764612000.0}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from zonewarden.core.addresses import NO_ADDRESS_PLAN, recent_exits, waiting_left
from zonewarden.core.health import Evidence, VantageReport
from zonewarden.core.hysteresis import Hysteresis
from zonewarden.core.model import LbId
from zonewarden.core.planner import Observation, TickDecision
from zonewarden.core.policy import OperatorHold, PolicyState, RegionIndex, ledger_document


def status_document(
    index: RegionIndex,
    state: PolicyState,
    observed: Mapping[LbId, Observation],
    decision: TickDecision,
    evidence: Evidence | None,
    now: float,
    holds: Iterable[OperatorHold],
    reports: Iterable[VantageReport] = (),
    hysteresis: Hysteresis | None = None,
) -> dict[str, Any]:
    """The document (see the module doc); an address row's `waiting_s` is how long a
    left-out healthy address still waits out its (damped) hold-down, `exits` how often
    it left the plan within the flap window."""
    h = hysteresis if hysteresis is not None else Hysteresis()
    lbs = {}
    verdicts = evidence.verdicts if evidence is not None else {}
    for lb, config in index.region.lbs.items():
        obs = observed.get(lb)
        served = state.served.get(lb, 0)
        verdict = verdicts.get(lb)
        plan = state.addresses.get(lb, NO_ADDRESS_PLAN)
        left_out = plan.out
        lbs[str(lb)] = {
            "az": config.az,
            "healthy": None if obs is None else obs.healthy,
            "reason": "" if obs is None else obs.reason,
            "capacity": config.capacity if obs is None or obs.capacity is None else obs.capacity,
            "served": served,
            "weight": index.weight(served),
            "addresses": {
                a: {
                    "healthy": v.healthy,
                    "reason": v.reason,
                    "down": v.down,
                    "fresh": v.fresh,
                    "planned": served > 0 and a not in left_out,
                    "waiting_s": waiting_left(plan, a, now, h),
                    "exits": recent_exits(plan, a, now, h),
                }
                for a, v in (verdict.addresses.items() if verdict is not None else ())
            },
        }
    held = [
        {"lb": h.lb, "wanted": h.wanted, "removed": h.removed, "bound": h.bound, "until": h.until}
        for h in decision.step.held_back
    ]
    return {
        "at": now,
        "action": decision.action,
        "fail_static": [v.message for v in decision.reasons if v.gate == "fail-static"],
        "refused": [str(v) for v in decision.reasons if v.gate != "fail-static"],
        "held_back": held,
        "waiting": list(decision.step.waiting),
        "lbs": lbs,
        "vantage": {
            "fresh": list(evidence.fresh) if evidence else [],
            "stale": list(evidence.stale) if evidence else [],
            "overload": list(evidence.overload) if evidence else [],  # probes being shed
        },
        "by_vantage": {r.vantage: vantage_summary(r) for r in reports},
        "ledger": ledger_document(state),  # spends, exits, address plans: for restarts
        "holds": [
            {
                "scope": h.scope,
                "name": h.name,
                "kind": h.kind,
                "reason": h.reason,
                "actor": h.actor,
                "at": h.at,
            }
            for h in holds
        ],
    }


def vantage_summary(report: VantageReport) -> dict[str, Any]:
    """One vantage point's own readings, short: counts, and only the LBs it calls down
    (verdict fallen) or failing (newest probe failed, verdict not fallen yet)."""
    down = {str(lb): r.reason for lb, r in report.readings.items() if not r.healthy}
    failing = {str(lb): r.reason for lb, r in report.readings.items() if r.healthy and r.failing}
    return {
        "at": report.at,
        "lbs": len(report.readings),
        "healthy": len(report.readings) - len(down),
        "down": dict(sorted(down.items())),
        "failing": dict(sorted(failing.items())),
        "overload": report.overload,  # "" unless it sheds probes
    }
