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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zonewarden.core.gates import (
    Limits,
    Violation,
    capacity_floor,
    content_valid,
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
from zonewarden.core.policy import (
    LbHealth,
    OperatorHold,
    PolicySettings,
    PolicyState,
    RegionIndex,
    Step,
    initial_state,
    step,
)
from zonewarden.core.region import Region

MAX_WEIGHT = 255  # Route 53's weight ceiling, so plans carry over to every backend


@dataclass(frozen=True, slots=True)
class Observation:
    """One health reading of a load balancer; capacity None means 'as configured'."""

    healthy: bool
    capacity: int | None = None
    reason: str = ""
    failing: bool = False  # newest probes fail, the verdict has not fallen yet


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


# -- the live planner's tick: policy (budget, hysteresis, fail-static) + incremental build --


@dataclass(frozen=True, slots=True)
class TickInputs:
    """Everything one planner tick decides from; `rebuild` re-plans every endpoint (the
    base plan came from someone else: an operator plan, a rollback, a repair)."""

    index: RegionIndex
    health: Mapping[LbId, LbHealth]
    state: PolicyState
    now: float
    previous: PlanDraft | None = None
    holds: tuple[OperatorHold, ...] = ()
    pins: Mapping[EndpointName, Content] = field(default_factory=dict)
    settings: PolicySettings = field(default_factory=PolicySettings)
    limits: Limits = field(default_factory=Limits)
    evidence_problems: tuple[str, ...] = ()
    rebuild: bool = False


@dataclass(frozen=True, slots=True)
class TickDecision:
    """A tick's outcome. `state` is the policy state to keep once `draft` is published
    (or at once when nothing needs publishing); `changed` names re-planned endpoints."""

    action: str  # "publish" | "unchanged" | "hold"
    draft: PlanDraft | None
    state: PolicyState
    step: Step
    reasons: tuple[Violation, ...] = ()
    changed: tuple[EndpointName, ...] = ()


def weights_in(draft: PlanDraft) -> dict[LbId, int]:
    """Each LB's weight in a plan (one weight per LB, the largest if a plan disagrees)."""
    out: dict[LbId, int] = {}
    for content in draft.endpoints.values():
        for r in content.records:
            if r.weight > out.get(r.lb, -1):
                out[r.lb] = r.weight
    return out


def plan_tick(inputs: TickInputs) -> TickDecision:
    """One tick: the policy step, then only the endpoints whose LBs changed weight."""
    index, region = inputs.index, inputs.index.region
    state = inputs.state
    if not state.served and inputs.previous is not None:
        state = initial_state(index, weights_in(inputs.previous), kept=state)
    stepped = step(
        state,
        index,
        inputs.health,
        inputs.holds,
        inputs.now,
        inputs.settings,
        inputs.evidence_problems,
    )
    if stepped.fail_static:
        alarms = tuple(Violation("fail-static", "*", a) for a in stepped.alarms)
        return TickDecision("hold", None, inputs.state, stepped, alarms)
    after = {lb: index.weight(stepped.state.served.get(lb, 0)) for lb in region.lbs}
    if inputs.previous is None or inputs.rebuild:
        names: Iterable[EndpointName] = region.endpoints
        base: dict[EndpointName, Content] = {}
    else:
        before = {lb: index.weight(state.served.get(lb, 0)) for lb in region.lbs}
        moved = [lb for lb in region.lbs if before[lb] != after[lb]]
        names = sorted({n for lb in moved for n in index.users[lb]})
        base = dict(inputs.previous.endpoints)
    contents, changed = _rebuild(region, base, names, after, inputs.pins)
    if not changed and inputs.previous is not None:
        return TickDecision("unchanged", inputs.previous, stepped.state, stepped)
    problems = _tick_gates(region, inputs, contents, changed, stepped)
    if problems:
        return TickDecision("hold", None, inputs.state, stepped, tuple(problems), tuple(changed))
    draft = PlanDraft(contents)
    if inputs.previous is not None and draft.digest == inputs.previous.digest:
        return TickDecision("unchanged", inputs.previous, stepped.state, stepped)
    return TickDecision("publish", draft, stepped.state, stepped, (), tuple(changed))


def _rebuild(
    region: Region,
    base: dict[EndpointName, Content],
    names: Iterable[EndpointName],
    weights: Mapping[LbId, int],
    pins: Mapping[EndpointName, Content],
) -> tuple[dict[EndpointName, Content], list[EndpointName]]:
    changed = []
    for name in names:
        content = pins.get(name) or endpoint_content(region, name, weights)
        old = base.get(name)
        if old is None or old.digest != content.digest:
            base[name] = content
            changed.append(name)
    for name, content in pins.items():  # a pin set since the base plan
        if name in base and base[name].digest != content.digest:
            base[name] = content
            changed.append(name)
    return base, changed


def _tick_gates(
    region: Region,
    inputs: TickInputs,
    contents: Mapping[EndpointName, Content],
    changed: list[EndpointName],
    stepped: Step,
) -> list[Violation]:
    """Structural gates on the re-planned endpoints; the per-plan change backstop unless
    an operator drain moved capacity on purpose this tick."""
    problems: list[Violation] = []
    for name in changed:
        content = contents[name]
        problems += content_valid(name, content, inputs.limits)
        for rtype in region.endpoints[name].record_types if name in region.endpoints else ():
            if content.count(rtype) == 0:
                problems.append(
                    Violation("never-empty", name, f"{name} would have 0 {rtype} records")
                )
    drained = any(c.cause.startswith("drained by") for c in stepped.changes)
    if inputs.previous is not None and not drained:
        before = PlanDraft(
            {
                n: inputs.previous.endpoints[n]
                for n in changed
                if n in inputs.previous.endpoints and n not in inputs.pins
            }
        )
        after = PlanDraft({n: contents[n] for n in changed if n in before.endpoints})
        problems += max_change(before, after, inputs.limits)
    return problems
