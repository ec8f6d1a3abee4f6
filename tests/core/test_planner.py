"""The planner: weights, consistency across endpoints, gates and fail-static holds."""

from __future__ import annotations

from zonewarden.core.gates import Limits
from zonewarden.core.model import RecordType
from zonewarden.core.planner import Observation, PlanningInputs, build_draft, decide, lb_weights
from zonewarden.core.region import demo_region

REGION = demo_region()
V4 = next(n for n, e in REGION.endpoints.items() if e.record_types == (RecordType.A,))
DUAL = next(n for n, e in REGION.endpoints.items() if RecordType.AAAA in e.record_types)


def test_weights_are_proportional_to_healthy_capacity():
    weights = lb_weights(REGION, {})
    caps = {i: lb.capacity for i, lb in REGION.lbs.items()}
    top = max(caps.values())
    for lb_id, w in weights.items():
        assert abs(w - 255 * caps[lb_id] / top) <= 0.5
    down = next(iter(REGION.lbs))
    assert lb_weights(REGION, {down: Observation(False)})[down] == 0


def test_ipv4_and_dual_stack_endpoints_get_the_same_weights():
    draft = build_draft(REGION, {})
    v4 = {r.lb: r.weight for r in draft.endpoints[V4].records}
    dual_a = {r.lb: r.weight for r in draft.endpoints[DUAL].records if r.rtype is RecordType.A}
    dual_aaaa = {
        r.lb: r.weight for r in draft.endpoints[DUAL].records if r.rtype is RecordType.AAAA
    }
    assert v4 == dual_a == dual_aaaa


def test_publish_then_unchanged():
    first = decide(PlanningInputs(REGION, {}))
    assert first.action == "publish"
    again = decide(PlanningInputs(REGION, {}, previous=first.draft))
    assert again.action == "unchanged"


def test_unhealthy_lb_is_drained():
    down = next(iter(REGION.lbs))
    prev = decide(PlanningInputs(REGION, {})).draft
    d = decide(PlanningInputs(REGION, {down: Observation(False)}, previous=prev))
    assert d.action == "publish"
    assert all(r.lb != down for c in d.draft.endpoints.values() for r in c.records)


def test_implausible_health_holds_last_good_plan():
    everything_down = {i: Observation(False) for i in REGION.lbs}
    d = decide(PlanningInputs(REGION, everything_down))
    assert d.action == "hold" and d.draft is None
    assert "12/12 load balancers (100%) report unhealthy" in str(d.reasons[0])


def test_blind_health_source_holds():
    d = decide(PlanningInputs(REGION, {}, health_source_ok=False))
    assert d.action == "hold" and "unreachable" in str(d.reasons[0])


def test_large_removal_in_one_plan_is_refused_with_numbers():
    prev = decide(PlanningInputs(REGION, {})).draft
    az1 = {i: Observation(False) for i, lb in REGION.lbs.items() if lb.az == "use1-az1"}
    az2 = {i: Observation(False) for i, lb in REGION.lbs.items() if lb.az == "use1-az2"}
    limits = Limits(max_removal=0.25)
    d = decide(
        PlanningInputs(REGION, az1 | az2, previous=prev, limits=limits, max_unhealthy_fraction=0.9)
    )
    assert d.action == "hold"
    assert any("exceeds limit 25% per plan" in str(v) for v in d.reasons)


def test_capacity_floor_refuses_a_thin_plan():
    keep_one = dict.fromkeys(list(REGION.lbs)[1:], Observation(False))
    d = decide(
        PlanningInputs(REGION, keep_one, max_unhealthy_fraction=1.0, limits=Limits(max_removal=1.0))
    )
    assert d.action == "hold"
    assert any("floor is 30%" in str(v) for v in d.reasons)


def test_pins_keep_their_content():
    prev = decide(PlanningInputs(REGION, {})).draft
    down = next(iter(REGION.lbs))
    d = decide(
        PlanningInputs(
            REGION, {down: Observation(False)}, previous=prev, pins={V4: prev.endpoints[V4]}
        )
    )
    assert d.draft.endpoints[V4] == prev.endpoints[V4]
    assert d.draft.endpoints[DUAL] != prev.endpoints[DUAL]
