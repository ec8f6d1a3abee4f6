"""UDP and TCP transport of the embedded server, IPv4 and IPv6.

Rules kept here:
- the UDP protocol object does nothing but hand bytes to the responder and send what
  comes back: the hot path has no logging, no allocation beyond the response;
- no exception raised while answering one packet can stop the server: it is counted
  and that packet is dropped;
- TCP messages are 2-byte length framed; a connection that sends a length under 12,
  sends nothing for `idle_timeout` seconds, or exceeds the connection cap is closed;
  reading pauses while too many answers wait to be written (a slow reader cannot make
  the server buffer without bound);
- sockets are bound by us (SO_REUSEPORT when several processes share the port,
  IPV6_V6ONLY on IPv6) and handed to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, cast

from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.watcher import ServerMetrics

log = logging.getLogger("zonewarden.dns")
MIN_MESSAGE = 12


class UdpServer(asyncio.DatagramProtocol):
    def __init__(self, responder: Responder, metrics: ServerMetrics) -> None:
        self.responder = responder
        self.metrics = metrics
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.metrics.udp_queries += 1
        try:
            out = self.responder.respond(data)
        except Exception as exc:  # never let one packet stop the server
            count_error(self.metrics, exc)
            return
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc: Exception) -> None:
        count_error(self.metrics, exc)


class TcpConnection(asyncio.Protocol):
    def __init__(self, responder: Responder, metrics: ServerMetrics, idle: float, cap: int) -> None:
        self.responder = responder
        self.metrics = metrics
        self.idle = idle
        self.cap = cap
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.metrics.tcp_connections += 1
        if self.metrics.tcp_connections > self.cap:
            self.metrics.tcp_refused += 1
            self.transport.abort()
            return
        self.transport.set_write_buffer_limits(high=64 * 1024)
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.idle, self._idle_out)

    def _idle_out(self) -> None:
        self.metrics.tcp_timeouts += 1
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > 2 * 65537:
            self._close()
            return
        self._arm()
        while len(self.buffer) >= 2:
            length = (self.buffer[0] << 8) | self.buffer[1]
            if length < MIN_MESSAGE:
                self._close()  # garbage: not a DNS message
                return
            if len(self.buffer) < 2 + length:
                return
            message = bytes(self.buffer[2 : 2 + length])
            del self.buffer[: 2 + length]
            self.metrics.tcp_queries += 1
            try:
                out = self.responder.respond(message, udp=False)
            except Exception as exc:
                count_error(self.metrics, exc)
                self._close()
                return
            if out is not None and self.transport is not None:
                self.transport.write(len(out).to_bytes(2, "big") + out)

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.metrics.tcp_connections -= 1
        if self.timer is not None:
            self.timer.cancel()


def count_error(metrics: ServerMetrics, exc: BaseException) -> None:
    name = type(exc).__name__
    metrics.errors[name] = metrics.errors.get(name, 0) + 1
    if metrics.errors[name] in (1, 1000, 1000000):
        log.error("error while answering (%s: %s), packet dropped", name, exc)


def bind(host: str, port: int, kind: int, *, reuse_port: bool) -> socket.socket:
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
            sock.listen(512)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
