"""The admin API over a real SQLite store: reads, token, validation, limits, errors."""

from __future__ import annotations

import pytest

from tests.api.conftest import AUTH

EP = "kv.us-east-1.example."


def test_status_lists_every_endpoint_with_generation(api):
    r = api.get("/api/v1/status")
    assert r.status_code == 200
    data = r.json()
    assert data["newest"] == 4 and data["healthy"] is True
    names = {e["name"]: e for e in data["endpoint_list"]}
    assert EP in names and names[EP]["generation"] == 4 and names[EP]["records"] > 0


def test_endpoints_page_search_and_weights(api):
    r = api.get("/api/v1/endpoints", params={"q": "dualstack", "limit": 1})
    data = r.json()
    assert r.status_code == 200 and data["total"] >= 1 and len(data["items"]) == 1
    assert "dualstack" in data["items"][0]["name"]
    assert all(w["weight"] >= 0 and w["lb"] for w in data["items"][0]["weights"])
    assert api.get(f"/api/v1/endpoints/{EP}").json()["name"] == EP
    missing = api.get("/api/v1/endpoints/nope.example.")
    assert missing.status_code == 404 and "unknown endpoint" in missing.json()["error"]


def test_plans_page_newest_first_and_diff(api):
    first = api.get("/api/v1/plans", params={"limit": 2}).json()
    assert [p["generation"] for p in first["items"]] == [4, 3] and first["next_before"] == 3
    second = api.get("/api/v1/plans", params={"limit": 2, "before": 3}).json()
    assert [p["generation"] for p in second["items"]] == [2, 1] and second["next_before"] is None
    assert api.get("/api/v1/plans/3").json()["generation"] == 3
    assert api.get("/api/v1/plans/99").status_code == 404
    diff = api.get("/api/v1/diffs/2/3").json()
    assert diff["changes"] and all(c["kind"] == "changed" for c in diff["changes"])
    assert api.get("/api/v1/diffs/2/99").status_code == 404


def test_audit_pages_newest_first_and_since(api):
    page = api.get("/api/v1/audit", params={"limit": 3}).json()
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == sorted(seqs, reverse=True) and page["next"] == {"before": seqs[-1]}
    older = api.get("/api/v1/audit", params={"limit": 3, "before": seqs[-1]}).json()
    assert all(e["seq"] < seqs[-1] for e in older["items"])
    asc = api.get("/api/v1/audit", params={"order": "asc", "kind": "publish"}).json()
    assert [e["generation"] for e in asc["items"]] == [1, 2, 3, 4]
    late = api.get("/api/v1/audit", params={"since": 1.5, "kind": "publish"}).json()
    assert [e["generation"] for e in late["items"]] == [4, 3]
    assert api.get("/api/v1/audit", params={"order": "sideways"}).status_code == 422


def test_mutating_calls_need_the_token(api, region):
    _, store, _ = region
    for path in ("/api/v1/freeze", "/api/v1/unfreeze", "/api/v1/repair"):
        assert api.post(path).status_code == 401
        assert api.post(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert api.post(path, headers={"Authorization": "Basic abc"}).status_code == 401
    assert not store.frozen()
    r = api.post("/api/v1/freeze", json={"reason": "drill"}, headers=AUTH)
    assert r.status_code == 200 and store.frozen()
    assert api.get("/api/v1/alarms").json()["items"][0]["kind"] == "frozen"
    assert api.post("/api/v1/unfreeze", headers=AUTH).status_code == 200 and not store.frozen()
    events = store.audit_log(after=0, limit=10_000)
    assert [e.kind for e in events if e.actor.startswith("api:")] == ["freeze", "unfreeze"]


def test_replacing_the_token_file_expires_the_old_token(api, token_file):
    token_file.write_text("a-new-token\n")
    import os

    os.utime(token_file, (1, 1))  # a different mtime even on a coarse clock
    assert api.post("/api/v1/freeze", headers=AUTH).status_code == 401
    assert (
        api.post("/api/v1/unfreeze", headers={"Authorization": "Bearer a-new-token"}).status_code
        == 200
    )


def test_pin_rollback_unpin_through_operations(api, region):
    _, store, _ = region
    r = api.post("/api/v1/pin", json={"endpoint": EP, "generation": 2}, headers=AUTH)
    assert r.status_code == 200, r.text
    published = r.json()["published"]
    assert store.pins()[EP] == 2 and store.newest() == published
    assert api.post("/api/v1/unpin", json={"endpoint": EP}, headers=AUTH).status_code == 200
    assert EP not in store.pins()
    assert api.post("/api/v1/unpin", json={"endpoint": EP}, headers=AUTH).status_code == 404
    r = api.post("/api/v1/rollback", json={"endpoint": EP}, headers=AUTH)
    assert r.status_code == 200 and store.pins()[EP] == r.json()["source"]


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": EP},  # missing generation
        {"endpoint": EP, "generation": "2"},  # wrong type
        {"endpoint": EP, "generation": 0},  # out of range
        {"endpoint": "not a name!", "generation": 2},
        {"endpoint": EP, "generation": 2, "extra": 1},  # unknown key
        [1, 2, 3],
    ],
)
def test_bad_bodies_get_422_and_change_nothing(api, region, body):
    _, store, _ = region
    before = (store.newest(), store.pins())
    r = api.post("/api/v1/pin", json=body, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"].startswith("invalid request")
    assert (store.newest(), store.pins()) == before


def test_malformed_huge_and_unknown(api, region):
    _, store, _ = region
    newest = store.newest()
    bad = api.post(
        "/api/v1/pin", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert bad.status_code == 422
    huge = api.post(
        "/api/v1/freeze",
        content=b"x" * (1 << 20),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and not store.frozen()
    assert (
        api.post(
            "/api/v1/pin", json={"endpoint": "zz.example.", "generation": 2}, headers=AUTH
        ).status_code
        == 404
    )
    assert (
        api.post("/api/v1/pin", json={"endpoint": EP, "generation": 999}, headers=AUTH).status_code
        == 404
    )
    assert api.get("/api/v1/nothing-here").status_code == 404
    assert store.newest() == newest


def test_mutating_calls_are_rate_limited(region, token_file):
    from fastapi.testclient import TestClient

    from zonewarden.api.app import ApiOptions, create_app

    config, store, _ = region
    asgi, _ = create_app(
        config, store, ApiOptions(token_file=token_file, rate_burst=3, rate_per_second=0.01)
    )
    with TestClient(asgi) as client:
        codes = [client.post("/api/v1/unfreeze", headers=AUTH).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = client.post("/api/v1/unfreeze", headers=AUTH)
        assert "Retry-After" in limited.headers and "too many changes" in limited.json()["error"]
        assert client.get("/api/v1/status").status_code == 200  # reads are not limited


def test_no_token_file_means_no_mutations(region):
    from fastapi.testclient import TestClient

    from zonewarden.api.app import create_app

    config, store, _ = region
    asgi, _ = create_app(config, store)
    with TestClient(asgi) as client:
        r = client.post("/api/v1/freeze", headers=AUTH)
        assert r.status_code == 401 and "token_file" in r.json()["error"]
        assert not store.frozen()


def test_metrics_status_json_and_feed(api):
    text = api.get("/metrics").text
    assert "zonewarden_plan_newest_generation 4.0" in text
    assert f'zonewarden_endpoint_applied_generation{{endpoint="{EP}"}} 4.0' in text
    assert "zonewarden_fenced_total" in text and "zonewarden_fail_static_engaged 0.0" in text
    assert (
        'zonewarden_resilience_allowed_total{component="rate-limit",name="api",process="api"}'
        in text
    )
    summary = api.get("/status.json").json()
    assert summary["status"]["indicator"] == "none"
    assert {c["status"] for c in summary["components"]} == {"operational"}
    feed = api.get("/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml") and "<feed" in feed.text
    assert api.get("/").status_code == 200 and "ZoneWarden" in api.get("/").text
    assert "status" in api.get("/status").text


def test_openapi_declares_bearer_on_mutations(api):
    doc = api.get("/openapi.json").json()
    pin = doc["paths"]["/api/v1/pin"]["post"]
    assert pin["security"] and "401" in pin["responses"]
    assert "security" not in doc["paths"]["/api/v1/status"]["get"]
