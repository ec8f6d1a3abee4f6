"""NSD and Knot started on loopback in a temporary directory, loaded with one zone file.

Used by the differential test and by bench/dns_qps.py. A missing binary is an error
naming the install script, never a skip: the differential test must not pass silently.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.ports import free_port

INSTALL_HINT = "install it with scripts/apt/dns.txt (the project's apt install script)"


def binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError(f"{name} is not installed: {INSTALL_HINT}")
    return found


def nsd_config(
    workdir: Path, zone: str, zonefile: Path, port: int, *, rrl: bool = False, extra: str = ""
) -> str:
    """NSD's config; response rate limiting off unless `rrl` (then NSD's defaults: 200/s,
    slip 2), so that functional tests and qps runs from one source compare like with like."""
    limit = "" if rrl else "    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\n"
    limit += "".join(f"    {line}\n" for line in extra.splitlines())
    return f"""server:
{limit}    ip-address: 127.0.0.1@{port}
    port: {port}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{workdir}"
    database: ""
    zonelistfile: "{workdir}/zone.list"
    xfrdfile: "{workdir}/xfrd.state"
    xfrdir: "{workdir}"
    pidfile: "{workdir}/nsd.pid"
    logfile: "{workdir}/nsd.log"
    verbosity: 1
    hide-version: yes
    refuse-any: no
remote-control:
    control-enable: no
zone:
    name: "{zone}"
    zonefile: "{zonefile}"
"""


def knot_config(workdir: Path, zone: str, zonefile: Path, port: int) -> str:
    return f"""server:
    rundir: "{workdir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: "{workdir}/knot.log"
    any: info
database:
    storage: "{workdir}"
template:
  - id: default
    storage: "{workdir}"
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
    zonefile-load: whole
zone:
  - domain: "{zone}"
    file: "{zonefile}"
"""


def wait_for_answer(port: int, zone: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    import dns.message

    import dns.query

    deadline = time.monotonic() + timeout
    query = dns.message.make_query(zone, "SOA")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"peer server exited with status {proc.returncode}")
        with contextlib.suppress(Exception):
            reply = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
            if reply.answer:
                return
        time.sleep(0.2)
    raise RuntimeError(f"peer server did not answer SOA {zone} within {timeout}s")


@contextlib.contextmanager
def peer_server(
    kind: str,
    zone: str,
    zonefile: Path,
    workdir: Path,
    *,
    cpu: int | None = None,
    rrl: bool = False,
) -> Iterator[int]:
    """Run NSD ("nsd") or Knot ("knot") for `zone` on a free loopback port; yield it.
    Knot limits no rates unless its rrl module is loaded (it is not here)."""
    with peer_process(kind, zone, zonefile, workdir, cpu=cpu, rrl=rrl) as (port, _):
        yield port


@contextlib.contextmanager
def peer_process(
    kind: str,
    zone: str,
    zonefile: Path,
    workdir: Path,
    *,
    cpu: int | None = None,
    rrl: bool = False,
    nsd_extra: str = "",
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """As `peer_server`, also yielding the server process (benchmarks read its CPU time)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / f"{kind}.conf"
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    if kind == "nsd":
        conf.write_text(nsd_config(workdir, zone, zonefile, port, rrl=rrl, extra=nsd_extra))
        argv = [*pin, binary("nsd"), "-d", "-c", str(conf)]
    elif kind == "knot":
        conf.write_text(knot_config(workdir, zone, zonefile, port))
        argv = [*pin, binary("knotd"), "-c", str(conf)]
    else:
        raise ValueError(f"unknown peer server {kind!r} (known: nsd, knot)")
    log = (workdir / f"{kind}.out").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_answer(port, zone, 60.0, proc)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
