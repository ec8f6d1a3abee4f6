"""Settings of the embedded DNS server: listeners, limits, and each zone's SOA and NS.

Rules kept here:
- every value has a sane default, so `ZoneSettings("example.")` is a complete zone;
- the SOA serial is not a setting: it is the zone store's version (mod 2**32), so
  secondaries and caches see every applied change;
- the negative-caching TTL is min(SOA TTL, SOA minimum) (RFC 2308 section 5).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cache

from zonewarden.backends.embedded.wire import name_to_wire

DEFAULT_LISTEN = ("127.0.0.1:5353", "[::1]:5353")


@dataclass(frozen=True, slots=True)
class ZoneSettings:
    """One served zone: its apex and the SOA/NS synthesized there."""

    apex: str
    mname: str = ""  # default ns1.<apex>
    rname: str = ""  # default hostmaster.<apex>
    nameservers: tuple[str, ...] = ()  # default (mname,)
    # addresses of nameservers inside the zone, answered as their A/AAAA (and exported),
    # so a resolver that primes from the NS set can reach them: (name, ipv4s, ipv6s)
    glue: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    soa_ttl: int = 3600
    ns_ttl: int = 3600
    refresh: int = 3600
    retry: int = 600
    expire: int = 1209600
    minimum: int = 60

    def __post_init__(self) -> None:
        apex = self.apex.strip().lower()
        apex = apex if apex.endswith(".") else apex + "."
        object.__setattr__(self, "apex", apex)
        suffix = "" if apex == "." else apex
        if not self.mname:
            object.__setattr__(self, "mname", "ns1." + suffix)
        if not self.rname:
            object.__setattr__(self, "rname", "hostmaster." + suffix)
        if not self.nameservers:
            object.__setattr__(self, "nameservers", (self.mname,))
        for value in (self.soa_ttl, self.ns_ttl, self.refresh, self.retry, self.expire):
            if not 0 <= value < 2**31:
                raise ValueError(f"zone {apex}: SOA/NS timer {value} is outside 0..2**31-1")

    @property
    def apex_wire(self) -> bytes:
        return _wire(self.apex)

    @property
    def negative_ttl(self) -> int:
        return min(self.soa_ttl, self.minimum)

    def soa_rdata(self, serial: int) -> bytes:
        return (
            name_to_wire(self.mname)
            + name_to_wire(self.rname)
            + struct.pack(
                "!IIIII", serial % 2**32, self.refresh, self.retry, self.expire, self.minimum
            )
        )


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the server listens and what it tolerates."""

    zones: tuple[ZoneSettings, ...] = field(default_factory=lambda: (ZoneSettings("example."),))
    listen: tuple[str, ...] = DEFAULT_LISTEN
    processes: int = 1
    max_udp_payload: int = 1232  # DNS flag day 2020 value; never answer larger over UDP
    multi_k: int = 8  # weighted-multi answers at most K addresses
    poll_interval: float = 0.025  # seconds between changed_since polls
    tcp_idle_timeout: float = 10.0  # between messages (a partial message is not activity)
    tcp_message_timeout: float = 3.0  # a whole message within this of its first byte
    tcp_max_connections: int = 256
    tcp_max_per_source: int = 64  # connections from one address
    tcp_backlog: int = 512  # listen() backlog (the kernel caps it at net.core.somaxconn)
    batched_udp: bool = True  # recvmmsg/sendmmsg where available (Linux)
    compiled_udp: bool = True  # the compiled batch loop, when it was built at install
    metrics_listen: str = ""  # ADDR:PORT for Prometheus text over HTTP; "" = off
    # response rate limiting (UDP), on by default as in NSD; rrl_rate = 0 turns it off
    rrl_rate: int = 200  # answers per second per (source prefix, name, type, class)
    rrl_slip: int = 2  # every Nth limited answer goes out truncated (0: none, 1: all)
    rrl_window: float = 15.0  # seconds of debt a flooding bucket keeps (stays limited)
    rrl_ipv4_prefix: int = 24
    rrl_ipv6_prefix: int = 56
    rrl_size: int = 100_000  # buckets kept; beyond, the table starts afresh (bounded memory)
    cookies: bool = False  # DNS cookies (RFC 7873): server cookies in answers
    cookie_secret: str = ""  # 32 hex digits; "" = a random secret per process
    tsig_keys: tuple[tuple[str, str, str], ...] = ()  # (name, algorithm, base64 secret)

    def __post_init__(self) -> None:
        if not self.zones:
            raise ValueError("the DNS server needs at least one zone")
        if not 512 <= self.max_udp_payload <= 65535:
            raise ValueError(f"max UDP payload {self.max_udp_payload} is outside 512..65535")
        if self.multi_k < 1:
            raise ValueError(f"weighted-multi K must be >= 1, not {self.multi_k}")
        if self.processes < 1:
            raise ValueError(f"--processes must be >= 1, not {self.processes}")
        for label, value in (
            ("rrl_ipv4_prefix", self.rrl_ipv4_prefix),
            ("rrl_ipv6_prefix", self.rrl_ipv6_prefix),
        ):
            if value % 8 or not 8 <= value <= (32 if "4" in label else 128):
                raise ValueError(
                    f"{label} = {value}: use a multiple of 8 within the address length"
                )
        if self.rrl_rate < 0 or self.rrl_slip < 0 or self.rrl_window <= 0:
            raise ValueError("rrl_rate and rrl_slip must be >= 0 and rrl_window > 0")
        if self.cookie_secret and len(bytes.fromhex(self.cookie_secret)) != 16:
            raise ValueError("cookie_secret must be 32 hex digits (16 octets)")
        if self.tcp_max_per_source < 1 or self.tcp_message_timeout <= 0 or self.tcp_backlog < 1:
            raise ValueError("tcp_max_per_source, tcp_message_timeout and tcp_backlog must be > 0")


@cache
def _wire(name: str) -> bytes:
    return name_to_wire(name)


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:5353', '[::1]:5353' or '::1' (port 53) -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, "53"
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"listen address {text!r}: port {port!r} is not a number") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"listen address {text!r}: port {number} is outside 0..65535")
    return host, number
