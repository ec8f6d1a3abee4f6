"""The 2025 trigger on real processes: three enactor processes on one SQLite file, a
planner publishing every few tens of milliseconds, one enactor repeatedly SIGSTOPped
and resumed for random spans, and an observer checking I1-I5 on every read.

safe must show no violation and converge; legacy must show a violation. A safety test
whose unsafe twin passes proves nothing.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.runtime.observer import Observer

from zonewarden.config import demo_toml
from zonewarden.runtime.supervisor import die_with_parent
from zonewarden.stores.sqlite import SqliteStore

pytestmark = pytest.mark.servers


def race_config(tmp: Path, protocol: str) -> Path:
    text = demo_toml(planner_interval=0.03, protocol=protocol)
    # history off: clean-up runs on every plan, as in 2025 (the legacy twin needs it)
    text = text.replace(
        "poll_interval = 0.2",
        "poll_interval = 0.01\nbatch_size = 1\nretention = 8\nkeep_newest = 2\nbackoff_base = 0.005\nbackoff_cap = 0.05\nhistory_age = 0\nhistory_count = 0",
    )
    text = text.replace("[planner]", "[planner]\nmax_removal = 1.0")
    path = tmp / "race.toml"
    path.write_text(text)
    return path


def spawn(*args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start one role; its stderr goes to `log` (a pipe nobody reads would fill up and
    freeze a process that logs every retry, e.g. during a store outage)."""
    with contextlib.ExitStack() as files:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "zonewarden", *args],
            preexec_fn=die_with_parent,
            stdout=subprocess.DEVNULL,
            stderr=files.enter_context(log.open("ab")) if log is not None else subprocess.DEVNULL,
        )


def run_race(
    tmp: Path,
    protocol: str,
    seconds: float,
    *,
    seed: int,
    store: Any = None,
    cfg: Path | None = None,
    on_tick: Callable[[float], None] | None = None,
    until: Callable[[], bool] | None = None,
    bound: float = 0.0,
) -> tuple[Observer, Any, list[subprocess.Popen[bytes]]]:
    """Run the race for `seconds`; `store`/`cfg` default to an SQLite region in `tmp`,
    and `on_tick(elapsed)` runs after every observation (fault injection hooks in here).
    With `until`, the race goes on past `seconds` until `until()` (what the test needs
    to have happened, checked every 0.1 s), for at most `bound` seconds in all."""
    cfg = cfg or race_config(tmp, protocol)
    store = store if store is not None else SqliteStore(tmp / "region.db")
    observer = Observer(store)
    procs = [spawn("planner", "--config", str(cfg), log=tmp / "planner.log")]
    common = ("--protocol", protocol, "--config", str(cfg))
    # az1 is the 2025 victim: first to pick up each plan (it polls fastest), then slow
    # (a delay before every write) and paused at random, so it holds old plans
    victim_knobs = ("--write-delay", "0.15", "--poll-interval", "0.003")
    procs.append(spawn("enactor", "--id", "az1", *common, *victim_knobs, log=tmp / "az1.log"))
    procs += [
        spawn(
            "enactor", "--id", f"az{i}", *common, "--poll-interval", "0.04", log=tmp / f"az{i}.log"
        )
        for i in (2, 3)
    ]
    victim = procs[1]
    wait_for_first_plan(store, procs, tmp / "planner.log")
    started = time.monotonic()  # the race's clock starts once there is something to race
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    last = started + max(bound, seconds)  # the bound on `until`
    next_until = deadline
    next_toggle, stopped = time.monotonic() + rng.uniform(0.1, 0.3), False
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                if until is None or now >= last:
                    break
                if now >= next_until:
                    if until():
                        break
                    next_until = now + 0.1
            observer.check_once()
            if on_tick is not None:
                on_tick(time.monotonic() - started)
            if protocol == "legacy" and any(v.split()[1] == "I1:" for v in observer.violations):
                break  # the 2025 outcome itself: an empty answer
            if protocol == "legacy" and observer.violations:
                deadline = min(deadline, time.monotonic() + 3.0)
            if time.monotonic() >= next_toggle:
                victim.send_signal(signal.SIGCONT if stopped else signal.SIGSTOP)
                stopped = not stopped
                next_toggle = time.monotonic() + (
                    rng.uniform(0.2, 0.8) if stopped else rng.uniform(0.05, 0.3)
                )
            time.sleep(0.003)
    except BaseException:
        stop(procs)  # never leave role processes behind a failed run
        raise
    finally:
        if stopped:
            victim.send_signal(signal.SIGCONT)
    return observer, store, procs


def wait_for_first_plan(
    store: Any, procs: list[subprocess.Popen[bytes]], log: Path, seconds: float = 60.0
) -> None:
    """Wait until the planner has published (a loaded box can take seconds to start the
    role processes); a planner that exits or never publishes fails with its log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if store.newest() > 0:
                return
        except Exception:  # the planner may still be creating the store
            pass
        if procs[0].poll() is not None:
            break
        time.sleep(0.02)
    stop(procs)
    raise AssertionError(f"the planner published nothing: {log.read_text()[-2000:]}")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def test_safe_protocol_holds_every_invariant_and_converges(tmp_path):
    store = SqliteStore(tmp_path / "region.db")

    def enough() -> bool:  # a loaded box plans slowly: race on until there is a race
        return store.newest() > 50 and any(
            e.kind == "fenced" and e.actor == "az1" for e in store.audit_log(limit=1_000_000)
        )

    observer, store, procs = run_race(
        tmp_path,
        "safe",
        seconds=8.0,
        seed=int(os.environ.get("RACE_SEED", "7")),
        store=store,
        until=enough,
        bound=40.0,
    )
    try:
        planner = procs[0]
        planner.terminate()
        planner.wait(timeout=10)
        newest = store.newest()
        converge_by = time.monotonic() + 15
        while time.monotonic() < converge_by:
            observer.check_once()
            if set(store.applied().values()) == {newest}:
                break
            time.sleep(0.05)
        observer.check_once()
    finally:
        stop(procs)
    assert observer.reads > 100, "the observer must actually have watched the race"
    assert newest > 50, f"the planner should have published many generations, got {newest}"
    fenced = [
        e for e in store.audit_log(limit=1_000_000) if e.kind == "fenced" and e.actor == "az1"
    ]
    assert fenced, "the slow, paused enactor must have been fenced out at least once"
    assert observer.violations == []
    assert set(store.applied().values()) == {newest}, (
        f"not converged: {store.applied()} newest {newest}"
    )
    assert all(e.content.records for e in store.read_zone().values())
    print(f"safe: {observer.reads} reads, newest {newest}, {len(fenced)} stale writes fenced")


def test_legacy_protocol_is_caught_by_the_same_checks(tmp_path):
    observer, _, procs = run_race(
        tmp_path, "legacy", seconds=25.0, seed=int(os.environ.get("RACE_SEED", "7"))
    )
    stop(procs)
    kinds = {v.split()[1].rstrip(":") for v in observer.violations}
    assert kinds & {"I1", "I3", "I5"}, (
        f"legacy must regress or go empty; saw {observer.violations[:5]}"
    )
    print(f"legacy: violations {sorted(kinds)}; first: {observer.violations[0]}")
