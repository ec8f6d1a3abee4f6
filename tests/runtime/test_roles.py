"""One live process per role: a second planner or a second `enactor --id az1` beside a
live one is refused; a lease taken over stops the old holder; a released or expired
lease can be claimed; status marks old heartbeats stale."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from zonewarden import config as cfg
from zonewarden.errors import RoleTaken, ZoneWardenError
from zonewarden.ports import Heartbeat
from zonewarden.runtime.roles import RoleLease
from zonewarden.runtime.status import region_status, stale_after
from zonewarden.stores.memory import MemoryStore


def test_a_second_holder_is_refused_until_release_or_expiry():
    store = MemoryStore()
    store.beat(Heartbeat("planner", 100.0, 3, "publish", ""))
    first = RoleLease(store, "planner", owner="a", ttl=10)
    first.claim(100.0)
    second = RoleLease(store, "planner", owner="b", ttl=10)
    with pytest.raises(RoleTaken, match=r"another planner already runs .* 2\.0s ago"):
        second.claim(102.0)
    RoleLease(store, "planner", owner="a", ttl=10).claim(103.0)  # the same owner: a restart
    RoleLease(store, "enactor az2", owner="b").claim(103.0)  # another role: fine
    second.claim(114.0)  # the first stopped renewing: its lease expired
    with pytest.raises(RoleTaken, match="took over this role"):
        first.renew(115.0)  # the old holder learns it, and must stop
    second.release()
    RoleLease(store, "planner", owner="c").claim(115.0)  # released: at once


def test_stale_heartbeats_are_marked():
    store = MemoryStore()
    store.beat(Heartbeat("az1", 100.0, 1, "find", ""))
    store.beat(Heartbeat("az2", 108.0, 1, "find", ""))
    st = region_status(store, 110.0, stale_after=5.0)
    assert {a.actor: a.stale for a in st.actors} == {"az1": True, "az2": False}
    assert json.loads(json.dumps(st.as_json()))["actors"][0]["stale"] is True
    config = cfg.parse(cfg.demo_toml().replace("interval = 1.0", "interval = 4.0"))
    assert stale_after(config) == 12.0


def zw(*args: str, config) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "zonewarden", *args, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_beat(config_path, actor: str, limit: float = 60.0) -> None:
    from zonewarden.stores.sqlite import SqliteStore

    deadline = time.monotonic() + limit
    db = config_path.parent / "region.db"
    while time.monotonic() < deadline:
        try:
            store = SqliteStore(db, create=False)
        except ZoneWardenError:  # not there yet, or still being created
            time.sleep(0.1)
            continue
        try:
            if any(h.actor == actor for h in store.heartbeats()):
                return
        finally:
            store.close()
        time.sleep(0.1)
    raise AssertionError(f"{actor} never beat")


@pytest.mark.servers
@pytest.mark.parametrize(
    ("role", "actor"), [(["planner"], "planner"), (["enactor", "--id", "az1"], "az1")]
)
def test_a_second_process_for_a_live_role_is_refused(tmp_path, role, actor):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml())
    first = zw(*role, config=path)
    try:
        wait_for_beat(path, actor)
        second = zw(*role, config=path)
        out, _ = second.communicate(timeout=90)
        assert second.returncode == 4, out
        assert "already runs on this region" in out and "Traceback" not in out, out
        if actor == "az1":  # another id beside it is fine
            other = zw("enactor", "--id", "az2", config=path)
            time.sleep(1.5)
            assert other.poll() is None, other.communicate()[0]
            other.send_signal(signal.SIGTERM)
            other.communicate(timeout=10)
        first.send_signal(signal.SIGTERM)  # a clean exit releases the lease at once
        first.communicate(timeout=10)
        third = zw(*role, config=path)
        time.sleep(1.5)
        assert third.poll() is None, third.communicate()[0]
        third.send_signal(signal.SIGTERM)
        third.communicate(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
