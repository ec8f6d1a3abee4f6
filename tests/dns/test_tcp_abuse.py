"""TCP an attacker cannot starve, and pipelining that never resets a reading client.

Attackers connect from 127.0.0.2-127.0.0.9 (all loopback), the probe from 127.0.0.1.
Slow writers (one byte every 0.4 s) and idle connections try to hold every slot; the
probe's queries must still be answered. The control runs the same attack with the
deadline, the per-source cap and the eviction switched off and shows probes failing.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import threading
import time

import dns.message
import pytest

from tests.dns.conftest import start_server, stop_server
from zonewarden.backends.embedded.tcp import TcpPool

pytestmark = pytest.mark.servers
CAP = 24


def attack(port: int, count: int, stop: threading.Event) -> list[socket.socket]:
    """`count` connections from 127.0.0.2.. that trickle a query one byte at a time."""
    conns = []
    for i in range(count):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i % 8}", 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        conns.append(s)
    wire = dns.message.make_query("ep1.example.", "A").to_wire()
    framed = struct.pack("!H", len(wire)) + wire

    def trickle() -> None:
        i = 0
        while not stop.is_set() and i < len(framed):
            for s in conns:
                with contextlib.suppress(OSError):
                    s.send(framed[i : i + 1])
            i += 1
            stop.wait(0.4)

    threading.Thread(target=trickle, daemon=True).start()
    return conns


def probe(port: int, n: int) -> int:
    """Queries over fresh TCP connections from 127.0.0.1; how many were answered."""
    answered = 0
    for i in range(n):
        q = dns.message.make_query(f"ep{i}.example.", "A")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.5) as s:
                wire = q.to_wire()
                s.sendall(struct.pack("!H", len(wire)) + wire)
                length = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
                answered += len(s.recv(length, socket.MSG_WAITALL)) == length
        except (OSError, struct.error):
            pass
        time.sleep(0.05)
    return answered


def run_attack(zone_store, **settings) -> tuple[int, object]:
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",), **settings)
    stop = threading.Event()
    conns = attack(live.port, 3 * CAP, stop)
    try:
        time.sleep(1.5)  # past the message deadline: slow writers closed, slots free
        return probe(live.port, 20), live.server.metrics
    finally:
        stop.set()
        for s in conns:
            s.close()
        stop_server(live, thread)


TIGHT = dict(
    tcp_max_connections=CAP, tcp_max_per_source=4, tcp_message_timeout=1.0, tcp_idle_timeout=5.0
)


def test_slow_writers_cannot_hold_the_slots(zone_store):
    answered, metrics = run_attack(zone_store, **TIGHT)
    assert answered == 20
    assert metrics.tcp_evicted > 0  # newcomers past the cap closed the oldest
    assert metrics.tcp_deadlines > 0  # the trickled queries missed their deadline


def test_one_source_holds_at_most_its_share(zone_store):
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",), **TIGHT)
    conns = []
    try:
        for _ in range(10):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", live.port))
            conns.append(s)
        time.sleep(0.2)
        assert live.server.metrics.tcp_refused == 6
        assert live.server.tcp_pool.by_source == {"127.0.0.2": 4}
        assert probe(live.port, 3) == 3
    finally:
        for s in conns:
            s.close()
        stop_server(live, thread)


def test_control_without_deadline_cap_or_eviction_the_probe_starves(zone_store, monkeypatch):
    monkeypatch.setattr(TcpPool, "_victim", lambda self: None)
    loose = dict(TIGHT, tcp_max_per_source=1000, tcp_message_timeout=1000.0)
    answered, _ = run_attack(zone_store, **loose)
    assert answered < 5, answered


def test_pipelined_queries_all_answered_to_a_client_that_reads(zone_store):
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",))
    count = 20_000
    wires = []
    for i in range(count):
        w = dns.message.make_query(f"ep{i % 300}.example.", "A").to_wire()
        wires.append(struct.pack("!HH", len(w), i % 65536) + w[2:])
    got = []
    try:
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s:
            writer = threading.Thread(target=s.sendall, args=(b"".join(wires),))
            writer.start()
            time.sleep(0.5)  # not reading yet: the server pauses rather than buffering all
            conn = next(iter(live.server.tcp_pool.active))
            assert len(conn.buffer) < 2 * 1024 * 1024
            stream = s.makefile("rb")
            for _ in range(count):
                length = struct.unpack("!H", stream.read(2))[0]
                got.append(struct.unpack("!H", stream.read(length)[:2])[0])
            writer.join(10)
    finally:
        stop_server(live, thread)
    assert got == [i % 65536 for i in range(count)]


def test_listen_backlog_is_the_configured_one(zone_store):
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",), tcp_backlog=700)
    try:
        out = subprocess.run(
            ["ss", "-ltnH", f"sport = :{live.port}"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert out[2] == "700", out  # Send-Q of a listening socket is its backlog
    finally:
        stop_server(live, thread)
