"""A loopback load balancer for tests, benchmarks and `up`'s demo region.

One small asyncio HTTP/1.1 server per LB address answers a health path (`/health`,
200 "ok") and a capacity path (`/capacity`, JSON `{"capacity": N}`), and can be made to
misbehave on demand:

| mode       | what a client sees                                              |
| ---------- | --------------------------------------------------------------- |
| `ok`       | 200 on the health path, the capacity JSON on the capacity path  |
| `status`   | the health path answers `status` (e.g. 503)                     |
| `stall`    | the connection is accepted and never answered                   |
| `slow`     | answers after `delay` seconds                                   |
| `garbage`  | bytes that are not HTTP, then close                             |
| `redirect` | 302 to `location`                                               |
| `huge`     | 200 with a body of `size` bytes                                 |
| killed     | nothing listens (`kill()`); `restart()` listens on the same port |

The control path `/_control?mode=...&delay=...&status=...&capacity=...` is always
answered, whatever the mode, so a test can drive a server in another process;
`capacity` there may be any text (`-5`, `nan`, `oops`) to feed the capacity path
nonsense. Run one process with many LBs: `python -m zonewarden.health.lbserver --listen
127.0.0.1:0 --listen 127.0.2.1:0 [--capacity N, once or once per --listen]`; it
prints `{"listening": [...]}` once ready.
Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import ipaddress
import json
import signal
import ssl
import sys
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

MODES = ("ok", "status", "stall", "slow", "garbage", "redirect", "huge")
MAX_REQUEST = 16 * 1024


@dataclass
class Behaviour:
    """What the server does now; changed by `LbServer.set` or the control path."""

    mode: str = "ok"
    status: int = 503
    delay: float = 1.0
    location: str = "http://127.0.0.1:1/elsewhere"
    size: int = 1 << 20
    capacity: str = "100"  # the capacity path's value, verbatim in the JSON
    served: int = field(default=0)
    host: str = ""  # the Host header of the newest request (a test checks what probes send)


def loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"{host} is not a loopback address; the test LB serves only loopback")
    return host


class LbServer:
    """One LB address on loopback. Start with `await start()`; `port` is then bound."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        capacity: int = 100,
        health_path: str = "/health",
        capacity_path: str = "/capacity",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = loopback(host), port
        self.health_path, self.capacity_path, self.tls = health_path, capacity_path, tls
        self.behaviour = Behaviour(capacity=str(capacity))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self.tls, reuse_address=True, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def kill(self) -> None:
        """Stop listening and cut every open connection, as a crashed LB would."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restart(self) -> None:
        await self.kill()
        await self.start()

    def set(self, mode: str, **params: object) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
        self.behaviour.mode = mode
        for key, value in params.items():
            current = getattr(self.behaviour, key)
            setattr(self.behaviour, key, type(current)(value))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # the connection's end (kill, loop shutdown): finish quietly, since asyncio
            # 3.11's stream callback logs a cancelled handler task as an error
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_REQUEST:
            return
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        target = urlsplit(parts[1] if len(parts) > 1 else "/")
        if target.path == "/_control":
            await self._control(writer, parse_qs(target.query))
            return
        b = self.behaviour
        b.served += 1
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"host":
                b.host = value.strip().decode("latin-1")
        if b.mode == "stall":
            await asyncio.Event().wait()  # accepted, never answered; cancelled on close
        if b.mode == "slow":
            await asyncio.sleep(b.delay)
        if b.mode == "garbage":
            writer.write(b"\x00\xffnot http at all\r\n\r\n")
            await writer.drain()
            return
        if b.mode == "redirect":
            await _respond(writer, 302, b"", extra=f"Location: {b.location}\r\n")
            return
        if target.path == self.capacity_path:
            await _respond(
                writer, 200, f'{{"capacity": {b.capacity}}}'.encode(), "application/json"
            )
        elif target.path != self.health_path:
            await _respond(writer, 404, b"not found\n")
        elif b.mode == "status":
            await _respond(writer, b.status, b"unhealthy\n")
        elif b.mode == "huge":
            await _respond(writer, 200, b"x" * b.size)
        else:
            await _respond(writer, 200, b"ok\n")

    async def _control(self, writer: asyncio.StreamWriter, query: dict[str, list[str]]) -> None:
        params = {k: v[-1] for k, v in query.items()}
        mode = params.pop("mode", self.behaviour.mode)
        try:
            self.set(mode, **params)
        except (ValueError, AttributeError, TypeError) as exc:
            await _respond(writer, 400, f"{exc}\n".encode())
            return
        body = {"mode": self.behaviour.mode, "served": self.behaviour.served}
        await _respond(writer, 200, json.dumps(body).encode(), "application/json")


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    content_type: str = "text/plain",
    extra: str = "",
) -> None:
    reason = http.client.responses.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()


def control(address: str, mode: str, timeout: float = 5.0, **params: object) -> dict[str, object]:
    """Set the mode of an LB server (in any process) through its control path."""
    host, port = address.rsplit(":", 1)
    query = "&".join([f"mode={mode}", *(f"{k}={v}" for k, v in params.items())])
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", f"/_control?{query}")
        resp = conn.getresponse()
        body = resp.read().decode()
        if resp.status != 200:
            raise ValueError(f"LB {address} refused {mode!r}: {body.strip()}")
        result: dict[str, object] = json.loads(body)
        return result
    finally:
        conn.close()


async def serve(listen: list[str], capacity: int | list[int], tls: ssl.SSLContext | None) -> None:
    """Serve every `listen` address; `capacity` is one value for all or one per address."""
    capacities = capacity if isinstance(capacity, list) else [capacity] * len(listen)
    servers = []
    for item, cap in zip(listen, capacities, strict=True):
        host, port = item.rsplit(":", 1)
        server = LbServer(host.strip("[]"), int(port), capacity=cap, tls=tls)
        await server.start()
        servers.append(server)
    print(json.dumps({"listening": [s.address for s in servers]}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        await server.kill()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Loopback load balancers for tests and demos.")
    p.add_argument("--listen", action="append", required=True, help="HOST:PORT (port 0: any)")
    p.add_argument(
        "--capacity",
        type=int,
        action="append",
        help="the capacity path's value: once for all, or once per --listen (default 100)",
    )
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", help="the certificate's key (PEM)")
    args = p.parse_args(argv)
    capacity = args.capacity or [100]
    if len(capacity) not in (1, len(args.listen)):
        p.error(
            f"give --capacity once or once per --listen ({len(args.listen)}), not {len(capacity)}"
        )
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    try:
        from zonewarden.health.prober import fast_loop_factory

        with asyncio.Runner(loop_factory=fast_loop_factory()) as runner:
            runner.run(serve(args.listen, capacity if len(capacity) > 1 else capacity[0], tls))
    except (ValueError, OSError) as exc:
        print(f"lbserver: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
