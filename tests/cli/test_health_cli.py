"""lb disable|enable, drain|undrain, health and plan diff's causes, on a real SQLite store."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zonewarden import config as cfg
from zonewarden.cli.main import cli
from zonewarden.core.health import LbReading, QuorumRule, VantageReport
from zonewarden.health.source import ProbeHealth
from zonewarden.health.static import StaticHealth
from zonewarden.resilience.queueing import WorkQueue
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner


@pytest.fixture
def region(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml().replace('health = "demo"', 'health = "static"'))
    config = cfg.load(path)
    store = open_store(config, create=True)
    planner = Planner(config, store, StaticHealth(config.region))
    planner.once(1.0)
    yield path, store, planner
    store.close()


def run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def lbs_in(store, generation) -> set[str]:
    return {r.lb for c in store.contents(generation).values() for r in c.records}


def test_disable_then_diff_says_why(region):
    path, store, planner = region
    code, out = run("lb", "disable", "lb-1a", "--reason", "bad NIC", "--config", str(path))
    assert code == 0 and "lb-1a disabled" in out
    planner.once(2.0)
    assert "lb-1a" not in lbs_in(store, 2)
    code, out = run("plan", "diff", "1", "2", "--config", str(path), "--json")
    rows = json.loads(out)
    assert code == 0 and rows and all(r["lbs"] == ["lb-1a"] for r in rows)
    assert any("disabled by operator:" in w and "bad NIC" in w for w in rows[0]["why"])
    code, out = run("plan", "diff", "1", "2", "--config", str(path))
    assert "by LB" in out and "lb-1a" in out and "bad NIC" in out
    code, out = run("lb", "enable", "lb-1a", "--config", str(path))
    assert code == 0 and "enabled" in out
    planner.once(3.0)
    assert "lb-1a" in lbs_in(store, 3)
    kinds = [e.kind for e in store.audit_log()]
    assert "lb-disable" in kinds and "lb-enable" in kinds


def test_drain_an_az_and_back(region):
    path, store, planner = region
    code, _ = run("drain", "--az", "use1-az2", "--reason", "power work", "--config", str(path))
    assert code == 0
    planner.once(2.0)
    assert not {"lb-2a", "lb-2b", "lb-2c", "lb-2d"} & lbs_in(store, 2)
    code, out = run("health", "--config", str(path), "--json")
    status = json.loads(out)
    assert status["lbs"]["lb-2a"]["served"] == 0
    assert status["holds"][0]["reason"] == "power work"
    code, out = run("undrain", "--az", "use1-az2", "--config", str(path))
    assert code == 0 and "undrained" in out
    planner.once(3.0)
    assert "lb-2a" in lbs_in(store, 3)


def test_bad_targets_are_clear_errors(region):
    path, _, _ = region
    code, out = run("lb", "disable", "lb-9z", "--reason", "x", "--config", str(path))
    assert code == 2 and "no load balancer 'lb-9z' in this region (known: lb-1a" in out
    code, out = run("drain", "--az", "mars", "--reason", "x", "--config", str(path))
    assert code == 2 and "no AZ 'mars'" in out
    code, out = run("drain", "--az", "a", "--lb", "b", "--reason", "x", "--config", str(path))
    assert code == 2 and "exactly one of --az AZ or --lb LB" in out
    code, out = run("lb", "disable", "lb-1a", "--config", str(path))
    assert code == 2 and "--reason" in out


def test_shed_probes_show_in_health_and_status(region):
    path, store, _ = region
    config = cfg.load(path)
    shed = "7 probes shed in the last 2.0 s (7 queue full; queue full: 4 probes waiting)"

    def local(now: float) -> VantageReport:
        readings = {lb: LbReading(True, now, "http 200") for lb in config.region.lbs}
        return VantageReport("planner", now, readings, shed)

    health = ProbeHealth(config.region.lbs, QuorumRule(), local=local)
    queue: WorkQueue[str] = WorkQueue(name="probes/planner")  # as the planner's prober has
    queue.offer(1.0, "lb-1a")
    Planner(config, store, health).once(5.0)
    code, out = run("health", "--config", str(path), "--json")
    status = json.loads(out)
    assert status["vantage"]["overload"] == [f"planner: {shed}"]
    published = store.published_counters()["planner"]  # the planner's counters, for /metrics
    assert published["work-queue/probes/planner"]["admitted"] == 1
    code, out = run("health", "--config", str(path))
    assert code == 0 and "probes shed" in out and "7 probes shed" in out
    code, out = run("status", "--config", str(path), "--json")
    assert "7 probes shed" in out


def test_health_shows_each_address_and_a_dead_one_leaves_the_plan(region):
    """Per-address readings (lb-1a's IPv6 address down, its IPv4 one up): the LB stays
    healthy, the dead address leaves its records, `health` shows both addresses."""
    from zonewarden.core.health import AddressReading

    path, store, _ = region
    config = cfg.load(path)
    v4, v6 = "127.0.1.1", "fd00:1::1"

    def local(now: float) -> VantageReport:
        readings = {lb: LbReading(True, now, "http 200") for lb in config.region.lbs}
        readings["lb-1a"] = LbReading(
            True,
            now,
            "1/2 addresses healthy",
            addresses={
                v4: AddressReading(True, now, "http 200"),
                v6: AddressReading(False, now, "http connect refused (fall 2/2)", True),
            },
        )
        return VantageReport("planner", now, readings)

    planner = Planner(config, store, ProbeHealth(config.region.lbs, QuorumRule(), local=local))
    planner.once(5.0)
    addresses = {r.address for c in store.contents(store.newest()).values() for r in c.records}
    assert v4 in addresses and v6 not in addresses
    code, out = run("health", "--config", str(path), "--json")
    row = json.loads(out)["lbs"]["lb-1a"]
    assert row["healthy"] is True
    assert row["addresses"][v6]["healthy"] is False and row["addresses"][v6]["planned"] is False
    assert row["addresses"][v4]["planned"] is True
    code, out = run("health", "--config", str(path))
    assert code == 0 and "fd00:" in out  # a row per address (the table wraps it)


@pytest.mark.parametrize("count", [True, False], ids=["addresses-counted", "control-lbs-only"])
def test_one_address_of_every_lb_down_is_fail_static(tmp_path, monkeypatch, count):
    """Ten LBs' IPv6 addresses down at once, every LB still up on IPv4: 10 of the 24
    addresses (42%) fail, over a 40% limit: the planner holds the last good plan and
    says so in the audit log, its heartbeat, the status and `zonewarden health`.
    Control: counting LBs only, the same outage drains those ten IPv6 addresses."""
    from zonewarden.core import evidence
    from zonewarden.core.health import AddressReading

    if not count:
        monkeypatch.setattr(evidence, "addresses_failing", lambda index, health, holds: 0)
    path = tmp_path / "region.toml"
    text = cfg.demo_toml().replace('health = "demo"', 'health = "static"')
    path.write_text(text.replace("[planner]\n", "[planner]\nmax_unhealthy_fraction = 0.4\n"))
    config = cfg.load(path)
    store = open_store(config, create=True)
    v6_down = False

    def local(now: float) -> VantageReport:
        readings = {}
        for i, (lb_id, lb) in enumerate(sorted(config.region.lbs.items())):
            v4, v6 = lb.ipv4[0], lb.ipv6[0]
            down = v6_down and i < 10
            addresses = {
                v4: AddressReading(True, now, "http 200"),
                v6: AddressReading(not down, now, "connect refused" if down else ""),
            }
            readings[lb_id] = LbReading(True, now, "", addresses=addresses)
        return VantageReport("planner", now, readings)

    planner = Planner(config, store, ProbeHealth(config.region.lbs, QuorumRule(), local=local))
    planner.once(1.0)
    v6_down = True
    decision = planner.once(2.0)
    v6 = {r.address for c in store.contents(store.newest()).values() for r in c.records}
    v6 = {a for a in v6 if ":" in a}
    alarm = "10/24 addresses (42%) fail at once, over the plausibility limit 40%"
    audited = [e.detail for e in store.audit_log() if e.kind == "fail-static"]
    (beat,) = [b for b in store.heartbeats() if b.actor == "planner"]
    code, out = run("health", "--config", str(path))
    store.close()
    if count:
        assert decision.action == "hold" and len(v6) == 12  # DNS unchanged
        assert any(alarm in a for a in audited)
        assert beat.phase == "fail-static" and alarm in beat.detail
        assert code == 0 and "FAIL-STATIC" in out and "10/24 addresses" in out
    else:
        assert decision.action == "publish" and len(v6) == 2 and not audited
