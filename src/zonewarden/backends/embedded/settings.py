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
    tcp_idle_timeout: float = 10.0
    tcp_max_connections: int = 256
    batched_udp: bool = True  # recvmmsg/sendmmsg where available (Linux)
    metrics_listen: str = ""  # ADDR:PORT for Prometheus text over HTTP; "" = off

    def __post_init__(self) -> None:
        if not self.zones:
            raise ValueError("the DNS server needs at least one zone")
        if not 512 <= self.max_udp_payload <= 65535:
            raise ValueError(f"max UDP payload {self.max_udp_payload} is outside 512..65535")
        if self.multi_k < 1:
            raise ValueError(f"weighted-multi K must be >= 1, not {self.multi_k}")
        if self.processes < 1:
            raise ValueError(f"--processes must be >= 1, not {self.processes}")


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
