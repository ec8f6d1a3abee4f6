"""The loopback LB: every mode a health checker must survive, in-process and as a process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from zonewarden.health.lbserver import LbServer, control

pytestmark = pytest.mark.servers


async def get(port: int, path: str, timeout: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def test_every_mode_in_process():
    async def run() -> None:
        lb = LbServer(capacity=120)
        await lb.start()
        assert (await get(lb.port, "/health")).startswith(b"HTTP/1.1 200")
        assert b'{"capacity": 120}' in await get(lb.port, "/capacity")
        lb.set("status", status=503)
        assert (await get(lb.port, "/health")).startswith(b"HTTP/1.1 503")
        lb.set("redirect")
        assert b"Location: " in await get(lb.port, "/health")
        lb.set("garbage")
        assert not (await get(lb.port, "/health")).startswith(b"HTTP/")
        lb.set("huge", size=100_000)
        assert len(await get(lb.port, "/health")) > 100_000
        lb.set("stall")
        with pytest.raises(TimeoutError):
            await get(lb.port, "/health", timeout=0.3)
        lb.set("ok", capacity="nan")
        assert b'{"capacity": nan}' in await get(lb.port, "/capacity")
        port = lb.port
        await lb.kill()
        with pytest.raises(OSError):
            await get(port, "/health")
        await lb.restart()
        assert lb.port == port
        assert (await get(port, "/health")).startswith(b"HTTP/1.1 200")
        with pytest.raises(ValueError, match="unknown mode"):
            lb.set("melt")
        await lb.kill()

    asyncio.run(run())


def test_only_loopback():
    with pytest.raises(ValueError, match="not a loopback address"):
        LbServer("192.0.2.1")


LISTEN = ["--listen", "127.0.0.1:0", "--listen", "127.0.3.7:0"]


def test_a_process_of_lbs_driven_through_the_control_path():
    with subprocess.Popen(  # on leaving: closes the pipe and waits for the process
        [sys.executable, "-m", "zonewarden.health.lbserver", *LISTEN],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            addresses = json.loads(proc.stdout.readline())["listening"]
            assert addresses[1].startswith("127.0.3.7:")
            assert control(addresses[1], "stall")["mode"] == "stall"
            assert control(addresses[1], "ok", capacity=7)["mode"] == "ok"
            with pytest.raises(ValueError, match="unknown mode"):
                control(addresses[0], "melt")
        finally:
            proc.terminate()
    assert proc.returncode == 0
