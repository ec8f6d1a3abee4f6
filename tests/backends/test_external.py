"""ExternalZoneRegion: ledger in the region store, records at the backend.

Runs over (memory store, memory backend) and (SQLite store, BIND): the enactor converges
the server to the newest plan; a stale enactor whose ledger write was accepted is still
stopped at the server; a write cut between ledger and server is repaired; legacy mode
goes backwards and empties names at the server.
"""

from __future__ import annotations

import pytest

from tests.backends.conftest import rfc2136, server_of
from tests.helpers import content, draft, name, run_enactor
from zonewarden.backends.external import ExternalZoneRegion
from zonewarden.backends.memory import MemoryBackend
from zonewarden.core.model import Generation
from zonewarden.core.outcomes import Outcome
from zonewarden.stores.memory import MemoryStore
from zonewarden.stores.sqlite import SqliteStore

G = Generation
KV, DB = name("kv"), name("db")


@pytest.fixture(params=["memory", pytest.param("bind", marks=pytest.mark.servers)])
def region(request, tmp_path, servers, tmp_path_factory):
    if request.param == "memory":
        r = ExternalZoneRegion(MemoryStore(), MemoryBackend("example."))
    else:
        backend = rfc2136(server_of(servers, "bind", tmp_path_factory))
        r = ExternalZoneRegion(SqliteStore(tmp_path / "region.db"), backend)
        # the server is shared: drop what earlier tests left at these names
        backend._send_update(_clear(backend), "test clean-up")
    yield r
    r.close()


def _clear(backend):
    from zonewarden.backends import wire

    u = wire.UpdateBuilder(backend.zone)
    for n in (KV, DB):
        for t in (wire.A, wire.AAAA):
            u.delete_rrset(n, t)
        u.delete_rrset(f"_zw.{n}", backend.marker_rdtype)
    return u


def publish(region, gen_ip: str):
    return region.publish(
        draft(kv=content(gen_ip), db=content(gen_ip, "10.9.9.9")),
        source="test",
        actor="t",
        now=0.0,
    )


def markers(region):
    live = region.backend.read([KV, DB])
    return {n: live[n].marker.generation if live[n].marker else None for n in (KV, DB)}


def test_enactor_converges_the_server_to_the_newest_plan(region):
    for i in range(1, 4):
        publish(region, f"10.0.0.{i}")
    run_enactor(region, "az1", 30)
    assert markers(region) == {KV: 3, DB: 3}
    assert region.backend.read([KV])[KV].addresses == {("A", "10.0.0.3")}
    assert region.applied() == {DB: 3, KV: 3}


def test_stale_enactor_accepted_by_the_ledger_is_fenced_at_the_server(region):
    p1, p2 = publish(region, "10.0.0.1"), publish(region, "10.0.0.2")
    real = region.backend.apply_fenced
    overtaken = []

    def newer_enactor_runs_first(g, contents, hints=None):
        if not overtaken:  # between A's ledger write and A's server write, B does g2
            overtaken.append(True)
            region.store.apply_if_newer(p2.generation, [KV], actor="B", now=1.0)
            real(p2.generation, region.store.contents(p2.generation, [KV]))
        return real(g, contents, hints)

    region.backend.apply_fenced = newer_enactor_runs_first
    out = region.apply_if_newer(p1.generation, [KV], actor="A", now=1.0)
    region.backend.apply_fenced = real
    assert out == {KV: Outcome.FENCED_OUT}
    assert markers(region)[KV] == p2.generation
    assert any(e.kind == "fenced" and "at " in e.detail for e in region.audit_log())


def test_a_write_cut_between_ledger_and_server_is_repaired(region):
    p1 = publish(region, "10.0.0.1")
    region.store.apply_if_newer(p1.generation, [KV, DB], actor="crashed", now=0.0)
    assert markers(region) == {KV: None, DB: None}
    behind = region.advance_unchanged(p1.generation, actor="az1", now=1.0)
    assert set(behind) == {KV, DB}
    out = region.apply_if_newer(p1.generation, list(behind), actor="az1", now=1.0)
    assert set(out.values()) == {Outcome.APPLIED}
    assert markers(region) == {KV: 1, DB: 1}
    assert region.advance_unchanged(p1.generation, actor="az1", now=2.0) == ()


def test_legacy_goes_backwards_and_empties_names_at_the_server(region):
    p1, p2 = publish(region, "10.0.0.1"), publish(region, "10.0.0.2")
    region.apply_if_newer(p2.generation, [KV, DB], actor="B", now=0.0)
    region.legacy_write(p1.generation, KV, actor="A", now=1.0)
    assert markers(region)[KV] == p1.generation  # the regression reached the server
    region.legacy_delete_older(p2.generation, actor="B", now=2.0)
    assert region.backend.read([KV])[KV].empty  # 2025: the name answers nothing
    assert not region.backend.read([DB])[DB].empty
