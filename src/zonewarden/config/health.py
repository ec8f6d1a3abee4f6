"""The [health] section and the health keys of [[lb]] and [planner], to HealthSettings.

Rules kept here: every value is range-checked and every error names the file and line
(an unknown check scheme points at that LB's `check` line); every address of an LB is
probed on its own (`HealthSettings.probes`, core/checks.address_checks); an LB without
`check` is probed with TCP on port 80 of each address; the removal budget and hysteresis are
on by default with `[planner] health = "probe"` and off for `static` and `demo` (whose
inputs are the operator's own); `removal_budget = true|false` says so explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zonewarden.config.checks import boolean, choice, integer, nonempty, num
from zonewarden.config.source import Source, tables
from zonewarden.core.budget import BudgetRule
from zonewarden.core.checks import CheckTarget, ProbeSettings, address_checks
from zonewarden.core.health import QuorumRule
from zonewarden.core.hysteresis import Hysteresis
from zonewarden.core.model import LbId
from zonewarden.core.policy import PolicySettings
from zonewarden.core.region import Region

VANTAGE = ("planner", "enactors", "both")


def _status_range(v: Any) -> tuple[int, int]:
    if (
        not isinstance(v, list)
        or len(v) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in v)
    ):
        raise ValueError(f"expected [LOW, HIGH] status codes, got {v!r}")
    lo, hi = v
    if not 100 <= lo <= hi <= 599:
        raise ValueError(f"[{lo}, {hi}] must lie in 100..599, low first")
    return lo, hi


HEALTH_KEYS = {
    "interval": num(0.01, 3600),
    "timeout": num(0.001, 600),
    "jitter": num(0, 0.5),
    "rise": integer(1, 100),
    "fall": integer(1, 100),
    "max_concurrent": integer(1, 100_000),
    "queue_depth": integer(1, 10_000_000),
    "lifo_above": integer(0, 10_000_000),
    "probe_deadline": num(0, 3600),
    "expect_status": _status_range,
    "body_match": nonempty,
    "max_bytes": integer(64, 16 * 1024 * 1024),
    "tls_verify": boolean,
    "vantage": choice(*VANTAGE),
    "quorum": num(0.01, 1),
    "max_age": num(0.01, 86400),
    "min_fresh": integer(1, 1000),
    "max_split": num(0, 1),
}
PLANNER_HEALTH_KEYS = {
    "removal_budget": boolean,
    "endpoint_budget": num(0, 1),
    "az_budget": num(0, 1),
    "budget_window": num(0.01, 86400),
    "hold_down": num(0, 86400),
    "deadband": num(0, 0.99),
    "leader_ttl": integer(1, 60),
}
LB_HEALTH_KEYS = {"check": nonempty, "capacity_url": nonempty}


@dataclass(frozen=True, slots=True)
class HealthSettings:
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    quorum: QuorumRule = field(default_factory=QuorumRule)
    policy: PolicySettings = field(default_factory=PolicySettings)
    vantage: str = "planner"
    checks: Mapping[LbId, CheckTarget] = field(default_factory=dict)
    capacity_urls: Mapping[LbId, CheckTarget] = field(default_factory=dict)
    # what is probed: per LB, each address's check (core.checks.address_checks)
    probes: Mapping[LbId, Mapping[str, CheckTarget]] = field(default_factory=dict)
    leader_ttl: int = 2  # [planner] leader_ttl: planners on etcd elect a leader by lease


def parse_health(
    src: Source,
    data: Mapping[str, Any],
    health: Mapping[str, Any],
    planner: Mapping[str, Any],
    region: Region,
) -> HealthSettings:
    try:
        probe = ProbeSettings(
            **{k: health[k] for k in HEALTH_KEYS if k in health and k in ProbeSettings.__slots__}
        )
    except ValueError as exc:
        raise src.error(f"[health] {exc}", "health", None, "expect_status") from None
    quorum = QuorumRule(
        unhealthy_share=health.get("quorum", 0.5),
        max_age=health.get("max_age", max(10.0, 5 * probe.interval + probe.timeout)),
        min_fresh=health.get("min_fresh", 1),
        max_split=health.get("max_split", 0.25),
    )
    checks, capacity, explicit = _lb_checks(src, data, region)
    probes = {
        lb: address_checks(config, checks[lb] if lb in explicit else None)
        for lb, config in region.lbs.items()
    }
    return HealthSettings(
        probe=probe,
        quorum=quorum,
        policy=_policy(src, planner),
        vantage=health.get("vantage", "planner"),
        checks=checks,
        capacity_urls=capacity,
        probes=probes,
        leader_ttl=planner.get("leader_ttl", 2),
    )


def _policy(src: Source, s: Mapping[str, Any]) -> PolicySettings:
    """The budget and hysteresis are on by default for probed health; `static` and
    `demo` health change only when the config or the demo's drift says so, and keep
    the per-plan gates alone unless the keys are given."""
    probed = s.get("health", "static") == "probe"
    window = s.get("budget_window", 300.0)
    on = s.get("removal_budget", probed)
    endpoint = BudgetRule(s.get("endpoint_budget", 0.25), window) if on else None
    az = BudgetRule(s.get("az_budget", 0.25), window) if on else None
    try:
        hysteresis = Hysteresis(
            s.get("deadband", 0.1 if probed else 0.0), s.get("hold_down", 30.0 if probed else 0.0)
        )
    except ValueError as exc:
        raise src.error(f"[planner] {exc}", "planner", None, "hold_down") from None
    return PolicySettings(
        endpoint_budget=endpoint,
        az_budget=az,
        hysteresis=hysteresis,
        max_failing=s.get("max_unhealthy_fraction", 0.5),
        capacity_floor=s.get("capacity_floor", 0.3),
    )


def _lb_checks(
    src: Source, data: Mapping[str, Any], region: Region
) -> tuple[dict[LbId, CheckTarget], dict[LbId, CheckTarget], set[LbId]]:
    """Each LB's check (the default filled in), capacity URL, and which checks were given."""
    checks: dict[LbId, CheckTarget] = {}
    explicit: set[LbId] = set()
    capacity: dict[LbId, CheckTarget] = {}
    for i, raw in enumerate(tables(src, data, "lb")):
        lb = LbId(str(raw["id"]))
        for key, out in (("check", checks), ("capacity_url", capacity)):
            if key not in raw:
                continue
            try:
                target = CheckTarget.parse(raw[key])
            except ValueError as exc:
                raise src.error(f"[[lb]] {lb} {key}: {exc}", "lb", i, key) from None
            if key == "capacity_url" and target.scheme == "tcp":
                raise src.error(f"[[lb]] {lb} capacity_url must be http(s)", "lb", i, key)
            out[lb] = target
        if lb in checks:
            explicit.add(lb)
        else:
            checks[lb] = CheckTarget.default_for(region.lbs[lb])
    return checks, capacity, explicit
