"""Per-LB totals kept incrementally by the view (api/lbtotals.py) always equal a full
recount over the live zone, through new plans, partial applies and endpoints leaving;
and the dashboard's document pages the load balancers, problems first."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from zonewarden.api.lbtotals import LbTotals, recount
from zonewarden.api.view import RegionView

LBS = ["lb-a", "lb-b", "lb-c", "lb-d"]
record = st.tuples(
    st.sampled_from(LBS), st.sampled_from(["10.0.0.1", "10.0.0.2"]), st.integers(0, 9)
)
weights = st.lists(record, max_size=4).map(tuple)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), weights), max_size=40))
def test_totals_equal_a_recount_after_any_sequence_of_changes(changes):
    totals, live = LbTotals(), {}
    for endpoint, new in changes:
        totals.replace(live.get(endpoint, ()), new)
        live[endpoint] = new
        assert dict(totals.loads()) == recount(live.values())


def _recount(view: RegionView):
    return recount(e.weights for e in view.snapshot.endpoints)


def test_the_views_totals_follow_new_plans_partial_applies_and_departures(region):
    config, store, planner = region
    view = RegionView(store)
    view.refresh(now=10.0)
    assert view.snapshot.lbs and dict(view.snapshot.lbs) == _recount(view)
    names = sorted(config.region.endpoints)
    rng = random.Random(7)
    for step in range(6):
        planner.once(20.0 + step)
        half = rng.sample(names, len(names) // 2)
        store.apply_if_newer(store.newest(), half, actor="test", now=30.0 + step)
        view.refresh(now=40.0 + step)
        assert dict(view.snapshot.lbs) == _recount(view), step
    before = view.snapshot.lbs
    view.refresh(now=50.0)  # nothing moved: the same table, no walk
    assert view.snapshot.lbs is before
    assert view.snapshot.empty_endpoints == sum(1 for e in view.snapshot.endpoints if e.empty)
    assert view.snapshot.lagging_endpoints == sum(1 for e in view.snapshot.endpoints if e.lag)


def test_the_dashboard_pages_load_balancers_problems_first(api, region):
    _, store, _ = region
    store.set_health_status(
        {
            "at": 100.0,
            "lbs": {
                "lb-2c": {"az": "use1-az2", "healthy": False, "reason": "http 503"},
                "lb-1a": {"az": "use1-az1", "healthy": True, "reason": "http 200"},
            },
            "vantage": {"fresh": ["planner"], "stale": []},
        }
    )
    api.app_state.view.refresh()  # type: ignore[attr-defined]
    d = api.get("/api/v1/dashboard", params={"lb_limit": 3}).json()["health"]
    assert d["lb_total"] == len(api.get("/api/v1/health").json()["lbs"]) > 3
    assert len(d["lbs"]) == 3 and d["lbs"][0]["lb"] == "lb-2c" and d["lb_unhealthy"] == 1
    page2 = api.get("/api/v1/dashboard", params={"lb_limit": 3, "lb_offset": 3}).json()
    assert {r["lb"] for r in page2["health"]["lbs"]}.isdisjoint(r["lb"] for r in d["lbs"])
    found = api.get("/api/v1/dashboard", params={"lb_q": "1A"}).json()["health"]
    assert [r["lb"] for r in found["lbs"]] == ["lb-1a"] and found["lb_total"] == 1
