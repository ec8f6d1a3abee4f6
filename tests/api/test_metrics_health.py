"""What /metrics and the dashboard show beyond the counters: plans deleted by clean-up
(not passes), endpoints by lag bucket, the low watermark, the verdict per LB, what the
budget holds back per LB, and each vantage point's own probe results."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from zonewarden.api.view import plans_deleted
from zonewarden.core.health import LbReading, VantageReport
from zonewarden.core.model import Generation, LbId


def samples(api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    api.app_state.view.refresh()  # type: ignore[attr-defined]
    text = api.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_cleanup_counts_plans_deleted_as_well_as_passes(api, region):
    _, store, _ = region
    newest = int(store.newest())
    old = [Generation(g) for g in range(1, newest)]
    assert len(old) >= 3
    store.delete_unreferenced(old, actor="cleanup", now=6.0)
    m = samples(api)
    assert m[("zonewarden_cleanup_passes_total", ())] == 1
    assert m[("zonewarden_cleanup_plans_deleted_total", ())] == len(old)
    kinds = {labels for name, labels in m if name == "zonewarden_audit_events_total"}
    assert (("kind", "plans-deleted"),) not in kinds  # not an audit kind
    counts = api.get("/api/v1/dashboard").json()["counts"]
    assert counts["plans-deleted"] == len(old) and counts["cleanup"] == 1


def test_plans_deleted_reads_every_stores_detail():
    assert plans_deleted("deleted [4, 5, 6] kept referenced [7]") == 3
    assert plans_deleted("deleted [] kept referenced [7]") == 0
    assert plans_deleted("deleted [12]") == 1  # legacy-cleanup
    assert plans_deleted("something else") == 0


def test_endpoints_by_lag_and_the_low_watermark_cover_every_endpoint(api, region):
    config, _, planner = region
    planner.once(50.0)  # a new plan nobody applied: every endpoint one behind
    m = samples(api)
    n = len(config.region.endpoints)
    assert m[("zonewarden_endpoints_by_lag", (("le", "0"),))] == 0
    assert m[("zonewarden_endpoints_by_lag", (("le", "1"),))] == n
    assert m[("zonewarden_endpoints_by_lag", (("le", "+Inf"),))] == n
    assert m[("zonewarden_endpoints_lagging", ())] == n
    newest = m[("zonewarden_plan_newest_generation", ())]
    assert m[("zonewarden_endpoint_applied_generation_min", ())] == newest - 1
    assert (
        m[("zonewarden_endpoint_lag_generations", (("endpoint", min(config.region.endpoints)),))]
        == 1
    )


def test_health_per_lb_budget_and_vantage_points_in_metrics_and_dashboard(api, region):
    _, store, _ = region
    store.set_health_status(
        {
            "at": 100.0,
            "fail_static": [],
            "held_back": [
                {"lb": "lb-1b", "wanted": 120, "removed": 20, "bound": "az 25%", "until": 400.0}
            ],
            "lbs": {
                "lb-1a": {"az": "use1-az1", "healthy": False, "reason": "http 503"},
                "lb-1b": {"az": "use1-az1", "healthy": True, "reason": "http 200"},
            },
            "vantage": {"fresh": ["planner", "az2"], "stale": []},
            "by_vantage": {
                "planner": {
                    "at": 99.0,
                    "lbs": 12,
                    "healthy": 11,
                    "down": {"lb-1a": "http 503"},
                    "failing": {"lb-1b": "timeout"},
                }
            },
        }
    )
    store.publish_vantage(  # an enactor's own report: it sees lb-1a down too
        VantageReport(
            "az2",
            98.0,
            {
                LbId("lb-1a"): LbReading(False, 98.0, "connect refused"),
                LbId("lb-1c"): LbReading(True, 98.0, "http 200"),
            },
        )
    )
    m = samples(api)
    assert m[("zonewarden_lb_healthy", (("az", "use1-az1"), ("lb", "lb-1a")))] == 0
    assert m[("zonewarden_lb_healthy", (("az", "use1-az1"), ("lb", "lb-1b")))] == 1
    assert m[("zonewarden_lb_budget_held_back", (("lb", "lb-1b"),))] == 100
    assert m[("zonewarden_budget_held_back", ())] == 100
    assert m[("zonewarden_vantage_lbs", (("state", "down"), ("vantage", "planner")))] == 1
    assert m[("zonewarden_vantage_lbs", (("state", "failing"), ("vantage", "planner")))] == 1
    assert m[("zonewarden_vantage_lbs", (("state", "healthy"), ("vantage", "az2")))] == 1
    assert m[("zonewarden_vantage_fresh", (("vantage", "az2"),))] == 1
    assert m[("zonewarden_fail_static_engaged", ())] == 0
    h = api.get("/api/v1/dashboard").json()["health"]
    points = {p["vantage"]: p for p in h["vantage_points"]}
    assert set(points) == {"planner", "az2"}
    assert points["az2"]["down"] == {"lb-1a": "connect refused"} and points["az2"]["fresh"]
    rows = {r["lb"]: r for r in h["lbs"]}
    assert rows["lb-1a"]["down_at"] == ["az2", "planner"]
    assert rows["lb-1b"]["failing_at"] == ["planner"] and rows["lb-1b"]["held_back"] == 100
    assert h["lbs"][0]["lb"] in ("lb-1a", "lb-1b")  # problems first
