"""The 2025 outcome as a DNS client sees it: the core issue's multi-process race
(tests/runtime/test_race.py: planner, three enactors, one slow and paused at random) with
`zonewarden serve-dns` serving the same store and a probe querying every endpoint.

legacy: the probe must see the empty NOERROR answer of October 2025. The random race
reliably shows legacy regressing (tests/runtime) but not always emptying a name within a
bounded run, so the empty answer is asserted on the deterministic 2025 interleaving of
tests/core, replayed against a SQLite store that a separate serve-dns process serves.
safe: the probe never sees an empty answer, in the interleaving and in the race.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.rcode
import pytest

import dns.query
from tests.core.test_enactor import A, B, Driver, publish
from tests.dns.peer_servers import free_port, wait_for_answer
from tests.runtime.test_race import race_config, spawn, stop
from zonewarden.core.actions import ApplyIfNewer, DeletePlans, LegacyDeleteOlder, TryLock
from zonewarden.core.region import demo_region
from zonewarden.stores.sqlite import SqliteStore

pytestmark = pytest.mark.servers
ZONEWARDEN = str(Path(sys.executable).parent / "zonewarden")


@dataclass
class Probe:
    port: int
    answered: int = 0
    empty: int = 0
    first_empty: str = ""
    running: bool = True

    def run(self) -> None:
        questions = [
            (name, str(rtype))
            for name, ep in demo_region().endpoints.items()
            for rtype in ep.record_types
        ]
        while self.running:
            for name, rtype in questions:
                try:
                    q = dns.message.make_query(name, rtype)
                    r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
                except Exception:
                    continue
                if r.rcode() == dns.rcode.NOERROR:
                    self.answered += 1
                    if not r.answer:
                        self.empty += 1
                        self.first_empty = self.first_empty or f"{name} {rtype}"
            time.sleep(0.005)


def race(tmp: Path, cfg: Path, protocol: str, probe: Probe, seconds: float) -> list:
    """run_race's processes and SIGSTOP schedule, stopped early once the probe saw an
    empty answer (the observer of run_race stops at the first violation of any kind)."""
    common = ("--protocol", protocol, "--config", str(cfg))
    procs = [spawn("planner", "--config", str(cfg))]
    procs.append(
        spawn(
            "enactor", "--id", "az1", *common, "--write-delay", "0.15", "--poll-interval", "0.003"
        )
    )
    procs += [
        spawn("enactor", "--id", f"az{i}", *common, "--poll-interval", "0.04") for i in (2, 3)
    ]
    rng = random.Random(7)
    deadline = time.monotonic() + seconds
    next_toggle, stopped = time.monotonic() + rng.uniform(0.1, 0.3), False
    while time.monotonic() < deadline and not probe.empty:
        if time.monotonic() >= next_toggle:
            procs[1].send_signal(signal.SIGCONT if stopped else signal.SIGSTOP)
            stopped = not stopped
            next_toggle = time.monotonic() + (
                rng.uniform(0.2, 0.8) if stopped else rng.uniform(0.05, 0.3)
            )
        time.sleep(0.01)
    return procs


def race_with_probe(tmp: Path, protocol: str, seconds: float) -> Probe:
    cfg = race_config(tmp, protocol)
    SqliteStore(tmp / "region.db").close()  # the schema, so serve-dns can open it
    port = free_port()
    server = subprocess.Popen(
        [ZONEWARDEN, "serve-dns", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL,
    )
    probe = Probe(port)
    thread = threading.Thread(target=probe.run, daemon=True)
    procs = []
    try:
        wait_for_answer(port, "example.", 30.0, server)  # the apex answers at once
        thread.start()
        procs = race(tmp, cfg, protocol, probe, seconds)
        time.sleep(0.3)
    finally:
        probe.running = False
        if thread.is_alive():
            thread.join(5)
        stop(procs)
        server.terminate()
        server.wait(10)
    return probe


def probe_once(port: int, names: list[str]) -> list[str]:
    """The names answered NOERROR with no records right now."""
    empty = []
    for n in names:
        r = dns.query.udp(dns.message.make_query(n, "A"), "127.0.0.1", port=port, timeout=2)
        if r.rcode() == dns.rcode.NOERROR and not r.answer:
            empty.append(n)
    return empty


def interleaving_2025(tmp: Path, protocol: str) -> list[str]:
    """tests/core's deterministic 2025 interleaving, against a SQLite store that a separate
    serve-dns process serves; the probe asks after every step. Returns what it saw empty."""
    store = SqliteStore(tmp / "region.db")
    publish(store, 1)
    port = free_port()
    argv = [ZONEWARDEN, "serve-dns", "--store", str(tmp / "region.db"), "--zone", "example."]
    server = subprocess.Popen([*argv, "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    seen: list[str] = []
    try:
        wait_for_answer(port, "example.", 30.0, server)
        names = [str(A), str(B)]

        def observe() -> None:
            time.sleep(0.08)  # > 2 poll intervals: the server has the new snapshot
            seen.extend(probe_once(port, names))

        slow, fast = Driver(store, "slow", protocol), Driver(store, "fast", protocol)
        slow.until(ApplyIfNewer if protocol == "safe" else TryLock)
        for i in range(2, 6):
            publish(store, i)
        fast.until(DeletePlans if protocol == "safe" else LegacyDeleteOlder)
        observe()
        for _ in range(1 if protocol == "safe" else 2):
            slow.step()
            observe()
        fast.step()
        observe()
        for _ in range(20):
            slow.step()
            fast.step()
        observe()
    finally:
        server.terminate()
        server.wait(10)
        store.close()
    return seen


def test_legacy_2025_interleaving_serves_the_empty_answer(tmp_path):
    seen = interleaving_2025(tmp_path, "legacy")
    assert seen, "legacy must empty a served name in the 2025 interleaving"


def test_safe_2025_interleaving_never_serves_an_empty_answer(tmp_path):
    assert interleaving_2025(tmp_path, "safe") == []


def test_safe_race_never_serves_an_empty_answer(tmp_path):
    probe = race_with_probe(tmp_path, "safe", seconds=6.0)
    assert probe.answered > 200, "the probe must actually have watched the race"
    assert probe.empty == 0, f"safe served an empty answer: {probe.first_empty}"
