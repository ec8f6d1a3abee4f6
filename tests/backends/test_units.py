"""Offline units: the wire helpers, the [backend] config table, missing servers."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rrset
import pytest

from tests.backends.servers import need
from tests.helpers import content
from zonewarden.backends import wire
from zonewarden.backends.base import decide as fence_decision
from zonewarden.backends.base import served
from zonewarden.backends.rfc2136 import Rfc2136Backend, _cname_of_marker, marker_of_cname
from zonewarden.config import demo_toml, parse
from zonewarden.core.model import EndpointName, Generation
from zonewarden.core.outcomes import Outcome
from zonewarden.errors import ConfigError
from zonewarden.ports import LiveEndpoint, Marker


def test_parse_answer_reads_addresses_and_txt_past_compression():
    q = dns.message.make_query("kv.example.", "A")
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("kv.example.", 30, "IN", "A", "10.0.0.1", "10.0.0.2"))
    rcode, ttl, values = wire.parse_answer(r.to_wire())
    assert (rcode, ttl, sorted(values)) == (0, 30, ["10.0.0.1", "10.0.0.2"])
    q = dns.message.make_query("_zw.kv.example.", "TXT")
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("_zw.kv.example.", 60, "IN", "TXT", '"zw1 g=3 d=ab"'))
    assert wire.parse_answer(r.to_wire())[2] == ["zw1 g=3 d=ab"]
    r = dns.message.make_response(q)
    r.set_rcode(dns.rcode.NXDOMAIN)
    assert wire.parse_answer(r.to_wire()) == (3, None, [])


def test_update_builder_matches_what_dnspython_reads():
    u = wire.UpdateBuilder("example.")
    u.require_exactly("_zw.kv.example.", wire.TXT, [wire.txt_rdata("zw1 g=1 d=x")])
    u.replace("kv.example.", wire.A, 60, [wire.address_rdata(wire.A, "10.0.0.1")])
    u.delete_rrset("kv.example.", wire.AAAA)
    m = dns.message.from_wire(u.wire(7))
    assert m.id == 7 and m.opcode() == 5
    assert [str(r) for r in m.sections[1]] == ['_zw.kv.example. 0 IN TXT "zw1 g=1 d=x"']
    assert len(m.sections[2]) == 3  # delete A, add A, delete AAAA


def test_parse_answer_reads_a_cname_target_past_compression():
    q = dns.message.make_query("_zw.kv.example.", "CNAME")
    r = dns.message.make_response(q)
    target = "zw1.g3.dab.invalid."
    r.answer.append(dns.rrset.from_text("_zw.kv.example.", 60, "IN", "CNAME", target))
    r.answer.append(
        dns.rrset.from_text("x.kv.example.", 60, "IN", "CNAME", "zw1.g4.dab.kv.example.")
    )
    data = r.to_wire()
    assert data.count(b"\x02kv\x07example") == 1  # the second target is compressed
    assert wire.parse_answer(data)[2] == ["zw1.g3.dab.invalid", "zw1.g4.dab.kv.example"]


def test_cname_marker_round_trips_and_ignores_foreign_targets():
    m = Marker(Generation(12), "0123456789abcdef0123456789abcdef")
    target = _cname_of_marker(m)
    assert target == "zw1.g12.d0123456789abcdef0123456789abcdef.invalid"
    assert marker_of_cname(target.upper()) == m
    for other in ("www.example", "zw1.g1.dab.example", "zw1.gx.dab.invalid", "zw1.g1.invalid"):
        assert marker_of_cname(other) is None
    with pytest.raises(ConfigError, match="marker_type 'srv' unknown"):
        Rfc2136Backend("127.0.0.1", "example.", require_tsig=False, marker_type="srv")


def test_backend_config_needs_its_keys_and_names_the_line():
    with pytest.raises(ConfigError, match=r"line \d+: \[backend\] kind = 'rfc2136' needs 'server'"):
        parse(demo_toml() + '\n[backend]\nkind = "rfc2136"\n')
    with pytest.raises(ConfigError, match=r"batch_size: 900 is outside 1\.\.250"):
        parse(demo_toml() + '\n[backend]\nkind = "rfc2136"\nserver = "x"\nbatch_size = 900\n')
    with pytest.raises(ConfigError, match=r"marker_type"):
        parse(demo_toml() + '\n[backend]\nkind = "rfc2136"\nserver = "x"\nmarker_type = "a"\n')
    config = parse(demo_toml() + '\n[backend]\nkind = "route53"\nhosted_zone_id = "Z1"\n')
    assert config.backend["hosted_zone_id"] == "Z1"


def test_a_missing_server_binary_fails_and_names_the_install_script():
    with pytest.raises(RuntimeError, match=r"scripts/install-test-deps\.sh"):
        need("no-such-dns-server", "Debian package nothing")


def test_backend_decision_is_the_fence_plus_the_served_records():
    c = content("10.0.0.1")
    g = Generation(5)

    def live(gen: int, digest: str, addresses=None) -> LiveEndpoint:
        return LiveEndpoint(
            EndpointName("kv.example."),
            Marker(Generation(gen), digest),
            served(c) if addresses is None else addresses,
        )

    assert fence_decision(None, g, c) is None
    assert fence_decision(live(4, c.digest), g, c) is None
    assert fence_decision(live(6, "x"), g, c) is Outcome.FENCED_OUT
    assert fence_decision(live(5, c.digest), g, c) is Outcome.CURRENT
    assert fence_decision(live(5, "x"), g, c) is None  # same generation, other content
    assert fence_decision(live(5, c.digest, frozenset()), g, c) is None  # records drifted
