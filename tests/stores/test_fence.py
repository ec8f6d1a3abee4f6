"""Every store decides a fenced write exactly as `core.fence` does.

One store per test; each endpoint name gets its own history (never written, or applied
at generation 1, 2 or 3; some emptied by legacy clean-up), then each store's own
`apply_if_newer` and `advance_unchanged` (SQL in SQLite, Txn compares in etcd) must
give what `fence.decide` and `fence.lag` say on the state read just before. The states
the port cannot reach (live at g with other content; a live digest whose records are
gone) are written raw into the memory and SQLite stores.
"""

from __future__ import annotations

import itertools

import pytest
from tests.helpers import content

from zonewarden.backends.external import ExternalZoneRegion
from zonewarden.core import fence
from zonewarden.core.model import Content, EndpointName, Generation, PlanDraft, ZoneEntry
from zonewarden.core.outcomes import Outcome
from zonewarden.stores.memory import MemoryStore
from zonewarden.stores.sqlite import SqliteStore

GENS = (1, 2, 3)
SETUPS = ("none", 1, 2, 3)
X, Y = content("10.0.0.1"), content("10.0.0.2")


def _name(*parts: object) -> EndpointName:
    return EndpointName("-".join(map(str, parts)) + ".fence.example.")


def _publish_plans(store, names: list[EndpointName]) -> None:
    # plan 1: X, plan 2: Y, plan 3: X, plan 4: X (so an emptied generation-1 name has
    # plans above it); every name in every plan
    for body in (X, Y, X, X):
        store.publish(PlanDraft(dict.fromkeys(names, body)), source="test", actor="t", now=0)


def _set_up(store, names_by_setup: dict[object, list[EndpointName]]) -> None:
    for setup, names in names_by_setup.items():
        if setup != "none":
            store.apply_if_newer(Generation(setup), names, actor="t", now=0)


def _expected(store, g: int, names: list[EndpointName]) -> dict[EndpointName, Outcome]:
    plan = store.plan(Generation(g))
    live = store.read_zone(names)
    frozen = store.frozen()
    return {
        n: fence.decide(
            g,
            plan.endpoints[n].digest if plan is not None and n in plan.endpoints else None,
            fence.live_of(live.get(n)),
            frozen=frozen,
        )
        for n in names
    }


def test_apply_if_newer_decides_as_the_fence(store):
    cases = list(itertools.product(SETUPS, GENS))
    names = [_name("apply", s, g) for s, g in cases]
    _publish_plans(store, names)
    by_setup: dict[object, list[EndpointName]] = {}
    for (s, _), n in zip(cases, names, strict=True):
        by_setup.setdefault(s, []).append(n)
    _set_up(store, by_setup)
    seen = set()
    for (_, g), n in zip(cases, names, strict=True):
        want = _expected(store, g, [n])
        assert store.apply_if_newer(Generation(g), [n], actor="t", now=1) == want
        seen |= set(want.values())
    assert seen == {Outcome.APPLIED, Outcome.CURRENT, Outcome.FENCED_OUT}
    missing = _name("missing")
    assert store.apply_if_newer(Generation(2), [missing], actor="t", now=1) == {
        missing: fence.decide(2, None, None)
    }
    store.set_frozen(True, actor="t", now=2)
    assert store.apply_if_newer(Generation(3), names[:2], actor="t", now=2) == _expected(
        store, 3, names[:2]
    )


def _split(store, g: int) -> dict[EndpointName, fence.Lag]:
    plan = store.plan(Generation(g))
    live = store.read_zone(plan.names)
    return {
        n: fence.lag(g, c.digest, fence.live_of(live.get(n))) for n, c in plan.endpoints.items()
    }


def _check_advance(store, g: int) -> set[fence.Lag]:
    split = _split(store, g)
    before = store.read_zone()
    behind = store.advance_unchanged(Generation(g), actor="t", now=1)
    assert sorted(behind) == sorted(n for n, v in split.items() if v is fence.Lag.BEHIND)
    after = store.read_zone()
    for n, verdict in split.items():
        if verdict is fence.Lag.UNCHANGED:
            assert after[n].generation == g and after[n].content == before[n].content
        elif n in before:
            assert after[n] == before[n]  # DONE and BEHIND are left for the write
    return set(split.values())


def test_advance_unchanged_splits_as_the_fence(store):
    if isinstance(store, ExternalZoneRegion):
        pytest.skip("its advance also asks the backend (tests/stores/test_contract.py)")
    names = [_name("advance", s) for s in SETUPS]
    emptied = _name("advance", "emptied")
    _publish_plans(store, [*names, emptied])
    _set_up(store, {s: [n] for s, n in zip(SETUPS, names, strict=True)} | {1: [names[1], emptied]})
    seen: set[fence.Lag] = set()
    seen |= _check_advance(store, 2)
    store.legacy_delete_older(Generation(2), actor="t", now=1)  # empties `emptied` at 1
    for g in (3, 4):
        seen |= _check_advance(store, g)
    assert seen == set(fence.Lag)


# -- states the port cannot reach, written raw ----------------------------------------------
def _force(store, name: EndpointName, generation: int, digest: str, records: bool) -> None:
    """Make `name` live at `generation` with `digest`, its records kept or gone."""
    if isinstance(store, MemoryStore):
        live = store.zone[name].content
        body = Content.restore(live.ttl, live.policy, live.records if records else (), digest)
        store.zone[name] = ZoneEntry(name, Generation(generation), body)
        return
    with store._tx() as db:
        db.execute(
            "UPDATE zone SET gen = ?, digest = ?, record_count = ? WHERE name = ?",
            (generation, digest, len(X.records) if records else 0, name),
        )
        if not records:
            db.execute("UPDATE zone_records SET records = '[]' WHERE name = ?", (name,))


@pytest.fixture(params=["memory", "sqlite"])
def raw_store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "r.db")
    yield s
    s.close()


def test_unreachable_live_states_are_decided_as_the_fence(raw_store):
    store = raw_store
    other, gone = _name("other"), _name("gone")
    _publish_plans(store, [other, gone])
    store.apply_if_newer(Generation(1), [other, gone], actor="t", now=0)
    _force(store, other, 2, X.digest, records=True)  # live at 2 with plan 1's content
    want = _expected(store, 2, [other])
    assert want == {other: Outcome.APPLIED}  # same generation, other content: repair
    assert store.apply_if_newer(Generation(2), [other], actor="t", now=1) == want
    _force(store, other, 2, X.digest, records=True)
    _force(store, gone, 1, X.digest, records=False)  # plan 1's digest, its records gone
    assert _split(store, 2)[other] is fence.Lag.BEHIND
    assert _split(store, 3)[gone] is fence.Lag.BEHIND
    _check_advance(store, 2)
    _check_advance(store, 3)
