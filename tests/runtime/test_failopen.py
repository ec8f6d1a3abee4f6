"""The planner names Route 53's fail-open cases of what stays live, once each."""

from __future__ import annotations

import pytest

from zonewarden import config as cfg
from zonewarden.core.failopen import fail_open_warnings
from zonewarden.core.planner import Observation
from zonewarden.health.static import StaticHealth
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner

ROUTE53 = '\n[backend]\nkind = "route53"\nhosted_zone_id = "Z1"\n'


class Switchable(StaticHealth):
    def __init__(self, region) -> None:
        super().__init__(region)
        self.region, self.down = region, False

    def observe(self, now):
        return {lb: Observation(not self.down) for lb in self.region.lbs}


def fail_open_rows(backend: str, tmp_path) -> list[str]:
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml() + backend)
    config = cfg.load(path)
    store = open_store(config, create=True)
    health = Switchable(config.region)
    planner = Planner(config, store, health)
    try:
        planner.once(0.0)
        health.down = True  # every LB down: the planner holds the last good plan
        for t in (1.0, 2.0, 3.0):
            assert planner.once(t).action == "hold"
        return [e.detail for e in store.audit_log(limit=1000) if e.kind == "route53-fail-open"]
    finally:
        store.close()


def test_all_targets_unhealthy_is_named_once_per_endpoint_with_route53(tmp_path):
    rows = fail_open_rows(ROUTE53, tmp_path)
    assert len(rows) == 4  # the demo region's four endpoints, not once per tick
    assert all("every target is unhealthy" in r for r in rows)


def test_no_route53_no_warning(tmp_path):
    assert fail_open_rows("", tmp_path) == []


@pytest.mark.parametrize(
    ("weights", "healthy", "expected"),
    [
        ((0, 0), None, "all weights are 0"),
        ((5,), None, "one weighted record"),
        ((5, 5), False, "every target is unhealthy"),
        ((5, 5), True, None),
    ],
)
def test_fail_open_cases(weights, healthy, expected):
    from tests.helpers import content

    c = content(*(f"10.0.0.{i + 1}" for i in range(len(weights))), weight=weights[0])
    lbs = {r.lb: healthy for r in c.records} if healthy is not None else None
    found = fail_open_warnings("kv.example.", c, lbs)
    assert (expected is None and found == []) or any(expected in w for w in found)
