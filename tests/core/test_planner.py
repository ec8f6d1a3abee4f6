"""The planner tick with the demo's policy (no budget, no hysteresis): weights, one
weight per LB across endpoints and record types, the gates and the fail-static holds."""

from __future__ import annotations

from dataclasses import replace

from zonewarden.core.gates import Limits
from zonewarden.core.model import RecordType
from zonewarden.core.planner import Observation, TickDecision, TickInputs, lb_weights, plan_tick
from zonewarden.core.policy import LbHealth, PolicyState, RegionIndex
from zonewarden.core.region import demo_region
from zonewarden.sim.planner import DEMO_POLICY

REGION = demo_region()
INDEX = RegionIndex(REGION)
V4 = next(n for n, e in REGION.endpoints.items() if e.record_types == (RecordType.A,))
DUAL = next(n for n, e in REGION.endpoints.items() if RecordType.AAAA in e.record_types)
FIRST = next(iter(REGION.lbs))


def tick(health=None, previous=None, state=None, **kw) -> TickDecision:
    return plan_tick(
        TickInputs(
            INDEX,
            health or {},
            state or PolicyState(),
            1.0,
            previous,
            settings=kw.pop("settings", DEMO_POLICY),
            **kw,
        )
    )


def first() -> TickDecision:
    d = tick()
    assert d.action == "publish"
    return d


def test_weights_are_proportional_to_healthy_capacity():
    weights = lb_weights(REGION, {})
    top = max(lb.capacity for lb in REGION.lbs.values())
    for lb_id, w in weights.items():
        assert abs(w - 255 * REGION.lbs[lb_id].capacity / top) <= 0.5
    assert lb_weights(REGION, {FIRST: Observation(False)})[FIRST] == 0
    planned = {r.lb: r.weight for c in first().draft.endpoints.values() for r in c.records}
    assert planned == weights  # the tick and lb_weights use the one weight rule


def test_ipv4_and_dual_stack_endpoints_get_the_same_weights():
    draft = first().draft
    v4 = {r.lb: r.weight for r in draft.endpoints[V4].records}
    dual_a = {r.lb: r.weight for r in draft.endpoints[DUAL].records if r.rtype is RecordType.A}
    dual_aaaa = {
        r.lb: r.weight for r in draft.endpoints[DUAL].records if r.rtype is RecordType.AAAA
    }
    assert v4 == dual_a == dual_aaaa


def test_publish_then_unchanged():
    d = first()
    again = tick(previous=d.draft, state=d.state)
    assert again.action == "unchanged"


def test_unhealthy_lb_is_drained():
    d = first()
    after = tick({FIRST: LbHealth(False)}, previous=d.draft, state=d.state)
    assert after.action == "publish"
    assert all(r.lb != FIRST for c in after.draft.endpoints.values() for r in c.records)


def test_implausible_health_holds_last_good_plan():
    d = first()
    everything_down = {i: LbHealth(False) for i in REGION.lbs}
    held = tick(everything_down, previous=d.draft, state=d.state)
    assert held.action == "hold" and held.draft is None and held.state == d.state
    assert "12/12 load balancers (100%) fail at once" in str(held.reasons[0])


def test_evidence_problems_hold():
    d = first()
    held = tick(previous=d.draft, state=d.state, evidence_problems=("source down",))
    assert held.action == "hold" and "source down" in str(held.reasons[0])


def test_large_removal_in_one_plan_is_refused_with_numbers():
    d = first()
    az12 = {i: LbHealth(False) for i, lb in REGION.lbs.items() if lb.az in ("use1-az1", "use1-az2")}
    settings = replace(DEMO_POLICY, max_failing=0.9)
    held = tick(
        az12, previous=d.draft, state=d.state, settings=settings, limits=Limits(max_removal=0.25)
    )
    assert held.action == "hold"
    assert any("exceeds limit 25% per plan" in str(v) for v in held.reasons)


def test_capacity_floor_keeps_a_thin_plan_from_draining():
    d = first()
    keep_one = dict.fromkeys(list(REGION.lbs)[1:], LbHealth(False))
    settings = replace(DEMO_POLICY, max_failing=1.0)
    after = tick(
        keep_one, previous=d.draft, state=d.state, settings=settings, limits=Limits(max_removal=1.0)
    )
    assert after.action in ("publish", "unchanged")
    assert after.step.held_back, "the floor must hold some capacity back"
    for name in REGION.endpoints:
        assert after.draft.endpoints[name].records, f"{name} was drained below its floor"


def test_pins_keep_their_content():
    d = first()
    after = tick(
        {FIRST: LbHealth(False)},
        previous=d.draft,
        state=d.state,
        pins={V4: d.draft.endpoints[V4]},
    )
    assert after.draft.endpoints[V4] == d.draft.endpoints[V4]
    assert after.draft.endpoints[DUAL] != d.draft.endpoints[DUAL]


def test_a_draft_replacing_endpoints_equals_the_draft_built_from_scratch():
    """PlanDraft.replacing skips the sort when no name is new; it must give exactly
    the draft (order, contents, digest) that sorting everything again gives."""
    from tests.helpers import content, draft, name

    from zonewarden.core.model import PlanDraft

    base = draft(b=content("10.0.0.2"), a=content("10.0.0.1"), c=content("10.0.0.3"))
    for changes in (
        {name("b"): content("10.0.0.9")},  # names all in base: base's order kept
        {name("b"): content("10.0.0.9"), name("aa"): content("10.0.0.8")},  # a new name
        {},
    ):
        got = PlanDraft.replacing(base, changes)
        want = PlanDraft({**base.endpoints, **changes})
        assert list(got.endpoints.items()) == list(want.endpoints.items())
        assert got.digest == want.digest and got == want
