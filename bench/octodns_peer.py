"""The octoDNS peer: the same 50k x 8 zone, the same 1% change, synced by `octodns-sync`.

Rules kept here:
- octoDNS reads its own YAML source (written from the same seeded region as the
  ZoneWarden run) and runs as its own process, so its time and peak memory are those of
  a real `octodns-sync --doit` (plan + apply), measured with `os.wait4`;
- target (a) is octodns-bind's ZoneFileProvider, target (b) is BIND 9 over RFC 2136
  (octodns-bind's Rfc2136Provider, TSIG-signed, AXFR to read the current zone);
- `named` is started here, in a temporary directory on a loopback port, already loaded
  with the unchanged zone (so only the 1% sync is timed), and stopped here.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
from bench.region import TTL, ZONE, Shape, address_sets, assignments, changed_assignments

import dns.query

UPDATE_BATCH = 100  # RRsets per UPDATE: 500 RRsets of 8 A records would pass 64 KB


@dataclass(frozen=True, slots=True)
class SyncFigures:
    seconds: float  # wall time of `octodns-sync --doit`
    cpu_s: float  # its user + system CPU time
    peak_rss_mib: float
    verified: bool  # a changed name serves its new addresses afterwards
    server_cpu_s: float = 0.0  # named's CPU time during the sync (BIND only)


def write_yaml(shape: Shape, directory: Path, *, changed: bool) -> None:
    """octoDNS's YamlProvider source: one A RRset of `records` values per name."""
    lbs_of = changed_assignments(shape) if changed else assignments(shape)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{ZONE}yaml", "w") as fh:
        fh.write("---\n")
        for name, addresses in address_sets(shape, lbs_of):
            fh.write(f"{name}:\n  ttl: {TTL}\n  type: A\n  values:\n")
            fh.writelines(f"  - {a}\n" for a in addresses)


def write_zonefile(shape: Shape, path: Path) -> None:
    """The unchanged zone as a master file: what BIND serves before the sync."""
    with open(path, "w") as fh:
        fh.write(f"$ORIGIN {ZONE}\n$TTL {TTL}\n")
        fh.write(f"@ 3600 IN SOA localhost. hostmaster.{ZONE} 1 3600 600 604800 60\n")
        fh.write("@ 3600 IN NS localhost.\n")  # out of zone: no glue octoDNS would delete
        for name, addresses in address_sets(shape, assignments(shape)):
            fh.writelines(f"{name} {TTL} IN A {a}\n" for a in addresses)


def _config(path: Path, target: str, target_yaml: str, source_dir: Path) -> None:
    path.write_text(
        "providers:\n"
        "  config:\n"
        "    class: octodns.provider.yaml.YamlProvider\n"
        f"    directory: {source_dir}\n"
        f"    default_ttl: {TTL}\n"
        f"  {target}:\n{target_yaml}"
        f"zones:\n  {ZONE}:\n    sources: [config]\n    targets: [{target}]\n"
    )


def run_sync(config: Path, log: Path) -> tuple[float, float, float, int]:
    """Run `octodns-sync --doit` as a child; (seconds, CPU s, peak RSS MiB, exit status)."""
    cmd = [sys.executable, "-m", "octodns.cmds.sync", "--config-file", str(config), "--doit"]
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=config.parent)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, cpu, usage.ru_maxrss / 1024, proc.returncode


def _check(rc: int, log: Path) -> None:
    if rc != 0:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"octodns-sync failed (exit {rc}); see {log}:\n{tail}")


def zonefile_sync(shape: Shape, work: Path) -> SyncFigures:
    """octoDNS YAML (with the 1% change) -> zone file, the way octodns-bind writes one."""
    source, zones = work / "config", work / "zones"
    write_yaml(shape, source, changed=True)
    zones.mkdir(parents=True, exist_ok=True)
    write_zonefile(shape, zones / f"{ZONE}zone")
    target = f"    class: octodns_bind.ZoneFileProvider\n    directory: {zones}\n    file_extension: .zone\n"
    config = work / "octodns-zonefile.yaml"
    _config(config, "zonefile", target, source)
    seconds, cpu, rss, rc = run_sync(config, work / "octodns-zonefile.log")
    _check(rc, work / "octodns-zonefile.log")
    name, addresses = _first_changed(shape)
    text = (zones / f"{ZONE}zone").read_text()
    verified = all(f"{a}\n" in text for a in addresses) and name in text
    return SyncFigures(seconds, cpu, rss, verified)


def _first_changed(shape: Shape) -> tuple[str, list[str]]:
    return next(iter(address_sets(shape, changed_assignments(shape)[:1])))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Named:
    port: int
    key_name: str
    key_secret: str
    pid: int

    def cpu_seconds(self) -> float:
        """named's user + system CPU so far, from /proc (Linux)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


NAMED_CONF = """options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    max-journal-size 64m;
}};
controls {{ }};
key "{key}" {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "{zone}" {{
    type primary;
    file "{dir}/zone.db";
    update-policy {{ grant {key} zonesub ANY; }};
    allow-transfer {{ key {key}; 127.0.0.1; }};
}};
"""


@contextmanager
def running_named(shape: Shape, work: Path, timeout: float = 120.0) -> Iterator[Named]:
    """Start `named` (one worker thread) on a loopback port with the zone; stop it after."""
    binary = shutil.which("named") or "/usr/sbin/named"
    if not Path(binary).exists():
        raise RuntimeError(
            "BIND's `named` is missing: apt-get install bind9 (scripts/apt/bench.txt)"
        )
    work.mkdir(parents=True, exist_ok=True)
    write_zonefile(shape, work / "zone.db")
    port, key = free_port(), "zonewarden-bench"
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    conf = work / "named.conf"
    conf.write_text(NAMED_CONF.format(dir=work, port=port, key=key, secret=secret, zone=ZONE[:-1]))
    log = open(work / "named.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [binary, "-g", "-n", "1", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_for_zone(port, proc, timeout, work / "named.log")
        yield Named(port, key, secret, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_for_zone(port: int, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"named exited with {proc.returncode}; see {log}")
        try:
            answer = dns.query.udp(
                dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=port, timeout=0.5
            )
            if answer.rcode() == dns.rcode.NOERROR and answer.answer:
                return
        except (OSError, dns.exception.Timeout):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"named did not load {ZONE} within {timeout:.0f} s; see {log}")


def bind_sync(shape: Shape, work: Path) -> SyncFigures:
    """octoDNS YAML (with the 1% change) -> BIND over RFC 2136, named started here."""
    source = work / "config"
    write_yaml(shape, source, changed=True)
    with running_named(shape, work / "named") as named:
        target = (
            "    class: octodns_bind.Rfc2136Provider\n"
            "    host: 127.0.0.1\n"
            f"    port: {named.port}\n"
            f"    key_name: {named.key_name}\n"
            f"    key_secret: {named.key_secret}\n"
            "    key_algorithm: hmac-sha256\n"
            "    timeout: 120\n"
            f"    update_batch_size: {UPDATE_BATCH}\n"
        )
        config = work / "octodns-bind.yaml"
        _config(config, "bind", target, source)
        named_before = named.cpu_seconds()
        seconds, cpu, rss, rc = run_sync(config, work / "octodns-bind.log")
        named_cpu = named.cpu_seconds() - named_before
        _check(rc, work / "octodns-bind.log")
        name, addresses = _first_changed(shape)
        query = dns.message.make_query(f"{name}.{ZONE}", "A")
        answer = dns.query.udp(query, "127.0.0.1", port=named.port, timeout=2)
        served = sorted(r.address for rrset in answer.answer for r in rrset)
    return SyncFigures(seconds, cpu, rss, served == sorted(addresses), named_cpu)
