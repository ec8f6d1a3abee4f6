"""The operator CLI against a real SQLite store: flows, JSON output and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from zonewarden import config as cfg
from zonewarden.cli.main import cli
from zonewarden.core.planner import Observation
from zonewarden.health.static import StaticHealth
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner
from zonewarden.stores.sqlite import SqliteStore

EP = "kv.us-east-1.example."


class FlakyHealth(StaticHealth):
    """Static health with one LB toggled per call, to produce distinct plans."""

    def __init__(self, region) -> None:
        super().__init__(region)
        self.region, self.calls = region, 0

    def observe(self, now):
        self.calls += 1
        ids = list(self.region.lbs)
        down = ids[self.calls % len(ids)]
        return {i: Observation(i != down) for i in ids}


@pytest.fixture
def region(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml())
    config = cfg.load(path)
    store = open_store(config, create=True)
    planner = Planner(config, store, FlakyHealth(config.region))
    for i in range(4):
        planner.once(float(i))
    store.apply_if_newer(store.newest(), list(config.region.endpoints), actor="test", now=5.0)
    yield path, config, store, planner
    store.close()


def run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_status_json(region):
    path, _, store, _ = region
    code, out = run("status", "--config", str(path), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["newest"] == store.newest() and data["healthy"] is True
    assert {e["name"] for e in data["endpoints"]} >= {EP}


def test_plan_list_show_diff(region):
    path, _, _store, _ = region
    code, out = run("plan", "list", "--config", str(path), "--json")
    assert code == 0 and [p["generation"] for p in json.loads(out)] == [1, 2, 3, 4]
    code, out = run("plan", "show", "3", "--config", str(path), "--json")
    assert code == 0 and json.loads(out)["generation"] == 3
    code, out = run("plan", "diff", "2", "3", "--config", str(path), "--json")
    assert code == 0 and all(c["kind"] == "changed" for c in json.loads(out))
    code, out = run("plan", "show", "77", "--config", str(path))
    assert code == 2 and "plan 77 is not in the store" in out


def test_publish_operator_plan_and_reject_empty(region, tmp_path):
    path, _, store, _ = region
    code, out = run("plan", "show", "--config", str(path), "--json")
    doc = json.loads(out)
    newest = store.newest()
    doc["endpoints"][EP]["records"] = []
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, out = run("plan", "publish", str(bad), "--config", str(path))
    assert code == 2 and f"{EP} would have 0 records" in out
    assert store.newest() == newest, "nothing may be half-written"
    doc["endpoints"][EP]["records"] = [{"type": "A", "address": "1.2.3", "weight": 1, "lb": "x"}]
    bad.write_text(json.dumps(doc))
    code, out = run("plan", "publish", str(bad), "--config", str(path))
    assert code == 2 and "records[0].address: '1.2.3' is not an IPv4 address" in out
    code, out = run("plan", "show", "--config", str(path), "--json")
    good = tmp_path / "good.json"
    good.write_text(out)
    code, out = run("plan", "publish", str(good), "--config", str(path))
    assert code == 0 and f"published generation {newest + 1}" in out


def test_freeze_blocks_writes(region):
    path, _, store, planner = region
    assert run("freeze", "--reason", "drill", "--config", str(path))[0] == 0
    planner.once(10.0)
    outcome = store.apply_if_newer(store.newest(), [EP], actor="e", now=11.0)
    assert str(outcome[EP]) == "frozen"
    _code, out = run("status", "--config", str(path))
    assert "FROZEN" in out
    assert run("unfreeze", "--config", str(path))[0] == 0
    assert str(store.apply_if_newer(store.newest(), [EP], actor="e", now=12.0)[EP]) == "applied"


def test_rollback_pins_old_content_as_a_new_generation(region):
    path, _, store, planner = region
    before = store.newest()
    current = store.contents(before, [EP])[EP]
    code, out = run("rollback", EP, "--config", str(path))
    assert code == 0, out
    rolled = store.newest()
    assert rolled == before + 1
    restored = store.contents(rolled, [EP])[EP]
    assert restored.digest != current.digest
    for i in range(3):
        planner.once(20.0 + i)  # the planner keeps the pinned content
    assert store.contents(store.newest(), [EP])[EP].digest == restored.digest
    assert run("unpin", EP, "--config", str(path))[0] == 0
    planner.once(30.0)
    planner.once(31.0)
    assert store.contents(store.newest(), [EP])[EP].digest != restored.digest
    code, out = run("audit", "--config", str(path), "--json", "--kind", "pin")
    assert json.loads(out)[0]["endpoint"] == EP


def test_repair_reports_nothing_on_a_clean_region(region):
    path, *_ = region
    code, out = run("repair", "--config", str(path), "--json")
    assert code == 0 and json.loads(out)["problems"] == []


def test_missing_and_corrupt_store(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml())
    code, out = run("status", "--config", str(path))
    assert code == 2 and "no ZoneWarden store at" in out
    (tmp_path / "region.db").write_bytes(b"this is not sqlite at all" * 100)
    code, out = run("status", "--config", str(path))
    assert code == 3 and "is damaged: not an SQLite database" in out
    assert (tmp_path / "region.db").read_bytes().startswith(b"this is not"), (
        "the bad file is left alone"
    )


def test_bad_config_exit_code_and_line(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml().replace("capacity = 110", "capacity = lots", 1))
    code, out = run("status", "--config", str(path))
    assert code == 2 and "region.toml" in out and "not valid TOML" in out


def test_bad_cli_arguments(region):
    path, *_ = region
    code, out = run("pin", EP, "notanumber", "--config", str(path))
    assert code == 2 and "'notanumber' is not a generation" in out
    code, out = run("rollback", "bad..name", "--config", str(path))
    assert code == 2 and "empty label" in out


@pytest.mark.servers
def test_a_second_up_on_the_same_store_fails(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml())
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zonewarden",
            "up",
            "--config",
            str(path),
            "--quiet",
            "--no-dns",
            "--no-api",
            "--duration",
            "30",
        ],
        stdout=subprocess.DEVNULL,  # never read: a pipe left open warns when collected
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = tmp_path / "region.db.up.lock"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (lock.exists() and lock.read_text().strip()):
            time.sleep(0.05)
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "zonewarden",
                "up",
                "--config",
                str(path),
                "--quiet",
                "--no-dns",
                "--no-api",
                "--duration",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 4  # StoreBusy: another process owns the store
        assert f"(pid {first.pid}) already runs the region" in second.stderr
        # the first region carries on regardless
        time.sleep(2.5)
        assert first.poll() is None
        assert SqliteStore(tmp_path / "region.db").newest() >= 1
    finally:
        first.terminate()
        first.wait(timeout=15)


def test_rejected_publish_is_audited(region, tmp_path):
    path, _, store, _ = region
    _, out = run("plan", "show", "--config", str(path), "--json")
    doc = json.loads(out)
    doc["endpoints"][EP]["records"] = []
    bad = tmp_path / "empty.json"
    bad.write_text(json.dumps(doc))
    assert run("plan", "publish", str(bad), "--config", str(path))[0] == 2
    rejected = [e for e in store.audit_log(limit=10_000) if e.kind == "publish-rejected"]
    assert rejected and "0 records" in rejected[-1].detail


def test_audit_tail_newest_first_since_and_plan_list_pages(region):
    path, _, store, _ = region
    events = store.audit_log(limit=10_000)
    code, out = run("audit", "--config", str(path), "--json", "--tail", "3")
    assert code == 0 and [e["seq"] for e in json.loads(out)] == [e.seq for e in events[-3:]]
    code, out = run("audit", "--config", str(path), "--json", "--tail", "3", "--newest-first")
    assert [e["seq"] for e in json.loads(out)] == [e.seq for e in events[-3:]][::-1]
    store.record("test", "note", now=time.time(), detail="just now")
    code, out = run("audit", "--config", str(path), "--json", "--since", "1m")
    assert code == 0 and [e["detail"] for e in json.loads(out)] == ["just now"]  # the rest is 1970
    assert run("audit", "--config", str(path), "--since", "yesterday")[0] == 2
    code, out = run("plan", "list", "--config", str(path), "--json", "--limit", "2")
    assert [p["generation"] for p in json.loads(out)] == [3, 4]
    code, out = run(
        "plan", "list", "--config", str(path), "--json", "--limit", "2", "--before", "3"
    )
    assert [p["generation"] for p in json.loads(out)] == [1, 2]
