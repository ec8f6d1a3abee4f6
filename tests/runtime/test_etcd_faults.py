"""The multi-process race on a real three-member etcd cluster, with members crashing.

- one of three killed mid-run (the leader, the worst member to lose): the observer sees
  no violation of I1-I5, plans keep being published and applied, and the region
  converges;
- two of three killed: writes fail with a StoreUnavailable that says "no quorum" and
  nothing moves; when the members return, progress resumes and nothing committed
  before the outage is lost;
- legacy on the same cluster, with the same member crash: the same observer catches it.

Each test gets its own key prefix on one module-scoped cluster; killed members are
restarted (with their data) before the next test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import pytest
from tests.dns.peer_servers import free_port, wait_for_answer
from tests.runtime.test_race import race_config, run_race, stop
from tests.stores.etcd_cluster import EtcdCluster, fresh_prefix

import dns.query
from zonewarden.core.region import demo_region
from zonewarden.errors import StoreUnavailable
from zonewarden.stores.etcd import EtcdStore

pytestmark = pytest.mark.servers
ZONEWARDEN = (sys.executable, "-m", "zonewarden")
SEED = int(os.environ.get("RACE_SEED", "7"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    try:
        c = EtcdCluster().start()
    except RuntimeError as exc:  # a missing etcd binary FAILS the test, naming the install
        pytest.fail(str(exc), pytrace=False)
    yield c
    c.stop()


@pytest.fixture
def region(cluster: EtcdCluster, tmp_path: Path) -> Iterator[tuple[EtcdStore, str]]:
    for i in range(cluster.size):
        cluster.restart(i)
    cluster.wait_healthy()
    prefix = fresh_prefix()
    store = EtcdStore(cluster.endpoints, prefix=prefix, timeout=2.0)
    yield store, prefix
    store.close()


def etcd_config(tmp: Path, protocol: str, endpoints: list[str], prefix: str) -> Path:
    path = race_config(tmp, protocol)
    text = path.read_text().replace(
        '[store]\nkind = "sqlite"\npath = "region.db"',
        f'[store]\nkind = "etcd"\nendpoints = {json.dumps(endpoints)}\nprefix = "{prefix}"',
    )
    assert 'kind = "etcd"' in text, "the demo config's [store] section changed shape"
    path.write_text(text)
    return path


def converge(observer, store: EtcdStore, seconds: float) -> int:
    newest = eventually(store.newest)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        observer.check_once()
        try:
            if set(store.applied().values()) == {newest}:
                break
        except StoreUnavailable:
            pass
        time.sleep(0.05)
    observer.check_once()
    return newest


def test_one_member_of_three_dies_mid_race_safe_holds_and_progresses(cluster, region, tmp_path):
    store, prefix = region
    cfg = etcd_config(tmp_path, "safe", cluster.endpoints, prefix)
    seen: dict[str, int] = {}

    def crash_leader(elapsed: float) -> None:
        if elapsed >= 3.0 and "killed" not in seen:
            seen["newest_at_kill"] = eventually(store.newest)
            seen["killed"] = cluster.leader() or 0
            cluster.kill(seen["killed"])

    def shown() -> bool:  # a loaded box plans slowly: race on until the race has shown it
        newest = _try(store.newest) or 0
        if "killed" not in seen or newest <= seen["newest_at_kill"] + 10:
            return False
        audit = _try(lambda: store.audit_log(limit=1_000_000)) or []
        return any(e.kind == "fenced" and e.actor == "az1" for e in audit)

    observer, _, procs = run_race(
        tmp_path,
        "safe",
        seconds=9.0,
        seed=SEED,
        store=store,
        cfg=cfg,
        on_tick=crash_leader,
        until=shown,
        bound=60.0,
    )
    try:
        procs[0].terminate()
        procs[0].wait(timeout=10)
        newest = converge(observer, store, 20)
    finally:
        stop(procs)
    assert observer.reads > 50, "the observer must actually have watched the race"
    assert newest > seen["newest_at_kill"] + 10, (
        f"no progress after member m{seen['killed']} died: {seen['newest_at_kill']} -> {newest}"
    )
    assert observer.violations == []
    applied = eventually(store.applied)
    assert set(applied.values()) == {newest}, f"not converged: {applied}"
    audit = eventually(lambda: store.audit_log(limit=1_000_000))
    fenced = [e for e in audit if e.kind == "fenced"]
    assert any(e.actor == "az1" for e in fenced), "the slow victim must have been fenced out"
    print(
        f"etcd 1/3 down: killed m{seen['killed']} (leader) at generation "
        f"{seen['newest_at_kill']}, reached {newest}; {observer.reads} reads, "
        f"{len(fenced)} stale writes fenced"
    )


def test_two_members_down_means_no_quorum_then_progress_resumes(cluster, region, tmp_path):
    store, prefix = region
    cfg = etcd_config(tmp_path, "safe", cluster.endpoints, prefix)
    before: dict[str, object] = {}
    outage: dict[str, object] = {}

    def outage_then_return(elapsed: float) -> None:
        """Each step waits on what came before it, not on the clock: the outage begins
        once every endpoint is applied and answered by the DNS server (a loaded box can
        take seconds for the first plan to get there)."""
        now = time.monotonic()
        if "at" not in outage:
            if elapsed >= 3.0 and now >= outage.get("next_check", 0.0):
                outage["next_check"] = now + 0.2
                if served_everywhere():
                    begin_outage()
        elif "error" not in outage and now - outage["at"] >= 2.0:
            outage["answers"] = answers(port)  # the DNS server, from its last snapshot
            try:  # the cluster has had > 2 election timeouts to notice
                store.record("test", "probe", now=time.time(), detail="during the outage")
                outage["error"] = "the write succeeded without quorum"
            except StoreUnavailable as exc:
                outage["error"] = str(exc)
            outage["frozen_at"] = _try(store.newest)
        elif "error" in outage and "back" not in outage and now - outage["at"] >= 4.0:
            outage["still"] = _try(store.newest)
            cluster.restart(1)
            cluster.restart(2)
            outage["back"] = time.monotonic()

    def served_everywhere() -> bool:
        applied = _try(store.applied) or {}
        names = demo_region().endpoints
        return all(applied.get(n, 0) > 0 for n in names) and all(answers(port).values())

    def begin_outage() -> None:
        eventually(lambda: store.record("test", "probe", now=time.time(), detail="before"))
        before.update(
            newest=eventually(store.newest),
            applied=eventually(store.applied),
            audit=len(eventually(lambda: store.audit_log(limit=1_000_000))),
        )
        outage["at"] = time.monotonic()
        cluster.kill(1)
        cluster.kill(2)

    def progressed() -> bool:  # the members are back and the planner published again
        if "back" not in outage:
            return False
        newest = _try(store.newest)
        return bool(newest) and newest > before["newest"]

    port = free_port()
    with (tmp_path / "serve-dns.log").open("wb") as log:  # serve-dns has its own copy
        server = subprocess.Popen(
            [*ZONEWARDEN, "serve-dns", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
            stderr=log,
        )
    try:
        wait_for_answer(port, "example.", 30.0, server)
        observer, _, procs = run_race(
            tmp_path,
            "safe",
            seconds=13.0,
            seed=SEED,
            store=store,
            cfg=cfg,
            on_tick=outage_then_return,
            until=progressed,
            bound=60.0,
        )
    finally:
        server.terminate()
        server.wait(10)
    try:
        procs[0].terminate()
        procs[0].wait(timeout=10)
        newest = converge(observer, store, 25)
    finally:
        stop(procs)
    assert "back" in outage, f"the outage never ran its course: {outage}"
    message = str(outage["error"])
    assert "no quorum" in message, f"the outage must say 'no quorum', said: {message}"
    assert outage["answers"] and all(outage["answers"].values()), (
        f"the DNS server must answer from its last snapshot during the outage: {outage['answers']}"
    )
    assert outage["frozen_at"] is None and outage["still"] is None, "reads need quorum too"
    assert newest > before["newest"], f"no progress after the members returned ({newest})"
    assert observer.violations == []
    applied_after = eventually(store.applied)
    assert all(applied_after[n] >= g for n, g in before["applied"].items()), "an endpoint went back"
    assert set(applied_after.values()) == {newest}, f"not converged: {applied_after}"
    audit = eventually(lambda: store.audit_log(limit=1_000_000))
    assert len(audit) >= before["audit"], "audit events were lost"
    assert [e.detail for e in audit if e.kind == "probe"] == ["before"], (
        "the pre-outage write must survive and the no-quorum write must not have landed"
    )
    print(f"etcd 2/3 down: {message}")
    print(f"etcd 2/3 down: generation {before['newest']} before the outage, {newest} after")


def answers(port: int) -> dict[str, int]:
    """A records each demo endpoint answers with right now (0: empty or no answer)."""
    out = {}
    for name in demo_region().endpoints:
        try:
            r = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=2)
            out[name] = sum(len(rrset) for rrset in r.answer)
        except dns.exception.Timeout:
            out[name] = 0
    return out


def eventually(call, seconds: float = 10.0):
    """`call()`, retried while the cluster elects a leader (the test's own reads)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _try(read):
    try:
        return read()
    except StoreUnavailable:
        return None


def test_legacy_on_etcd_is_caught_by_the_same_observer(cluster, region, tmp_path):
    store, prefix = region
    cfg = etcd_config(tmp_path, "legacy", cluster.endpoints, prefix)
    killed: list[int] = []

    def crash_one(elapsed: float) -> None:
        if elapsed >= 1.5 and not killed:
            killed.append(cluster.leader() or 0)
            cluster.kill(killed[0])

    observer, _, procs = run_race(
        tmp_path, "legacy", seconds=25.0, seed=SEED, store=store, cfg=cfg, on_tick=crash_one
    )
    stop(procs)
    assert killed, "the member crash must have happened during the legacy run"
    kinds = {v.split()[1].rstrip(":") for v in observer.violations}
    assert kinds & {"I1", "I3", "I5"}, (
        f"legacy must regress or go empty; saw {observer.violations[:5]}"
    )
    print(f"etcd legacy: violations {sorted(kinds)}; first: {observer.violations[0]}")
