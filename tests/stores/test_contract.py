"""The RegionStore contract: every store implementation must pass all of it."""

from __future__ import annotations

import pytest
from tests.helpers import content, draft, name

from zonewarden.backends.external import ExternalZoneRegion
from zonewarden.core.model import EMPTY_CONTENT, Generation, PlanDraft
from zonewarden.core.outcomes import Outcome
from zonewarden.errors import NotFound, PlanRejected
from zonewarden.ports import (
    AuditLog,
    ControlStore,
    HealthStore,
    Heartbeat,
    LegacyStore,
    PlanStore,
    ZoneStore,
)

A, B = name("a"), name("b")


def marker_moves(store) -> tuple:
    """Names an external backend must still be written for when only the generation
    moved: its marker carries the generation (backends/external.py advance_unchanged)."""
    return (A,) if isinstance(store, ExternalZoneRegion) else ()


def publish(store, d: PlanDraft, now: float = 0.0):
    return store.publish(d, source="test", actor="t", now=now)


def test_implements_every_port(store):
    for role in (PlanStore, ZoneStore, ControlStore, AuditLog, HealthStore, LegacyStore):
        assert isinstance(store, role), role.__name__


def test_generations_strictly_increase_from_one(store):
    assert store.newest() == 0
    gens = [publish(store, draft(a=content(f"10.0.0.{i}"))).generation for i in range(1, 5)]
    assert gens == [1, 2, 3, 4]
    assert store.newest() == 4


def test_publish_can_skip_ahead_but_never_back(store):
    publish(store, draft(a=content("10.0.0.1")))
    g = store.publish(
        draft(a=content("10.0.0.2")), source="repair", actor="r", now=0, min_generation=10
    )
    assert g.generation == 10
    g = store.publish(
        draft(a=content("10.0.0.3")), source="repair", actor="r", now=0, min_generation=3
    )
    assert g.generation == 11


def test_publish_rejects_empty_endpoint_and_writes_nothing(store):
    with pytest.raises(PlanRejected, match="0 records"):
        publish(store, draft(a=content("10.0.0.1"), b=EMPTY_CONTENT))
    assert store.newest() == 0


def test_publish_rejects_zero_total_weight(store):
    with pytest.raises(PlanRejected, match="total weight 0"):
        publish(store, draft(a=content("10.0.0.1", weight=0)))


def test_plan_round_trips(store):
    d = draft(a=content("10.0.0.1", "10.0.0.2"), b=content("10.0.0.3"))
    plan = publish(store, d, now=5.0)
    back = store.plan(plan.generation)
    assert back is not None
    assert back.digest == d.digest
    assert dict(back.endpoints) == dict(d.endpoints)
    assert [c.digest for c in back.endpoints.values()] == [c.digest for c in d.endpoints.values()]
    assert store.header(plan.generation).endpoint_count == 2
    assert store.plan_names(plan.generation) == (A, B)
    assert store.contents(plan.generation, [B]) == {B: d.endpoints[B]}
    assert store.plan(Generation(99)) is None
    with pytest.raises(NotFound):
        store.contents(Generation(99))


def test_apply_if_newer_writes_then_fences_older(store):
    g1 = publish(store, draft(a=content("10.0.0.1"))).generation
    g2 = publish(store, draft(a=content("10.0.0.2"))).generation
    assert store.apply_if_newer(g2, [A], actor="e2", now=1) == {A: Outcome.APPLIED}
    assert store.apply_if_newer(g1, [A], actor="e1", now=2) == {A: Outcome.FENCED_OUT}
    live = store.read_zone()[A]
    assert live.generation == g2
    assert live.content.records[0].address == "10.0.0.2"
    assert store.apply_if_newer(g2, [A], actor="e3", now=3) == {A: Outcome.CURRENT}


def test_apply_of_unknown_endpoint_or_plan_is_missing(store):
    g = publish(store, draft(a=content("10.0.0.1"))).generation
    assert store.apply_if_newer(g, [B], actor="e", now=0) == {B: Outcome.MISSING_PLAN}
    assert store.apply_if_newer(Generation(7), [A], actor="e", now=0) == {A: Outcome.MISSING_PLAN}
    assert store.read_zone() == {}


def test_freeze_refuses_every_write(store):
    g = publish(store, draft(a=content("10.0.0.1"))).generation
    store.set_frozen(True, actor="op", now=0, reason="incident")
    assert store.frozen()
    assert store.apply_if_newer(g, [A], actor="e", now=1) == {A: Outcome.FROZEN}
    assert store.advance_unchanged(g, actor="e", now=1) == ()
    assert store.read_zone() == {}
    store.set_frozen(False, actor="op", now=2)
    assert store.apply_if_newer(g, [A], actor="e", now=3) == {A: Outcome.APPLIED}


def test_advance_unchanged_moves_generation_without_rewrite(store):
    same = content("10.0.0.1")
    g1 = publish(store, draft(a=same, b=content("10.0.0.2"))).generation
    store.apply_if_newer(g1, [A, B], actor="e", now=0)
    g2 = publish(store, draft(a=same, b=content("10.0.0.9"))).generation
    version, _ = store.changed_since(0)
    behind = store.advance_unchanged(g2, actor="e", now=1)
    assert behind == (*marker_moves(store), B)
    assert store.applied() == {A: g2, B: g1}
    _, changed = store.changed_since(version)
    assert set(changed) <= {A}, "nothing whose content is unchanged and not advanced"
    assert store.apply_if_newer(g2, [B], actor="e", now=2) == {B: Outcome.APPLIED}


def test_generation_only_advance_is_not_a_content_change(store):
    same = content("10.0.0.1")
    g1 = publish(store, draft(a=same, b=content("10.0.0.2"))).generation
    store.apply_if_newer(g1, [A, B], actor="e", now=0)
    version, _ = store.changed_since(0)
    g2 = publish(store, draft(a=same, b=content("10.0.0.3"))).generation
    assert store.advance_unchanged(g2, actor="e", now=1) == (*marker_moves(store), B)
    assert store.applied() == {A: g2, B: g1}
    assert store.changed_since(version) == (version, {}), "a DNS server re-reads nothing"
    assert store.apply_if_newer(g2, [B], actor="e", now=2) == {B: Outcome.APPLIED}
    later, changed = store.changed_since(version)
    assert later > version and set(changed) == {B}
    assert changed[B].generation == g2


def test_emptying_cleanup_is_reported_as_a_change(store):
    g1 = publish(store, draft(a=content("10.0.0.1"))).generation
    g2 = publish(store, draft(b=content("10.0.0.2"))).generation
    store.apply_if_newer(g1, [A], actor="e", now=0)
    store.apply_if_newer(g2, [B], actor="e", now=0)
    version, _ = store.changed_since(0)
    assert store.legacy_delete_older(g2, actor="old", now=1) == (g1,)
    later, changed = store.changed_since(version)
    assert later > version and set(changed) == {A} and changed[A].empty


def test_advance_reports_new_endpoints_and_repairs_same_generation(store):
    g1 = publish(store, draft(a=content("10.0.0.1"))).generation
    assert store.advance_unchanged(g1, actor="e", now=0) == (A,)


def test_changed_since_tracks_versions(store):
    v0, everything = store.changed_since(0)
    assert everything == {}
    g = publish(store, draft(a=content("10.0.0.1"), b=content("10.0.0.2"))).generation
    store.apply_if_newer(g, [A], actor="e", now=0)
    v1, changed = store.changed_since(v0)
    assert v1 > v0 and set(changed) == {A}
    assert store.changed_since(v1) == (v1, {})
    store.apply_if_newer(g, [B], actor="e", now=0)
    v2, changed = store.changed_since(v1)
    assert v2 > v1 and set(changed) == {B}


def test_cleanup_never_deletes_newest_or_referenced(store):
    gens = [publish(store, draft(a=content(f"10.0.0.{i}"))).generation for i in range(1, 6)]
    store.apply_if_newer(gens[1], [A], actor="e", now=0)  # A serves generation 2
    result = store.delete_unreferenced(gens, actor="e", now=1)
    assert set(result.deleted) == {1, 3, 4}
    assert result.kept_referenced == (2,)
    assert result.kept_newest == (5,)
    assert store.index().generations == (2, 5)
    assert store.read_zone()[A].content.records  # still served


def test_cleanup_keeps_shared_content_of_surviving_plans(store):
    shared = content("10.0.0.1")
    g1 = publish(store, draft(a=shared)).generation
    g2 = publish(store, draft(a=shared, b=content("10.0.0.2"))).generation
    publish(store, draft(a=content("10.0.0.3")))
    store.delete_unreferenced([g1], actor="e", now=0)
    assert store.contents(g2)[A] == shared


def test_index_reports_generations_applied_and_newest_names(store):
    g1 = publish(store, draft(a=content("10.0.0.1"))).generation
    store.apply_if_newer(g1, [A], actor="e", now=0)
    g2 = publish(store, draft(a=content("10.0.0.1"), b=content("10.0.0.2"))).generation
    idx = store.index()
    assert idx.generations == (g1, g2)
    assert idx.applied == {A: g1}
    assert idx.newest_names == (A, B)


def test_cleanup_index_agrees_with_the_core_rule_over_the_full_index(store):
    """Each store may compute clean-up's facts its own way (SQLite in two aggregates);
    whatever it does must equal core.cleanup.summarise over the full index: empty,
    a newest name never applied (watermark 0), a live name the newest plan dropped (it
    protects its generation but does not lower the watermark), all applied."""
    from zonewarden.core.cleanup import summarise

    def agrees():
        got = store.cleanup_index()
        assert got == summarise(store.index())
        return got

    assert agrees().watermark == 0 and agrees().live == frozenset()
    g1 = publish(store, draft(a=content("10.0.0.1"), b=content("10.0.0.2")), now=1).generation
    store.apply_if_newer(g1, [A], actor="e", now=1)
    assert agrees().watermark == 0  # b never applied
    store.apply_if_newer(g1, [B], actor="e", now=1)
    assert agrees().watermark == g1
    g2 = publish(store, draft(a=content("10.0.0.3")), now=2).generation
    g3 = publish(store, draft(a=content("10.0.0.4")), now=3).generation
    store.apply_if_newer(g3, [A], actor="e", now=3)
    got = agrees()  # b is live at g1 but not in the newest plan
    assert (got.generations, got.watermark, got.live) == ((g1, g2, g3), g3, {g1, g3})
    assert got.created == {g1: 1.0, g2: 2.0, g3: 3.0}


def test_index_reports_when_each_plan_was_published(store):
    g1 = publish(store, draft(a=content("10.0.0.1")), now=100.0).generation
    g2 = publish(store, draft(a=content("10.0.0.2")), now=250.5).generation
    assert store.index().created == {g1: 100.0, g2: 250.5}


def test_history_keeps_old_plans_that_cleanup_would_delete(store):
    """Clean-up as an enactor runs it (core.cleanup over the store's index): with the
    default history (a day or 1,000 plans, whichever is less), every plan stays and
    stays diffable; with no history, the same pass deletes the unreferenced ones."""
    from zonewarden.core.cleanup import History, cleanup_candidates

    gens = [
        publish(store, draft(a=content(f"10.0.0.{i}")), now=float(i)).generation
        for i in range(1, 8)
    ]
    store.apply_if_newer(gens[-1], [A], actor="e", now=10)

    def candidates(history: History) -> tuple[Generation, ...]:
        idx = store.index()
        return cleanup_candidates(
            idx.generations,
            idx.applied,
            idx.newest_names,
            retention=1,
            keep_newest=1,
            history=history,
            created=idx.created,
            now=20.0,
        )

    assert candidates(History(age=86400.0, count=1000)) == ()
    assert candidates(History(age=15.5)) == (1, 2, 3, 4)  # published before t = 4.5
    assert candidates(History(age=86400.0, count=3)) == (1, 2, 3, 4)  # the newest 3 stay
    assert store.contents(gens[0])[A] == content("10.0.0.1")
    doomed = candidates(History())
    assert doomed == tuple(gens[:5])
    assert store.delete_unreferenced(doomed, actor="e", now=21).deleted == doomed


def test_legacy_write_is_unfenced_and_cleanup_empties(store):
    g1 = publish(store, draft(a=content("10.0.0.1"))).generation
    g2 = publish(store, draft(a=content("10.0.0.2"))).generation
    store.apply_if_newer(g2, [A], actor="fast", now=0)
    assert store.legacy_write(g1, A, actor="slow", now=1) is Outcome.APPLIED
    assert store.applied()[A] == g1  # the regression the fence prevents
    assert store.legacy_delete_older(g2, actor="fast", now=2) == (g1,)
    assert store.read_zone()[A].empty  # the 2025 failure
    assert store.legacy_write(g2, A, actor="any", now=3) is Outcome.DANGLING


def test_locks_exclude_until_expiry(store):
    assert store.try_lock(A, "x", now=0, ttl=5)
    assert not store.try_lock(A, "y", now=1, ttl=5)
    assert store.try_lock(A, "x", now=1, ttl=5)
    assert store.try_lock(A, "y", now=10, ttl=5)
    store.unlock(A, "x")  # not the holder: no effect
    assert not store.try_lock(A, "x", now=11, ttl=5)
    store.unlock(A, "y")
    assert store.try_lock(A, "x", now=11, ttl=5)


def test_pins_heartbeats_and_audit(store):
    store.set_pin(A, Generation(3), actor="op", now=1)
    assert store.pins() == {A: 3}
    store.set_pin(A, None, actor="op", now=2)
    assert store.pins() == {}
    store.beat(Heartbeat("az1", 5.0, 3, "write", "batch 2"))
    store.beat(Heartbeat("az1", 6.0, 4, "sleep"))
    assert store.heartbeats() == [Heartbeat("az1", 6.0, 4, "sleep", "")]
    g = publish(store, draft(a=content("10.0.0.1"))).generation
    store.apply_if_newer(g, [A], actor="e", now=3)
    kinds = [e.kind for e in store.audit_log()]
    assert kinds == ["pin", "unpin", "publish", "write"]
    seqs = [e.seq for e in store.audit_log()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [e.kind for e in store.audit_log(after=seqs[1])] == ["publish", "write"]


def test_audit_page_filters_and_pages_in_the_store(store):
    from zonewarden.api.history import audit_page as walked

    for i in range(12):
        store.record("op", "hold" if i % 3 else "freeze", now=float(i), detail=str(i))
    every = store.audit_log()
    seqs = [e.seq for e in every]
    newest = store.audit_page(limit=4)
    assert newest == every[::-1][:4]
    assert store.audit_page(limit=4, newest_first=False) == every[:4]
    page = store.audit_page(limit=3, kinds=("freeze",), newest_first=True)
    assert [e.detail for e in page] == ["9", "6", "3"]
    assert [e.detail for e in store.audit_page(limit=100, since=7.5)] == ["11", "10", "9", "8"]
    inside = store.audit_page(limit=100, after=seqs[2], before=seqs[6], newest_first=False)
    assert inside == every[3:6]
    assert store.audit_page(limit=0) == []
    # paging backwards with `before` walks the whole log, newest first, without overlap
    seen, before = [], None
    while batch := store.audit_page(limit=5, before=before):
        seen += batch
        before = batch[-1].seq
    assert seen == every[::-1]
    # the same answers as the generic walk over audit_log (api/history.py's fallback)
    plain = type("Plain", (), {"audit_log": store.audit_log})()
    for kwargs in ({"limit": 5}, {"limit": 2, "kinds": ("freeze",), "since": 4.0}):
        assert store.audit_page(**kwargs) == walked(plain, **kwargs)


def test_audit_page_finds_sparse_kinds_past_many_reads(store):
    for i in range(40):
        store.record("op", "rare" if i in (1, 38) else "noise", now=float(i), detail=str(i))
    assert [e.detail for e in store.audit_page(limit=5, kinds=("rare",))] == ["38", "1"]
    oldest = store.audit_page(limit=1, kinds=("rare",), newest_first=False)
    assert [e.detail for e in oldest] == ["1"]
