"""The zone's own nameservers resolve, so a real recursive resolver that primes from the
zone's NS set (Unbound, `stub-prime: yes`) answers every endpoint; the same zone with
nameserver names but no addresses (ZoneWarden before `[[dns.nameservers]]`) makes that
resolver fail, which proves the test can fail. The exported zone passes named-checkzone."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import pytest

import dns.query
from tests.ports import free_port
from zonewarden import config as cfg
from zonewarden.health.static import StaticHealth
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(shutil.which("unbound") is None, reason="unbound is not installed"),
]


def ns_address() -> str:
    """A loopback address of its own with port 53 free: a primed resolver asks the
    nameserver's address on port 53, as DNS has no port in an A record."""
    for _ in range(20):
        addr = f"127.53.{random.randint(1, 254)}.{random.randint(1, 254)}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((addr, 53))
            except PermissionError:
                pytest.skip("binding port 53 needs root or CAP_NET_BIND_SERVICE")
            except OSError:
                continue
            return addr
    pytest.skip("no free loopback address with port 53")


def region(tmp_path: Path, addr: str, *, with_addresses: bool) -> Path:
    text = cfg.demo_toml().replace('listen = ["127.0.0.1:5353"]', f'listen = ["{addr}:53"]')
    if with_addresses:
        text = text.replace('ipv4 = ["127.0.0.1"]\n', f'ipv4 = ["{addr}"]\n', 1)
    else:  # the old zone: an NS name and no address for it
        start = text.index("[[dns.nameservers]]")
        end = text.index("\n\n", start)
        text = text[:start] + text[end + 2 :]
        text = text.replace(
            f'listen = ["{addr}:53"]', f'listen = ["{addr}:53"]\nns = ["ns1.example."]'
        )
    path = tmp_path / "region.toml"
    path.write_text(text)
    config = cfg.load(path)
    store = open_store(config, create=True)
    Planner(config, store, StaticHealth(config.region)).once(time.time())
    store.apply_if_newer(store.newest(), list(config.region.endpoints), actor="t", now=time.time())
    store.close()
    return path


def ask(addr: str, port: int, name: str, rtype: str = "A") -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rtype), addr, port=port, timeout=3)


@contextlib.contextmanager
def serving(path: Path, addr: str) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "zonewarden", "serve-dns", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            with contextlib.suppress(dns.exception.Timeout, OSError):
                if ask(addr, 53, "kv.us-east-1.example.").answer:
                    break
            assert time.monotonic() < deadline, "serve-dns did not answer"
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # and close its pipe


def _unbound_conf(tmp_path: Path, addr: str, port: int) -> Path:
    conf = tmp_path / "unbound.conf"
    conf.write_text(
        f"""server:
    interface: 127.0.0.1@{port}
    port: {port}
    do-ip6: no
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "{tmp_path}"
    pidfile: "{tmp_path}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "iterator"
    cache-max-negative-ttl: 1
    local-zone: "example." nodefault
stub-zone:
    name: "example."
    stub-addr: {addr}
    stub-prime: yes
remote-control:
    control-enable: no
"""
    )
    subprocess.run(["unbound-checkconf", str(conf)], check=True, capture_output=True)
    return conf


@contextlib.contextmanager
def unbound(tmp_path: Path, addr: str) -> Iterator[int]:
    """Unbound on a free loopback port (tried again on another port if it cannot bind)."""
    for _attempt in range(5):
        port = free_port()
        conf = _unbound_conf(tmp_path, addr, port)
        proc = subprocess.Popen(
            ["unbound", "-d", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(dns.exception.Timeout, OSError):
                ask("127.0.0.1", port, "localhost.")
                break
            time.sleep(0.1)
        if proc.poll() is None and time.monotonic() < deadline:
            break
        output = proc.communicate(timeout=10)[0] if proc.poll() is not None else b""
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    else:
        raise AssertionError(f"unbound did not start: {output!r}")
    try:
        yield port
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_a_priming_resolver_answers_every_endpoint(tmp_path):
    addr = ns_address()
    path = region(tmp_path, addr, with_addresses=True)
    config = cfg.load(path)
    with serving(path, addr), unbound(tmp_path, addr) as port:
        for name, endpoint in config.region.endpoints.items():
            for rtype in endpoint.record_types:
                reply = ask("127.0.0.1", port, name, str(rtype))
                assert reply.rcode() == dns.rcode.NOERROR, (name, rtype, reply)
                assert reply.answer, (name, rtype, reply)
        ns = ask("127.0.0.1", port, "ns1.example.")
        assert [str(r) for rrset in ns.answer for r in rrset] == [addr]


def test_without_nameserver_addresses_the_resolver_fails(tmp_path):
    addr = ns_address()
    path = region(tmp_path, addr, with_addresses=False)
    with serving(path, addr), unbound(tmp_path, addr) as port:
        reply = ask("127.0.0.1", port, "kv.us-east-1.example.")
        assert reply.rcode() == dns.rcode.SERVFAIL, reply


def test_the_exported_zone_passes_named_checkzone(tmp_path):
    if shutil.which("named-checkzone") is None:
        pytest.skip("named-checkzone is not installed")
    path = region(tmp_path, "127.0.0.1", with_addresses=True)
    out = tmp_path / "example.zone"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "zonewarden",
            "export",
            "zonefile",
            "--config",
            str(path),
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    check = subprocess.run(
        ["named-checkzone", "example.", str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
