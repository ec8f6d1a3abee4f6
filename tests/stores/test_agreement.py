"""Hypothesis stateful test: every real store (SQLite, etcd) agrees with the in-memory model.

Random sequences of publishes (valid and invalid), fenced writes, advances, clean-ups,
freezes, locks and legacy operations run against both; every result and the whole
observable state must match after every step, and `changed_since` must report what the
step changed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from tests.helpers import content
from tests.stores.etcd_cluster import fresh_prefix, shared_cluster

from zonewarden.core.cleanup import summarise
from zonewarden.core.model import EMPTY_CONTENT, EndpointName, Generation, PlanDraft
from zonewarden.errors import PlanRejected
from zonewarden.stores.memory import MemoryStore
from zonewarden.stores.sqlite import SqliteStore

NAMES = [EndpointName(f"{n}.example.") for n in "abc"]
CONTENTS = [content("10.0.0.1"), content("10.0.0.2", "10.0.0.3"), content("10.0.0.4", weight=3)]
names = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)
offsets = st.integers(min_value=-3, max_value=1)  # generations near the newest matter most


class StoresAgree(RuleBasedStateMachine):
    kind = "sqlite"

    def open_real(self, tmp: Path):
        return SqliteStore(tmp / "agree.db")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.model = MemoryStore()
        self.real = self.open_real(Path(self.tmp.name))
        self.now = 0.0
        self.seen = {"model": 0, "real": 0}  # the zone version each store last reported
        self.served: dict[EndpointName, str] = {}  # digest per endpoint at that version

    def teardown(self) -> None:
        self.real.close()
        self.tmp.cleanup()

    def gen(self, offset: int) -> Generation:
        return Generation(max(0, self.model.newest() + offset))

    def both(self, method: str, *args, **kwargs):
        self.now += 1
        outs = []
        for store in (self.model, self.real):
            try:
                outs.append(("ok", getattr(store, method)(*args, **kwargs)))
            except PlanRejected as exc:
                outs.append(("rejected", str(exc)))
        assert outs[0] == outs[1], f"{method}{args}: model {outs[0]} != {self.kind} {outs[1]}"
        return outs[0][1]

    # contents index len(CONTENTS) means "empty": the store must reject that plan
    @rule(which=st.lists(st.integers(0, len(CONTENTS)), min_size=3, max_size=3))
    def publish(self, which):
        endpoints = {
            NAMES[i]: (CONTENTS[c] if c < len(CONTENTS) else EMPTY_CONTENT)
            for i, c in enumerate(which)
        }
        result = self.both("publish", PlanDraft(endpoints), source="t", actor="p", now=self.now)
        if not isinstance(result, str):
            assert result.generation == self.model.newest()

    @rule(which=st.lists(st.integers(0, len(CONTENTS) - 1), min_size=2, max_size=3))
    def publish_valid(self, which):
        self.publish(which)

    @rule(g=offsets, ns=names)
    def apply(self, g, ns):
        self.both("apply_if_newer", self.gen(g), ns, actor="e", now=self.now)

    @rule(g=offsets)
    def advance(self, g):
        self.both("advance_unchanged", self.gen(g), actor="e", now=self.now)

    @rule(gs=st.lists(offsets, max_size=4))
    def cleanup(self, gs):
        self.both("delete_unreferenced", [self.gen(g) for g in gs], actor="e", now=self.now)

    @rule(g=offsets, n=st.sampled_from(NAMES))
    def legacy_write(self, g, n):
        self.both("legacy_write", self.gen(g), n, actor="old", now=self.now)

    @rule(g=offsets)
    def legacy_cleanup(self, g):
        self.both("legacy_delete_older", self.gen(g), actor="old", now=self.now)

    @rule(flag=st.sampled_from([False, False, False, True]))
    def freeze(self, flag):
        self.both("set_frozen", flag, actor="op", now=self.now)

    @rule(
        n=st.sampled_from(NAMES), owner=st.sampled_from(["x", "y"]), ttl=st.sampled_from([0.5, 5.0])
    )
    def lock(self, n, owner, ttl):
        self.both("try_lock", n, owner, now=self.now, ttl=ttl)

    @invariant()
    def same_state(self):
        assert self.model.read_zone() == self.real.read_zone()
        assert self.model.index() == self.real.index()
        assert self.real.cleanup_index() == summarise(self.real.index())
        assert self.model.newest() == self.real.newest()
        assert self.model.frozen() == self.real.frozen()

    @invariant()
    def same_audit_pages(self):
        """The newest and oldest pages, filtered by kind, hold the same events (seq
        numbers are each store's own: etcd's follow revisions)."""

        def page(store, **kwargs):
            return [(e.kind, e.endpoint, e.generation) for e in store.audit_page(**kwargs)]

        for kwargs in (
            {"limit": 4},
            {"limit": 3, "newest_first": False},
            {"limit": 2, "kinds": ("write", "fenced")},
        ):
            assert page(self.model, **kwargs) == page(self.real, **kwargs), kwargs

    @invariant()
    def changes_reported(self):
        """`changed_since` reports every endpoint whose served content changed and
        nothing the model does not; a store may skip a write that changed no content."""
        model_version, model_changed = self.model.changed_since(self.seen["model"])
        real_version, real_changed = self.real.changed_since(self.seen["real"])
        zone = self.real.read_zone()
        moved = {n for n, e in zone.items() if self.served.get(n) != e.content.digest}
        assert moved <= set(real_changed) <= set(model_changed), (moved, real_changed)
        assert all(zone[n] == e for n, e in real_changed.items())
        assert real_version >= self.seen["real"] and (real_version > self.seen["real"] or not moved)
        self.seen = {"model": model_version, "real": real_version}
        self.served = {n: e.content.digest for n, e in zone.items()}


class EtcdAgrees(StoresAgree):
    """The same machine against etcd; each example gets its own key prefix."""

    kind = "etcd"

    def open_real(self, tmp: Path):
        from zonewarden.stores.etcd import EtcdStore

        return EtcdStore(shared_cluster().endpoints, prefix=fresh_prefix())


StoresAgree.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestStoresAgree = StoresAgree.TestCase
# fewer, shorter examples: every step is several network round trips to a 3-member cluster
EtcdAgrees.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestEtcdAgrees = pytest.mark.servers(EtcdAgrees.TestCase)
