"""A real three-member etcd cluster on loopback, in a temporary directory, for tests and
the benchmark.

Rules kept here:
- the `etcd` binary comes from Debian `etcd-server` (listed in scripts/apt/etcd.txt);
  when it is missing the caller FAILS with a message naming the install script, it
  never skips: a store test that silently does not run proves nothing;
- ports are picked free on 127.0.0.1 and every member only listens on loopback;
- members can be killed and restarted by index (fault tests), keeping their data dir,
  so a restarted member rejoins with its log;
- with `tls` (see etcd_tls.py) the client URLs are https:// with --client-cert-auth;
  the peer URLs stay plain http on loopback.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from tests.stores.etcd_tls import Pki

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
    tls: Pki | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def endpoints(self) -> list[str]:
        scheme = "https" if self.tls else "http"
        return [f"{scheme}://127.0.0.1:{p}" for p in self.client_ports]

    def _context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        context = ssl.create_default_context(cafile=self.tls.ca)
        context.load_cert_chain(self.tls.client_cert, self.tls.client_key)
        return context

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        return [
            "--cert-file", str(self.tls.server_cert),
            "--key-file", str(self.tls.server_key),
            "--trusted-ca-file", str(self.tls.ca),
            "--client-cert-auth",
        ]  # fmt: skip

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
        peer, url = self.peer_ports[i], self.endpoints[i]
        # the member writes its own copy of the descriptor: ours closes once it started
        with open(self.root / f"m{i}.log", "ab") as log:
            self.procs[i] = self._spawn(i, peer, url, log)

    def _spawn(self, i: int, peer: int, url: str, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                etcd_binary(),
                "--name", f"m{i}",
                "--data-dir", str(self.root / f"m{i}.etcd"),
                "--listen-client-urls", url,
                "--advertise-client-urls", url,
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", self._initial_cluster(),
                "--initial-cluster-token", f"zw-{self.root.name}",
                "--initial-cluster-state", "new",
                "--heartbeat-interval", str(self.heartbeat_ms),
                "--election-timeout", str(self.election_ms),
                "--log-level", "warn",
                "--logger", "zap",
                *self._tls_args(),
                *self.extra_args,
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
            status = _post(url + "/v3/maintenance/status", {}, self._context())
            if status and status.get("leader") == status.get("header", {}).get("member_id"):
                return i
        return None

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Wait until every running member answers and the cluster has a leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [u for i, u in enumerate(self.endpoints) if self.procs[i] is not None]
            statuses = [_post(u + "/v3/maintenance/status", {}, self._context()) for u in alive]
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
        from zonewarden.stores.etcd.ops import b64, prefix_end

        key = prefix.encode()
        _post(
            self.endpoints[0] + "/v3/kv/deleterange",
            {"key": b64(key), "range_end": b64(prefix_end(key))},
            self._context(),
        )


def _post(
    url: str, body: dict[str, object], context: ssl.SSLContext | None = None
) -> dict[str, object] | None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(req, timeout=1.0, context=context) as resp,
    ):
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
