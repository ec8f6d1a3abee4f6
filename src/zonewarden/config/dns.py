"""The keys of the [dns] table (the embedded DNS server), each with its checker.

Rules kept here: every value is range-checked where it is read, so a bad one is an
error at its file and line, never a traceback from the server; the server's own
settings (`backends.embedded.settings.ServerSettings`) keep the defaults, and
`cli/dns.py` maps these keys onto them. TSIG keys are `[[dns.tsig_keys]]` tables with
`name`, `algorithm` and a base64 `secret`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable
from typing import Any

from zonewarden.config.checks import (
    addresses,
    boolean,
    dns_name,
    dns_names,
    integer,
    listen,
    nonempty,
    num,
)


def nameservers(v: Any) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """[[dns.nameservers]] tables: name, ipv4, ipv6 -> (name, v4s, v6s), names unique."""
    if not isinstance(v, list) or not v or not all(isinstance(item, dict) for item in v):
        raise ValueError("expected [[dns.nameservers]] tables with name, ipv4 and/or ipv6")
    out = []
    for item in v:
        unknown = set(item) - {"name", "ipv4", "ipv6"}
        if unknown or "name" not in item:
            raise ValueError(f"a nameserver needs name (and ipv4/ipv6), got {sorted(item)}")
        name = dns_name(item["name"])
        v4 = addresses(ipaddress.IPv4Address)(item.get("ipv4", []))
        v6 = addresses(ipaddress.IPv6Address)(item.get("ipv6", []))
        out.append((name, v4, v6))
    names = [n for n, _, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"a nameserver is listed twice: {names}")
    return tuple(out)


TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1")


def octet_prefix(bits: int) -> Callable[[Any], int]:
    """A prefix length that is a whole number of octets, up to `bits`."""

    def check(v: Any) -> int:
        value = integer(8, bits)(v)
        if value % 8:
            raise ValueError(f"{value} is not a multiple of 8 (use 8, 16, ... {bits})")
        return value

    return check


def cookie_secret(v: Any) -> str:
    text = nonempty(v)
    try:
        if len(bytes.fromhex(text)) == 16:
            return text
    except ValueError:
        pass
    raise ValueError("expected 32 hex digits (a 16-octet secret)")


def tsig_keys(v: Any) -> tuple[tuple[str, str, str], ...]:
    if not isinstance(v, list) or not all(isinstance(item, dict) for item in v):
        raise ValueError("expected [[dns.tsig_keys]] tables with name, algorithm and secret")
    out = []
    for item in v:
        unknown = set(item) - {"name", "algorithm", "secret"}
        if unknown or "name" not in item or "secret" not in item:
            raise ValueError(
                f"a TSIG key needs name and secret (and optionally algorithm), got {sorted(item)}"
            )
        algorithm = item.get("algorithm", "hmac-sha256")
        if algorithm not in TSIG_ALGORITHMS:
            raise ValueError(f"TSIG algorithm {algorithm!r} is not one of {TSIG_ALGORITHMS}")
        try:
            base64.b64decode(nonempty(item["secret"]), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"TSIG key {item['name']!r}: secret is not base64") from None
        out.append((str(dns_name(item["name"])), algorithm, item["secret"]))
    return tuple(out)


DNS_KEYS: dict[str, Callable[[Any], Any]] = {
    "listen": listen,
    "processes": integer(1, 64),
    "udp_payload": integer(512, 4096),
    "multi_answers": integer(1, 64),
    "soa_mname": dns_name,
    "soa_rname": dns_name,
    "soa_refresh": integer(0, 2**31),
    "soa_retry": integer(0, 2**31),
    "soa_expire": integer(0, 2**31),
    "soa_minimum": integer(0, 86400),
    "ns": dns_names,
    "nameservers": nameservers,  # [[dns.nameservers]]: the zone's NS set with addresses
    "metrics_listen": nonempty,
    "tcp_idle_timeout": num(0.1, 3600),
    "tcp_message_timeout": num(0.1, 600),
    "tcp_max_connections": integer(1, 100_000),
    "tcp_max_per_source": integer(1, 100_000),
    "tcp_backlog": integer(1, 65535),
    "rrl_rate": integer(0, 10_000_000),  # 0 turns response rate limiting off
    "rrl_slip": integer(0, 100),
    "rrl_window": num(1, 3600),
    "rrl_ipv4_prefix": octet_prefix(32),
    "rrl_ipv6_prefix": octet_prefix(128),
    "rrl_size": integer(1000, 100_000_000),
    "tsig_keys": tsig_keys,
    "cookies": boolean,
    "cookie_secret": cookie_secret,
}
