"""The DnsBackend contract, run unchanged over memory, BIND 9, Knot and PowerDNS."""

from __future__ import annotations

import pytest

from tests.helpers import content
from zonewarden.backends.base import Change, served
from zonewarden.backends.route53 import Route53Backend
from zonewarden.core.model import Content, Generation, LbId, Policy, Record, RecordType
from zonewarden.core.outcomes import Outcome
from zonewarden.errors import BackendRejected
from zonewarden.ports import Marker

G = Generation


def dual(v4: list[str], v6: list[str], weight: int = 10) -> Content:
    recs = [Record(RecordType.A, a, weight, LbId(a)) for a in v4]
    recs += [Record(RecordType.AAAA, a, weight, LbId(a)) for a in v6]
    return Content(60, Policy.WEIGHTED_MULTI, tuple(recs))


def test_new_endpoint_is_written_with_its_marker(backend, names):
    n = names("kv")
    c = content("10.0.0.1", "10.0.0.2")
    assert backend.apply_fenced(G(1), {n: c}) == {n: Outcome.APPLIED}
    live = backend.read([n])[n]
    assert live.marker == Marker(G(1), c.digest)
    assert live.addresses == served(c)


def test_newer_generation_replaces_every_address_type(backend, names):
    n = names("kv")
    backend.apply_fenced(G(1), {n: dual(["10.0.0.1", "10.0.0.2"], ["2001:db8::1"])})
    c2 = dual(["10.0.0.3"], [])
    assert backend.apply_fenced(G(2), {n: c2}) == {n: Outcome.APPLIED}
    assert backend.read([n])[n].addresses == {(RecordType.A, "10.0.0.3")}
    c3 = dual([], ["2001:db8::2"])
    backend.apply_fenced(G(3), {n: c3})
    assert backend.read([n])[n].addresses == {(RecordType.AAAA, "2001:db8::2")}


def test_older_generation_is_fenced_out_and_changes_nothing(backend, names):
    n = names("kv")
    c5 = content("10.0.0.5")
    backend.apply_fenced(G(5), {n: c5})
    assert backend.apply_fenced(G(4), {n: content("10.0.0.4")}) == {n: Outcome.FENCED_OUT}
    live = backend.read([n])[n]
    assert live.marker == Marker(G(5), c5.digest)
    assert live.addresses == {(RecordType.A, "10.0.0.5")}


def test_same_generation_is_current_or_repaired(backend, names):
    n = names("kv")
    c = content("10.0.0.1")
    backend.apply_fenced(G(3), {n: c})
    assert backend.apply_fenced(G(3), {n: c}) == {n: Outcome.CURRENT}
    other = content("10.0.0.9")
    assert backend.apply_fenced(G(3), {n: other}) == {n: Outcome.APPLIED}
    assert backend.read([n])[n].marker == Marker(G(3), other.digest)


def test_invalid_content_is_refused_before_anything_is_sent(backend, names):
    n, m = names("kv"), names("db")
    backend.apply_fenced(G(1), {n: content("10.0.0.1")})
    zero = content("10.0.0.2", weight=0)
    empty = Content(60, Policy.WEIGHTED_MULTI, ())
    out = backend.apply_fenced(G(2), {n: zero, m: empty})
    assert out == {n: Outcome.REFUSED, m: Outcome.REFUSED}
    assert backend.read([n])[n].marker.generation == 1
    assert backend.read([m])[m].marker is None


def test_weight_zero_records_are_not_served(backend, names):
    n = names("kv")
    recs = (
        Record(RecordType.A, "10.0.0.1", 10, LbId("a")),
        Record(RecordType.A, "10.0.0.2", 0, LbId("b")),
    )
    backend.apply_fenced(G(1), {n: Content(60, Policy.WEIGHTED_MULTI, recs)})
    assert backend.read([n])[n].addresses == {(RecordType.A, "10.0.0.1")}


def test_many_endpoints_in_small_batches(backend, names):
    backend.batch_size = 7
    contents = {names(f"e{i}"): content(f"10.1.0.{i + 1}", f"10.2.0.{i + 1}") for i in range(30)}
    out = backend.apply_fenced(G(1), contents)
    assert set(out.values()) == {Outcome.APPLIED}
    live = backend.read(list(contents))
    assert all(live[n].marker == Marker(G(1), c.digest) for n, c in contents.items())


def test_a_stale_write_is_rejected_by_the_server_itself(backend, names):
    """The compare-and-set is at the server: a write whose read went stale fails there."""
    n = names("kv")
    c1, c2 = content("10.0.0.1"), content("10.0.0.2")
    backend.apply_fenced(G(1), {n: c1})
    backend.apply_fenced(G(2), {n: c2})
    stale = Change(n, G(3), content("10.0.0.3"), Marker(G(1), c1.digest))
    if isinstance(backend, Route53Backend):  # moto: see test_route53.py, and probe()
        assert backend._apply([Change(n, G(3), c1, Marker(G(0), "never"))], fenced=True) is False
        assert backend.read([n])[n].marker == Marker(G(2), c2.digest)
        return
    assert backend._apply([stale], fenced=True) is False
    assert backend._apply([Change(n, G(3), c1, None)], fenced=True) is False  # "new" name
    assert backend.read([n])[n].marker == Marker(G(2), c2.digest)


def test_legacy_unconditional_write_does_go_backwards(backend, names):
    """The unsafe twin: without prerequisites the server accepts an older generation."""
    n = names("kv")
    backend.apply_fenced(G(7), {n: content("10.0.0.7")})
    backend.write_unfenced(G(2), n, content("10.0.0.2"))
    assert backend.read([n])[n].marker.generation == 2
    backend.remove_records(n)
    assert backend.read([n])[n].empty


def test_one_contended_endpoint_does_not_block_its_batch(backend, names):
    """A batch whose prerequisite fails is rejected whole; the rest are retried alone."""
    a, b, c = names("a"), names("b"), names("c")
    backend.apply_fenced(G(1), {x: content("10.0.0.1") for x in (a, b, c)})
    newer = content("10.9.9.9")
    real_read, raced = backend._read, []

    def read_then_race(ns):
        out = real_read(ns)
        if not raced:  # another enactor writes b, generation 9, right after our read
            raced.append(True)
            backend._apply([Change(b, G(9), newer, out[b].marker)], fenced=True)
        return out

    backend._read = read_then_race
    out = backend.apply_fenced(G(5), {x: content("10.0.0.5") for x in (a, b, c)})
    backend._read = real_read
    assert out == {a: Outcome.APPLIED, b: Outcome.FENCED_OUT, c: Outcome.APPLIED}
    live = backend.read([a, b, c])
    assert [live[x].marker.generation for x in (a, b, c)] == [5, 9, 5]


def test_a_name_outside_the_zone_is_rejected_with_the_zone_named(backend):
    with pytest.raises(BackendRejected, match=r"not inside zone example\."):
        backend.apply_fenced(G(1), {"kv.other.": content("10.0.0.1")})
