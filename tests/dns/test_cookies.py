"""DNS cookies (RFC 7873) when turned on: a server cookie bound to the client's address
comes back, is recognised when presented again, and a malformed option is FORMERR."""

from __future__ import annotations

import dns.edns
import dns.message
import dns.rcode
import pytest

from tests.dns.conftest import start_server, stop_server
from tests.dns.query import ask_raw
from zonewarden.backends.embedded.cookies import Cookies

pytestmark = pytest.mark.servers
CLIENT = bytes.fromhex("0102030405060708")


def cookie_query(data: bytes) -> bytes:
    q = dns.message.make_query("ep1.example.", "A", use_edns=0)
    q.use_edns(0, options=[dns.edns.GenericOption(10, data)])
    return q.to_wire()


def cookie_of(raw: bytes) -> bytes | None:
    reply = dns.message.from_wire(raw)
    found = [o for o in reply.options if o.otype == 10]
    return found[0].to_wire() if found else None


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled-loop", "python-loop"])
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_server_cookie_issued_then_recognised(zone_store, compiled, tcp):
    live, thread = start_server(
        zone_store, listen=("127.0.0.1:0",), cookies=True, compiled_udp=compiled
    )
    try:
        first = cookie_of(ask_raw(live.port, cookie_query(CLIENT), tcp=tcp))
        assert first is not None and len(first) == 24 and first[:8] == CLIENT
        again = ask_raw(live.port, cookie_query(first), tcp=tcp)
        assert dns.message.from_wire(again).rcode() == dns.rcode.NOERROR
        assert live.server.responder.cookies.valid == 1
        forged = first[:-1] + bytes((first[-1] ^ 1,))
        ask_raw(live.port, cookie_query(forged), tcp=tcp)
        assert live.server.responder.cookies.valid == 1  # a forged one is not valid
        bad = dns.message.from_wire(ask_raw(live.port, cookie_query(b"\x01\x02\x03"), tcp=tcp))
        assert bad.rcode() == dns.rcode.FORMERR and bad.edns == 0
    finally:
        stop_server(live, thread)


def test_cookie_bound_to_address_and_time():
    jar = Cookies(b"s" * 16)
    option = jar.option(CLIENT, b"\x7f\x00\x00\x01", 1000)
    assert option is not None
    cookie = option[4:]
    assert jar.is_valid(cookie, b"\x7f\x00\x00\x01", 1000 + 3599)
    assert not jar.is_valid(cookie, b"\x7f\x00\x00\x02", 1000)  # another client
    assert not jar.is_valid(cookie, b"\x7f\x00\x00\x01", 1000 + 3601)  # too old
    assert not Cookies(b"t" * 16).is_valid(cookie, b"\x7f\x00\x00\x01", 1000)  # other secret


def test_cookies_are_off_by_default_like_nsd(live):
    assert cookie_of(ask_raw(live.port, cookie_query(CLIENT))) is None
