"""Start real DNS servers (named, knotd, pdns_server) and moto_server on loopback.

Each starter writes its config into a temporary directory, picks a free port, starts
the daemon in the foreground as a child process, waits until it answers, and returns a
`Running` handle whose `stop()` ends exactly that child. A missing binary is a failure
that names the install script, never a skip: these tests are the backends' proof.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode

import dns.query
from tests.ports import free_port

ZONE = "example."
KEY_NAME = "zw-key"
KEY_SECRET = base64.b64encode(b"zonewarden-test-key-32-bytes-long").decode()
INSTALL = "scripts/install-test-deps.sh (Debian packages in scripts/apt/backends.txt)"
ZONE_FILE = f"""$TTL 60
@ IN SOA ns.{ZONE} hostmaster.{ZONE} 1 3600 600 86400 60
@ IN NS ns.{ZONE}
ns IN A 127.0.0.1
"""


@dataclass
class Running:
    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return "127.0.0.1"

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def need(binary: str, package: str) -> str:
    """The binary's path; a missing one FAILS the test (never skips), saying how to fix."""
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if path is None:
        raise RuntimeError(f"{binary} is not installed ({package}); run {INSTALL} first")
    return path


def wait_dns(run: Running, timeout: float = 20.0) -> Running:
    deadline = time.monotonic() + timeout
    q = dns.message.make_query(f"ns.{ZONE}", "A")
    while time.monotonic() < deadline:
        if run.proc.poll() is not None:
            break
        try:
            r = dns.query.tcp(q, "127.0.0.1", port=run.port, timeout=0.5)
            if r.rcode() == dns.rcode.NOERROR and r.answer:
                return run
        except (OSError, EOFError, dns.exception.DNSException):
            pass
        time.sleep(0.1)
    run.stop()
    raise RuntimeError(
        f"{run.kind} did not start on port {run.port}: {run.log.read_text()[-3000:]}"
    )


def _spawn(kind: str, cmd: list[str], workdir: Path, port: int, **extra: str) -> Running:
    log = workdir / f"{kind}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    return Running(kind, port, proc, workdir, log, dict(extra))


def start_bind(workdir: Path) -> Running:
    named = need("named", "Debian package bind9")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "example.zone").write_text(ZONE_FILE)
    conf = workdir / "named.conf"
    conf.write_text(
        f"""
options {{
    directory "{workdir}";
    pid-file "{workdir}/named.pid";
    session-keyfile "{workdir}/session.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-transfer {{ none; }};
    tcp-clients 200;
}};
key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{KEY_SECRET}"; }};
controls {{ }};
zone "{ZONE}" {{
    type primary;
    file "{workdir}/example.zone";
    update-policy {{ grant {KEY_NAME} zonesub ANY; }};
}};
"""
    )
    return wait_dns(_spawn("bind", [named, "-g", "-n", "1", "-c", str(conf)], workdir, port))


def start_knot(workdir: Path) -> Running:
    knotd = need("knotd", "Debian package knot")
    (workdir / "db").mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "example.zone").write_text(ZONE_FILE)
    conf = workdir / "knot.conf"
    conf.write_text(
        f"""
server:
    rundir: "{workdir}"
    listen: 127.0.0.1@{port}
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
database:
    storage: "{workdir}/db"
    journal-db-mode: asynchronous
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {KEY_SECRET}
acl:
  - id: update
    key: {KEY_NAME}
    action: update
template:
  - id: default
    storage: "{workdir}"
    zonefile-sync: -1
    journal-content: changes
zone:
  - domain: {ZONE}
    file: example.zone
    acl: update
log:
  - target: stderr
    any: info
"""
    )
    return wait_dns(_spawn("knot", [knotd, "-c", str(conf)], workdir, port))


def start_pdns(workdir: Path) -> Running:
    pdns = need("pdns_server", "Debian package pdns-server")
    schema = Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql")
    if not schema.exists():
        raise RuntimeError(f"pdns-backend-sqlite3 is not installed; run {INSTALL} first")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    db = workdir / "pdns.sqlite3"
    _pdns_database(db, schema.read_text())
    (workdir / "pdns.conf").write_text(
        f"""launch=gsqlite3
gsqlite3-database={db}
gsqlite3-pragma-synchronous=0
local-address=127.0.0.1
local-port={port}
dnsupdate=yes
allow-dnsupdate-from=127.0.0.0/8
socket-dir={workdir}
daemon=no
guardian=no
disable-syslog=yes
log-dns-queries=no
loglevel=4
distributor-threads=1
receiver-threads=1
cache-ttl=0
query-cache-ttl=0
negquery-cache-ttl=0
zone-cache-refresh-interval=0
consistent-backends=yes
"""
    )
    cmd = [pdns, f"--config-dir={workdir}"]
    return wait_dns(_spawn("pdns", cmd, workdir, port))


def _pdns_database(db: Path, schema: str) -> None:
    con = sqlite3.connect(db)
    con.executescript(schema)
    con.execute("INSERT INTO domains (id, name, type) VALUES (1, 'example', 'NATIVE')")
    rows = [
        ("example", "SOA", f"ns.{ZONE} hostmaster.{ZONE} 1 3600 600 86400 60"),
        ("example", "NS", f"ns.{ZONE}"),
        ("ns.example", "A", "127.0.0.1"),
    ]
    con.executemany(
        "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth)"
        " VALUES (1, ?, ?, ?, 60, 0, 0, 1)",
        rows,
    )
    con.execute(
        "INSERT INTO tsigkeys (name, algorithm, secret) VALUES (?, 'hmac-sha256', ?)",
        (KEY_NAME, KEY_SECRET),
    )
    con.execute(
        "INSERT INTO domainmetadata (domain_id, kind, content)"
        " VALUES (1, 'TSIG-ALLOW-DNSUPDATE', ?)",
        (KEY_NAME,),
    )
    con.commit()
    con.close()


def start_moto(workdir: Path, *, exact: bool = False, checks: bool = True) -> Running:
    """moto_server as shipped, or (`exact`) with Route 53's own DELETE/CREATE checks
    (see moto_exact.py for what differs and why; `checks=False` turns them off)."""
    moto = need("moto_server", "pip package moto[server], in the test extra")
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [moto]
    if exact:
        cmd = [sys.executable, str(Path(__file__).with_name("moto_exact.py"))]
        cmd += [] if checks else ["--no-checks"]
    for _attempt in range(3):  # a port another process took meanwhile: try another
        port = free_port()
        run = _spawn("moto", [*cmd, "-H", "127.0.0.1", "-p", str(port)], workdir, port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and run.proc.poll() is None:
            if _moto_answers(port):  # moto itself, not whatever else listens there
                return run
            time.sleep(0.1)
        exited = run.proc.poll() is not None  # it could not bind: another port
        run.stop()
        if not exited:
            break
    raise RuntimeError(f"moto_server did not start: {run.log.read_text()[-2000:]}")


def _moto_answers(port: int) -> bool:
    """Does moto's own API (its state as JSON) answer on `port`?"""
    url = f"http://127.0.0.1:{port}/moto-api/data.json"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and isinstance(json.loads(resp.read()), dict)
    except (OSError, ValueError):
        return False


def moto_client(run: Running) -> Any:
    """A boto3 Route 53 client for the moto_server `run` (moto takes any credentials)."""
    import boto3

    return boto3.client(
        "route53",
        endpoint_url=f"http://127.0.0.1:{run.port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


STARTERS = {"bind": start_bind, "knot": start_knot, "pdns": start_pdns}
