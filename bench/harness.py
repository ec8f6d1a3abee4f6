"""What the benchmarks (and the live tests that borrow it) start and stop the same way:
loopback ports, uvicorn servers in a thread, the 50,000-endpoint API region, Debian's
headless Chromium, polling until something holds, and stopping a child process.

Rules kept here:
- loopback only; a port is handed out only when it is free for both UDP and TCP (DNS
  servers bind both);
- Chromium is Debian's (/usr/bin/chromium) launched through Playwright with
  `executable_path`: never a downloaded browser;
- every server, browser and process started here is stopped by the same helper that
  started it (context managers), so nothing outlives a run;
- tests may import this module; it imports nothing from tests.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless=new",  # Debian's build, the new headless mode
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def free_port() -> int:
    """A port on 127.0.0.1 that is free for both UDP and TCP right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no loopback port is free for both UDP and TCP")


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def report(summary: dict[str, Any], ours: list[float], peer: list[float]) -> int:
    """Print a run's summary as JSON with the ratio of the medians (ours / the peer's,
    the figure to quote on a shared machine) and the load average; the exit status."""
    summary["ratio"] = round(statistics.median(ours) / statistics.median(peer), 2)
    summary["loadavg"] = loadavg()
    print(json.dumps(summary, indent=2))
    return 0


@contextmanager
def served(app: Any, within: float = 30.0) -> Iterator[int]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yields the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, within, "uvicorn to start", every=0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def api_region(endpoints: int) -> tuple[Any, Any]:
    """The benchmark region (bench/region.py) in a memory store: one plan, applied."""
    from bench.region import Shape, assignments, build_region

    from zonewarden.core.planner import build_draft
    from zonewarden.stores.memory import MemoryStore

    shape = Shape(endpoints=endpoints)
    region = build_region(shape, assignments(shape))
    store = MemoryStore()
    plan = store.publish(build_draft(region, {}), source="bench", actor="bench", now=time.time())
    store.apply_if_newer(plan.generation, list(region.endpoints), actor="bench", now=time.time())
    return region, store


@contextmanager
def chromium(viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """A persistent Playwright context over Debian's headless Chromium."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(
            "Debian's chromium is missing: run scripts/install-test-deps.sh "
            "(scripts/apt/browser.txt)"
        )
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="zw-chromium-")
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=False,  # --headless=new in the flags instead
                args=list(CHROMIUM_FLAGS),
                viewport=viewport or {"width": 1400, "height": 1100},
            )
            try:
                yield ctx
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class WaitTimeout(AssertionError):
    """What was waited for did not happen in time (an AssertionError, so a test fails)."""


def wait_for(
    check: Callable[[], object],
    within: float,
    what: str,
    log: Path | None = None,
    *,
    proc: subprocess.Popen[Any] | None = None,
    every: float = 0.1,
) -> float:
    """Seconds until `check()` is true, polling every `every` s. Raises WaitTimeout after
    `within` s, or at once when `proc` exited, with the tail of `log` if given."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if check():
            return time.monotonic() - start
        if proc is not None and proc.poll() is not None:
            raise WaitTimeout(f"{what}: the process exited with {proc.returncode}{_tail(log)}")
        time.sleep(every)
    raise WaitTimeout(f"{what} not within {within}s{_tail(log)}")


def _tail(log: Path | None) -> str:
    return f":\n{log.read_text()[-3000:]}" if log is not None and log.exists() else ""


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
    """Ask a child to stop with `sig`; kill it if it has not within `timeout` s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
