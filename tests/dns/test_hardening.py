"""Bad input: no packet crashes the handler or the server, nothing exceeds the payload.

Property tests drive `Responder.respond` directly with hypothesis (raw bytes, mutated
valid queries); targeted tests cover each named attack; TCP tests check garbage, idle
clients and the connection cap against the live server, which must still answer.
"""

from __future__ import annotations

import random
import socket
import struct
import time

import dns.flags
import dns.message
import dns.rcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dns.conftest import APEX
from tests.dns.query import ask, ask_raw
from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.settings import ZoneSettings
from zonewarden.backends.embedded.snapshot import SnapshotBuilder
from zonewarden.backends.embedded.synthetic import load, synthetic_contents
from zonewarden.stores.memory import MemoryStore


def make_responder() -> Responder:
    store = MemoryStore(keep_audit=False)
    load(store, synthetic_contents(60, APEX))
    version, entries = store.changed_since(0)
    snapshot = SnapshotBuilder([ZoneSettings(APEX)]).build(version, entries)
    return Responder(snapshot, random.Random(0))


RESPONDER = make_responder()
SEEDS = [
    dns.message.make_query(name, rdtype, use_edns=edns, want_dnssec=edns == 0).to_wire()
    for name in ("ep1.example.", "EP2.svc.cell2.example.", "example.", "nx.example.", "org.")
    for rdtype in ("A", "AAAA", "SOA", "ANY", "TXT")
    for edns in (-1, 0)
]


def check_response(query: bytes, out: bytes | None, udp: bool) -> None:
    if out is None:
        return
    assert out[:2] == query[:2]  # the ID is echoed
    assert out[2] & 0x80  # QR
    limit = 65535
    if udp:
        limit = 512
        try:
            q = dns.message.from_wire(query)
            if q.edns >= 0:
                limit = min(max(q.payload, 512), 1232)
        except Exception:
            pass
    assert len(out) <= limit
    assert not out[3] & 0x80  # RA never set
    if (out[2] >> 3) & 0xF:  # NOTIMP to another opcode: dnspython would parse its own way
        assert out[3] & 0xF == dns.rcode.NOTIMP and (out[2] ^ query[2]) & 0x78 == 0
        return
    dns.message.from_wire(out, question_only=len(out) == 12)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.booleans())
def test_random_bytes_never_crash(data, udp):
    check_response(data, RESPONDER.respond(data, udp), udp)


@st.composite
def mutated(draw) -> bytes:
    wire = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "count"]))
        if kind == "count" and len(wire) >= 12:
            i = draw(st.integers(4, 11))
            wire[i] = draw(st.integers(0, 255))
        elif kind == "cut" and len(wire) > 1:
            del wire[draw(st.integers(0, len(wire) - 1)) :]
        elif kind == "insert":
            i = draw(st.integers(0, len(wire)))
            wire[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif wire:
            i = draw(st.integers(0, len(wire) - 1))
            flip = draw(st.integers(0, 7))
            wire[i] = wire[i] ^ (1 << flip) if kind == "flip" else draw(st.integers(0, 255))
    return bytes(wire)


@pytest.mark.long
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_mutated_queries_never_crash(data, udp):
    check_response(data, RESPONDER.respond(data, udp), udp)


def header(qd=1, an=0, ns=0, ar=0, flags=0) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, qd, an, ns, ar)


QUESTION = b"\x03ep1\x07example\x00\x00\x01\x00\x01"
ATTACKS = {
    "short-header": b"\x12\x34\x00",
    "response-bit": header(flags=0x8000) + QUESTION,
    "compression-loop": header() + b"\xc0\x0c\x00\x01\x00\x01",
    "pointer-forward": header() + b"\xc0\x20\x00\x01\x00\x01" + b"\x00" * 30,
    "oversized-name": header()
    + b"\x3f"
    + b"a" * 63
    + (b"\x3f" + b"b" * 63) * 4
    + b"\x00\x00\x01\x00\x01",
    "label-too-long": header() + b"\x50" + b"a" * 80 + b"\x00\x00\x01\x00\x01",
    "lying-qdcount": header(qd=40) + QUESTION,
    "lying-arcount": header(ar=5) + QUESTION,
    "answer-in-query": header(an=1) + QUESTION + QUESTION[:-4] + b"\x00\x01\x00\x01" + b"\x00" * 6,
    "no-question": header(qd=0),
    "truncated-question": header() + QUESTION[:-3],
    "two-opts": header(ar=2) + QUESTION + (b"\x00\x00\x29\x04\xd0" + b"\x00" * 6) * 2,
    "opt-bad-option-length": header(ar=1)
    + QUESTION
    + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x05\x00\x0a\x00\x09\x00",
    "trailing-garbage": header() + QUESTION + b"garbage",
}
EXPECTED = {"short-header": None, "response-bit": None, "no-question": dns.rcode.FORMERR}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_named_attacks(name):
    data = ATTACKS[name]
    out = RESPONDER.respond(data)
    check_response(data, out, True)
    if name in ("short-header", "response-bit"):
        assert out is None
    else:
        assert out is not None and out[3] & 0xF == dns.rcode.FORMERR, name


def test_small_client_payload_gets_tc_not_more():
    q = dns.message.make_query("ep11.example.", "A", use_edns=0, payload=512)
    big = RESPONDER.respond(q.to_wire(), udp=False)
    assert big is not None
    r = RESPONDER.respond(q.to_wire(), udp=True)
    assert r is not None and len(r) <= 512


@pytest.mark.servers
def test_server_survives_garbage_and_slow_tcp_clients(live):
    soa = dns.message.make_query(APEX, "SOA")
    # garbage over TCP: a length below a header is closed at once
    with socket.create_connection(("127.0.0.1", live.port), timeout=2) as s:
        s.sendall(b"\x00\x05hello")
        assert s.recv(10) == b""
    # a half-open client that never finishes its message is dropped after the idle timeout
    slow = socket.create_connection(("127.0.0.1", live.port), timeout=3)
    slow.sendall(b"\x00\x40\x12")
    start = time.monotonic()
    assert slow.recv(10) == b""
    assert time.monotonic() - start < 2.5
    slow.close()
    # the connection cap (16 in the fixture): each newcomer past it closes the oldest idle one
    evicted = live.server.metrics.tcp_evicted
    held = [socket.create_connection(("127.0.0.1", live.port), timeout=2) for _ in range(20)]
    time.sleep(0.2)
    assert live.server.metrics.tcp_evicted - evicted >= 4
    assert live.server.metrics.tcp_connections <= 16
    for s in held[:4]:  # the oldest four were closed to admit the last four
        assert s.recv(10) == b""
    for s in held:
        s.close()
    time.sleep(0.2)
    assert ask(live.port, soa, tcp=True).rcode() == dns.rcode.NOERROR
    assert ask(live.port, soa).rcode() == dns.rcode.NOERROR
    # pipelined queries on one connection are all answered, in order
    wires = [dns.message.make_query(f"ep{i}.example.", "A").to_wire() for i in range(1, 30, 6)]
    with socket.create_connection(("127.0.0.1", live.port), timeout=2) as s:
        s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in wires))
        for w in wires:
            length = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
            reply = s.recv(length, socket.MSG_WAITALL)
            assert reply[:2] == w[:2]


@pytest.mark.servers
def test_server_answers_after_raw_attacks(live):
    for data in ATTACKS.values():
        ask_raw(live.port, data, timeout=0.2)
        ask_raw(live.port, data, tcp=True, timeout=0.2)
    r = ask(live.port, dns.message.make_query(APEX, "SOA"))
    assert r.rcode() == dns.rcode.NOERROR and r.answer


def big_responder(records: int) -> Responder:
    """One weighted-multi endpoint `big.example.` with `records` AAAA records, K = 64."""
    from zonewarden.core.model import Content, EndpointName, LbId, Policy, Record, RecordType

    rrs = tuple(
        Record(RecordType.AAAA, f"2001:db8::{i + 1:x}", 1, LbId(f"lb{i}")) for i in range(records)
    )
    store = MemoryStore(keep_audit=False)
    load(store, {EndpointName("big.example."): Content(60, Policy.WEIGHTED_MULTI, rrs)})
    version, entries = store.changed_since(0)
    snapshot = SnapshotBuilder([ZoneSettings(APEX)], multi_k=64).build(version, entries)
    return Responder(snapshot, random.Random(0))


@pytest.mark.parametrize(
    ("records", "edns", "payload", "truncated"),
    [
        (40, -1, 0, True),  # 1.1 KB answer, no EDNS: 512 is the limit
        (40, 0, 512, True),
        (40, 0, 1232, False),
        (60, 0, 4096, True),  # 1.7 KB: above the server's 1232 cap whatever the client says
    ],
)
def test_large_answers_truncate_over_udp_and_come_whole_over_tcp(records, edns, payload, truncated):
    responder = big_responder(records)
    q = dns.message.make_query("BIG.example.", "AAAA", use_edns=edns, payload=payload or 1232)
    wire = q.to_wire()
    udp = responder.respond(wire, udp=True)
    limit = 512 if edns < 0 else min(payload, 1232)
    assert udp is not None and len(udp) <= limit
    r = dns.message.from_wire(udp)
    assert bool(r.flags & dns.flags.TC) == truncated
    assert (r.answer == []) == truncated
    assert r.question[0].name.to_text() == "BIG.example."  # case kept even when truncated
    whole = dns.message.from_wire(responder.respond(wire, udp=False))
    assert not whole.flags & dns.flags.TC
    assert len(whole.answer[0]) == records


@pytest.mark.servers
def test_burst_with_dropped_datagrams_answers_each_sender(live):
    """In one recvmmsg batch some datagrams get no reply: every reply still reaches the
    socket that asked, with its own ID (the batched path re-points reply addresses)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(12)]
    try:
        expected = {}
        for n, s in enumerate(sockets):
            s.settimeout(2)
            q = dns.message.make_query(f"ep{n}.example.", "A")
            q.id = 1000 + n
            wire = q.to_wire()
            if n % 3 == 0:  # a response, not a query: must be dropped
                wire = wire[:2] + bytes([wire[2] | 0x80]) + wire[3:]
            else:
                expected[n] = q.id
            s.sendto(wire, ("127.0.0.1", live.port))
        for n, s in enumerate(sockets):
            if n in expected:
                reply = s.recv(4096)
                assert struct.unpack("!H", reply[:2])[0] == expected[n]
            else:
                s.settimeout(0.2)
                with pytest.raises(TimeoutError):
                    s.recv(4096)
    finally:
        for s in sockets:
            s.close()


def max_name(total: int) -> str:
    """A name below example. whose wire form is exactly `total` octets."""
    labels, left = [], total - len(b"\x07example\x00")
    while left > 0:
        size = min(63, left - 1)
        labels.append("a" * size)
        left -= size + 1
    return ".".join(labels) + ".example."


@pytest.mark.parametrize("payload", [0, 1, 511, 512])
def test_tiny_edns_buffers_count_as_512(payload):
    responder = big_responder(40)
    q = dns.message.make_query("big.example.", "AAAA", use_edns=0, payload=payload)
    out = responder.respond(q.to_wire(), udp=True)
    assert out is not None and len(out) <= 512 and out[2] & 0x02  # TC, never above 512


@pytest.mark.parametrize("payload", [1232, 1472, 4096, 65535])
def test_fragment_sized_and_oversized_edns_buffers_are_capped(payload):
    responder = big_responder(60)  # a 1.7 KB answer
    q = dns.message.make_query("big.example.", "AAAA", use_edns=0, payload=payload)
    out = responder.respond(q.to_wire(), udp=True)
    assert out is not None and len(out) <= 1232  # never a fragmented UDP answer
    reply = dns.message.from_wire(out)
    assert reply.payload == 1232  # and the server says what it will send


def test_names_of_maximum_length_are_answered_and_longer_ones_refused():
    longest = dns.message.make_query(max_name(255), "A").to_wire()
    reply = dns.message.from_wire(RESPONDER.respond(longest))
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.authority  # a real negative answer
    too_long = header() + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63
    too_long += b"\x3f" + b"d" * 63 + b"\x07example\x00\x00\x01\x00\x01"  # 265 octets
    assert RESPONDER.respond(too_long)[3] & 0xF == dns.rcode.FORMERR


def test_compression_loops_anywhere_in_a_query_are_formerr():
    opt_loop = header(ar=1) + QUESTION + b"\xc0\x1d" + b"\x00\x29\x04\xd0" + b"\x00" * 6
    self_loop = header(ar=1) + QUESTION + b"\x01a\xc0\x1d\x00\x29\x04\xd0" + b"\x00" * 6
    for data in (opt_loop, self_loop):
        out = RESPONDER.respond(data)
        assert out is not None and out[3] & 0xF == dns.rcode.FORMERR
