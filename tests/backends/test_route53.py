"""Route 53 against a local moto_server: what moto enforces, what it does not, and the
split of large endpoints into steps that are each safe alone."""

from __future__ import annotations

import pytest

from tests.backends.conftest import route53, server_of
from tests.helpers import content
from zonewarden.backends.base import Change
from zonewarden.backends.route53 import Route53Backend
from zonewarden.core.failopen import fail_open_warnings
from zonewarden.core.model import Content, Generation, LbId, Policy, Record, RecordType
from zonewarden.core.outcomes import Outcome
from zonewarden.ports import Marker

pytestmark = pytest.mark.servers

G = Generation


def test_moto_accepts_a_stale_batch_that_route53_rejects(servers, tmp_path_factory, names):
    """moto checks a DELETE against every value the name ever had, not the live one."""
    backend = route53(server_of(servers, "moto", tmp_path_factory))
    n = names("kv")
    c1, c3 = content("10.0.0.1"), content("10.0.0.3")
    backend.apply_fenced(G(1), {n: c1})
    backend.apply_fenced(G(3), {n: c3})  # enactor B
    # enactor A read marker g1 before B wrote, and now sends its plan 2
    stale = Change(n, G(2), content("10.0.0.2"), Marker(G(1), c1.digest))
    backend.read([n])
    assert backend._apply([stale], fenced=True) is True, "moto now enforces it: update docs"
    assert backend.read([n])[n].marker.generation == 2  # the regression reached moto
    facts = backend.probe()
    assert backend.fenced_at_server is False
    assert any("NOT rejected" in f for f in facts) and any("ledger" in f for f in facts)
    assert any("ALSO REMOVED the same SetIdentifier" in f for f in facts)


def test_route53_rules_reject_the_same_stale_batch(servers, tmp_path_factory, names):
    """moto with Route 53's documented checks (moto_exact.py): the fence holds there."""
    backend = route53(server_of(servers, "moto-exact", tmp_path_factory))
    n = names("kv")
    c1, c3 = content("10.0.0.1"), content("10.0.0.3")
    backend.apply_fenced(G(1), {n: c1})
    backend.apply_fenced(G(3), {n: c3})
    stale = Change(n, G(2), content("10.0.0.2"), Marker(G(1), c1.digest))
    backend.read([n])
    assert backend._apply([stale], fenced=True) is False
    assert backend.read([n])[n].marker == Marker(G(3), c3.digest)
    assert backend.apply_fenced(G(2), {n: content("10.0.0.2")}, {n: Marker(G(1), c1.digest)}) == {
        n: Outcome.FENCED_OUT
    }
    facts = backend.probe()
    assert backend.fenced_at_server is True
    assert any("removes that name's set only" in f for f in facts)


def test_moto_rejects_a_marker_it_never_had_and_applies_nothing(servers, tmp_path_factory, names):
    backend = route53(server_of(servers, "moto", tmp_path_factory))
    a, b = names("a"), names("b")
    backend.apply_fenced(G(1), {a: content("10.0.0.1"), b: content("10.0.0.1")})
    backend.read([a, b])
    good = Change(a, G(2), content("10.0.0.2"), Marker(G(1), content("10.0.0.1").digest))
    bad = Change(b, G(2), content("10.0.0.2"), Marker(G(7), "never-written"))
    assert backend._apply([good, bad], fenced=True) is False
    assert backend.read([a])[a].marker.generation == 1  # the whole batch failed


def test_an_endpoint_larger_than_a_batch_goes_in_safe_steps(servers, tmp_path_factory, names):
    backend = route53(server_of(servers, "moto", tmp_path_factory))
    n = names("big")
    old = _many("10.1", 600)
    new = _many("10.2", 600)
    backend.apply_fenced(G(1), {n: old})
    batches = []
    real = backend._submit
    backend._submit = lambda changes: batches.append(changes) or real(changes)
    assert backend.apply_fenced(G(2), {n: new}) == {n: Outcome.APPLIED}
    backend._submit = real
    assert len(batches) >= 3
    removed_yet = False
    for batch in batches:
        actions = [c["Action"] for c in batch]
        assert actions[:2] == ["DELETE", "CREATE"]  # the marker moves in every step
        assert batch[0]["ResourceRecordSet"]["Type"] == "TXT"
        if "DELETE" in actions[2:]:
            removed_yet = True
        else:
            assert not removed_yet, "an addition came after a removal"
    live = backend.read([n])[n]
    assert live.marker == Marker(G(2), new.digest)
    assert len(live.addresses) == 600 and all(a.startswith("10.2.") for _, a in live.addresses)


def test_weights_are_native_in_route53(servers, tmp_path_factory, names):
    backend = route53(server_of(servers, "moto", tmp_path_factory))
    n = names("kv")
    recs = (
        Record(RecordType.A, "10.0.0.1", 200, LbId("a")),
        Record(RecordType.A, "10.0.0.2", 55, LbId("b")),
    )
    backend.apply_fenced(G(1), {n: Content(60, Policy.WEIGHTED_ONE, recs)})
    weights = {(a, w) for _, a, w in backend.read([n])[n].weights}
    assert weights == {("10.0.0.1", 200), ("10.0.0.2", 55)}


def test_fail_open_cases_are_named():
    zero = content("10.0.0.1", "10.0.0.2", weight=0)
    assert "all weights are 0" in fail_open_warnings("kv.example.", zero)[0]
    assert fail_open_warnings("kv.example.", content("10.0.0.1", "10.0.0.2")) == []


def _many(prefix: str, count: int) -> Content:
    recs = tuple(
        Record(RecordType.A, f"{prefix}.{i // 250}.{i % 250 + 1}", 1, LbId(f"lb{i}"))
        for i in range(count)
    )
    return Content(60, Policy.WEIGHTED_MULTI, recs)


class PendingClient:
    """moto answers INSYNC at once; Route 53 says PENDING first. A stand-in for that."""

    def __init__(self) -> None:
        self.polls = 0

    def change_resource_record_sets(self, **_: object) -> dict[str, object]:
        return {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING"}}

    def get_change(self, Id: str) -> dict[str, object]:
        self.polls += 1
        return {"ChangeInfo": {"Id": Id, "Status": "INSYNC" if self.polls >= 2 else "PENDING"}}


def test_a_change_is_awaited_until_insync(monkeypatch):
    from zonewarden.backends import route53 as r53
    from zonewarden.backends.route53 import Route53Backend

    monkeypatch.setattr(r53.time, "sleep", lambda _: None)
    client = PendingClient()
    backend = Route53Backend("Z1", "example.", client=client)
    assert backend._submit([]) is True
    assert client.polls == 2


def test_a_write_on_the_ledgers_hint_lists_nothing_and_a_stale_cache_is_caught(
    servers, tmp_path_factory, names
):
    """After this process wrote a name, its next write goes on the ledger's hint without
    listing the zone; if another enactor wrote in between, the exact DELETE fails at
    Route 53 and the write re-reads: FENCED_OUT, or applied over the right sets."""
    run = server_of(servers, "moto-exact", tmp_path_factory)
    ours = route53(run)
    n = names("kv")
    c1, c2, c3 = content("10.0.0.1", "10.0.1.1"), content("10.0.0.2"), content("10.0.0.3")
    ours.apply_fenced(G(1), {n: c1})
    listings = []
    real = ours._list
    ours._list = lambda: listings.append(1) or real()
    assert ours.apply_fenced(G(2), {n: c2}, {n: Marker(G(1), c1.digest)}) == {n: Outcome.APPLIED}
    assert listings == []  # no read before the write, none after (Route 53 fences)
    theirs = Route53Backend(ours.hosted_zone_id, ours.zone, client=ours.client)
    theirs.apply_fenced(G(3), {n: c3})  # another enactor, behind our cache's back
    stale = ours.apply_fenced(G(2), {n: content("10.0.0.9")}, {n: Marker(G(1), c1.digest)})
    assert stale == {n: Outcome.FENCED_OUT} and listings  # rejected, re-read, fenced
    c4 = content("10.0.0.4", "10.0.4.4")
    listings.clear()
    theirs.apply_fenced(G(4), {n: c4})
    c5 = content("10.0.0.5")
    assert ours.apply_fenced(G(5), {n: c5}, {n: Marker(G(4), c4.digest)}) == {n: Outcome.APPLIED}
    ours._list = real
    live = ours.read([n])[n]
    assert live.marker == Marker(G(5), c5.digest) and live.addresses == {("A", "10.0.0.5")}


def test_new_names_go_without_a_listing_but_records_there_before_are_replaced(
    servers, tmp_path_factory, names
):
    """A name the ledger never wrote and the last listing did not show has nothing to
    delete: it is written without listing the zone again. A name that already held
    records (a zone taken over from before ZoneWarden) is read, and they are replaced."""
    backend = route53(server_of(servers, "moto-exact", tmp_path_factory))
    old, fresh = names("old"), names("fresh")
    stray = {
        "Name": old,
        "Type": "A",
        "SetIdentifier": "before-zonewarden",
        "Weight": 1,
        "TTL": 300,
        "ResourceRecords": [{"Value": "192.0.2.99"}],
    }
    backend._submit([{"Action": "CREATE", "ResourceRecordSet": stray}])
    backend.apply_fenced(G(1), {names("first"): content("10.0.0.1")})  # one listing
    listings = []
    real = backend._list
    backend._list = lambda: listings.append(1) or real()
    assert backend.apply_fenced(G(2), {fresh: content("10.0.0.2")}, {fresh: None}) == {
        fresh: Outcome.APPLIED
    }
    assert listings == []
    assert backend.apply_fenced(G(2), {old: content("10.0.0.2")}, {old: None}) == {
        old: Outcome.APPLIED
    }
    assert listings  # it held records: read first
    backend._list = real
    live = backend.read([old, fresh])
    assert live[old].addresses == live[fresh].addresses == {("A", "10.0.0.2")}
