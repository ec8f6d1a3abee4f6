"""`zonewarden up` with no config: its own loopback load balancers, health-checked live
by the planner. A broken LB's addresses leave DNS and come back when mended; killing the
LB process (every LB fails at once) makes the planner hold the last good plan
(fail-static, DNS never empty) while `up` restarts it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import pytest
from bench.harness import stop, wait_for
from tests.ports import free_port

import dns.query
from zonewarden.runtime.handover import leftover

pytestmark = pytest.mark.servers
NAME = "kv.us-east-1.example."
LB = "lb-1a"
LB_ADDRESS = "127.0.1.1"


def zw(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def addresses(port: int) -> set[str] | None:
    """The A records of NAME, or None when the server did not answer NOERROR."""
    try:
        r = dns.query.udp(dns.message.make_query(NAME, "A"), "127.0.0.1", port=port, timeout=0.3)
    except (dns.exception.Timeout, OSError):
        return None
    if r.rcode() != dns.rcode.NOERROR:
        return None
    return {a.address for rr in r.answer for a in rr}


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def region(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    out = tmp_path / "up.out"
    with out.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zonewarden",
                "up",
                "--quiet",
                "--no-api",
                "--duration",
                "180",
                "--dns-listen",
                f"127.0.0.1:{port}",
            ],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield tmp_path, proc, port, out
    finally:
        stop(proc, signal.SIGINT, timeout=20)
        stale = leftover(tmp_path / ".zonewarden" / "dns.pid")
        if stale is not None:
            stale.kill()


def test_a_broken_demo_lb_leaves_dns_and_returns_and_killing_all_holds_the_plan(region):
    cwd, proc, port, out = region
    wait_for(lambda: LB_ADDRESS in (addresses(port) or ()), 60, "a first answer", out)
    config = (cwd / ".zonewarden" / "demo.toml").read_text()
    assert 'health = "probe"' in config and "lb_servers = true" in config
    text = out.read_text()
    assert "zonewarden lb break" in text and "demo load balancers" in text

    health = json.loads(zw(cwd, "health", "--json").stdout)
    assert len(health["lbs"]) == 12 and all(row["healthy"] for row in health["lbs"].values())

    broke = zw(cwd, "lb", "break", LB)
    assert broke.returncode == 0, broke.stdout + broke.stderr
    wait_for(lambda: LB_ADDRESS not in (addresses(port) or {LB_ADDRESS}), 20, "lb-1a out", out)
    assert len(addresses(port) or ()) >= 7, "only the broken LB leaves"

    def planner_view() -> dict:
        return json.loads(zw(cwd, "health", "--json").stdout)["by_vantage"]["planner"]

    # the health status is written after the plan it explains: DNS may show it first
    wait_for(lambda: LB in planner_view()["down"], 20, "health shows lb-1a down", out)
    assert planner_view()["lbs"] == 12
    assert zw(cwd, "lb", "mend", LB).returncode == 0
    wait_for(lambda: LB_ADDRESS in (addresses(port) or ()), 30, "lb-1a back", out)

    lbs = [p for p in children(proc.pid) if "zonewarden.health.lbserver" in cmdline(p)]
    assert len(lbs) == 1, [cmdline(p) for p in children(proc.pid)]
    os.kill(lbs[0], signal.SIGKILL)  # every LB fails at once: implausible, so hold
    empty = 0
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        got = addresses(port)
        empty += got is not None and not got
        time.sleep(0.1)
    assert empty == 0, "DNS must never answer empty"
    wait_for(lambda: "lbs exited" in out.read_text(), 10, "the lbs restart", out)
    audit = zw(cwd, "audit", "--json", "--tail", "200").stdout
    kinds = {e["kind"] for e in json.loads(audit)}
    assert "fail-static" in kinds or "held-back" in kinds, kinds

    refused = zw(cwd, "lb", "break", "lb-9z")
    assert refused.returncode != 0 and "known:" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
