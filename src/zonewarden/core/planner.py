"""The planner's tick: load-balancer health and capacity in, one regional plan decision out.

`plan_tick` is the one planner decision; the runtime planner and the simulator both call
it. Rules kept here:
- one plan covers every endpoint, because endpoints share capacity;
- a load balancer gets one weight, from the capacity the policy (core/policy.py) serves
  it with, used for every endpoint and record type it serves, so an IPv4 and a
  dual-stack endpoint on the same LBs get the same weights;
- a candidate plan that fails any gate is never published: the planner holds the last
  good plan (fail-static) and says why; so does implausible evidence (the policy step);
- only endpoints on LBs whose weight moved are re-planned, unless the base plan came
  from someone else;
- operator pins replace an endpoint's content verbatim (structural gates still apply).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zonewarden.core.addresses import record_weight
from zonewarden.core.gates import (
    Limits,
    Violation,
    content_valid,
    max_change,
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


@dataclass(frozen=True, slots=True)
class Observation:
    """One health reading of a load balancer; capacity None means 'as configured'."""

    healthy: bool
    capacity: int | None = None
    reason: str = ""
    failing: bool = False  # newest probes fail, the verdict has not fallen yet
    down: tuple[str, ...] = ()  # addresses a quorum calls unhealthy (the LB may be healthy)
    failing_addresses: tuple[str, ...] = ()  # up, but their newest probes fail


def lb_weights(region: Region, health: Mapping[LbId, Observation]) -> dict[LbId, int]:
    """Each LB's weight for its healthy capacity (0 if unhealthy), on the region's fixed
    reference (`RegionIndex.weight`, the one weight rule)."""
    index = RegionIndex(region)
    weights: dict[LbId, int] = {}
    for lb_id, lb in region.lbs.items():
        obs = health.get(lb_id, Observation(healthy=lb.healthy))
        cap = lb.capacity if obs.capacity is None else obs.capacity
        weights[lb_id] = index.weight(cap) if obs.healthy else 0
    return weights


def endpoint_content(
    region: Region,
    name: EndpointName,
    weights: Mapping[LbId, int],
    out: Mapping[LbId, frozenset[str]] | None = None,
) -> Content:
    """An endpoint's records: every address of its LBs with a weight, but those the
    plan leaves `out` (an LB planned by address, core/addresses.py)."""
    endpoint = region.endpoints[name]
    records = []
    for rtype in endpoint.record_types:
        for lb_id in endpoint.lbs:
            weight = weights[lb_id]
            if weight <= 0:
                continue
            left = out.get(lb_id) if out else None
            for address in region.lbs[lb_id].addresses(rtype):
                if not left or address not in left:
                    records.append(Record(rtype, address, weight, lb_id))
    return Content(endpoint.ttl, endpoint.policy, tuple(records))


def build_draft(region: Region, health: Mapping[LbId, Observation]) -> PlanDraft:
    weights = lb_weights(region, health)
    return PlanDraft({name: endpoint_content(region, name, weights) for name in region.endpoints})


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
    state, previous = inputs.state, inputs.previous
    if not state.served:  # a fresh or restarted planner: the plan says what is out
        weights = weights_in(previous) if previous is not None else None
        present = addresses_in(previous) if previous is not None else None
        state = initial_state(index, weights, kept=state, present=present)
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
    out = _left_out(stepped.state)
    after = {lb: index.weight(stepped.state.served.get(lb, 0)) for lb in region.lbs}
    for lb in out:  # the records left carry the LB's served capacity
        after[lb] = _record_weight(index, stepped.state, lb)
    if inputs.previous is None or inputs.rebuild:
        names: Iterable[EndpointName] = region.endpoints
        base: dict[EndpointName, Content] = {}
    else:
        # only an LB the step changed, or one planned by address, can have moved
        old_out = _left_out(state)
        touched = {c.lb for c in stepped.changes} | set(old_out) | set(out)
        moved = [
            lb
            for lb in touched
            if _record_weight(index, state, lb) != after[lb] or old_out.get(lb) != out.get(lb)
        ]
        names = sorted({n for lb in moved for n in index.users[lb]})
        base = dict(inputs.previous.endpoints)
    contents, changed = _rebuild(region, base, names, after, inputs.pins, out)
    if not changed and inputs.previous is not None:
        return TickDecision("unchanged", inputs.previous, stepped.state, stepped)
    problems = _tick_gates(region, inputs, contents, changed, stepped)
    if problems:
        return TickDecision("hold", None, inputs.state, stepped, tuple(problems), tuple(changed))
    if inputs.previous is None or inputs.rebuild:
        draft = PlanDraft(contents)
    else:  # the previous plan with the re-planned endpoints: no second sort of them all
        draft = PlanDraft.replacing(inputs.previous, {n: contents[n] for n in changed})
    if inputs.previous is not None and draft.digest == inputs.previous.digest:
        return TickDecision("unchanged", inputs.previous, stepped.state, stepped)
    return TickDecision("publish", draft, stepped.state, stepped, (), tuple(changed))


def _left_out(state: PolicyState) -> dict[LbId, frozenset[str]]:
    return {lb: p.out for lb, p in state.addresses.items() if p.out}


def _record_weight(index: RegionIndex, state: PolicyState, lb: LbId) -> int:
    plan = state.addresses.get(lb)
    served = state.served.get(lb, 0)
    if plan is None or not plan.out:
        return index.weight(served)
    return record_weight(index, served, len(index.servable[lb]), len(plan.out))


def addresses_in(draft: PlanDraft) -> dict[LbId, frozenset[str]]:
    """Each LB's addresses that a plan's records carry."""
    found: dict[LbId, set[str]] = {}
    for content in draft.endpoints.values():
        for r in content.records:
            found.setdefault(r.lb, set()).add(r.address)
    return {lb: frozenset(a) for lb, a in found.items()}


def _rebuild(
    region: Region,
    base: dict[EndpointName, Content],
    names: Iterable[EndpointName],
    weights: Mapping[LbId, int],
    pins: Mapping[EndpointName, Content],
    out: Mapping[LbId, frozenset[str]] | None = None,
) -> tuple[dict[EndpointName, Content], list[EndpointName]]:
    changed = []
    for name in names:
        content = pins.get(name) or endpoint_content(region, name, weights, out)
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
    an operator drain moved capacity on purpose this tick or capacity only came back."""
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
    # capacity only coming back (re-entries, an undrain) removes nothing: its dilution of
    # the LBs that stayed is not a removal, else a name drained to one LB never recovers
    returning = bool(stepped.changes) and all(c.after >= c.before for c in stepped.changes)
    if inputs.previous is not None and not drained and not returning:
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
