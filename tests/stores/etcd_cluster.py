"""A real three-member etcd cluster on loopback, in a temporary directory, for tests and
the benchmark.

Rules kept here:
- the `etcd` binary comes from Debian `etcd-server` (listed in scripts/apt/etcd.txt);
  when it is missing the caller FAILS with a message naming the install script, it
  never skips: a store test that silently does not run proves nothing;
- ports are picked free on 127.0.0.1 and every member only listens on loopback;
- members can be killed and restarted by index (fault tests), keeping their data dir,
  so a restarted member rejoins with its log.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = (
    "the etcd tests need the `etcd` binary from Debian etcd-server 3.4: install it with "
    "scripts/install-test-deps.sh (it reads scripts/apt/etcd.txt), or by hand: "
    "apt-get install -y etcd-server etcd-client"
)


def etcd_binary() -> str:
    path = shutil.which("etcd")
    if path is None:
        raise RuntimeError(INSTALL_HINT)
    return path


def _free_ports(count: int) -> list[int]:
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@dataclass
class EtcdCluster:
    """`size` etcd members on loopback; `endpoints` are their client URLs."""

    size: int = 3
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="zw-etcd-")))
    heartbeat_ms: int = 50
    election_ms: int = 500
    procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    client_ports: list[int] = field(default_factory=list)
    peer_ports: list[int] = field(default_factory=list)

    @property
    def endpoints(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.client_ports]

    def start(self, timeout: float = 30.0) -> EtcdCluster:
        etcd_binary()
        ports = _free_ports(2 * self.size)
        self.client_ports, self.peer_ports = ports[: self.size], ports[self.size :]
        self.procs = [None] * self.size
        for i in range(self.size):
            self.start_member(i)
        self.wait_healthy(timeout)
        return self

    def _initial_cluster(self) -> str:
        return ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(self.peer_ports))

    def start_member(self, i: int) -> None:
        client, peer = self.client_ports[i], self.peer_ports[i]
        log = open(self.root / f"m{i}.log", "ab")  # noqa: SIM115 - lives as long as the member
        self.procs[i] = subprocess.Popen(
            [
                etcd_binary(),
                "--name", f"m{i}",
                "--data-dir", str(self.root / f"m{i}.etcd"),
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", self._initial_cluster(),
                "--initial-cluster-token", f"zw-{self.root.name}",
                "--initial-cluster-state", "new",
                "--heartbeat-interval", str(self.heartbeat_ms),
                "--election-timeout", str(self.election_ms),
                "--log-level", "warn",
                "--logger", "zap",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self, i: int) -> None:
        """SIGKILL member i (a crash, not a clean shutdown)."""
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs[i] = None

    def restart(self, i: int) -> None:
        if self.procs[i] is None:
            self.start_member(i)

    def leader(self) -> int | None:
        for i, url in enumerate(self.endpoints):
            if self.procs[i] is None:
                continue
            status = _post(url + "/v3/maintenance/status", {})
            if status and status.get("leader") == status.get("header", {}).get("member_id"):
                return i
        return None

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Wait until every running member answers and the cluster has a leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [u for i, u in enumerate(self.endpoints) if self.procs[i] is not None]
            statuses = [_post(u + "/v3/maintenance/status", {}) for u in alive]
            if all(s and s.get("leader") for s in statuses):
                return
            for i, p in enumerate(self.procs):
                if p is not None and p.poll() is not None:
                    raise RuntimeError(f"etcd member m{i} exited: see {self.root / f'm{i}.log'}")
            time.sleep(0.1)
        raise RuntimeError(f"etcd cluster did not elect a leader in {timeout}s ({self.root})")

    def stop(self) -> None:
        for i in range(len(self.procs)):
            proc = self.procs[i]
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.procs[i] = None
        shutil.rmtree(self.root, ignore_errors=True)

    def wipe(self, prefix: str) -> None:
        """Delete every key under `prefix` (isolates tests sharing one cluster)."""
        from zonewarden.stores.etcd.client import b64, prefix_end

        key = prefix.encode()
        _post(
            self.endpoints[0] + "/v3/kv/deleterange",
            {"key": b64(key), "range_end": b64(prefix_end(key))},
        )


def _post(url: str, body: dict[str, object]) -> dict[str, object] | None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(req, timeout=1.0) as resp:
        out: dict[str, object] = json.loads(resp.read())
        return out
    return None


_shared: EtcdCluster | None = None


def shared_cluster() -> EtcdCluster:
    """One cluster for the whole test session (started on first use, stopped at exit)."""
    global _shared
    if _shared is None:
        _shared = EtcdCluster().start()
        atexit.register(_shared.stop)
    return _shared


def fresh_prefix() -> str:
    """A key prefix no other store in this session uses."""
    return f"/zw-test/{uuid.uuid4().hex[:12]}"
