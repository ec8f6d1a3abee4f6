"""A pin racing a planner tick is never lost: the planner's publish is a compare-and-set
on the generation it planned on. The control (no compare-and-set) loses the pin."""

from __future__ import annotations

import pytest

from zonewarden import config as cfg
from zonewarden.core.model import EndpointName
from zonewarden.core.planner import Observation
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.operations import pin
from zonewarden.runtime.planner import Planner

EP = EndpointName("kv.us-east-1.example.")


class PinDuringObserve:
    """Health that turns one LB off per tick and, once, lets an operator pin EP to
    generation 1 while the planner is between reading the newest plan and publishing."""

    def __init__(self, config, store) -> None:
        self.config, self.region, self.store = config, config.region, store
        self.calls, self.pinned_at = 0, None

    def observe(self, now):
        self.calls += 1
        if self.calls == 3:
            self.pinned_at = pin(self.store, self.config, EP, 1, actor="operator", now=now)
        ids = list(self.region.lbs)
        return {i: Observation(i != ids[self.calls % len(ids)]) for i in ids}


@pytest.mark.parametrize("cas", [True, False], ids=["compare-and-set", "control-unchecked"])
def test_a_pin_published_mid_tick_survives(tmp_path, cas):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml().replace('health = "demo"', 'health = "static"'))
    config = cfg.load(path)
    store = open_store(config, create=True)
    health = PinDuringObserve(config, store)
    planner = Planner(config, store, health, compare_and_set=cas)
    for i in range(6):
        planner.once(float(i))
    pinned = store.contents(1)[EP]
    newest = store.contents(store.newest())[EP]
    kept = newest.digest == pinned.digest
    store.close()
    if cas:
        assert kept, "the pin was lost"
    else:
        assert not kept, "the control should lose the pin: the race was not reproduced"
