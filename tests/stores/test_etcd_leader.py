"""Planner leadership on a real etcd: one leader by lease, publishes fenced by it."""

from __future__ import annotations

import time

import pytest
from tests.helpers import content, draft
from tests.stores.etcd_cluster import fresh_prefix, shared_cluster

from zonewarden.errors import NotLeader
from zonewarden.stores.etcd import EtcdStore
from zonewarden.stores.etcd.leader import LeaderLease

pytestmark = pytest.mark.servers


@pytest.fixture
def pair():
    try:
        cluster = shared_cluster()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    prefix = fresh_prefix()
    a = EtcdStore(cluster.endpoints, prefix=prefix)
    b = EtcdStore(cluster.endpoints, prefix=prefix)
    yield a, b
    a.close()
    b.close()


def publish(store, text: str):
    return store.publish(draft(a=content(text)), source="planner", actor="p", now=time.time())


def test_one_leader_and_only_it_publishes(pair):
    a, b = pair
    la, lb = LeaderLease(a, "planner-a", ttl=1), LeaderLease(b, "planner-b", ttl=1)
    assert la.campaign() and not lb.campaign()
    assert la.holder() == "planner-a"
    assert publish(a, "10.0.0.1").generation == 1
    with pytest.raises(NotLeader, match="does not hold the leader lease"):
        publish(b, "10.0.0.2")
    assert la.keepalive()
    # a stops renewing (dies, or is paused past its TTL): b takes over within the TTL
    deadline = time.monotonic() + 3.0
    while not lb.campaign():
        assert time.monotonic() < deadline, "the standby never took over"
        time.sleep(0.1)
    assert publish(b, "10.0.0.3").generation == 2
    with pytest.raises(NotLeader):  # a still believes it leads: the lease fence says no
        publish(a, "10.0.0.4")
    assert not la.keepalive() and not la.leading
    lb.resign()
    assert la.campaign()
