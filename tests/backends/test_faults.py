"""Faults at the DNS server: down, slow, SERVFAIL/REFUSED/NOTAUTH, wrong TSIG key.

Every fault is either retryable (`BackendUnavailable`) or reported for good
(`BackendRejected`), always with a message naming the server and the cause, and never
leaves an endpoint half-written: an UPDATE is all or nothing.
"""

from __future__ import annotations

import socket
import struct
import threading

import dns.rcode
import pytest

from tests.backends.conftest import rfc2136
from tests.backends.servers import KEY_SECRET, start_bind
from tests.helpers import content
from zonewarden.backends.base import Change
from zonewarden.backends.rfc2136 import Rfc2136Backend
from zonewarden.core.model import Generation
from zonewarden.errors import BackendRejected, BackendUnavailable, ConfigError
from zonewarden.ports import Marker

pytestmark = pytest.mark.servers

G = Generation


def test_server_down_is_retryable_and_names_the_server(tmp_path, names):
    run = start_bind(tmp_path / "bind")
    backend = rfc2136(run)
    run.stop()
    with pytest.raises(BackendUnavailable, match=rf"127\.0\.0\.1:{run.port}.*unreachable"):
        backend.apply_fenced(G(1), {names("kv"): content("10.0.0.1")})


def test_slow_server_times_out_then_the_retry_applies_everything(tmp_path, names):
    run = start_bind(tmp_path / "bind")
    try:
        backend = rfc2136(run, timeout=0.5)
        n, m = names("kv"), names("db")
        backend.apply_fenced(G(1), {n: content("10.0.0.1"), m: content("10.0.0.1")})
        run.pause()
        with pytest.raises(BackendUnavailable, match=r"no answer within 0\.5s"):
            backend.apply_fenced(G(2), {n: content("10.0.0.2"), m: content("10.0.0.2")})
        run.resume()
        backend = rfc2136(run, timeout=5.0)  # BIND may still be catching up: not the test
        live = backend.read([n, m])
        assert {live[x].marker.generation for x in (n, m)} <= {1, 2}
        for x in (n, m):  # never half-written: marker and records agree
            gen = live[x].marker.generation
            assert live[x].addresses == {("A", f"10.0.0.{gen}")}
        out = backend.apply_fenced(G(2), {n: content("10.0.0.2"), m: content("10.0.0.2")})
        assert set(out.values()) <= {"applied", "current"}
    finally:
        run.stop()


def test_wrong_tsig_secret_is_permanent_and_says_what_to_fix(dns_server, names):
    bad = rfc2136(dns_server, tsig_secret="AAAA" + KEY_SECRET[4:])
    n = names("kv")
    with pytest.raises(BackendRejected, match=rf"127\.0\.0\.1:{dns_server.port}.*TSIG key zw-key"):
        bad.apply_fenced(G(1), {n: content("10.0.0.1")})
    assert bad.read([n])[n].marker is None  # nothing applied


def test_unknown_tsig_key_is_permanent(dns_server, names):
    bad = rfc2136(dns_server, tsig_name="nobody")
    with pytest.raises(BackendRejected, match="rejected TSIG key nobody"):
        bad.apply_fenced(G(1), {names("kv"): content("10.0.0.1")})


def test_tsig_is_required_by_default():
    with pytest.raises(ConfigError, match="needs a TSIG key"):
        Rfc2136Backend("127.0.0.1", "example.", port=53)


def test_a_zone_the_server_does_not_serve_is_reported(bind_server):
    with (
        Rfc2136Backend(
            bind_server.server,
            "other.",
            port=bind_server.port,
            tsig_name="zw-key",
            tsig_secret=KEY_SECRET,
        ) as backend,
        pytest.raises(BackendUnavailable, match=r"answered REFUSED.*zone loaded"),
    ):
        backend.apply_fenced(G(1), {"kv.other.": content("10.0.0.1")})


def test_a_rejected_batch_applies_nothing(dns_server, names):
    backend = rfc2136(dns_server)
    a, b = names("a"), names("b")
    backend.apply_fenced(G(1), {a: content("10.0.0.1"), b: content("10.0.0.1")})
    live = backend.read([a, b])
    good = Change(a, G(2), content("10.0.0.2"), live[a].marker)
    stale = Change(b, G(2), content("10.0.0.2"), Marker(G(0), "nope"))
    assert backend._apply([good, stale], fenced=True) is False
    after = backend.read([a, b])
    assert after[a].marker.generation == 1 and after[a].addresses == {("A", "10.0.0.1")}


def test_a_marker_of_the_other_type_fences_every_write_out(dns_server, names):
    """A backend switched between marker types must not write beside the old marker:
    to it the name looks new, and "name not in use" fails at the server; the error
    names both types and the setting."""
    txt, cname = rfc2136(dns_server, marker_type="txt"), rfc2136(dns_server)
    a, b = names("t"), names("c")
    txt.apply_fenced(G(1), {a: content("10.0.0.1")})
    cname.apply_fenced(G(1), {b: content("10.0.0.1")})
    for writer, reader, n in ((cname, txt, a), (txt, cname, b)):
        with pytest.raises(
            BackendRejected, match=r"holds a \w+ marker but \[backend\] marker_type"
        ):
            writer.apply_fenced(G(2), {n: content("10.0.0.2")})
        live = reader.read([n])[n]
        assert live.marker.generation == 1 and live.addresses == {("A", "10.0.0.1")}


class RcodeServer:
    """A TCP responder that answers every message with one rcode (faults no real server
    produces on demand: SERVFAIL, and REFUSED/NOTAUTH to an unsigned update)."""

    def __init__(self, rcode: int) -> None:
        self.rcode = rcode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65535):
                    msg = data[2:]
                    flags = 0x8000 | (struct.unpack("!H", msg[2:4])[0] & 0x7800) | self.rcode
                    reply = msg[:2] + struct.pack("!H", flags) + msg[4:12]
                    reply = reply[:4] + b"\0\0\0\0\0\0\0\0"  # no sections
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("rcode", [dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTAUTH])
def test_server_error_rcodes_are_retryable_and_named(rcode, names):
    fake = RcodeServer(rcode)
    try:
        with Rfc2136Backend("127.0.0.1", "example.", port=fake.port, require_tsig=False) as backend:
            backend._read = lambda ns: {}  # the fake answers no queries; go straight to UPDATE
            name = dns.rcode.to_text(rcode)
            with pytest.raises(BackendUnavailable, match=rf"127\.0\.0\.1:{fake.port}.*{name}"):
                backend.apply_fenced(G(1), {names("kv"): content("10.0.0.1")})
    finally:
        fake.close()
