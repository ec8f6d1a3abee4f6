"""Two planner processes on a real three-member etcd cluster: one leads by lease; the
leader is killed while it publishes; the standby takes over within two TTLs; no two
planners ever publish interleaved, and an operator's pin is never lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from tests.stores.etcd_cluster import EtcdCluster, fresh_prefix

from zonewarden import config as cfg
from zonewarden.core.model import EndpointName, Generation
from zonewarden.runtime.operations import pin
from zonewarden.stores.etcd import EtcdStore

pytestmark = pytest.mark.servers
TTL = 2
EP = EndpointName("kv.us-east-1.example.")


@pytest.fixture(scope="module")
def cluster():
    try:
        c = EtcdCluster().start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield c
    c.stop()


def config_file(tmp_path, endpoints, prefix):
    text = cfg.demo_toml(planner_interval=0.05)
    text = text.replace(
        '[store]\nkind = "sqlite"\npath = "region.db"',
        f'[store]\nkind = "etcd"\nendpoints = {json.dumps(endpoints)}\nprefix = "{prefix}"',
    )
    text = text.replace("[planner]", f"[planner]\nleader_ttl = {TTL}\nmax_removal = 1.0")
    path = tmp_path / "region.toml"
    path.write_text(text)
    return path


def planner(path, name, log):
    argv = [sys.executable, "-m", "zonewarden", "planner", "--id", name, "--config", str(path)]
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def publishers(store) -> list[tuple[int, str, float]]:
    out, after = [], 0
    while True:
        page = store.audit_log(after=after, limit=5000)
        out += [(e.generation, e.actor, e.at) for e in page if e.kind == "publish"]
        if len(page) < 5000:
            return sorted(out)
        after = page[-1].seq


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{what} within {timeout} s")


def test_the_standby_takes_over_within_two_ttls_and_nothing_interleaves(cluster, tmp_path):
    prefix = fresh_prefix()
    path = config_file(tmp_path, cluster.endpoints, prefix)
    config = cfg.load(path)
    store = EtcdStore(cluster.endpoints, prefix=prefix, timeout=2.0)
    a = planner(path, "a", tmp_path / "a.log")
    b = None
    try:
        wait(lambda: any(p[1] == "planner a" for p in publishers(store)), 20, "a never published")
        b = planner(path, "b", tmp_path / "b.log")
        time.sleep(1.5)  # b stands by while a leads and publishes every 50 ms
        assert not any(p[1] == "planner b" for p in publishers(store)), "b published as standby"
        pinned = pin(store, config, EP, Generation(1), actor="operator", now=time.time())
        wait(lambda: store.newest() > pinned.generation + 3, 10, "a stopped publishing")
        before_kill = store.newest()
        a.send_signal(signal.SIGKILL)  # mid-publish: a publishes every tick
        killed = time.time()
        a.wait(10)
        first_b = wait(
            lambda: next((p for p in publishers(store) if p[1] == "planner b"), None),
            4 * TTL + 5,
            "b never took over",
        )
        takeover = first_b[2] - killed
        wait(lambda: store.newest() > first_b[0] + 3, 10, "b stopped publishing")
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
    seen = publishers(store)
    order = [actor for _, actor, _ in seen if actor.startswith("planner ")]
    first_b_index = order.index("planner b")
    assert set(order[:first_b_index]) == {"planner a"}
    assert set(order[first_b_index:]) == {"planner b"}, "a published after b took over"
    assert first_b[0] > before_kill
    print(f"takeover {takeover:.2f} s after the leader's kill (TTL {TTL} s)")
    assert takeover <= 2 * TTL, f"takeover took {takeover:.2f} s, over two TTLs"
    newest = store.contents(store.newest())[EP]
    assert newest.digest == store.contents(Generation(1))[EP].digest, "the pin was lost"
    store.close()
