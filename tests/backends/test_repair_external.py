"""A republishing repair through an external backend (SQLite ledger, records at a real
BIND over RFC 2136): ExternalZoneRegion.publish takes `min_generation`, so the repair
publishes past the stuck generation and the fenced write reaches the server. (Before
publish took it, this raised TypeError, and the reconciler died on it.)"""

from __future__ import annotations

import pytest

from tests.backends.conftest import rfc2136, server_of
from tests.helpers import content, draft, name
from zonewarden.backends import wire
from zonewarden.backends.external import ExternalZoneRegion
from zonewarden.repair import repair_once
from zonewarden.stores.sqlite import SqliteStore

pytestmark = pytest.mark.servers
KV, DB = name("kvrepair"), name("dbrepair")


@pytest.fixture
def region(tmp_path, servers, tmp_path_factory):
    backend = rfc2136(server_of(servers, "bind", tmp_path_factory))
    r = ExternalZoneRegion(SqliteStore(tmp_path / "region.db"), backend)
    u = wire.UpdateBuilder(backend.zone)  # the server is shared: start from nothing here
    for n in (KV, DB):
        for t in (wire.A, wire.AAAA):
            u.delete_rrset(n, t)
        u.delete_rrset(f"_zw.{n}", backend.marker_rdtype)
    backend._send_update(u, "test clean-up")
    yield r
    r.close()


def test_a_republishing_repair_reaches_the_server(region):
    p1 = region.publish(
        draft(kvrepair=content("10.0.0.1"), dbrepair=content("10.0.0.2")),
        source="test",
        actor="t",
        now=0.0,
    )
    out = region.apply_if_newer(p1.generation, [KV, DB], actor="az1", now=1.0)
    assert {str(o) for o in out.values()} == {"applied"}
    # the ledger's live row for KV is emptied at the newest generation (a damaged row):
    # a fenced write of that same generation cannot fix it, so repair must republish
    with region.store._tx() as db:
        db.execute("UPDATE zone SET digest = 'damaged', record_count = 0 WHERE name = ?", (KV,))
        db.execute("UPDATE zone_records SET records = '[]' WHERE name = ?", (KV,))
    assert region.read_zone()[KV].empty

    report = repair_once(region, actor="reconciler", now=2.0)
    assert report.republished is not None and report.republished > p1.generation
    live = region.backend.read([KV, DB])
    assert live[KV].marker is not None and live[KV].marker.generation == report.republished
    assert "10.0.0.1" in str(live[KV].addresses)
    assert region.read_zone()[KV].generation == report.republished
