"""UDP transport of the embedded server (asyncio's DatagramProtocol) and socket binding.

The batched path (`udp_batch`) is the fast one on Linux; this one serves elsewhere, and
TCP lives in `tcp`. Rules kept here:
- the UDP protocol object does nothing but hand bytes to the responder and send what
  comes back: the hot path has no logging, no allocation beyond the response;
- a query from a source that cannot be answered (port 0, IPv4 0/8 or 224/3, IPv6
  multicast) is dropped before an answer is built, and counted;
- every answer passes response rate limiting when it is on;
- no exception raised while answering one packet can stop the server: it is counted
  and that packet is dropped;
- sockets are bound by us (SO_REUSEPORT when several processes share the port,
  IPV6_V6ONLY on IPv6) and handed to the event loop, TCP with the configured backlog.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any, cast

from zonewarden.backends.embedded.metrics import ServerMetrics
from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.rrl import RateLimiter

log = logging.getLogger("zonewarden.dns")


def bad_source_table(v6: bool) -> bytes:
    """256 flags by first address octet: 1 where no reply can go (RFC 1122 3.2.1.3)."""
    if v6:
        return bytes(int(b == 0xFF) for b in range(256))  # multicast
    return bytes(int(b == 0 or b >= 224) for b in range(256))  # this-network, class D/E


BAD_FIRST_OCTET = (bad_source_table(False), bad_source_table(True))


class UdpServer(asyncio.DatagramProtocol):
    def __init__(
        self,
        responder: Responder,
        metrics: ServerMetrics,
        rrl: RateLimiter | None = None,
        prefix_octets: tuple[int, int] = (3, 7),
    ) -> None:
        self.responder = responder
        self.metrics = metrics
        self.rrl = rrl
        self.prefix_octets = prefix_octets
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.metrics.udp_queries += 1
        v6 = ":" in addr[0]
        raw = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, addr[0])
        if addr[1] == 0 or BAD_FIRST_OCTET[v6][raw[0]]:
            self.metrics.udp_bad_sources += 1
            return
        try:
            out = self.responder.respond(data, True, raw)
            if out is not None and self.rrl is not None:
                out = self.rrl.admit(raw[: self.prefix_octets[v6]], out, time.monotonic())
        except Exception as exc:  # never let one packet stop the server
            count_error(self.metrics, exc)
            return
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc: Exception) -> None:
        count_error(self.metrics, exc)


def count_error(metrics: ServerMetrics, exc: BaseException) -> None:
    name = type(exc).__name__
    metrics.errors[name] = metrics.errors.get(name, 0) + 1
    if metrics.errors[name] in (1, 1000, 1000000):
        log.error("error while answering (%s: %s), packet dropped", name, exc)


def bind(host: str, port: int, kind: int, *, reuse_port: bool, backlog: int = 512) -> socket.socket:
    """A bound (and for TCP listening) socket for `host`:`port`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_DGRAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
