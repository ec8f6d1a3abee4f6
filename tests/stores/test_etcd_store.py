"""What only the etcd store has: watches, its error edge, Txn-size splitting, the config
path. The shared semantics are in test_contract.py and test_agreement.py."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import closing

import pytest
from tests.helpers import content, draft
from tests.stores.etcd_cluster import fresh_prefix, shared_cluster

from zonewarden.config import demo_toml, load
from zonewarden.core.model import EndpointName, PlanDraft
from zonewarden.core.outcomes import Outcome
from zonewarden.errors import ConfigError, StoreCorrupt, StoreUnavailable
from zonewarden.runtime.openers import open_store
from zonewarden.stores.etcd import EtcdStore
from zonewarden.stores.etcd import ops as ec

pytestmark = pytest.mark.servers


def names(n: int) -> list[EndpointName]:
    return [EndpointName(f"e{i:03d}.example.") for i in range(n)]


def test_watch_zone_wakes_on_a_write(etcd):
    g = etcd.publish(draft(a=content("10.0.0.1")), source="t", actor="t", now=0).generation
    version, _ = etcd.changed_since(0)
    woke: list[int] = []
    watcher = threading.Thread(target=lambda: woke.append(etcd.watch_zone(version, 5.0)))
    watcher.start()
    time.sleep(0.2)
    started = time.monotonic()
    etcd.apply_if_newer(g, [EndpointName("a.example.")], actor="e", now=1)
    watcher.join(6)
    new_version, changed = etcd.changed_since(version)
    assert woke == [new_version] and set(changed) == {"a.example."}
    assert time.monotonic() - started < 1.0, "a watch must wake at once, not at its timeout"
    assert etcd.watch_zone(new_version, 0.3) == 0  # nothing changed: times out


def test_a_watch_from_a_compacted_revision_wakes_at_once(etcd):
    """A zone watch whose start revision etcd compacted away cannot tell what changed:
    it wakes the caller (who re-reads) instead of sleeping until its timeout."""
    a = EndpointName("a.example.")
    g = etcd.publish(draft(a=content("10.0.0.1")), source="t", actor="t", now=0).generation
    etcd.apply_if_newer(g, [a], actor="e", now=0)
    version, _ = etcd.changed_since(0)
    g = etcd.publish(draft(a=content("10.0.0.2")), source="t", actor="t", now=1).generation
    etcd.apply_if_newer(g, [a], actor="e", now=1)
    now = etcd.client.read([ec.get(etcd.keys.schema)]).revision
    etcd.client.call("/v3/kv/compaction", {"revision": str(now), "physical": True})
    started = time.monotonic()
    assert etcd.watch_zone(version, 10.0) > 0
    assert time.monotonic() - started < 5


def test_a_pruned_change_log_sends_old_readers_to_the_whole_zone(etcd, monkeypatch):
    """Clean-up keeps the newest CHANGE_LOG_KEEP log entries and raises the floor: a
    reader whose version predates the pruned entries still sees every change (it reads
    the whole zone); a recent reader still gets only what changed."""
    from zonewarden.stores.etcd import store as etcd_store

    monkeypatch.setattr(etcd_store, "CHANGE_LOG_KEEP", 2)
    many = names(4)
    g = etcd.publish(
        PlanDraft(dict.fromkeys(many, content("10.0.0.1"))), source="t", actor="t", now=0
    ).generation
    etcd.apply_if_newer(g, many, actor="e", now=1)
    old_version, _ = etcd.changed_since(0)
    for i, name in enumerate(many[:3]):  # three content changes, one Txn each
        ip = f"10.0.1.{i + 1}"
        plan = {**dict.fromkeys(many, content("10.0.0.1")), name: content(ip)}
        g = etcd.publish(PlanDraft(plan), source="t", actor="t", now=2).generation
        etcd.advance_unchanged(g, actor="e", now=3)
        etcd.apply_if_newer(g, [name], actor="e", now=3)
        if i == 1:
            recent, _ = etcd.changed_since(0)
    etcd.delete_unreferenced(list(etcd.index().generations), actor="c", now=4)
    log = etcd.client.read([ec.get(etcd.keys.changes, prefix=True, keys_only=True)]).ranges[0]
    assert len(log) == 2
    _, seen = etcd.changed_since(old_version)
    assert set(seen) == set(many)  # below the floor: the whole zone, nothing missed
    assert set(etcd.changed_since(recent)[1]) == {many[2]}  # above it: only what changed


def test_a_schema_1_prefix_is_migrated_and_reports_its_whole_zone(etcd):
    many = names(3)
    g = etcd.publish(
        PlanDraft(dict.fromkeys(many, content("10.0.0.1"))), source="t", actor="t", now=0
    ).generation
    etcd.apply_if_newer(g, many, actor="e", now=1)
    k = etcd.keys
    before, _ = etcd.changed_since(0)
    etcd.client.txn([], [ec.delete(k.changes, prefix=True), ec.put(k.schema, b"1")])
    reopened = EtcdStore(etcd.client.endpoints, prefix=k.prefix)
    assert sorted(reopened.changed_since(before)[1]) == many  # no log before: whole zone
    version, zone = reopened.changed_since(0)
    assert sorted(zone) == many and all(e.generation == g for e in zone.values())
    assert etcd.client.read([ec.get(k.schema)]).ranges[0][0].value == b"3"
    g2 = reopened.publish(
        PlanDraft({**dict.fromkeys(many, content("10.0.0.1")), many[0]: content("10.0.0.2")}),
        source="t",
        actor="t",
        now=2,
    ).generation
    assert reopened.advance_unchanged(g2, actor="e", now=3) == (many[0],)
    reopened.apply_if_newer(g2, [many[0]], actor="e", now=4)
    assert set(reopened.changed_since(version)[1]) == {many[0]}
    reopened.close()


def test_batches_larger_than_one_txn_are_split_and_fenced(etcd):
    many = names(120)  # a chunked publish, and two apply Txns (62 endpoints each)
    plan1 = etcd.publish(
        PlanDraft(dict.fromkeys(many, content("10.0.0.1"))), source="t", actor="t", now=0
    )
    plan2 = etcd.publish(
        PlanDraft(dict.fromkeys(many, content("10.0.0.2"))), source="t", actor="t", now=0
    )
    applied = etcd.apply_if_newer(plan2.generation, many, actor="e", now=1)
    assert set(applied.values()) == {Outcome.APPLIED} and list(applied) == many
    fenced = etcd.apply_if_newer(plan1.generation, many, actor="e", now=2)
    assert set(fenced.values()) == {Outcome.FENCED_OUT}
    assert set(etcd.applied().values()) == {plan2.generation}


def test_txn_limit_mismatch_is_a_config_error(etcd):
    big = EtcdStore(etcd.client.endpoints, prefix=fresh_prefix(), max_txn_ops=1024)
    with closing(big), pytest.raises(ConfigError, match="max-txn-ops"):
        big.publish(
            PlanDraft(dict.fromkeys(names(200), content("10.0.0.1"))), source="t", actor="t", now=0
        )


def test_plans_larger_than_one_txn_publish_in_chunks_and_work_end_to_end(etcd):
    many = names(1000)  # ~8 chunks under --max-txn-ops 128
    first = PlanDraft(dict.fromkeys(many, content("10.0.0.1")))
    second = PlanDraft(
        {n: content("10.0.0.2" if i % 10 == 0 else "10.0.0.1") for i, n in enumerate(many)}
    )
    g1 = etcd.publish(first, source="t", actor="t", now=0).generation
    assert etcd.header(g1).endpoint_count == 1000
    assert etcd.plan(g1).digest == first.digest
    assert set(etcd.apply_if_newer(g1, many, actor="e", now=1).values()) == {Outcome.APPLIED}
    g2 = etcd.publish(second, source="t", actor="t", now=2).generation
    assert g2 == g1 + 1 and etcd.newest() == g2
    behind = etcd.advance_unchanged(g2, actor="e", now=3)
    assert sorted(behind) == sorted(many[::10])
    etcd.apply_if_newer(g2, list(behind), actor="e", now=4)
    assert set(etcd.applied().values()) == {g2}
    assert etcd.delete_unreferenced([g1], actor="e", now=5).deleted == (g1,)
    assert etcd.plan_names(g1) == ()


def test_unreachable_cluster_is_retryable_and_names_the_endpoints():
    ports = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
        s.close()
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    with pytest.raises(StoreUnavailable) as info:
        EtcdStore(urls, open_timeout=0.3)
    assert all(u in str(info.value) for u in urls) and "refused" in str(info.value)


def test_foreign_data_under_the_prefix_is_corrupt_not_a_crash(etcd):
    key = etcd.keys.zone("a.example.")
    etcd.client.txn([], [ec.put(key, b"not json at all")])
    with pytest.raises(StoreCorrupt, match=r"choose another prefix|bad content"):
        etcd.read_zone()
    etcd.client.txn([], [ec.put(etcd.keys.schema, b"99")])
    with pytest.raises(StoreCorrupt, match="schema"):
        EtcdStore(etcd.client.endpoints, prefix=etcd.keys.prefix)


def test_audit_seq_is_commit_order_across_writers(etcd):
    with closing(EtcdStore(etcd.client.endpoints, prefix=etcd.keys.prefix)) as other:
        for i in range(5):
            (etcd if i % 2 else other).record("t", f"k{i}", now=i)
    events = etcd.audit_log()
    assert [e.kind for e in events] == [f"k{i}" for i in range(5)]
    assert [e.kind for e in etcd.audit_log(after=events[2].seq)] == ["k3", "k4"]


def test_config_opens_an_etcd_store(tmp_path):
    cluster = shared_cluster()
    sqlite_section = '[store]\nkind = "sqlite"\npath = "region.db"'
    etcd_section = (
        '[store]\nkind = "etcd"\nendpoints = ["' + '", "'.join(cluster.endpoints) + '"]\n'
        f'prefix = "{fresh_prefix()}"'
    )
    cfg = tmp_path / "zw.toml"
    cfg.write_text(demo_toml().replace(sqlite_section, etcd_section))
    store = open_store(load(cfg))
    assert isinstance(store, EtcdStore) and store.newest() == 0
    store.close()
    cfg.write_text(demo_toml().replace(sqlite_section, '[store]\nkind = "etcd"'))
    with pytest.raises(ConfigError, match="endpoints"):
        open_store(load(cfg))


def test_up_runs_a_whole_region_on_etcd(tmp_path):
    """`zonewarden up` with [store] kind = "etcd": every endpoint keeps up with the plans
    in the cluster, and `up` says where the state lives."""
    import subprocess
    import sys

    cluster, prefix = shared_cluster(), fresh_prefix()
    etcd_section = (
        '[store]\nkind = "etcd"\nendpoints = ["' + '", "'.join(cluster.endpoints) + '"]\n'
        f'prefix = "{prefix}"'
    )
    cfg = tmp_path / "zw.toml"
    text = demo_toml(planner_interval=0.5)
    cfg.write_text(text.replace('[store]\nkind = "sqlite"\npath = "region.db"', etcd_section))
    argv = ["up", "--config", str(cfg), "--quiet", "--no-dns", "--no-api", "--duration", "6"]
    out = subprocess.run(
        [sys.executable, "-m", "zonewarden", *argv], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert f"(prefix {prefix})" in " ".join(out.stdout.split())
    store = open_store(load(cfg))
    try:
        newest, applied = store.newest(), store.applied()
        assert newest >= 2 and len(applied) == 4  # the demo region's endpoints
        # `up` stops planner and enactors together: the last plan or two may be unapplied
        assert all(newest - g <= 2 for g in applied.values()), (newest, applied)
    finally:
        store.close()


def test_an_idle_enactor_wakes_on_a_publish_not_on_its_poll_interval(etcd):
    """The runtime uses etcd watches: with a 30 s poll interval, a new plan is still
    applied within a couple of seconds. A polling-only enactor would take 30 s, so this
    fails if the watch is not used."""
    import asyncio

    from zonewarden.core.enactor import EnactorConfig
    from zonewarden.runtime.enactor import EnactorRunner

    a = names(1)
    etcd.publish(PlanDraft({a[0]: content("10.0.0.1")}), source="t", actor="t", now=0)
    runner = EnactorRunner("az1", etcd, EnactorConfig(poll_interval=30.0), seed=1)

    async def scenario() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            for _ in range(100):  # the first plan, then the enactor goes idle
                if etcd.applied().get(a[0]) == 1:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            g2 = etcd.publish(PlanDraft({a[0]: content("10.0.0.2")}), source="t", actor="t", now=1)
            started = time.monotonic()
            while etcd.applied().get(a[0]) != g2.generation:
                assert time.monotonic() - started < 5, "the watch did not wake the enactor"
                await asyncio.sleep(0.02)
            return time.monotonic() - started
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=35)

    assert asyncio.run(scenario()) < 5


def test_the_dns_watcher_wakes_on_an_etcd_zone_change_not_on_its_poll_interval(etcd):
    """serve-dns on etcd: with a 30 s poll interval the new content is still served in
    about a second (the watch wakes the watcher); polling alone would take 30 s."""
    import asyncio
    import random

    from zonewarden.backends.embedded.responder import Responder
    from zonewarden.backends.embedded.settings import ZoneSettings
    from zonewarden.backends.embedded.snapshot import SnapshotBuilder
    from zonewarden.backends.embedded.watcher import (
        ServerMetrics,
        SnapshotWatcher,
        first_snapshot,
    )

    a = names(1)
    g1 = etcd.publish(PlanDraft({a[0]: content("10.0.0.1")}), source="t", actor="t", now=0)
    etcd.apply_if_newer(g1.generation, a, actor="e", now=0)
    builder = SnapshotBuilder([ZoneSettings("example.")])
    responder = Responder(first_snapshot(etcd, builder), random.Random(0))
    watcher = SnapshotWatcher(etcd, builder, responder, ServerMetrics(), interval=30.0)

    async def scenario() -> float:
        task = asyncio.create_task(watcher.run())
        try:
            await asyncio.sleep(0.5)  # the watcher is now waiting
            before = responder.snapshot.version
            g2 = etcd.publish(PlanDraft({a[0]: content("10.0.0.2")}), source="t", actor="t", now=1)
            etcd.apply_if_newer(g2.generation, a, actor="e", now=1)
            started = time.monotonic()
            while responder.snapshot.version == before:
                assert time.monotonic() - started < 5, "the zone watch did not wake the watcher"
                await asyncio.sleep(0.02)
            return time.monotonic() - started
        finally:
            task.cancel()

    assert asyncio.run(scenario()) < 5


def test_a_decision_on_a_snapshot_a_newer_write_overtook_is_not_committed(etcd):
    """The slow path decides on the state it read and commits only if every key it read
    is unchanged: a newer write landing between that read and the commit sends it back
    to read again, where the fence says FENCED_OUT."""
    a = EndpointName("a.example.")
    g1 = etcd.publish(draft(a=content("10.0.0.1")), source="t", actor="t", now=0).generation
    g2 = etcd.publish(draft(a=content("10.0.0.2")), source="t", actor="t", now=0).generation
    stale = etcd._read(etcd._apply_ops(etcd.keys, g1, [a]))[1]  # a slow writer's read
    assert etcd.apply_if_newer(g2, [a], actor="fast", now=1) == {a: Outcome.APPLIED}
    assert etcd._apply_from(g1, [a], "slow", 2, stale) == {a: Outcome.FENCED_OUT}
    assert etcd.read_zone()[a].generation == g2
