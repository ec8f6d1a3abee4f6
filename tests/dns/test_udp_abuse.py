"""Spoofed sources cannot silence a UDP batch: real packets crafted on loopback.

A raw socket (root: CAP_NET_RAW) writes UDP datagrams from 127.0.0.1 port 0 and from
127.255.255.255 (the loopback broadcast address) to the live server, then legitimate
queries from an ordinary socket, all while the server's loop is held so that one
recvmmsg batch reads them together. The kernel really refuses replies to both sources
(checked first, with a plain socket); the server drops the port-0 query before
answering, skips the refused broadcast reply, and answers every legitimate query. The
control sends the same batch to a server whose batch sender ignores sendmmsg's return
value (the old behaviour) and shows the legitimate answers lost.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time

import dns.message
import pytest

from tests.dns.conftest import start_server, stop_server
from zonewarden.backends.embedded import udp_batch
from zonewarden.backends.embedded.udp_batch import BatchedUdpServer

pytestmark = pytest.mark.servers
LEGIT = 62


def raw_udp(src: str, sport: int, port: int, payload: bytes) -> None:
    """One IPv4/UDP datagram with a forged source, to 127.0.0.1:`port`."""
    udp = struct.pack("!HHHH", sport, port, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        1,
        0,
        64,
        socket.IPPROTO_UDP,
        0,
        socket.inet_aton(src),
        socket.inet_aton("127.0.0.1"),
    )
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP) as raw:
        raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        raw.sendto(ip + udp, ("127.0.0.1", 0))


@pytest.fixture(scope="module", autouse=True)
def need_raw_sockets():
    if os.geteuid() != 0:
        pytest.fail("these tests forge source addresses with a raw socket: run them as root")


def test_the_kernel_refuses_replies_to_these_sources():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(OSError) as port_zero:
            s.sendto(b"x", ("127.0.0.1", 0))
        with pytest.raises(OSError) as broadcast:
            s.sendto(b"x", ("127.255.255.255", 4000))
    assert port_zero.value.errno == errno.EINVAL
    assert broadcast.value.errno == errno.EACCES


def send_batch(live, sources: list[tuple[str, int]]) -> int:
    """Hold the server's loop, queue the forged queries then LEGIT real ones, release;
    returns how many real queries were answered with their own ID."""
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(1.0)
    try:
        live.loop.call_soon_threadsafe(time.sleep, 0.5)  # the loop sleeps: packets queue up
        time.sleep(0.05)
        for src, sport in sources:
            raw_udp(src, sport, live.port, dns.message.make_query("ep1.example.", "A").to_wire())
        ids = set()
        for n in range(LEGIT):
            q = dns.message.make_query(f"ep{n}.example.", "A")
            q.id = 3000 + n
            ids.add(q.id)
            client.sendto(q.to_wire(), ("127.0.0.1", live.port))
        answered = 0
        try:
            while True:
                reply = client.recv(4096)
                answered += struct.unpack("!H", reply[:2])[0] in ids
        except TimeoutError:
            pass
        return answered
    finally:
        client.close()


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled-loop", "python-loop"])
def test_spoofed_sources_first_in_a_batch_cost_no_legitimate_answer(zone_store, compiled):
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",), compiled_udp=compiled)
    assert live.server.compiled == compiled
    try:
        metrics = live.server.metrics
        answered = send_batch(live, [("127.0.0.1", 0), ("127.255.255.255", 4000)])
        assert answered == LEGIT
        assert metrics.udp_bad_sources == 1  # port 0: dropped before an answer was built
        assert metrics.udp_send_refused == 1  # broadcast: refused by the kernel, skipped
        assert metrics.udp_batches < 6  # they really shared a batch or two
    finally:
        stop_server(live, thread)


def test_control_ignoring_sendmmsg_result_loses_the_rest_of_the_batch(zone_store, monkeypatch):
    def send_once(self, m):  # the old sender: one call, its return value ignored
        udp_batch.LIBC.sendmmsg(self.fd, self.tx_ptr, m, udp_batch.MSG_DONTWAIT)

    monkeypatch.setattr(BatchedUdpServer, "_send", send_once)
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",), compiled_udp=False)
    try:
        answered = send_batch(live, [("127.255.255.255", 4000)])
        assert answered < LEGIT // 2, answered  # the refused first reply took the rest along
    finally:
        stop_server(live, thread)


def test_the_datagram_protocol_path_drops_port_zero_too(zone_store):
    live, thread = start_server(zone_store, listen=("127.0.0.1:0",), batched_udp=False)
    try:
        answered = send_batch(live, [("127.0.0.1", 0), ("127.255.255.255", 4000)])
        assert answered == LEGIT
        assert live.server.metrics.udp_bad_sources == 1
    finally:
        stop_server(live, thread)
