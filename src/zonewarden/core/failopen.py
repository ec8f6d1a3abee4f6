"""Route 53's fail-open rules, checked against a plan: where Route 53 would answer
something other than what the plan means.

Route 53 answers every record of a weighted group equally when all weights are 0, and
treats a group whose health-checked records are all unhealthy as all healthy. ZoneWarden
already refuses total weight 0 (gates.weights_valid) and attaches no Route 53 health
checks, but when every target of an endpoint is unhealthy its never-empty rule keeps
them served, so Route 53 and ZoneWarden then both fail open: the operator should know.
Pure: the planner (per publish) and the Route 53 backend (per write) call it.
"""

from __future__ import annotations

from collections.abc import Mapping

from zonewarden.core.model import Content, EndpointName, LbId


def fail_open_warnings(
    name: EndpointName | str,
    content: Content,
    healthy: Mapping[LbId, bool] | None = None,
) -> list[str]:
    """What Route 53 would do that the plan does not say; `healthy` (LB -> health, as
    the planner observed it) adds the all-targets-unhealthy case."""
    out = []
    weighted = [r for r in content.records if r.weight > 0]
    if content.records and not weighted:
        out.append(f"{name}: all weights are 0; Route 53 then answers every record equally")
    if len(weighted) == 1:
        out.append(f"{name}: one weighted record; if it fails there is nothing to shift to")
    if healthy is not None and weighted and not any(healthy.get(r.lb, True) for r in weighted):
        out.append(
            f"{name}: every target is unhealthy; it keeps being served (never empty), and "
            "Route 53 would answer all of them too (fail-open)"
        )
    return out
