"""The planner process over a long run: its counters reach the store from the first tick,
and frozen garbage (gc.freeze keeps whole plans out of the collector's scans) is swept
once the frozen objects have doubled, so cyclic garbage frozen by accident is freed."""

from __future__ import annotations

import gc
import weakref

from zonewarden import config as cfg
from zonewarden.health.static import StaticHealth
from zonewarden.runtime import planner as planner_module
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner


def make(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml().replace('health = "demo"', 'health = "static"'))
    config = cfg.load(path)
    store = open_store(config, create=True)
    return Planner(config, store, StaticHealth(config.region)), store


def test_counters_are_published_on_the_first_tick_even_when_there_are_none(tmp_path, monkeypatch):
    """A fresh process has no resilience counters yet: the planner still publishes them
    once, so /metrics and `zonewarden health` see the planner from its first tick."""
    monkeypatch.setattr(planner_module.resilience_metrics, "snapshot", lambda: {})
    planner, store = make(tmp_path)
    try:
        planner.once(1.0)
        assert store.published_counters() == {"planner": {}}
    finally:
        store.close()


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def frozen_cycle() -> weakref.ref[Node]:
    node = Node()
    ref = weakref.ref(node)
    del node
    return ref


def test_frozen_cyclic_garbage_is_swept_once_the_frozen_objects_double(tmp_path, monkeypatch):
    planner, store = make(tmp_path)
    enabled = gc.isenabled()
    gc.disable()  # the garbage must still be there when frozen, as between two ticks
    try:
        control = frozen_cycle()
        gc.freeze()  # the control: a bare freeze keeps the garbage for good
        gc.collect()
        assert control() is not None, "a frozen cycle is never collected"
        gc.unfreeze()
        gc.collect()
        assert control() is None
        swept = frozen_cycle()
        monkeypatch.setattr(planner_module, "SWEEP_FLOOR", 0)
        planner._frozen_swept = 0  # frozen since the last sweep: all of it (doubled)
        planner._freeze()
        assert swept() is None, "the sweep must free frozen garbage"
        assert planner._frozen_swept == gc.get_freeze_count()
    finally:
        if enabled:
            gc.enable()
        store.close()
