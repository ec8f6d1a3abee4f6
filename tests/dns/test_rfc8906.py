"""RFC 8906 section 8 ("Testing"): every check, over UDP and over TCP.

Each case is the dig command of the RFC turned into a dnspython query, with the
RFC's expectations asserted on the parsed response.
"""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from tests.dns.conftest import APEX
from tests.dns.query import ask, ask_raw

pytestmark = pytest.mark.servers

TRANSPORTS = [pytest.param(False, id="udp"), pytest.param(True, id="tcp")]


def soa_query(**kw) -> dns.message.Message:
    q = dns.message.make_query(APEX, kw.pop("rdtype", "SOA"), **kw)
    q.flags &= ~dns.flags.RD  # +norec
    return q


def has_soa_answer(r: dns.message.Message) -> bool:
    return any(rrset.rdtype == dns.rdatatype.SOA for rrset in r.answer)


def assert_authoritative_ok(r: dns.message.Message) -> None:
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    assert not r.flags & dns.flags.RA
    assert not r.flags & dns.flags.TC


@pytest.mark.parametrize("tcp", TRANSPORTS)
class TestBasic:
    def test_8_1_1_zone_is_served(self, live, tcp):  # dig +norec +noedns soa zone
        r = ask(live.port, soa_query(use_edns=False), tcp=tcp)
        assert_authoritative_ok(r)
        assert has_soa_answer(r)
        assert r.edns < 0

    def test_8_1_2_unknown_type(self, live, tcp):  # dig +norec +noedns type1000 zone
        r = ask(live.port, soa_query(rdtype=1000, use_edns=False), tcp=tcp)
        assert_authoritative_ok(r)
        assert not r.answer
        assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA]

    @pytest.mark.parametrize("flag", [dns.flags.CD, dns.flags.AD])
    def test_8_1_3_header_bits(self, live, tcp, flag):  # +cd / +ad
        q = soa_query(use_edns=False)
        q.flags |= flag
        r = ask(live.port, q, tcp=tcp)
        assert_authoritative_ok(r)
        assert has_soa_answer(r)
        assert not r.flags & dns.flags.AD  # not a validator, zone not signed

    def test_8_1_3_3_reserved_z_bit(self, live, tcp):  # +zflag
        q = soa_query(use_edns=False)
        q.flags |= 0x0040
        r = ask(live.port, q, tcp=tcp)
        assert_authoritative_ok(r)
        assert has_soa_answer(r)
        assert not r.flags & 0x0040

    def test_8_1_4_unknown_opcode(self, live, tcp):  # +opcode=15 +header-only
        wire = bytearray(soa_query(use_edns=False).to_wire()[:12])
        wire[2] = (wire[2] & 0x87) | (15 << 3)
        wire[5] = 0  # header only: QDCOUNT 0
        reply = ask_raw(live.port, bytes(wire), tcp=tcp)
        assert reply is not None
        r = dns.message.from_wire(reply, question_only=True)
        assert r.rcode() == dns.rcode.NOTIMP
        assert r.opcode() == 15
        assert not any(reply[6:12])  # no records

    def test_8_2_1_edns_supported(self, live, tcp):  # +edns=0
        r = ask(live.port, soa_query(use_edns=0), tcp=tcp)
        assert_authoritative_ok(r)
        assert has_soa_answer(r)
        assert r.edns == 0

    def test_8_2_2_unknown_edns_version(self, live, tcp):  # +edns=1 +noednsneg
        r = ask(live.port, soa_query(use_edns=1), tcp=tcp)
        assert r.rcode() == dns.rcode.BADVERS
        assert r.edns == 0
        assert not has_soa_answer(r)

    def test_8_2_3_unknown_edns_option(self, live, tcp):  # +ednsopt=100
        opt = dns.edns.GenericOption(100, b"")
        r = ask(live.port, soa_query(use_edns=0, options=[opt]), tcp=tcp)
        assert_authoritative_ok(r)
        assert has_soa_answer(r)
        assert r.edns == 0
        assert not any(o.otype == 100 for o in r.options)

    def test_8_2_4_unknown_edns_flag(self, live, tcp):  # +ednsflags=0x80
        r = ask(live.port, soa_query(use_edns=0, ednsflags=0x80), tcp=tcp)
        assert_authoritative_ok(r)
        assert has_soa_answer(r)
        assert r.ednsflags & 0x7FFF == 0  # must-be-zero bits cleared

    def test_8_2_5_dnssec_ok(self, live, tcp):  # +dnssec
        r = ask(live.port, soa_query(use_edns=0, want_dnssec=True), tcp=tcp)
        assert_authoritative_ok(r)
        assert has_soa_answer(r)
        assert r.ednsflags & dns.flags.DO

    def test_8_2_6_truncated_dnskey(self, live, tcp):  # +dnssec +bufsize=512 dnskey
        q = soa_query(rdtype="DNSKEY", use_edns=0, want_dnssec=True, payload=512)
        r = ask(live.port, q, tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR
        assert r.edns == 0
        assert len(r.to_wire()) <= 512 or r.flags & dns.flags.TC

    @pytest.mark.parametrize(
        "extra",
        [
            pytest.param({"options": [dns.edns.GenericOption(100, b"")]}, id="option"),
            pytest.param({"ednsflags": 0x80}, id="flag"),
            pytest.param({"want_dnssec": True}, id="dnssec"),
            pytest.param(
                {"options": [dns.edns.GenericOption(100, b"")], "ednsflags": 0x80}, id="all"
            ),
        ],
    )
    def test_8_2_7_unknown_version_combinations(self, live, tcp, extra):
        r = ask(live.port, soa_query(use_edns=1, **extra), tcp=tcp)
        assert r.rcode() == dns.rcode.BADVERS
        assert r.edns == 0
        assert not has_soa_answer(r)
        assert not any(o.otype == 100 for o in r.options)
        assert r.ednsflags & 0x7FFF == 0

    def test_8_1_5_ipv6_transport(self, live, tcp):
        if live.port6 is None:
            pytest.skip("no IPv6 loopback on this machine")
        r = ask(live.port6, soa_query(use_edns=0), tcp=tcp, host="::1")
        assert_authoritative_ok(r)
        assert has_soa_answer(r)
