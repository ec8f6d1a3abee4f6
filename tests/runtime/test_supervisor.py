"""The `up` supervisor never prolongs an outage: back-off counts only failures since the
last healthy run, and the DNS server is started first and restarted at once."""

from __future__ import annotations

import sys
import time

import pytest

from zonewarden.runtime.supervisor import Child, Supervisor, restart_delay

pytestmark = pytest.mark.servers

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
CRASHER = [sys.executable, "-c", "raise SystemExit(3)"]


def wait_restarted(sup: Supervisor, child: Child, events: list[str], limit: float) -> float:
    """Poll like `up` does until `child` runs again; return how long that took."""
    old = child.proc
    start = time.monotonic()
    while child.proc is old or child.proc is None or child.proc.poll() is not None:
        assert time.monotonic() - start < limit, f"{child.role} not restarted in {limit}s: {events}"
        sup.poll(events.append)
        time.sleep(0.01)
    return time.monotonic() - start


def kill(child: Child) -> None:
    assert child.proc is not None
    child.proc.kill()
    child.proc.wait()


@pytest.fixture
def supervised(tmp_path):
    sups: list[Supervisor] = []

    def make(*children: Child, healthy_after: float) -> Supervisor:
        sup = Supervisor(list(children), tmp_path / "logs", healthy_after=healthy_after)
        sups.append(sup)
        sup.start()
        return sup

    yield make
    for sup in sups:
        sup.stop(timeout=2)


def test_backoff_resets_after_a_healthy_run(supervised):
    planner = Child("planner", SLEEPER)
    sup = supervised(planner, healthy_after=0.3)
    events: list[str] = []
    waits = []
    for _ in range(4):  # four kills, each after a healthy run (old code: 0.5, 1, 2, 4 s)
        time.sleep(0.35)
        kill(planner)
        waits.append(wait_restarted(sup, planner, events, limit=3.0))
    assert all(w < 0.9 for w in waits), waits
    assert planner.restarts == 1
    assert all("after" in e and "restarting in 0.5s" in e for e in events), events


def test_a_crash_loop_still_backs_off(supervised):
    planner = Child("planner", CRASHER)
    sup = supervised(planner, healthy_after=30)
    events: list[str] = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and len(events) < 2:
        sup.poll(events.append)
        time.sleep(0.01)
    assert ["restarting in 0.5s" in events[0], "restarting in 1.0s" in events[1]] == [True, True]
    assert [restart_delay(Child("planner", [], restarts=n)) for n in range(4)] == [
        0.5,
        1.0,
        2.0,
        4.0,
    ]
    assert restart_delay(Child("planner", [], restarts=50)) == 30.0


def test_dns_first_and_at_once(supervised):
    planner = Child("planner", SLEEPER)
    dns = Child("dns", SLEEPER)
    sup = supervised(planner, dns, healthy_after=0.3)
    assert [c.role for c in sup.children] == ["dns", "planner"]  # started first
    events: list[str] = []
    for _ in range(3):
        time.sleep(0.35)  # longer than healthy_after: each crash is a first one
        kill(planner)
        kill(dns)
        old_dns, old_planner = dns.proc, planner.proc
        sup.poll(events.append)  # the one poll that sees both dead
        assert dns.proc is not old_dns and dns.proc is not None and dns.proc.poll() is None
        assert planner.proc is old_planner  # the control plane waits its back-off
        wait_restarted(sup, planner, events, limit=10.0)
    assert events[0].startswith("dns exited") and "restarting at once" in events[0]
    assert restart_delay(Child("dns", [], restarts=0)) == 0.0
    assert 0 < restart_delay(Child("dns", [], restarts=3)) <= 5.0  # a crash loop waits a bit
