"""`zonewarden up`: one region on this machine, every role its own OS process.

Rules kept here:
- one `up` per store: an exclusive, non-blocking lock on `<store>.up.lock`; a second
  `up` fails at once, naming the holder's pid;
- children are `python -m zonewarden <role> --config FILE`, so `up` runs exactly what an
  operator would run by hand on several machines; with `[demo] lb_servers` one more
  child (`lbs`, zonewarden.health.lbserver) serves the demo's load balancers at their
  check addresses, dies with `up` and is restarted like any role;
- a child that dies is restarted with back-off (enactors are independent; losing one
  must not stop the region) and the restart is logged; the back-off counts only the
  failures since the child last ran healthily for `healthy_after` seconds, so a crash
  after a long good run is restarted as fast as the first one;
- the DNS server is the data plane: it is started first, handled first when several
  children died, and restarted at once after a healthy run (only a crash loop waits);
- each child's log keeps space reserved (runtime/logspace.py), and `up` says once when
  the disk holding the logs (and usually the store) is full, and when it has room again;
- the DNS server outlives `up` (no parent-death signal; recorded in a pidfile): a
  killed `up` leaves it answering from its last snapshot, and the next `up` adopts it
  (runtime/handover.py) instead of opening a gap on the port;
- SIGINT/SIGTERM stop every child, then `up` exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zonewarden.config import Config
from zonewarden.core.backoff import backoff_ceiling
from zonewarden.errors import StoreBusy
from zonewarden.runtime import logspace
from zonewarden.runtime.handover import AdoptedProcess, adoptable, leftover, record
from zonewarden.runtime.roles import OWNER_ENV
from zonewarden.stores.integrity import classify_os_error

_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Run in a child before exec: on Linux, get SIGTERM when the parent dies, so a
    killed `up` (or test) never leaves orphaned enactors writing to the store. It only
    calls a function resolved at import time: nothing that could take a lock."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    role: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | AdoptedProcess | None = None
    restarts: int = 0  # restarts since the child last ran healthily
    next_start: float = 0.0
    log: Path | None = None
    started_at: float = 0.0
    pidfile: Path | None = None  # set: outlives `up`, adopted by the next one

    @property
    def data_plane(self) -> bool:
        return self.role == "dns"


BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
HEALTHY_AFTER = 10.0  # seconds of running that count as a healthy run
FULL_BELOW = 64 * 1024  # free bytes under which the disk counts as full


def restart_delay(child: Child) -> float:
    """How long to wait before restarting `child`, from its failures since a healthy run."""
    if child.data_plane:  # DNS: at once, then back off only if it keeps crashing
        return 0.0 if child.restarts == 0 else backoff_ceiling(0.1, 5.0, child.restarts - 1)
    return backoff_ceiling(BACKOFF_BASE, BACKOFF_CAP, child.restarts)


@dataclass
class UpLock:
    """Exclusive ownership of a store by one `up`."""

    path: Path
    fd: int = field(default=-1)

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only mount, permissions, a full disk: say which
            raise classify_os_error(self.path, exc, "create the lock") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreBusy(
                f"another `zonewarden up` (pid {holder}) already runs the region in {self.path.parent}; "
                "stop it first (Ctrl-C in its terminal, or kill that pid), or use another --config"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def child_roles(
    config: Config,
    config_path: Path,
    *,
    with_dns: bool,
    protocol: str,
    dns_listen: list[str] | None = None,
    api_listen: str | None = None,
    enactor_args: dict[str, list[str]] | None = None,
    dns_metrics_listen: str | None = None,
) -> list[Child]:
    """The region's processes; `api_listen` None starts no API, `enactor_args` adds
    arguments to named enactors (the race scenario's slow enactor)."""
    base = [sys.executable, "-m", "zonewarden"]
    cfg = ["--config", str(config_path.resolve())]
    children = []
    if config.demo.get("lb_servers"):
        children.append(Child("lbs", demo_lb_argv(config)))
    children.append(Child("planner", [*base, "planner", *cfg]))
    for enactor_id in config.enactors.ids:
        extra = (enactor_args or {}).get(enactor_id, [])
        children.append(
            Child(
                f"enactor {enactor_id}",
                [*base, "enactor", "--id", enactor_id, "--protocol", protocol, *extra, *cfg],
            )
        )
    if protocol == "safe":
        children.append(Child("reconciler", [*base, "reconciler", *cfg]))
    if api_listen is not None:
        children.append(Child("api", [*base, "api", "--listen", api_listen, *cfg]))
    if with_dns:
        listen = dns_listen or list(config.dns.get("listen", ["127.0.0.1:5353"]))
        argv = [*base, "serve-dns", *cfg]
        for addr in listen:
            argv += ["--listen", addr]
        if dns_metrics_listen:
            argv += ["--metrics-listen", dns_metrics_listen]
        pidfile = config.store.path.parent / "dns.pid"
        children.append(Child("dns", argv, pidfile=pidfile))
    return children


def demo_lb_argv(config: Config) -> list[str]:
    """One process serving every [[lb]]'s check address (`[demo] lb_servers`), each
    LB's capacity path answering its configured capacity."""
    argv = [sys.executable, "-m", "zonewarden.health.lbserver"]
    for lb_id, target in sorted(config.health.checks.items()):
        host = f"[{target.host}]" if ":" in target.host else target.host
        argv += ["--listen", f"{host}:{target.port}", "--capacity"]
        argv.append(str(config.region.lbs[lb_id].capacity))
    return argv


class Supervisor:
    def __init__(
        self, children: list[Child], log_dir: Path, *, healthy_after: float = HEALTHY_AFTER
    ) -> None:
        # the data plane first: started first, restarted first
        self.children = sorted(children, key=lambda c: not c.data_plane)
        self.log_dir = log_dir
        self.healthy_after = healthy_after
        self.stopping = False
        self._disk_full = False
        self._next_space_check = 0.0

    def start(self, on_event: Callable[[str], None] = lambda _: None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for child in self.children:
            if child.pidfile is not None:
                adopted = adoptable(child.pidfile, child.argv)
                if adopted is not None:
                    child.proc, child.started_at = adopted, time.monotonic()
                    child.log = self.log_dir / (child.role.replace(" ", "-") + ".log")
                    on_event(
                        f"{child.role}: adopted the server a previous `up` left running "
                        f"(pid {adopted.pid}); it never stopped answering"
                    )
                    continue
                stale = leftover(child.pidfile)
                if stale is not None:  # another argv (e.g. other ports): replace it
                    on_event(f"{child.role}: stopping pid {stale.pid} left by a previous `up`")
                    stale.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        stale.wait(timeout=5)
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.log = self.log_dir / (child.role.replace(" ", "-") + ".log")
        logspace.reserve(child.log)
        # the child's role lease owner: stable across restarts, so a restarted child
        # takes its own lease back at once (runtime/roles.py)
        env = {**os.environ, OWNER_ENV: f"up:{socket.gethostname()}:{os.getpid()}:{child.role}"}
        with open(child.log, "ab") as out:  # the child writes its own copy of the descriptor
            proc = subprocess.Popen(
                child.argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # the data plane outlives `up`; every other role dies with it
                preexec_fn=None if child.pidfile is not None else die_with_parent,
            )
        child.proc = proc
        child.started_at = time.monotonic()
        if child.pidfile is not None:
            record(child.pidfile, proc.pid, child.argv)

    def poll(self, on_event: Callable[[str], None]) -> None:
        """Restart children that died, with back-off; report each restart."""
        now = time.monotonic()
        if now >= self._next_space_check:
            self._next_space_check = now + 1.0
            self._check_space(on_event)
        for child in self.children:
            if child.proc is None or child.proc.poll() is None:
                continue
            if child.next_start == 0.0:
                ran = now - child.started_at
                if ran >= self.healthy_after:
                    child.restarts = 0  # a healthy run: this crash is a first one again
                delay = restart_delay(child)
                child.next_start = now + delay
                on_event(
                    f"{child.role} exited with {child.proc.returncode} after {ran:.1f}s; "
                    f"restarting {'at once' if delay == 0 else f'in {delay:.1f}s'} "
                    f"(log: {child.log})"
                )
            if now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                self._spawn(child)

    def _check_space(self, on_event: Callable[[str], None]) -> None:
        for child in self.children:
            if child.log is not None:
                logspace.reserve(child.log)  # top the reserve up as the log grows
        free = logspace.free_bytes(self.log_dir)
        if free is None:
            return
        full = free < FULL_BELOW
        if full != self._disk_full:
            self._disk_full = full
            on_event(
                f"the disk holding {self.log_dir} is full ({free // 1024} KiB free): writes "
                "to the store fail and are retried; DNS keeps serving. Free some space there."
                if full
                else f"the disk holding {self.log_dir} has room again ({free // 1024} KiB free)"
            )

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping = True
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGCONT)  # a paused child must hear SIGTERM
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
            if child.pidfile is not None:
                child.pidfile.unlink(missing_ok=True)
