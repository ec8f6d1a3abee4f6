"""Offline units: the wire helpers, the [backend] config table, missing servers."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rrset
import pytest

from tests.backends.servers import need
from zonewarden.backends import wire
from zonewarden.config import demo_toml, parse
from zonewarden.errors import ConfigError


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


def test_backend_config_needs_its_keys_and_names_the_line():
    with pytest.raises(ConfigError, match=r"line \d+: \[backend\] kind = 'rfc2136' needs 'server'"):
        parse(demo_toml() + '\n[backend]\nkind = "rfc2136"\n')
    with pytest.raises(ConfigError, match=r"batch_size: 900 is outside 1\.\.250"):
        parse(demo_toml() + '\n[backend]\nkind = "rfc2136"\nserver = "x"\nbatch_size = 900\n')
    config = parse(demo_toml() + '\n[backend]\nkind = "route53"\nhosted_zone_id = "Z1"\n')
    assert config.backend["hosted_zone_id"] == "Z1"


def test_a_missing_server_binary_fails_and_names_the_install_script():
    with pytest.raises(RuntimeError, match=r"scripts/install-test-deps\.sh"):
        need("no-such-dns-server", "Debian package nothing")
