"""`zonewarden probe` against a live embedded server that is restarted on an older copy
of its store (a backup taken before newer plans, restored after): the SOA serial goes
back and the probe alerts serial-backwards within one interval. The control restarts
the same server on its own, newer store: no such alert."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.cli.test_cli import FlakyHealth
from tests.dns.peer_servers import wait_for_answer
from tests.ports import free_port

from zonewarden import config as cfg
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner

pytestmark = pytest.mark.servers
INTERVAL = 0.5


def zw(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zonewarden", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def publish_and_apply(config: cfg.Config, plans: int, start: float) -> None:
    store = open_store(config, create=True)
    try:
        planner = Planner(config, store, FlakyHealth(config.region))
        for i in range(plans):
            planner.once(start + i)
            store.apply_if_newer(
                store.newest(), list(config.region.endpoints), actor="test", now=start + i
            )
    finally:
        store.close()


class Lines:
    """The probe's JSON lines, read as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.items: list[dict[str, object]] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.items.append(json.loads(line))

    def summaries(self) -> int:
        return sum(1 for x in list(self.items) if x.get("summary"))

    def wait_summaries(self, n: int, within: float) -> None:
        deadline = time.monotonic() + within
        while self.summaries() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.summaries() >= n, f"only {self.summaries()} probe rounds in {within}s"

    def alert_rounds(self) -> list[int]:
        """For each serial-backwards alert, how many probe rounds had finished before it."""
        out, rounds = [], 0
        for x in list(self.items):
            if x.get("summary"):
                rounds += 1
            elif x.get("result") == "serial-backwards":
                out.append(rounds)
        return out


def serve_dns(config_path: Path, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "zonewarden", "serve-dns", "--config", str(config_path)]
    argv += ["--listen", f"127.0.0.1:{port}", "--rrl-rate", "0"]
    with (cwd / "dns.log").open("ab") as log:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    wait_for_answer(port, "example.", 60, proc)
    return proc


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("older_copy", [True, False], ids=["restored-older-copy", "control"])
def test_a_server_restarted_on_an_older_store_copy_alerts_serial_backwards(tmp_path, older_copy):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml())
    config = cfg.load(path)
    publish_and_apply(config, 2, 0.0)
    backup = tmp_path / "before.db"
    zw("store", "backup", "--config", str(path), str(backup), cwd=tmp_path)
    publish_and_apply(config, 3, 10.0)  # newer plans: the zone's version moves on
    # the probe's own view of the intended plan: a copy of the newer store
    view = tmp_path / "view"
    view.mkdir()
    zw("store", "backup", "--config", str(path), str(view / "region.db"), cwd=tmp_path)
    (view / "region.toml").write_text(path.read_text())
    assert cfg.load(view / "region.toml").store.path == view / "region.db"

    port = free_port()
    dns = serve_dns(path, port, tmp_path)
    argv = [sys.executable, "-m", "zonewarden", "probe", "--config", str(view / "region.toml")]
    argv += ["--server", f"127.0.0.1:{port}", "--interval", str(INTERVAL), "--json"]
    probe = subprocess.Popen(
        [*argv, "--timeout", "0.3", "--rounds", "60"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = Lines(probe)
        lines.wait_summaries(2, 30)
        before = lines.summaries()  # rounds finished while the newer zone was served
        stop(dns)
        if older_copy:  # the server comes back on the backup: an older zone
            for suffix in ("", "-wal", "-shm"):
                Path(f"{config.store.path}{suffix}").unlink(missing_ok=True)
            shutil.copy(backup, config.store.path)
        dns = serve_dns(path, port, tmp_path)
        back = lines.summaries()  # rounds finished before the server answered again
        lines.wait_summaries(back + 3, 30)
        rounds = lines.alert_rounds()
        if older_copy:
            # after the restart, and within one interval of it answering again: in the
            # round under way then or the next one
            assert len(rounds) == 1 and before <= rounds[0] <= back + 1, (rounds, before, back)
            alert = next(x for x in lines.items if x.get("result") == "serial-backwards")
            assert "went back" in str(alert["detail"])
        else:
            assert rounds == [], "no restart onto an older copy: no alert"
    finally:
        stop(probe)
        if probe.stdout is not None:
            probe.stdout.close()
        stop(dns)
    assert os.path.exists(config.store.path)
