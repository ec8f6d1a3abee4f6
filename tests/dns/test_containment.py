"""One name the server cannot answer takes down that name only, never the process.

The config rejects names the wire cannot carry; these tests put one past validation,
straight into the store, in a zone of thousands: it answers SERVFAIL (logged once and
counted), every other name keeps its answers. A control replays the build without the
containment and shows the same input crashes it. A snapshot that cannot be rebuilt at
all leaves the last good one served.
"""

from __future__ import annotations

import logging
import random
import time

import dns.message
import dns.rcode
import pytest

from tests.dns.conftest import APEX, start_server, stop_server
from tests.dns.query import ask, ask_raw
from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.settings import ZoneSettings
from zonewarden.backends.embedded.snapshot import SnapshotBuilder
from zonewarden.backends.embedded.synthetic import load, synthetic_contents
from zonewarden.core.model import EndpointName
from zonewarden.stores.memory import MemoryStore

pytestmark = pytest.mark.servers
ENDPOINTS = 3000
BAD = EndpointName("café." + APEX)  # not ASCII: no wire form (RFC 1035 labels are octets)


def zone_with_one_bad_name() -> MemoryStore:
    contents = synthetic_contents(ENDPOINTS, APEX, seed=2)
    contents[BAD] = contents[EndpointName("ep1." + APEX)]
    store = MemoryStore(keep_audit=False)
    load(store, contents)
    return store


def a_query(name: str) -> bytes:
    q = dns.message.make_query(name, "A")
    q.id = 77
    return q.to_wire()


def bad_query() -> bytes:
    """The query a client sends for the bad name: its label as UTF-8 octets."""
    head = bytes.fromhex("004d0000000100000000000000")[:12]
    label = "café".encode()
    return head + bytes((len(label),)) + label + b"\x07example\x00\x00\x01\x00\x01"


def test_one_unbuildable_name_answers_servfail_and_every_other_name_answers(caplog):
    store = zone_with_one_bad_name()
    with caplog.at_level(logging.ERROR, logger="zonewarden.dns"):
        server, thread = start_server(store, listen=("127.0.0.1:0",))
    try:
        assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
        assert "café" in caplog.records[0].message and "SERVFAIL" in caplog.records[0].message
        metrics = server.server.metrics
        assert metrics.broken_names == 1 and metrics.build_errors == 1
        # every other name, through the responder (all of them) and the live server (a sample)
        responder: Responder = server.server.responder
        names = [n for n in store.changed_since(0)[1] if n != BAD]
        for name in names:
            reply = dns.message.from_wire(responder.respond(a_query(name), udp=False))
            assert reply.rcode() == dns.rcode.NOERROR, name
        for name in random.Random(1).sample(names, 200):
            r = ask(server.port, dns.message.make_query(name, "AAAA" if "cell" in name else "A"))
            assert r.rcode() == dns.rcode.NOERROR, name
        raw = ask_raw(server.port, bad_query())
        assert raw is not None and raw[3] & 0xF == dns.rcode.SERVFAIL
        assert "zonewarden_dns_servfail_total 1.0" in metrics.render()
        assert "zonewarden_dns_broken_names 1.0" in metrics.render()
        # the process still serves the zone
        soa = ask(server.port, dns.message.make_query(APEX, "SOA"))
        assert soa.rcode() == dns.rcode.NOERROR and soa.answer
    finally:
        stop_server(server, thread)


def test_control_without_containment_the_same_zone_crashes_the_build(monkeypatch):
    """The test above would pass vacuously if the bad name were buildable: without the
    containment, building the same zone raises (the process could not start)."""

    def reraise(self, name, exc):
        raise exc

    monkeypatch.setattr(SnapshotBuilder, "_unbuildable", reraise)
    version, entries = zone_with_one_bad_name().changed_since(0)
    with pytest.raises(UnicodeEncodeError):
        SnapshotBuilder([ZoneSettings(APEX)]).build(version, entries)


def test_a_snapshot_that_cannot_be_built_keeps_the_last_good_one(fresh_live, monkeypatch):
    watcher = fresh_live.server.watcher
    served = fresh_live.server.responder.snapshot.version
    failures = {"left": 3}
    real_build = SnapshotBuilder.build

    def flaky(self, version, changed):
        if failures["left"]:
            failures["left"] -= 1
            raise MemoryError("no room for the new snapshot")
        return real_build(self, version, changed)

    monkeypatch.setattr(SnapshotBuilder, "build", flaky)
    contents = dict(fresh_live.store.contents(fresh_live.store.newest()))
    load(fresh_live.store, contents)  # a new version the watcher must pick up
    deadline = time.monotonic() + 5
    while fresh_live.server.metrics.snapshot_failures < 3 and time.monotonic() < deadline:
        r = ask(fresh_live.port, dns.message.make_query(APEX, "SOA"))
        assert r.rcode() == dns.rcode.NOERROR  # still answering from the last good one
        assert r.answer[0][0].serial == served
        time.sleep(0.02)
    assert fresh_live.server.metrics.snapshot_failures == 3
    while watcher.version == served and time.monotonic() < deadline:
        time.sleep(0.02)
    assert watcher.version > served  # rebuilt from the whole zone once building works
    r = ask(fresh_live.port, dns.message.make_query(APEX, "SOA"))
    assert r.answer[0][0].serial == watcher.version
