"""Safety gates: named checks with numbers in their messages.

The planner, the store's publish and write paths, the enactor and the simulator's
invariant checker all call these same functions, so a rule is written exactly once.

Gates return a list of `Violation`s (empty means the gate passed); `require` turns a
non-empty list into `PlanRejected`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zonewarden.core.model import Content, EndpointName, LbId, PlanDraft
from zonewarden.errors import PlanRejected


@dataclass(frozen=True, slots=True)
class Violation:
    """One failed gate: which gate, which endpoint, and the numbers involved."""

    gate: str
    endpoint: str
    message: str

    def __str__(self) -> str:
        return f"{self.gate}: {self.message}"


MAX_TTL = 86400  # seconds: the longest TTL any endpoint may have (a day)


@dataclass(frozen=True, slots=True)
class Limits:
    """Thresholds of the gates; every one is a parameter, none is an AWS value."""

    capacity_floor: float = 0.3
    max_removal: float = 0.5
    max_ttl: int = MAX_TTL


def never_empty(name: EndpointName, content: Content) -> list[Violation]:
    """I1: an endpoint must always have at least one record."""
    if not content.records:
        return [Violation("never-empty", name, f"{name} would have 0 records")]
    return []


def weights_valid(name: EndpointName, content: Content) -> list[Violation]:
    """I6: weights are >= 0 and their sum is > 0."""
    out = []
    negative = [r for r in content.records if r.weight < 0]
    if negative:
        out.append(
            Violation("weights", name, f"{name} has {len(negative)} record(s) with weight < 0")
        )
    if content.records and content.weight_sum <= 0:
        out.append(
            Violation("weights", name, f"{name} has total weight {content.weight_sum}, need > 0")
        )
    return out


def ttl_valid(name: EndpointName, content: Content, limits: Limits) -> list[Violation]:
    if not 0 <= content.ttl <= limits.max_ttl:
        return [Violation("ttl", name, f"{name} ttl {content.ttl} outside 0..{limits.max_ttl}")]
    return []


def content_valid(
    name: EndpointName, content: Content, limits: Limits | None = None
) -> list[Violation]:
    """Every structural gate for one endpoint's content (checked before every write)."""
    return (
        never_empty(name, content)
        + weights_valid(name, content)
        + ttl_valid(name, content, limits or Limits())
    )


def draft_valid(draft: PlanDraft, limits: Limits | None = None) -> list[Violation]:
    """Structural gates over a whole plan: it names endpoints and none is invalid."""
    if not draft.endpoints:
        return [Violation("never-empty", "*", "plan has 0 endpoints")]
    out: list[Violation] = []
    for name, content in draft.endpoints.items():
        out.extend(content_valid(name, content, limits))
    return out


def lb_shares(content: Content) -> dict[LbId, float]:
    """Each load balancer's share of an endpoint's total weight (0..1)."""
    total = content.weight_sum
    if total <= 0:
        return {}
    shares: dict[LbId, float] = {}
    for r in content.records:
        shares[r.lb] = shares.get(r.lb, 0.0) + r.weight / total
    return shares


def removal_fraction(before: Content, after: Content) -> float:
    """Fraction of an endpoint's traffic share that moves away from load balancers."""
    old, new = lb_shares(before), lb_shares(after)
    return sum(max(0.0, share - new.get(lb, 0.0)) for lb, share in old.items())


def max_change(previous: PlanDraft | None, draft: PlanDraft, limits: Limits) -> list[Violation]:
    """Bound how much traffic one plan may move off load balancers, per endpoint."""
    if previous is None:
        return []
    out = []
    for name, content in draft.endpoints.items():
        before = previous.endpoints.get(name)
        if before is None or not before.records:
            continue
        removed = removal_fraction(before, content)
        if removed > limits.max_removal + 1e-9:
            out.append(
                Violation(
                    "max-change",
                    name,
                    f"capacity removal {removed:.0%} exceeds limit {limits.max_removal:.0%} "
                    f"per plan for {name}",
                )
            )
    return out


def capacity_floor(
    name: EndpointName, healthy_capacity: int, nominal_capacity: int, limits: Limits
) -> list[Violation]:
    """Refuse a plan that serves an endpoint from too little of its nominal capacity."""
    if nominal_capacity <= 0:
        return [Violation("capacity-floor", name, f"{name} has nominal capacity 0")]
    fraction = healthy_capacity / nominal_capacity
    if fraction + 1e-9 < limits.capacity_floor:
        return [
            Violation(
                "capacity-floor",
                name,
                f"{name} would keep {fraction:.0%} of its capacity "
                f"({healthy_capacity}/{nominal_capacity}), floor is {limits.capacity_floor:.0%}",
            )
        ]
    return []


def require(violations: list[Violation]) -> None:
    """Raise PlanRejected when any gate failed."""
    if violations:
        raise PlanRejected(violations)


def require_valid(draft: PlanDraft) -> None:
    """Every store's own publish gate: the plan names endpoints and each is valid."""
    require(draft_valid(draft))


def endpoint_violations(
    endpoints: Mapping[EndpointName, Content],
) -> dict[EndpointName, list[Violation]]:
    """Per-endpoint structural violations, for reports."""
    out = {}
    for name, content in endpoints.items():
        found = content_valid(name, content)
        if found:
            out[name] = found
    return out
