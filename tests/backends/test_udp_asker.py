"""The answer probe's UDP transport: replies matched by ID and question with many in
flight on one socket, out of order, with strays and duplicates; a reply parsed only as
far as the probe judges it, and anything else is garbage, never a crash."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import dns.message
import dns.rdatatype
import dns.rrset
import pytest

from zonewarden.backends.udp_asker import (
    T_A,
    T_CNAME,
    T_SOA,
    T_TXT,
    Answer,
    Garbage,
    Timeout,
    _Question,
    ask_many,
    parse_reply,
)

NAME = "kv.us-east-1.example."


def reply_to(query: bytes, *rrsets: dns.rrset.RRset, qname: str | None = None) -> bytes:
    q = dns.message.from_wire(query)
    r = dns.message.make_response(q)
    if qname is not None:
        r.question = [dns.rrset.RRset(dns.name.from_text(qname), 1, q.question[0].rdtype)]
    r.answer.extend(rrsets)
    return r.to_wire()


def question(name: str = NAME, rtype: str = "A") -> tuple[_Question, bytes]:
    q = _Question(name, rtype)
    return q, b"\x12\x34" + q.tail


def test_a_reply_is_parsed_for_the_questions_owner_only():
    q, wire = question()
    out = parse_reply(
        reply_to(
            wire,
            dns.rrset.from_text(NAME, 5, "IN", "A", "127.0.1.1", "127.0.1.2"),
            dns.rrset.from_text("other.example.", 5, "IN", "A", "192.0.2.1"),
        ),
        q,
    )
    assert isinstance(out, Answer) and out.rcode == 0
    assert sorted(out.values(T_A)) == ["127.0.1.1", "127.0.1.2"]


def test_case_randomised_names_match_and_other_questions_do_not():
    q, wire = question("KV.us-East-1.example.")
    out = parse_reply(reply_to(wire, dns.rrset.from_text(NAME, 5, "IN", "A", "127.0.1.1")), q)
    assert isinstance(out, Answer) and out.values(T_A) == ["127.0.1.1"]
    other = parse_reply(reply_to(wire, qname="other.example."), q)
    assert isinstance(other, Garbage) and "another" in other.detail
    q_aaaa = _Question(NAME, "AAAA")
    assert isinstance(parse_reply(reply_to(wire), q_aaaa), Garbage)  # another type


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: data[:7],  # shorter than a header
        lambda data: data[:-3],  # the last record cut
        lambda data: data[:2] + bytes([data[2] & 0x7F]) + data[3:],  # QR clear: a query
        lambda data: data[:2] + b"\xff" * 7,
    ],
)
def test_broken_replies_are_garbage(mangle: Callable[[bytes], bytes]):
    q, wire = question()
    data = reply_to(wire, dns.rrset.from_text(NAME, 5, "IN", "A", "127.0.1.1"))
    assert isinstance(parse_reply(mangle(data), q), Garbage)


def test_cname_txt_and_soa_values():
    for rtype, text, code, want in (
        ("CNAME", "zw1.g42.dabc.invalid.", T_CNAME, "zw1.g42.dabc.invalid"),
        ("TXT", '"zw1 g=42 d=abc"', T_TXT, "zw1 g=42 d=abc"),
        ("SOA", "ns1.example. host.example. 4242 1 1 1 1", T_SOA, 4242),
    ):
        q, wire = question("_zw.kv.example.", rtype)
        out = parse_reply(
            reply_to(wire, dns.rrset.from_text("_zw.kv.example.", 5, "IN", rtype, text)), q
        )
        assert isinstance(out, Answer) and out.values(code) == [want], rtype


def serve(handle: Callable[[list[bytes]], list[bytes]], batch: int) -> Iterator[int]:
    """A loopback server that collects `batch` queries (or what came before a pause),
    then sends what `handle` makes of them."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        pending: list[bytes] = []
        peer = None
        while not stop.is_set():
            idle = False
            try:
                data, peer = sock.recvfrom(4096)
                pending.append(data)
            except TimeoutError:
                idle = True  # flush what is pending: the probe waits for it
            if pending and peer is not None and (len(pending) >= batch or idle):
                for out in handle(pending):
                    sock.sendto(out, peer)
                pending = []

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def address_of(query: bytes) -> str:
    """Each name's own address (ep<i> -> 10.0.i/256.i%256): a mix-up would show."""
    i = int(dns.message.from_wire(query).question[0].name.labels[0][2:])
    return f"10.0.{i // 256}.{i % 256}"


def answers(queries: list[bytes]) -> list[bytes]:
    out = []
    for query in reversed(queries):  # out of order
        name = dns.message.from_wire(query).question[0].name
        rrset = dns.rrset.from_text(name, 5, "IN", "A", address_of(query))
        reply = reply_to(query, rrset)
        out += [b"\xff\xff" + reply[2:] if query[:2] != b"\xff\xff" else reply, reply, reply]
    return out  # a stray (unknown ID) before each reply, and a duplicate after it


@pytest.mark.servers
def test_many_in_flight_out_of_order_with_strays_and_duplicates_each_get_their_own():
    names = [(f"ep{i}.example.", "A") for i in range(3000)]
    gen = serve(answers, batch=50)
    port = next(gen)
    try:
        got = asyncio.run(ask_many("127.0.0.1", port, names, timeout=3.0, window=200))
    finally:
        next(gen, None)
    # the test server shares this process's GIL, so a burst can overflow its socket and
    # lose a query (a timeout): allowed, rarely; a reply taken for another name: never
    assert all(isinstance(o, Answer | Timeout) for o in got), {type(o).__name__ for o in got}
    assert sum(isinstance(o, Answer) for o in got) >= 0.95 * len(names)
    for (name, _), outcome in zip(names, got, strict=True):
        i = int(name.split(".")[0][2:])
        if isinstance(outcome, Answer):
            assert outcome.values(T_A) == [f"10.0.{i // 256}.{i % 256}"], name


@pytest.mark.servers
def test_replies_with_the_wrong_id_are_ignored_and_time_out():
    def wrong_id(queries: list[bytes]) -> list[bytes]:
        return [bytes([q[0] ^ 0x55, q[1]]) + reply_to(q)[2:] for q in queries]

    gen = serve(wrong_id, batch=1)
    port = next(gen)
    try:
        got = asyncio.run(ask_many("127.0.0.1", port, [(NAME, "A")] * 5, timeout=0.3))
    finally:
        next(gen, None)
    assert got == [Timeout(0.3)] * 5


def test_nobody_listening_is_garbage_or_timeout_not_a_crash():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = asyncio.run(ask_many("127.0.0.1", port, [(NAME, "A")] * 3, timeout=0.3))
    assert all(isinstance(o, Garbage | Timeout) for o in got)
    assert dns.rdatatype.from_text("A") == T_A


def _other_question_first(queries: list[bytes]) -> list[bytes]:
    out = []
    for query in queries:  # a reply with this query's ID but another name, then its own
        rrset = dns.rrset.from_text(
            dns.message.from_wire(query).question[0].name, 5, "IN", "A", address_of(query)
        )
        out += [reply_to(query, qname="other.example."), reply_to(query, rrset)]
    return out


def _other_question_only(queries: list[bytes]) -> list[bytes]:
    return [reply_to(q, qname="other.example.") for q in queries]


@pytest.mark.servers
def test_a_reply_to_another_question_under_our_id_is_skipped_not_taken():
    """IDs collide with strays: the question's own reply that follows is the answer;
    a server that only ever answers another question is reported as such."""
    names = [(f"ep{i}.example.", "A") for i in range(20)]
    gen = serve(_other_question_first, batch=1)
    port = next(gen)
    try:
        got = asyncio.run(ask_many("127.0.0.1", port, names, timeout=2.0))
    finally:
        next(gen, None)
    assert all(isinstance(o, Answer) for o in got), got
    gen = serve(_other_question_only, batch=1)
    port = next(gen)
    try:
        got = asyncio.run(ask_many("127.0.0.1", port, names[:3], timeout=0.3))
    finally:
        next(gen, None)
    assert all(isinstance(o, Garbage) and "another" in o.detail for o in got), got
