"""Drain/undrain and lb disable/enable over the API: the CLI's operations (runtime/holds),
token-guarded, validated, audited; and the health the probing planner reports, as the
API and the dashboard show it."""

from __future__ import annotations

import pytest

from tests.api.conftest import AUTH


def kinds(store):
    return [(h.scope, h.name, h.kind) for h in store.operator_holds()]


def test_drain_and_disable_need_the_token_and_change_nothing_without(api, region):
    _, store, _ = region
    for path, body in (
        ("/api/v1/drain", {"az": "use1-az1", "reason": "x"}),
        ("/api/v1/undrain", {"az": "use1-az1"}),
        ("/api/v1/lb/disable", {"lb": "lb-1a", "reason": "x"}),
        ("/api/v1/lb/enable", {"lb": "lb-1a"}),
    ):
        assert api.post(path, json=body).status_code == 401
        assert (
            api.post(path, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
        )
    assert kinds(store) == []


def test_drain_undrain_disable_enable_go_through_the_holds_and_the_audit_log(api, region):
    config, store, planner = region
    r = api.post("/api/v1/drain", json={"az": "use1-az2", "reason": "maintenance"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["hold"]["kind"] == "drain"
    r = api.post("/api/v1/lb/disable", json={"lb": "lb-1a", "reason": "flaky"}, headers=AUTH)
    assert r.status_code == 200
    assert sorted(kinds(store)) == [("az", "use1-az2", "drain"), ("lb", "lb-1a", "disable")]
    held = {h.name: h for h in store.operator_holds()}
    assert held["use1-az2"].actor.startswith("api:") and held["use1-az2"].reason == "maintenance"
    planner.once(10.0)  # the planner reads holds on its next tick: the drained AZ leaves
    plan = store.contents(store.newest())
    az2 = {lb for lb, row in config.region.lbs.items() if row.az == "use1-az2"}
    for content in plan.values():
        assert not {r.lb for r in content.records if r.weight > 0} & az2
    assert api.post("/api/v1/undrain", json={"az": "use1-az2"}, headers=AUTH).json()["changed"]
    again = api.post("/api/v1/undrain", json={"az": "use1-az2"}, headers=AUTH).json()
    assert again["changed"] is False  # nothing to end: said, not an error
    assert api.post("/api/v1/lb/enable", json={"lb": "lb-1a"}, headers=AUTH).status_code == 200
    assert kinds(store) == []


@pytest.mark.parametrize(
    "path, body, status, says",
    [
        ("/api/v1/drain", {"az": "use1-az9", "reason": "x"}, 404, "known: use1-az1"),
        ("/api/v1/lb/disable", {"lb": "lb-9z", "reason": "x"}, 404, "known: lb-1a"),
        ("/api/v1/drain", {"az": "use1-az1", "lb": "lb-1a", "reason": "x"}, 422, "exactly one"),
        ("/api/v1/drain", {"reason": "x"}, 422, "exactly one"),
        ("/api/v1/drain", {"az": "use1-az1"}, 422, "reason"),
        ("/api/v1/drain", {"az": "use1-az1", "reason": ""}, 422, "reason"),
        ("/api/v1/lb/disable", {"lb": 7, "reason": "x"}, 422, "lb"),
        ("/api/v1/lb/enable", {"lb": "lb-1a", "extra": 1}, 422, "extra"),
        ("/api/v1/undrain", [1, 2], 422, "invalid request"),
    ],
)
def test_bad_targets_and_bodies_are_refused_with_a_message(api, region, path, body, status, says):
    _, store, _ = region
    r = api.post(path, json=body, headers=AUTH)
    assert r.status_code == status and says in r.json()["error"], r.text
    assert kinds(store) == []


def test_health_shows_the_probing_planners_status(api, region):
    _, store, _ = region
    store.set_health_status(
        {
            "at": 100.0,
            "action": "publish",
            "fail_static": [],
            "held_back": [
                {"lb": "lb-1b", "wanted": 120, "removed": 20, "bound": "az 25%", "until": 400.0}
            ],
            "waiting": ["lb-1c: hold-down: healthy for 2 s of 5 s before re-entry"],
            "lbs": {
                "lb-1a": {
                    "az": "use1-az1",
                    "healthy": False,
                    "reason": "http 503",
                    "capacity": 110,
                    "served": 0,
                    "weight": 0,
                    "addresses": {
                        "127.0.1.1": {
                            "healthy": False,
                            "reason": "2/2 say unhealthy: http 503",
                            "down": 2,
                            "fresh": 2,
                            "planned": False,
                        },
                    },
                },
                "lb-1b": {
                    "az": "use1-az1",
                    "healthy": True,
                    "reason": "http 200",
                    "capacity": 120,
                    "served": 120,
                    "weight": 9,
                },
            },
            "vantage": {
                "fresh": ["planner", "az1"],
                "stale": ["az2 (31.0 s old)"],
                "overload": ["planner: 40 probes shed in the last 3.1 s (40 queue full)"],
            },
            "holds": [],
        }
    )
    store.publish_counters("planner", {"work-queue/probes/planner": {"refused-full": 40}})
    store.publish_counters("az1", {"retry-throttle/az1": {"retries-refused": 3}})
    api.app_state.view.refresh()  # type: ignore[attr-defined]
    h = api.get("/api/v1/health").json()
    rows = {row["lb"]: row for row in h["lbs"]}
    assert rows["lb-1a"]["healthy"] is False and rows["lb-1a"]["why"] == "http 503"
    assert rows["lb-1a"]["address_health"]["127.0.1.1"]["planned"] is False  # per address
    assert rows["lb-1b"]["address_health"] == {}
    assert rows["lb-1b"]["planned"] == 120 and rows["lb-1b"]["az"] == "use1-az1"
    assert h["vantage"]["stale"] == ["az2 (31.0 s old)"]
    assert h["vantage"]["overload"] == ["planner: 40 probes shed in the last 3.1 s (40 queue full)"]
    shown = 'component="work-queue",name="probes/planner",process="planner"} 40.0'
    text = api.get("/metrics").text
    assert "zonewarden_resilience_refused_full_total{" + shown in text
    enactor = 'component="retry-throttle",name="az1",process="az1"} 3.0'
    assert "zonewarden_resilience_retries_refused_total{" + enactor in text
    assert h["budget_held_back"] == 100.0 and h["held_back"][0]["lb"] == "lb-1b"
    assert h["fail_static"] is False
    store.set_health_status(
        {"at": 101.0, "fail_static": ["12/12 load balancers fail at once"], "lbs": {}}
    )
    api.app_state.view.refresh()  # type: ignore[attr-defined]
    h = api.get("/api/v1/health").json()
    assert h["fail_static"] is True and "12/12" in h["fail_static_reason"]
    assert "zonewarden_fail_static_engaged 1.0" in api.get("/metrics").text


def test_openapi_lists_the_hold_endpoints_with_bearer(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/drain", "/api/v1/undrain", "/api/v1/lb/disable", "/api/v1/lb/enable"):
        assert paths[path]["post"]["security"] and "401" in paths[path]["post"]["responses"]
