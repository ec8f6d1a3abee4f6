"""The region config's [dns] table reaches the server's settings, and the CLI wins."""

from __future__ import annotations

from zonewarden.cli.dns import settings_from
from zonewarden.config import demo_toml, parse


def demo_with_ns_names() -> str:
    """The demo without its [[dns.nameservers]]: these tests set `ns` names instead."""
    text = demo_toml()
    start = text.index("[[dns.nameservers]]")
    return text[:start] + text[text.index("\n\n", start) + 2 :]


DNS_TABLE = """
[dns]
listen = ["127.0.0.1:5454", "[::1]:5454"]
processes = 2
udp_payload = 1400
multi_answers = 4
soa_mname = "a.ns.example."
soa_rname = "dns.example.com."
soa_refresh = 100
soa_retry = 50
soa_expire = 10000
soa_minimum = 30
ns = ["a.ns.example.", "b.ns.example."]
tcp_idle_timeout = 3.5
tcp_max_connections = 99
tcp_message_timeout = 2.0
tcp_max_per_source = 7
tcp_backlog = 1024
rrl_rate = 50
rrl_slip = 3
rrl_window = 5
rrl_ipv4_prefix = 16
rrl_ipv6_prefix = 48
metrics_listen = "127.0.0.1:9153"

[[dns.tsig_keys]]
name = "xfr-key."
algorithm = "hmac-sha512"
secret = "c2VjcmV0c2VjcmV0c2VjcmV0"
"""


def test_dns_table_maps_onto_settings():
    text = demo_with_ns_names().replace('[dns]\nlisten = ["127.0.0.1:5353"]\n', DNS_TABLE)
    config = parse(text)
    s = settings_from(config.dns, (config.region.zone,), (), None)
    assert s.listen == ("127.0.0.1:5454", "[::1]:5454")
    assert (s.processes, s.max_udp_payload, s.multi_k) == (2, 1400, 4)
    assert (s.tcp_idle_timeout, s.tcp_max_connections) == (3.5, 99)
    assert (s.tcp_message_timeout, s.tcp_max_per_source, s.tcp_backlog) == (2.0, 7, 1024)
    assert (s.rrl_rate, s.rrl_slip, s.rrl_window) == (50, 3, 5.0)
    assert (s.rrl_ipv4_prefix, s.rrl_ipv6_prefix) == (16, 48)
    assert s.metrics_listen == "127.0.0.1:9153"
    assert s.tsig_keys == (("xfr-key.", "hmac-sha512", "c2VjcmV0c2VjcmV0c2VjcmV0"),)
    zone = s.zones[0]
    assert zone.apex == config.region.zone
    assert (zone.mname, zone.rname) == ("a.ns.example.", "dns.example.com.")
    assert (zone.refresh, zone.retry, zone.expire, zone.minimum) == (100, 50, 10000, 30)
    assert zone.nameservers == ("a.ns.example.", "b.ns.example.")
    assert zone.negative_ttl == 30


def test_command_line_wins_and_defaults_are_sane():
    s = settings_from({"processes": 3}, ("example.",), ("127.0.0.1:5353",), 1)
    assert s.listen == ("127.0.0.1:5353",) and s.processes == 1
    zone = settings_from({}, ("Example",), (), None).zones[0]
    assert zone.apex == "example."
    assert (zone.mname, zone.rname, zone.nameservers) == (
        "ns1.example.",
        "hostmaster.example.",
        ("ns1.example.",),
    )
    assert zone.negative_ttl == min(zone.soa_ttl, zone.minimum)


def test_bad_dns_values_name_their_line():
    import pytest

    from zonewarden.errors import ConfigError

    for bad in ("rrl_ipv4_prefix = 20", "rrl_rate = -1", "tcp_backlog = 0"):
        text = demo_with_ns_names().replace(
            '[dns]\nlisten = ["127.0.0.1:5353"]\n', f"[dns]\n{bad}\n"
        )
        with pytest.raises(ConfigError) as err:
            parse(text)
        assert bad.split()[0] in str(err.value) and "line" in str(err.value)
    assert settings_from({}, ("example.",), (), None).rrl_rate == 200  # on by default


def test_dns_overrides_on_the_command_line_are_checked_like_the_config():
    import pytest

    from zonewarden.cli.dns import parse_overrides

    got = parse_overrides(("tcp_max_connections=2000", "rrl_rate=0", "metrics_listen=127.0.0.1:9"))
    assert got == {"tcp_max_connections": 2000, "rrl_rate": 0, "metrics_listen": "127.0.0.1:9"}
    for bad, says in (("nope=1", "KEY one of"), ("rrl_ipv4_prefix=20", "multiple of 8")):
        with pytest.raises(ValueError, match=says):
            parse_overrides((bad,))
