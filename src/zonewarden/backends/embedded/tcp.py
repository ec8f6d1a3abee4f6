"""TCP transport of the embedded server: framed messages, and slots an attacker cannot hold.

Rules kept here:
- messages are 2-byte length framed; a length under 12 (not a DNS message) closes the
  connection;
- a message must arrive whole within `message_timeout` of its first byte: a client
  trickling one byte every few seconds is closed (counted as a deadline); only complete
  messages count as activity, so trickled bytes never keep a connection alive;
- a connection with no complete message for `idle_timeout` is closed (counted);
- one source address holds at most `per_source` connections; a newcomer over that is
  closed (counted as refused);
- at `cap` connections a newcomer is admitted by closing the connection idle for the
  longest (no message in progress), or else the one whose message has been in progress
  longest (the slowest writer); counted as evicted;
- pipelining: every complete message is answered in order; while the client does not
  read, writing pauses at the transport's high-water mark and so does reading and
  answering, so memory per connection stays bounded (about one read plus the
  high-water mark) and a client that reads again gets every answer;
- timeouts are checked by one sweep of the pool every `SWEEP` seconds, not one timer
  per message, so the per-message cost is one clock read.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import OrderedDict
from typing import cast

from zonewarden.backends.embedded.metrics import ServerMetrics
from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.transport import count_error

MIN_MESSAGE = 12
HIGH_WATER = 64 * 1024
HARD_INPUT_LIMIT = 4 * 1024 * 1024  # never reached while reading pauses; a last guard
SWEEP = 0.25


class TcpPool:
    """The open connections of one server, oldest activity first."""

    def __init__(
        self,
        metrics: ServerMetrics,
        *,
        cap: int = 256,
        per_source: int = 64,
        idle_timeout: float = 10.0,
        message_timeout: float = 3.0,
    ) -> None:
        self.metrics = metrics
        self.cap = cap
        self.per_source = per_source
        self.idle_timeout = idle_timeout
        self.message_timeout = message_timeout
        self.active: OrderedDict[TcpConnection, None] = OrderedDict()
        self.by_source: dict[str, int] = {}
        self._sweeper: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweeper = loop.call_later(SWEEP, self._sweep, loop)

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.active):
            conn.close()

    def admit(self, conn: TcpConnection) -> bool:
        if self.by_source.get(conn.source, 0) >= self.per_source:
            self.metrics.tcp_refused += 1
            return False
        if len(self.active) >= self.cap:
            victim = self._victim()
            if victim is None:
                self.metrics.tcp_refused += 1
                return False
            self.metrics.tcp_evicted += 1
            victim.close()
        self.active[conn] = None
        self.by_source[conn.source] = self.by_source.get(conn.source, 0) + 1
        self.metrics.tcp_connections = len(self.active)
        return True

    def _victim(self) -> TcpConnection | None:
        slowest = None
        for conn in self.active:  # oldest activity first
            if not conn.started:
                return conn  # idle longest
            if slowest is None or conn.started < slowest.started:
                slowest = conn
        return slowest

    def touch(self, conn: TcpConnection) -> None:
        if conn in self.active:
            self.active.move_to_end(conn)

    def remove(self, conn: TcpConnection) -> None:
        if self.active.pop(conn, 0) is None:
            left = self.by_source[conn.source] - 1
            if left:
                self.by_source[conn.source] = left
            else:
                del self.by_source[conn.source]
        self.metrics.tcp_connections = len(self.active)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.monotonic()
        idle_before = now - self.idle_timeout
        started_before = now - self.message_timeout
        for conn in list(self.active):
            if conn.started and conn.started < started_before and not conn.paused:
                self.metrics.tcp_deadlines += 1
                conn.close()
            elif conn.last < idle_before:
                self.metrics.tcp_timeouts += 1
                conn.close()
        self._sweeper = loop.call_later(SWEEP, self._sweep, loop)


class TcpConnection(asyncio.Protocol):
    def __init__(self, responder: Responder, metrics: ServerMetrics, pool: TcpPool) -> None:
        self.responder = responder
        self.metrics = metrics
        self.pool = pool
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.source = ""
        self.last = time.monotonic()  # the last complete message (or the connection)
        self.started = 0.0  # when the message in progress began; 0.0: none
        self.paused = False  # writing (hence reading and answering) paused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self.source = str(peer[0]) if peer else ""
        family = socket.AF_INET6 if ":" in self.source else socket.AF_INET
        self.source_raw = socket.inet_pton(family, self.source) if self.source else b""
        if not self.pool.admit(self):
            self.transport.abort()
            self.transport = None
            return
        self.transport.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return
        if not self.buffer:
            self.started = time.monotonic()
        self.buffer += data
        if len(self.buffer) > HARD_INPUT_LIMIT:
            self.close()
            return
        self._answer_buffered()

    def _answer_buffered(self) -> None:
        buffer = self.buffer
        answered = False
        while not self.paused and len(buffer) >= 2:
            length = (buffer[0] << 8) | buffer[1]
            if length < MIN_MESSAGE:
                self.close()  # garbage: not a DNS message
                return
            if len(buffer) < 2 + length:
                break
            message = bytes(buffer[2 : 2 + length])
            del buffer[: 2 + length]
            answered = True
            self.metrics.tcp_queries += 1
            try:
                out = self.responder.respond(message, False, self.source_raw)
            except Exception as exc:
                count_error(self.metrics, exc)
                self.close()
                return
            if out is not None and self.transport is not None:
                self.transport.write(len(out).to_bytes(2, "big") + out)
        if answered:
            self.last = time.monotonic()
            self.started = self.last if buffer else 0.0
            self.pool.touch(self)

    def pause_writing(self) -> None:
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            self.last = time.monotonic()
            self._answer_buffered()

    def close(self) -> None:
        """Abort the connection and free its slot at once (not when the loop reports it)."""
        transport, self.transport = self.transport, None
        if transport is not None:
            self.pool.remove(self)
            transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.pool.remove(self)
        self.transport = None
