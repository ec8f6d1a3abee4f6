"""Response rate limiting: the rule on its own, then a real flood from one source.

The flood sends 2,000 queries for one name in about a second from one UDP socket to a
server with the default RRL (200 answers/s, slip 2) and counts whole, truncated and
missing answers; the control sends the same flood with RRL off and gets every answer.
"""

from __future__ import annotations

import socket
import struct
import time

import dns.flags
import dns.message
import pytest

from tests.dns.conftest import start_server, stop_server
from zonewarden.backends.embedded.rrl import RateLimiter
from zonewarden.backends.embedded.settings import ServerSettings

pytestmark = pytest.mark.servers
FLOOD = 2000


def answer(name: str = "ep1.example.", rcode: int = 0, ancount: int = 1, edns: bool = False):
    q = dns.message.make_query(name, "A", use_edns=0 if edns else -1)
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    wire = bytearray(r.to_wire())
    struct.pack_into("!H", wire, 6, ancount)  # only the count matters to the limiter
    return bytes(wire)


def test_a_bucket_allows_its_rate_then_slips_every_second_answer():
    rrl = RateLimiter(rate=10, slip=2, window=15)
    out = [rrl.admit(b"\x7f\x00\x00", answer(), now=100.0) for _ in range(100)]
    whole = [o for o in out if o is not None and not o[2] & 0x02]
    slipped = [o for o in out if o is not None and o[2] & 0x02]
    assert len(whole) == 10 and len(slipped) == 45 and out.count(None) == 45
    tc = dns.message.from_wire(slipped[0])
    assert tc.flags & dns.flags.TC and not tc.answer and tc.question
    # another /24, another name, another type: their own buckets
    assert rrl.admit(b"\x7f\x00\x01", answer(), now=100.0) is not None
    assert rrl.admit(b"\x7f\x00\x00", answer("ep2.example."), now=100.0) is not None
    # a second later the bucket is still in debt (window): a flood stays limited
    assert rrl.admit(b"\x7f\x00\x00", answer(), now=101.0) is None or rrl.slipped > 45


def test_random_names_share_one_nxdomain_bucket_and_the_table_is_bounded():
    rrl = RateLimiter(rate=5, slip=0, window=1, size=50)
    sent = sum(
        rrl.admit(b"\x0a\x00\x00", answer(f"r{i}.example.", rcode=3, ancount=0), 7.0) is not None
        for i in range(100)
    )
    assert sent == 5
    for i in range(500):  # spoofed prefixes: never more than `size` buckets
        rrl.admit(i.to_bytes(3, "big"), answer(), 7.0)
    assert len(rrl.buckets) <= 50


def test_truncated_copy_keeps_the_opt_record():
    rrl = RateLimiter(rate=1, slip=1)
    rrl.admit(b"\x01\x02\x03", answer(edns=True), 1.0)
    tc = rrl.admit(b"\x01\x02\x03", answer(edns=True), 1.0)
    assert tc is not None and dns.message.from_wire(tc).edns == 0


def flood(port: int) -> tuple[int, int, int]:
    """(whole, truncated, unanswered) for FLOOD queries for one name from one socket."""
    q = dns.message.make_query("ep1.example.", "A")
    whole = truncated = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        start = time.monotonic()
        for i in range(FLOOD):
            q.id = i
            s.sendto(q.to_wire(), ("127.0.0.1", port))
            if i % 50 == 49:  # ~2,000 queries/s, read as we go so nothing overflows
                while time.monotonic() < start + (i + 1) / 2000:
                    time.sleep(0.001)
            while True:
                try:
                    reply = s.recv(4096)
                except BlockingIOError:
                    break
                truncated += bool(reply[2] & 0x02)
                whole += not reply[2] & 0x02
        s.settimeout(0.5)
        try:
            while True:
                reply = s.recv(4096)
                truncated += bool(reply[2] & 0x02)
                whole += not reply[2] & 0x02
        except TimeoutError:
            pass
    return whole, truncated, FLOOD - whole - truncated


def test_a_flood_from_one_source_is_limited_by_default(zone_store):
    assert ServerSettings().rrl_rate == 200  # on by default, NSD's rate
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",), rrl_rate=200)
    try:
        whole, truncated, unanswered = flood(live.port)
        metrics = live.server.metrics
        assert whole <= 200 * 2 + 50, whole  # about a second at 200/s, plus the first burst
        assert truncated > 300 and unanswered > 300  # slip 2: every other limited one TC
        assert metrics.value("rrl_slipped") == truncated
        assert metrics.value("rrl_dropped") == unanswered
        assert "zonewarden_dns_rrl_dropped_total" in metrics.render()
    finally:
        stop_server(live, thread)


def test_control_the_same_flood_with_rrl_off_is_answered_whole(zone_store):
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",), rrl_rate=0)
    try:
        whole, truncated, unanswered = flood(live.port)
        assert truncated == 0 and whole >= FLOOD * 0.99, (whole, unanswered)
    finally:
        stop_server(live, thread)


def test_nxdomain_buckets_are_per_zone_like_nsd():
    import random

    from zonewarden.backends.embedded.responder import Responder
    from zonewarden.backends.embedded.rrl import zone_of_nxdomain
    from zonewarden.backends.embedded.settings import ZoneSettings
    from zonewarden.backends.embedded.snapshot import SnapshotBuilder

    zones = [ZoneSettings("example."), ZoneSettings("sub.example."), ZoneSettings("other.")]
    responder = Responder(SnapshotBuilder(zones).build(1, {}), random.Random(0))

    def nx(name: str) -> bytes:
        out = responder.respond(dns.message.make_query(name, "A").to_wire())
        assert out is not None and out[3] & 0xF == 3
        return out

    assert zone_of_nxdomain(nx("R1.Sub.Example.")) == b"\x03sub\x07example\x00"
    assert zone_of_nxdomain(nx("r2.example.")) == b"\x07example\x00"
    rrl = RateLimiter(rate=5, slip=0, window=1)
    for zone in ("example.", "sub.example.", "other."):
        sent = sum(
            rrl.admit(b"\x0a\x00\x00", nx(f"r{i}.{zone}"), 9.0) is not None for i in range(50)
        )
        assert sent == 5, zone  # each zone its own bucket, random names within it one
