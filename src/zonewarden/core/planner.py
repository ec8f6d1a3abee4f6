"""The planner: load-balancer health and capacity in, one regional plan decision out.

Rules kept here:
- one plan covers every endpoint, because endpoints share capacity;
- a load balancer gets one weight, proportional to its healthy capacity, used for every
  endpoint and record type it serves, so an IPv4 and a dual-stack endpoint on the same
  LBs get the same weights;
- a candidate plan that fails any gate is never published: the planner holds the last
  good plan (fail-static) and says why;
- implausible health (a large share of the region turning unhealthy in one observation)
  is treated as a broken input, not as truth;
- operator pins replace an endpoint's content verbatim (structural gates still apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from zonewarden.core.gates import (
    Limits,
    Violation,
    capacity_floor,
    draft_valid,
    max_change,
    never_empty,
)
from zonewarden.core.model import (
    Content,
    EndpointName,
    LbId,
    PlanDraft,
    Record,
)
from zonewarden.core.region import Region

MAX_WEIGHT = 255  # Route 53's weight ceiling, so plans carry over to every backend


@dataclass(frozen=True, slots=True)
class Observation:
    """One health reading of a load balancer; capacity None means 'as configured'."""

    healthy: bool
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class PlanningInputs:
    region: Region
    health: Mapping[LbId, Observation]
    previous: PlanDraft | None = None
    pins: Mapping[EndpointName, Content] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    health_source_ok: bool = True
    max_unhealthy_fraction: float = 0.5


@dataclass(frozen=True, slots=True)
class Decision:
    """What the planner decided: publish `draft`, or hold (fail-static) with reasons."""

    action: str  # "publish" | "unchanged" | "hold"
    draft: PlanDraft | None
    reasons: tuple[Violation, ...] = ()


def lb_weights(region: Region, health: Mapping[LbId, Observation]) -> dict[LbId, int]:
    """Weights 1..MAX_WEIGHT proportional to each healthy LB's capacity; 0 if unhealthy."""
    capacity: dict[LbId, int] = {}
    for lb_id, lb in region.lbs.items():
        obs = health.get(lb_id, Observation(healthy=lb.healthy))
        cap = lb.capacity if obs.capacity is None else obs.capacity
        capacity[lb_id] = cap if obs.healthy else 0
    top = max(capacity.values(), default=0)
    if top <= 0:
        return dict.fromkeys(capacity, 0)
    return {
        lb_id: (max(1, round(MAX_WEIGHT * cap / top)) if cap > 0 else 0)
        for lb_id, cap in capacity.items()
    }


def endpoint_content(region: Region, name: EndpointName, weights: Mapping[LbId, int]) -> Content:
    endpoint = region.endpoints[name]
    records = []
    for rtype in endpoint.record_types:
        for lb_id in endpoint.lbs:
            weight = weights[lb_id]
            if weight <= 0:
                continue
            for address in region.lbs[lb_id].addresses(rtype):
                records.append(Record(rtype, address, weight, lb_id))
    return Content(endpoint.ttl, endpoint.policy, tuple(records))


def build_draft(region: Region, health: Mapping[LbId, Observation]) -> PlanDraft:
    weights = lb_weights(region, health)
    return PlanDraft({name: endpoint_content(region, name, weights) for name in region.endpoints})


def implausible(inputs: PlanningInputs) -> list[Violation]:
    """Inputs that look wrong: the source is down or too much turned unhealthy at once."""
    if not inputs.health_source_ok:
        return [Violation("fail-static", "*", "health source unreachable; holding last good plan")]
    region = inputs.region
    if not region.lbs:
        return []
    unhealthy = sum(
        1
        for lb_id, lb in region.lbs.items()
        if not inputs.health.get(lb_id, Observation(lb.healthy)).healthy
    )
    fraction = unhealthy / len(region.lbs)
    if fraction > inputs.max_unhealthy_fraction:
        return [
            Violation(
                "fail-static",
                "*",
                f"{unhealthy}/{len(region.lbs)} load balancers ({fraction:.0%}) report unhealthy, "
                f"over the plausibility limit {inputs.max_unhealthy_fraction:.0%}; "
                "holding last good plan",
            )
        ]
    return []


def per_type_nonempty(region: Region, draft: PlanDraft) -> list[Violation]:
    out = []
    for name, endpoint in region.endpoints.items():
        content = draft.endpoints[name]
        for rtype in endpoint.record_types:
            if content.count(rtype) == 0:
                out.append(Violation("never-empty", name, f"{name} would have 0 {rtype} records"))
    return out


def floors(region: Region, health: Mapping[LbId, Observation], limits: Limits) -> list[Violation]:
    out = []
    for name, endpoint in region.endpoints.items():
        healthy_cap = 0
        for lb_id in endpoint.lbs:
            lb = region.lbs[lb_id]
            obs = health.get(lb_id, Observation(lb.healthy))
            if obs.healthy:
                healthy_cap += lb.capacity if obs.capacity is None else obs.capacity
        out.extend(capacity_floor(name, healthy_cap, region.nominal_capacity(name), limits))
    return out


def decide(inputs: PlanningInputs) -> Decision:
    """Build the candidate regional plan and decide whether it may be published."""
    held = implausible(inputs)
    if held:
        return Decision("hold", None, tuple(held))
    draft = build_draft(inputs.region, inputs.health)
    problems = per_type_nonempty(inputs.region, draft) + floors(
        inputs.region, inputs.health, inputs.limits
    )
    if inputs.pins:
        pinned = dict(draft.endpoints)
        for name, content in inputs.pins.items():
            if name in pinned:
                pinned[name] = content
                problems = [v for v in problems if v.endpoint != name]
                problems.extend(never_empty(name, content))
        draft = PlanDraft(pinned)
    unpinned_prev = _without(inputs.previous, inputs.pins)
    problems += draft_valid(draft, inputs.limits)
    unpinned = _without(draft, inputs.pins)
    if unpinned is not None:
        problems += max_change(unpinned_prev, unpinned, inputs.limits)
    if problems:
        return Decision("hold", None, tuple(problems))
    if inputs.previous is not None and inputs.previous.digest == draft.digest:
        return Decision("unchanged", draft)
    return Decision("publish", draft)


def _without(draft: PlanDraft | None, pins: Mapping[EndpointName, Content]) -> PlanDraft | None:
    if draft is None or not pins:
        return draft
    return PlanDraft({n: c for n, c in draft.endpoints.items() if n not in pins})
