"""Static stability of the data plane across a killed `up`: the DNS server's pidfile.

`up` starts its DNS server so that it does not die with `up` (no parent-death signal,
its own session), and records it in `<state dir>/dns.pid` with the argv it runs. When
`up` is killed (even SIGKILL) the control plane stops but the DNS server keeps
answering from its last snapshot. The next `up` on the same store reads the pidfile: a
live server started with the same argv is adopted as it is, so the port never goes
dark; anything else (another argv, a dead pid, a pid reused by an unrelated process)
is replaced.

Rules kept here:
- a pid is trusted only if /proc/<pid>/cmdline is exactly the recorded argv;
- an adopted server is stopped by the `up` that adopted it, like its own children.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


@dataclass
class AdoptedProcess:
    """A process that is not our child, driven like a Popen (poll, signal, wait, kill)."""

    pid: int
    argv: list[str]
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and _cmdline(self.pid) != self.argv:
            self.returncode = -1  # gone (or its pid now names another program)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                self.returncode = -1

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                import subprocess

                raise subprocess.TimeoutExpired(self.argv, timeout or 0.0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode


def record(pidfile: Path, pid: int, argv: list[str]) -> None:
    tmp = pidfile.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "argv": argv}))
    tmp.replace(pidfile)


def adoptable(pidfile: Path, argv: list[str]) -> AdoptedProcess | None:
    """The DNS server a killed `up` left running with exactly `argv`, if any."""
    try:
        data = json.loads(pidfile.read_text())
        pid, recorded = int(data["pid"]), list(data["argv"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if recorded != argv or _cmdline(pid) != argv:
        return None
    return AdoptedProcess(pid, argv)


def leftover(pidfile: Path) -> AdoptedProcess | None:
    """Any live DNS server the pidfile names (to stop it when it cannot be adopted)."""
    try:
        data = json.loads(pidfile.read_text())
        pid, recorded = int(data["pid"]), list(data["argv"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return AdoptedProcess(pid, recorded) if _cmdline(pid) == recorded else None
