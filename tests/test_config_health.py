"""Config of health probes, the removal budget and hysteresis: values and located errors."""

from __future__ import annotations

import pytest

from zonewarden import config
from zonewarden.core.model import LbId
from zonewarden.errors import ConfigError

BASE = config.demo_toml()


def load(text: str, tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(text)
    return config.load(path)


def with_lb_keys(extra: str) -> str:
    return BASE.replace('id = "lb-1a"', f'id = "lb-1a"\n{extra}', 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_defaults_and_values(tmp_path):
    text = with_lb_keys(
        'check = "http://127.0.1.1:8080/health"\ncapacity_url = "http://127.0.1.1:8080/capacity"'
    )
    text = text.replace("[planner]", "[planner]\nremoval_budget = false\nhold_down = 5", 1)
    text += "\n[health]\ninterval = 0.5\nfall = 3\nexpect_status = [200, 204]\nvantage = 'both'\n"
    text += "queue_depth = 50\nlifo_above = 10\nprobe_deadline = 2.5\n"
    c = load(text, tmp_path)
    h = c.health
    assert h.checks[LbId("lb-1a")].url == "http://127.0.1.1:8080/health"
    assert h.checks[LbId("lb-1b")].url == "tcp://127.0.1.2:80"
    assert h.capacity_urls[LbId("lb-1a")].path == "/capacity"
    assert (h.probe.interval, h.probe.fall, h.probe.expect_status) == (0.5, 3, (200, 204))
    assert h.policy.endpoint_budget is None and h.policy.hysteresis.hold_down == 5
    assert h.vantage == "both"
    assert (h.probe.queue_depth, h.probe.lifo_above, h.probe.start_deadline) == (50, 10, 2.5)
    assert load(BASE, tmp_path).health.probe.start_deadline == 1.0  # the interval
    assert load(BASE, tmp_path).health.policy.az_budget is None  # demo health: off
    probed = load(BASE.replace('health = "demo"', 'health = "probe"'), tmp_path).health.policy
    assert probed.az_budget.describe() == "25% per 5 min"
    assert probed.hysteresis.hold_down == 30.0


@pytest.mark.parametrize(
    ("extra", "needle", "message"),
    [
        ('check = "udp://127.0.1.1:53"', "udp://", "unknown check scheme 'udp'"),
        ('check = "http://lb1/health"', "lb1/health", "needs an IP address as host"),
        ('capacity_url = "tcp://127.0.0.1:9"', "tcp://127", "capacity_url must be http(s)"),
    ],
)
def test_bad_checks_name_their_line(tmp_path, extra, needle, message):
    text = with_lb_keys(extra)
    with pytest.raises(ConfigError) as info:
        load(text, tmp_path)
    assert message in str(info.value)
    assert info.value.line == line_of(text, needle)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("rise = 0", "0 is outside 1..100"),
        ("jitter = 2", "2 is outside 0..0.5"),
        ("expect_status = [300, 200]", "must lie in 100..599, low first"),
        ("intervall = 1", "unknown key 'intervall' in [health]"),
        ("vantage = 'moon'", "'moon' is not one of: planner, enactors, both"),
        ("queue_depth = 0", "0 is outside 1..10000000"),
        ("lifo_above = -1", "-1 is outside 0..10000000"),
        ("probe_deadline = -0.5", "-0.5 is outside 0..3600"),
        ("queue_depth = 'lots'", "expected an integer, got 'lots'"),
    ],
)
def test_bad_health_values_name_their_line(tmp_path, section, message):
    text = BASE + f"\n[health]\n{section}\n"
    with pytest.raises(ConfigError) as info:
        load(text, tmp_path)
    assert message in str(info.value)
    assert info.value.line == len(text.splitlines())


def test_probe_is_a_health_source(tmp_path):
    text = BASE.replace('health = "demo"', 'health = "probe"')
    assert load(text, tmp_path).planner.health == "probe"
