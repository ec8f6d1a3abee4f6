"""Fixtures: a live embedded server (in a background thread) over a MemoryStore."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from zonewarden.backends.embedded.server import DnsServer
from zonewarden.backends.embedded.settings import ServerSettings, ZoneSettings
from zonewarden.backends.embedded.synthetic import load, synthetic_contents
from zonewarden.stores.memory import MemoryStore

APEX = "example."


@dataclass
class LiveServer:
    server: DnsServer
    store: MemoryStore
    port: int
    port6: int | None
    loop: asyncio.AbstractEventLoop

    def call(self, fn, *args):  # run `fn` on the server's loop and wait for it
        return asyncio.run_coroutine_threadsafe(_call(fn, *args), self.loop).result(10)


async def _call(fn, *args):
    return fn(*args)


def start_server(store: MemoryStore, **settings) -> tuple[LiveServer, threading.Thread]:
    """A server on free loopback ports. Response rate limiting is off unless asked for
    (`rrl_rate=...`): the functional suites send thousands of queries for a few names
    from one address, which is exactly what RRL exists to limit; tests/dns/test_rrl.py
    runs it with its defaults."""
    settings.setdefault("rrl_rate", 0)
    listen = ("127.0.0.1:0", "[::1]:0") if _has_ipv6() else ("127.0.0.1:0",)
    cfg = ServerSettings(
        zones=(ZoneSettings(APEX),), listen=settings.pop("listen", listen), **settings
    )
    loop = asyncio.new_event_loop()
    server = DnsServer(store, cfg, random.Random(7))
    addrs = loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port6 = addrs[1][1] if len(addrs) > 1 else None
    return LiveServer(server, store, addrs[0][1], port6, loop), thread


def stop_server(live: LiveServer, thread: threading.Thread) -> None:
    asyncio.run_coroutine_threadsafe(live.server.close(), live.loop).result(10)
    live.loop.call_soon_threadsafe(live.loop.stop)
    thread.join(10)
    live.loop.close()


def _has_ipv6() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def zone_store() -> MemoryStore:
    store = MemoryStore(keep_audit=False)
    load(store, synthetic_contents(300, APEX))
    return store


UDP_PATHS = {
    "compiled-batches": {"batched_udp": True, "compiled_udp": True},
    "python-batches": {"batched_udp": True, "compiled_udp": False},
    "datagram-protocol": {"batched_udp": False},
}


@pytest.fixture(scope="module", params=sorted(UDP_PATHS))
def live(zone_store: MemoryStore, request) -> Iterator[LiveServer]:
    """The server with each UDP path: recvmmsg batches answered by the compiled loop and
    by the Python one (Linux), and asyncio's protocol."""
    server, thread = start_server(
        zone_store, tcp_idle_timeout=1.0, tcp_max_connections=16, **UDP_PATHS[request.param]
    )
    if request.param == "compiled-batches" and not server.server.compiled:
        stop_server(server, thread)
        pytest.fail("the compiled UDP loop was not built: pip install -e . with gcc present")
    yield server
    stop_server(server, thread)


@pytest.fixture
def fresh_live() -> Iterator[LiveServer]:
    """A server over its own small store, for tests that change the zone."""
    store = MemoryStore(keep_audit=False)
    load(store, synthetic_contents(12, APEX))
    server, thread = start_server(store, poll_interval=0.02)
    yield server
    stop_server(server, thread)
