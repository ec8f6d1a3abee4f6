"""TSIG-signed queries (RFC 8945): verified and signed back with a known key, refused
with BADKEY for an unknown one and BADSIG for a wrong secret, never answered unsigned."""

from __future__ import annotations

import base64

import dns.message
import dns.rcode
import dns.tsig
import pytest

from tests.dns.conftest import start_server, stop_server
from tests.dns.query import ask_raw

pytestmark = pytest.mark.servers
SECRET = base64.b64encode(b"k" * 32).decode()
KEY = dns.tsig.Key("transfer-key.", base64.b64decode(SECRET), "hmac-sha256")


@pytest.fixture(scope="module")
def keyed(zone_store):
    live, thread = start_server(
        zone_store,
        listen=("127.0.0.1:0",),
        tsig_keys=(("transfer-key.", "hmac-sha256", SECRET),),
    )
    yield live
    stop_server(live, thread)


def signed_query(key: dns.tsig.Key, name: str = "ep1.example.") -> dns.message.Message:
    q = dns.message.make_query(name, "A", use_edns=0)
    q.use_tsig(key)
    return q


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_known_key_is_verified_and_the_answer_signed(keyed, tcp):
    q = signed_query(KEY)
    raw = ask_raw(keyed.port, q.to_wire(), tcp=tcp)
    assert raw is not None
    r = dns.message.from_wire(raw, keyring={KEY.name: KEY}, request_mac=q.mac)  # verifies
    assert r.rcode() == dns.rcode.NOERROR and r.answer and r.had_tsig


def test_wrong_secret_gets_badsig(keyed):
    wrong = dns.tsig.Key("transfer-key.", b"x" * 32, "hmac-sha256")
    raw = ask_raw(keyed.port, signed_query(wrong).to_wire())
    r = dns.message.from_wire(raw, keyring=False)
    assert r.rcode() == dns.rcode.NOTAUTH and r.tsig_error == dns.rcode.BADSIG
    assert not r.answer and r.edns == 0


def test_unknown_key_gets_badkey_with_and_without_keys_configured(keyed, live):
    other = dns.tsig.Key("other-key.", b"y" * 32, "hmac-sha256")
    for port in (keyed.port, live.port):
        r = dns.message.from_wire(ask_raw(port, signed_query(other).to_wire()), keyring=False)
        assert r.rcode() == dns.rcode.NOTAUTH and r.tsig_error == dns.rcode.BADKEY
        assert not r.answer and r.question
