"""Chunked publishes on etcd: what a publisher that dies, or is overtaken, mid-chunk
leaves behind, and clean-up's sweep of it. A plan larger than one Txn (here 300
endpoints: one Txn of map chunks, then 8 Txns of span starts under --max-txn-ops 128) is
written behind a reserved generation and made visible by its header; these tests
interrupt it between chunks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.helpers import content, draft

from zonewarden.core.model import EndpointName, Generation, PlanDraft
from zonewarden.stores.etcd import EtcdStore
from zonewarden.stores.etcd import ops as ec

pytestmark = pytest.mark.servers

MANY = [EndpointName(f"e{i:03d}.example.") for i in range(300)]


class PublisherDied(Exception):
    pass


def big(address: str = "10.0.0.1") -> PlanDraft:
    return PlanDraft(dict.fromkeys(MANY, content(address)))


def after_chunks(store: EtcdStore, chunks: int, then: Callable[[], None], monkeypatch) -> None:
    """Run `then` once the reservation and `chunks` chunk Txns of a publish committed."""
    real = store._commit
    commits = []

    def commit(compares, ops):
        if len(commits) == 1 + chunks:
            commits.append("hook")
            then()
        commits.append("txn")
        return real(compares, ops)

    monkeypatch.setattr(store, "_commit", commit)


def die() -> None:
    raise PublisherDied()


def stored_contents(etcd: EtcdStore) -> set[str]:
    k = etcd.keys
    kvs = etcd._read([ec.get(k.blobs, prefix=True, keys_only=True)])[1][0]
    return {k.tail(kv.key, k.blobs) for kv in kvs}


def another(etcd: EtcdStore) -> EtcdStore:
    """A second process on the same region."""
    return EtcdStore(etcd.client.endpoints, prefix=etcd.keys.prefix)


def test_clean_up_sweeps_the_chunks_of_a_publisher_that_died(etcd, monkeypatch):
    after_chunks(etcd, 2, die, monkeypatch)
    with pytest.raises(PublisherDied):
        etcd.publish(big(), source="t", actor="dead", now=0)
    monkeypatch.undo()
    dead = Generation(1)
    assert etcd.header(dead) is None and etcd.plan_names(dead) == tuple(MANY)  # the orphan
    assert etcd.content_problems() == []  # its starts name the content they wrote
    small = etcd.publish(draft(a=content("10.0.0.2")), source="t", actor="p", now=1).generation
    assert small == dead + 1 and etcd.newest() == small
    etcd.delete_unreferenced([], actor="cleanup", now=2)
    assert etcd.plan_names(dead) == ()
    assert etcd.plan_names(small) == (EndpointName("a.example."),)
    assert any(e.kind == "sweep" and "[1]" in e.detail for e in etcd.audit_log())
    # the orphan's starts lose their witness when plan 2 goes: its content goes with them
    newer = etcd.publish(draft(a=content("10.0.0.3")), source="t", actor="p", now=3).generation
    etcd.delete_unreferenced([small], actor="cleanup", now=4)
    assert stored_contents(etcd) == {content("10.0.0.3").digest}
    assert etcd.plan(newer) is not None and etcd.content_problems() == []


def test_clean_up_leaves_a_reservation_above_the_newest_header_alone(etcd, monkeypatch):
    first = etcd.publish(draft(a=content("10.0.0.1")), source="t", actor="p", now=0).generation
    after_chunks(etcd, 1, die, monkeypatch)
    with pytest.raises(PublisherDied):  # stands for a publisher still writing its chunks
        etcd.publish(big(), source="t", actor="slow", now=1)
    monkeypatch.undo()
    pending = Generation(first + 1)
    etcd.delete_unreferenced([first], actor="cleanup", now=2)
    assert etcd.plan_names(pending) == tuple(MANY)
    assert etcd.newest() == first


def test_a_clean_up_during_a_publish_leaves_the_plan_whole(etcd, monkeypatch):
    other = another(etcd)
    etcd.publish(draft(a=content("10.0.0.1")), source="t", actor="p", now=0)

    def clean_up() -> None:
        other.delete_unreferenced([Generation(1)], actor="cleanup", now=1)

    after_chunks(etcd, 2, clean_up, monkeypatch)
    plan = etcd.publish(big(), source="t", actor="p", now=2)
    assert plan.generation == 2 and etcd.newest() == 2
    assert etcd.contents(plan.generation) == dict(big().endpoints)
    other.close()


def test_a_publish_overtaken_mid_chunk_is_not_made_visible_below_the_newer_plan(etcd, monkeypatch):
    """Headers are strictly increasing: the header Txn refuses a generation below a
    published one, so the sweep may take it; the publisher writes its plan again above."""
    other = another(etcd)

    def overtake_and_clean_up() -> None:
        other.publish(draft(a=content("10.0.0.9")), source="t", actor="fast", now=1)
        other.delete_unreferenced([], actor="cleanup", now=1)  # sweeps the reservation

    after_chunks(etcd, 2, overtake_and_clean_up, monkeypatch)
    plan = etcd.publish(big(), source="t", actor="slow", now=2)
    assert plan.generation == 3 and etcd.newest() == 3
    assert etcd.index().generations == (2, 3)
    assert etcd.contents(plan.generation) == dict(big().endpoints)
    etcd.delete_unreferenced([], actor="cleanup", now=3)
    assert etcd.plan_names(Generation(1)) == ()
    other.close()
