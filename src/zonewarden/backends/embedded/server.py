"""One embedded DNS server process: snapshot, responder, watcher and listeners together.

Rules kept here:
- the first snapshot is built before any socket answers, so the server never serves
  an empty zone because it started before reading the store;
- every listen address gets a UDP and a TCP socket on the same port (port 0 picks one
  free port for both, which tests use);
- `run_server` installs uvloop's event loop when uvloop is importable (it is several
  times cheaper per datagram than the default loop) and falls back silently otherwise;
- the TCP listen backlog is the configured one, passed to the event loop too (asyncio
  would otherwise listen() again with 100); when the kernel caps it lower
  (net.core.somaxconn) that is logged once at start;
- metrics go to the prometheus_client registry given (the process's default one in
  `serve-dns`), served as Prometheus text on `metrics_listen`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from zonewarden.backends.embedded.cookies import Cookies
from zonewarden.backends.embedded.metrics import ServerMetrics
from zonewarden.backends.embedded.policy import Rng
from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.rrl import RateLimiter
from zonewarden.backends.embedded.settings import ServerSettings, parse_listen
from zonewarden.backends.embedded.snapshot import SnapshotBuilder
from zonewarden.backends.embedded.tcp import TcpConnection, TcpPool
from zonewarden.backends.embedded.transport import UdpServer, bind
from zonewarden.backends.embedded.tsig import TsigKeys
from zonewarden.backends.embedded.udp_batch import BatchedUdpServer, batched_udp_available
from zonewarden.backends.embedded.watcher import SnapshotWatcher, first_snapshot
from zonewarden.ports import ZoneStore

log = logging.getLogger("zonewarden.dns")


class DnsServer:
    """Serves the zones of `settings` from `store` until `close()`."""

    def __init__(
        self,
        store: ZoneStore,
        settings: ServerSettings,
        rng: Rng | None = None,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = ServerMetrics()
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.metrics.register(self.registry)
        self.builder = SnapshotBuilder(settings.zones, settings.multi_k)
        keys = {name: (algorithm, secret) for name, algorithm, secret in settings.tsig_keys}
        self.responder = Responder(
            first_snapshot(store, self.builder),
            rng or random.Random(),
            max_udp_payload=settings.max_udp_payload,
            tsig=TsigKeys(keys),
            cookies=_cookies(settings),
        )
        self.metrics.snapshot_built(self.responder.snapshot.version)
        self.metrics.broken_names = len(self.responder.snapshot.broken)
        self.metrics.build_errors = self.builder.build_errors
        self.rrl = (
            RateLimiter(
                settings.rrl_rate, settings.rrl_slip, settings.rrl_window, settings.rrl_size
            )
            if settings.rrl_rate
            else None
        )
        self.metrics.sources["servfails"] = lambda: self.responder.servfails
        self.metrics.sources["empty_answers"] = lambda: self.responder.empty_answers
        self.metrics.answers = self.responder.answers_by_rcode
        if self.rrl is not None:
            rrl = self.rrl
            self.metrics.sources["rrl_dropped"] = lambda: rrl.dropped
            self.metrics.sources["rrl_slipped"] = lambda: rrl.slipped
        self.tcp_pool = TcpPool(
            self.metrics,
            cap=settings.tcp_max_connections,
            per_source=settings.tcp_max_per_source,
            idle_timeout=settings.tcp_idle_timeout,
            message_timeout=settings.tcp_message_timeout,
        )
        self.watcher = SnapshotWatcher(
            store, self.builder, self.responder, self.metrics, interval=settings.poll_interval
        )
        self.addresses: list[tuple[str, int]] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._servers: list[asyncio.Server] = []
        self._batched: list[BatchedUdpServer] = []
        self._watch: asyncio.Task[None] | None = None
        self.compiled = False  # a listener runs the compiled UDP loop

    async def start(self) -> list[tuple[str, int]]:
        loop = asyncio.get_running_loop()
        reuse = self.settings.processes > 1
        s = self.settings
        _check_backlog(s.tcp_backlog)
        prefixes = (s.rrl_ipv4_prefix // 8, s.rrl_ipv6_prefix // 8)
        for text in self.settings.listen:
            host, port = parse_listen(text)
            try:
                udp, tcp = _bind_pair(host, port, reuse, s.tcp_backlog)
            except OSError as exc:
                if ":" in host and exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    log.warning("no IPv6 on this host (%s); not listening on %s", exc, text)
                    continue
                raise OSError(exc.errno, f"cannot listen on {text}: {exc.strerror}") from exc
            if s.batched_udp and batched_udp_available():
                octets = prefixes[udp.family == socket.AF_INET6]
                batched = BatchedUdpServer(
                    udp, self.responder, self.metrics, self.rrl, octets, compiled=s.compiled_udp
                )
                batched.start(loop)
                self._batched.append(batched)
            else:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: UdpServer(self.responder, self.metrics, self.rrl, prefixes), sock=udp
                )
                self._transports.append(transport)
            server = await loop.create_server(
                lambda: TcpConnection(self.responder, self.metrics, self.tcp_pool),
                sock=tcp,
                backlog=s.tcp_backlog,
            )
            self._servers.append(server)
            self.addresses.append((host, udp.getsockname()[1]))
        if not self.addresses:
            raise OSError(errno.EADDRNOTAVAIL, f"no listen address usable: {s.listen}")
        if s.metrics_listen:
            host, port = parse_listen(s.metrics_listen)
            self._servers.append(
                await asyncio.start_server(self._serve_metrics, host, port, reuse_port=reuse)
            )
        self.compiled = any(b.compiled for b in self._batched)
        self.tcp_pool.start(loop)
        self._watch = asyncio.create_task(self.watcher.run())
        return self.addresses

    async def _serve_metrics(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """GET anything: Prometheus text of this process's metrics (HTTP/1.0, then close)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            body = generate_latest(self.registry)
            head = (
                f"HTTP/1.0 200 OK\r\nContent-Type: {CONTENT_TYPE_LATEST}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        self.tcp_pool.stop()
        for t in self._transports:
            t.close()
        for b in self._batched:
            b.close()
        for s in self._servers:
            s.close()
            await s.wait_closed()


def _cookies(settings: ServerSettings) -> Cookies | None:
    if not settings.cookies:
        return None
    secret = settings.cookie_secret
    return Cookies(bytes.fromhex(secret) if secret else os.urandom(16))


def _check_backlog(backlog: int) -> None:
    try:
        cap = int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return
    if cap < backlog:
        log.warning(
            "TCP backlog %d asked for, the kernel allows %d (raise net.core.somaxconn)",
            backlog,
            cap,
        )


def _bind_pair(
    host: str, port: int, reuse: bool, backlog: int = 512
) -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets on one port; with port 0, retry until both get the same one."""
    for _ in range(20):
        udp = bind(host, port, socket.SOCK_DGRAM, reuse_port=reuse)
        try:
            tcp = bind(
                host, udp.getsockname()[1], socket.SOCK_STREAM, reuse_port=reuse, backlog=backlog
            )
        except OSError:
            udp.close()
            if port:
                raise
            continue
        return udp, tcp
    raise OSError(f"could not bind UDP and TCP to one free port on {host}")


def install_uvloop() -> bool:
    """Use uvloop's event loop policy when uvloop is installed."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def run_server(
    open_store: Callable[[], ZoneStore],
    settings: ServerSettings,
    *,
    ready: Callable[[list[tuple[str, int]]], None] | None = None,
) -> None:
    """Run one server process until interrupted (the launcher's unit of work)."""
    fast = install_uvloop()

    async def main() -> None:
        server = DnsServer(open_store(), settings, registry=REGISTRY)
        addresses = await server.start()
        log.warning(
            "serving %s on %s (%s, snapshot version %d, %d endpoints)",
            ", ".join(z.apex for z in settings.zones),
            ", ".join(f"{h}:{p}" for h, p in addresses),
            ("uvloop" if fast else "asyncio") + (", compiled UDP loop" if server.compiled else ""),
            server.responder.snapshot.version,
            server.responder.snapshot.endpoints,
        )
        if ready is not None:
            ready(addresses)
        try:
            await asyncio.Event().wait()
        finally:
            await server.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # cannot listen: one line saying why, not a traceback
        print(f"serve-dns: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(1) from None
