"""Each probed address of an LB planned by address on the dashboard's LB page: its state
(healthy, down with why, waiting out its hold-down, left out of the plan), its votes and
whether it is planned, problems first; an LB of one address stays one row."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.addressed import DOWN_ADDRESS, DOWN_LB, DOWN_REASON, addressed_planner
from zonewarden.api.addresses import (
    address_rows,
    by_address,
    every_address,
    problem_count,
    waiting_by_address,
)
from zonewarden.api.app import ApiOptions, create_app


@pytest.fixture
def addressed(static_region, token_file):
    config, store = static_region
    planner, health = addressed_planner(config, store, {DOWN_ADDRESS: DOWN_REASON})
    asgi, app = create_app(config, store, ApiOptions(token_file=token_file))
    with TestClient(asgi) as client:
        yield client, app.state.view, planner, health


def lb_page(client, view, **params):
    view.refresh()
    return client.get("/api/v1/dashboard", params=params).json()["health"]


def test_a_down_address_comes_first_with_its_reason_votes_and_plan(addressed):
    client, view, planner, _ = addressed
    planner.once(10.0)
    h = lb_page(client, view)
    first = h["lbs"][0]
    assert first["lb"] == DOWN_LB and first["healthy"] is True  # its other address serves
    rows = first["address_rows"]
    assert [r["address"] for r in rows] == [DOWN_ADDRESS, "127.0.1.1"]  # problem first
    down = rows[0]
    assert down["state"] == "down" and down["problem"] and down["planned"] is False
    assert DOWN_REASON in down["reason"] and (down["down"], down["fresh"]) == (1, 1)
    assert rows[1]["state"] == "healthy" and rows[1]["planned"] is True
    assert h["address_problems"] == 1
    assert "address_health" not in first  # one copy on the wire: the rows
    full = {r["lb"]: r for r in client.get("/api/v1/health").json()["lbs"]}[DOWN_LB]
    assert full["address_health"][DOWN_ADDRESS]["healthy"] is False
    assert full["address_rows"] == rows
    others = [r for lb in h["lbs"][1:] for r in lb["address_rows"]]
    assert others and all(r["state"] == "healthy" for r in others)


def test_a_mended_address_waits_out_its_hold_down_then_returns(addressed):
    client, view, planner, health = addressed
    planner.once(10.0)
    health.down.clear()
    planner.once(12.0)
    row = lb_page(client, view)["lbs"][0]["address_rows"][0]
    assert (row["address"], row["state"], row["planned"]) == (DOWN_ADDRESS, "waiting", False)
    assert "hold-down" in row["waiting_why"] and row["state_text"] == "waiting out hold-down"
    planner.once(45.0)
    h = lb_page(client, view)
    assert h["address_problems"] == 0
    assert all(r["state"] == "healthy" for lb in h["lbs"] for r in lb["address_rows"])


def test_control_an_all_healthy_region_has_no_problem_row(addressed):
    client, view, planner, health = addressed
    health.down.clear()
    planner.once(10.0)
    h = lb_page(client, view, lb_limit=3)
    assert h["address_problems"] == 0 and len(h["lbs"]) == 3
    assert all(len(lb["address_rows"]) == 2 for lb in h["lbs"])  # only the page's LBs
    assert not [r for lb in h["lbs"] for r in lb["address_rows"] if r["problem"]]


def test_states_order_waiting_lines_and_unknown_keys_pass_through():
    waiting = waiting_by_address(
        ["lb-1a 10.0.0.2: hold-down: healthy for 3 s of 30 s", "lb-1b: hold-down: 2 s of 5 s"]
    )
    assert waiting == {("lb-1a", "10.0.0.2"): "hold-down: healthy for 3 s of 30 s"}
    addresses = {
        "10.0.0.1": {"healthy": True, "planned": True},
        "10.0.0.2": {"healthy": True, "planned": False},
        "10.0.0.3": {"healthy": True, "planned": False, "exits": 2},
        "10.0.0.4": {"healthy": False, "reason": "timeout", "planned": True},
        "10.0.0.5": {"healthy": True, "planned": False, "waiting_s": 12.0},
        "10.0.0.6": {},
    }
    rows = address_rows("lb-1a", addresses, waiting)
    states = [(r["address"], r["state"]) for r in rows]
    assert states == [
        ("10.0.0.4", "down"),  # down, though the budget still keeps it planned
        ("10.0.0.2", "waiting"),
        ("10.0.0.5", "waiting"),  # said by the row itself
        ("10.0.0.3", "left-out"),
        ("10.0.0.6", "unknown"),
        ("10.0.0.1", "healthy"),
    ]
    assert rows[3]["exits"] == 2  # what this module does not know is kept
    assert by_address(rows)
    assert problem_count("lb-1a", addresses) == sum(r["problem"] for r in rows) == 5
    assert not by_address(address_rows("lb-1a", {"10.0.0.1": {"healthy": False}}, {}))
    every = every_address(
        {
            "lbs": {
                "lb-b": {"az": "z", "addresses": {"a": {"healthy": True, "planned": True}}},
                "lb-c": {"az": "z", "addresses": {"b": {"healthy": False}}},
                "lb-d": "garbage",
            }
        }
    )
    assert [(lb, az, r["state"]) for lb, az, r in every] == [
        ("lb-c", "z", "down"),
        ("lb-b", "z", "healthy"),
    ]


def test_a_fail_static_planner_raises_the_fail_static_alarm(addressed):
    """The probing planner's heartbeat phase is 'fail-static' (not 'holding'): the ranked
    alarm, and with it the public incident, must come from it too."""
    client, view, planner, health = addressed
    every = {a for lb in planner.config.region.lbs.values() for a in (*lb.ipv4, *lb.ipv6)}
    health.down.update(dict.fromkeys(every, "timeout"))
    planner.once(10.0)
    view.refresh()
    alarms = client.get("/api/v1/dashboard").json()["alarms"]
    assert alarms and alarms[0]["kind"] == "fail-static", alarms
    assert client.get("/status.json").json()["incidents"]


def test_metrics_per_address_problems_first_and_capped(addressed):
    from prometheus_client.parser import text_string_to_metric_families

    from zonewarden.api.metrics import RegionCollector

    client, view, planner, _ = addressed
    planner.once(10.0)
    view.refresh()
    m = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(client.get("/metrics").text)
        for s in f.samples
    }
    key = (("address", DOWN_ADDRESS), ("az", "use1-az1"), ("lb", DOWN_LB))
    assert m[("zonewarden_lb_address_healthy", key)] == 0
    assert m[("zonewarden_lb_address_planned", key)] == 0
    other = (("address", "127.0.1.1"), ("az", "use1-az1"), ("lb", DOWN_LB))
    assert m[("zonewarden_lb_address_healthy", other)] == 1
    assert m[("zonewarden_lb_address_planned", other)] == 1
    every = 2 * len(planner.config.region.lbs)
    assert m[("zonewarden_lb_addresses", (("state", "down"),))] == 1
    assert m[("zonewarden_lb_addresses", (("state", "healthy"),))] == every - 1
    capped = {f.name: f for f in RegionCollector(view, per_address_limit=1).collect()}
    shown = capped["zonewarden_lb_address_healthy"].samples
    assert [s.labels["address"] for s in shown] == [DOWN_ADDRESS]  # the problem is kept
    counts = {s.labels["state"]: s.value for s in capped["zonewarden_lb_addresses"].samples}
    assert sum(counts.values()) == every  # the counts cover every address all the same
