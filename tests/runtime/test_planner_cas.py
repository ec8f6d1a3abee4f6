"""A pin racing a planner tick is never lost: the planner's publish is a compare-and-set
on the generation it planned on. The control (no compare-and-set) loses the pin."""

from __future__ import annotations

import pytest
from tests.helpers import content

from zonewarden import config as cfg
from zonewarden.core.model import EndpointName, PlanDraft
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


class PlannerPublishesDuringPin:
    """A store through which, once, a planner plan (a changed endpoint other than the
    pinned one) is published right after the pin copied the newest plan."""

    def __init__(self, store, other: EndpointName, content) -> None:
        self._store, self._other, self._content = store, other, content
        self.raced = False

    def __getattr__(self, attr):
        return getattr(self._store, attr)

    def contents(self, generation, names=None):
        result = self._store.contents(generation, names)
        if names is None and not self.raced:
            self.raced = True
            endpoints = dict(self._store.contents(self._store.newest()))
            endpoints[self._other] = self._content
            self._store.publish(PlanDraft(endpoints), source="planner", actor="planner", now=1.0)
        return result


@pytest.mark.parametrize("cas", [True, False], ids=["compare-and-set", "control-unchecked"])
def test_a_planner_plan_published_during_a_pin_survives_it(tmp_path, cas):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml().replace('health = "demo"', 'health = "static"'))
    config = cfg.load(path)
    store = open_store(config, create=True)
    Planner(config, store, PinDuringObserve(config, store)).once(0.0)
    other = next(n for n in config.region.endpoints if n != EP)
    changed = content("10.9.9.9")  # what the racing planner plan gives `other`
    racing = PlannerPublishesDuringPin(store, other, changed)
    plan = pin(racing, config, EP, 1, actor="operator", now=2.0, compare_and_set=cas)
    newest = store.contents(store.newest())
    conflicts = [e for e in store.audit_page(limit=20) if e.kind == "publish-conflict"]
    store.close()
    assert racing.raced and newest[EP].digest == plan.endpoints[EP].digest
    if cas:
        assert newest[other].digest == changed.digest, "the planner's plan was overwritten"
        assert conflicts, "the retry was not audited"
    else:
        assert newest[other].digest != changed.digest, "the control should lose the change"
