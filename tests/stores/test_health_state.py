"""The HealthStore contract: holds (audited), vantage reports with ages, planner status."""

from __future__ import annotations

import pytest

from zonewarden.core.health import LbReading, VantageReport
from zonewarden.core.model import LbId
from zonewarden.core.policy import OperatorHold
from zonewarden.ports import HealthStore


def test_implements_the_port(store):
    assert isinstance(store, HealthStore)


def test_holds_are_kept_and_audited(store):
    assert store.operator_holds() == []
    store.set_operator_hold(OperatorHold("lb", "lb-1a", "disable", "bad NIC", "alice", 5.0))
    store.set_operator_hold(OperatorHold("az", "use1-az2", "drain", "power", "bob", 6.0))
    holds = store.operator_holds()
    assert [(h.scope, h.name, h.kind, h.reason, h.actor) for h in holds] == [
        ("az", "use1-az2", "drain", "power", "bob"),
        ("lb", "lb-1a", "disable", "bad NIC", "alice"),
    ]
    assert store.clear_operator_hold("lb", "lb-1a", "disable", actor="carol", now=7.0)
    assert not store.clear_operator_hold("lb", "lb-1a", "disable", actor="carol", now=8.0)
    assert [h.name for h in store.operator_holds()] == ["use1-az2"]
    kinds = [(e.kind, e.actor, e.detail) for e in store.audit_log()]
    assert kinds == [
        ("lb-disable", "alice", "lb lb-1a: bad NIC"),
        ("drain", "bob", "az use1-az2: power"),
        ("lb-enable", "carol", "lb lb-1a"),
    ]
    with pytest.raises(ValueError, match="hold kind 'melt'"):
        store.set_operator_hold(OperatorHold("lb", "x", "melt", ""))


def test_vantage_reports_round_trip_with_their_ages(store):
    a = VantageReport(
        "az1", 10.0, {LbId("lb-1a"): LbReading(False, 9.5, "http 503 (fall 2/2)", None)}
    )
    b = VantageReport(
        "az2",
        11.0,
        {LbId("lb-1a"): LbReading(True, 10.5, "http 200", 120)},
        "3 probes shed in the last 0.4 s (3 queue full; queue full: 4 probes waiting)",
    )
    store.publish_vantage(a)
    store.publish_vantage(b)
    store.publish_vantage(a)  # replaces, never duplicates
    assert store.vantage_reports() == [a, b]


def test_published_counters_round_trip_and_skip_bad_rows(store):
    assert store.published_counters() == {}
    store.publish_counters("planner", {"work-queue/probes/planner": {"served": 9}})
    store.publish_counters("az1", {"retry-throttle/az1": {"retries-allowed": 2}})
    store.publish_counters("planner", {"work-queue/probes/planner": {"served": 10}})
    assert store.published_counters() == {
        "az1": {"retry-throttle/az1": {"retries-allowed": 2}},
        "planner": {"work-queue/probes/planner": {"served": 10}},
    }
    store._health_write("counters/broken", "not json", None)
    assert set(store.published_counters()) == {"az1", "planner"}


def test_health_status(store):
    assert store.health_status() == {}
    store.set_health_status({"at": 1.0, "fail_static": ["stale"], "lbs": {"a": {"served": 3}}})
    assert store.health_status()["fail_static"] == ["stale"]


def test_publish_is_a_compare_and_set_on_the_newest_generation(store):
    from tests.helpers import content, draft

    from zonewarden.errors import PublishConflict

    first = store.publish(draft(a=content("10.0.0.1")), source="t", actor="t", now=0)
    pin = store.publish(draft(a=content("10.0.0.2")), source="pin", actor="op", now=1)
    with pytest.raises(PublishConflict, match="expected newest generation 1 but found 2"):
        store.publish(
            draft(a=content("10.0.0.3")), source="planner", actor="p", now=2, expect_newest=1
        )
    assert store.newest() == pin.generation == first.generation + 1
    third = store.publish(
        draft(a=content("10.0.0.3")), source="planner", actor="p", now=3, expect_newest=2
    )
    assert third.generation == 3


def test_a_chunked_publish_is_a_compare_and_set_too(store):
    if not hasattr(store, "max_txn_ops"):
        pytest.skip("only etcd publishes in chunks")
    from tests.helpers import content, draft

    from zonewarden.errors import PublishConflict

    store.max_txn_ops = 4
    big = draft(**{f"e{i}": content(f"10.0.1.{i}") for i in range(1, 12)})
    store.publish(big, source="t", actor="t", now=0)
    store.publish(big, source="t", actor="t", now=0)
    with pytest.raises(PublishConflict):
        store.publish(big, source="t", actor="t", now=0, expect_newest=1)
    assert store.publish(big, source="t", actor="t", now=0, expect_newest=2).generation == 3
