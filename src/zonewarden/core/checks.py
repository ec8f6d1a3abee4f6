"""What a health check probes and how: check targets parsed from URLs, probe settings.

Rules kept here:
- a check is `tcp://HOST:PORT`, `http://HOST[:PORT]/PATH` or `https://HOST[:PORT]/PATH`;
  any other scheme is refused, naming the known ones; HOST is an IP address (a health
  check that needs DNS to find the LB would depend on the thing it steers);
- every address of an LB is probed on its own (`address_checks`): the check's scheme,
  port and path applied to each address of the check host's family, the HTTP Host
  header the check URL's; an LB without a `check` is probed with TCP on port 80 of
  each of its addresses; a check at an address the LB does not serve is a dedicated
  health endpoint and checks the LB as a whole (no address is judged on its own);
- redirects are never followed: a 3xx is a failure whose reason names the location.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from zonewarden.core.model import LoadBalancer

SCHEMES = ("tcp", "http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class CheckTarget:
    scheme: str
    host: str
    port: int
    path: str = "/"
    host_header: str = ""  # the HTTP Host header; "" -> this target's own host:port

    @property
    def authority(self) -> str:
        """HOST:PORT as an HTTP Host header writes it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        tail = self.path if self.scheme != "tcp" else ""
        return f"{self.scheme}://{self.authority}{tail}"

    def at(self, address: str) -> CheckTarget:
        """This check applied to `address`: the same scheme, port and path, and the
        Host header of this check's URL (the LB's virtual host, whichever address)."""
        return CheckTarget(
            self.scheme, address, self.port, self.path, self.host_header or self.authority
        )

    @classmethod
    def parse(cls, text: str) -> CheckTarget:
        """Parse a check URL, or raise ValueError saying what is wrong."""
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            shown = scheme or "(none)"
            raise ValueError(
                f"unknown check scheme {shown!r} in {text!r} (known: {', '.join(SCHEMES)})"
            )
        host = parts.hostname or ""
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise ValueError(f"check {text!r} needs an IP address as host, got {host!r}") from None
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"check {text!r} has a port outside 1..65535") from None
        if port is None:
            if scheme == "tcp":
                raise ValueError(f"check {text!r} needs a port (tcp://HOST:PORT)")
            port = DEFAULT_PORTS[scheme]
        if scheme == "tcp" and parts.path not in ("", "/"):
            raise ValueError(f"check {text!r}: a tcp check has no path")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(scheme, host, port, path)

    @classmethod
    def default_for(cls, lb: LoadBalancer) -> CheckTarget:
        return cls("tcp", (lb.ipv4 or lb.ipv6)[0], 80)


def address_checks(lb: LoadBalancer, check: CheckTarget | None = None) -> dict[str, CheckTarget]:
    """What probing `lb` means, one check per probed address (see the module doc).

    Without a check: TCP port 80 on every address. A check whose host is one of the
    LB's addresses: applied to every address of that family (an IPv4 check says
    nothing about the LB's IPv6 addresses, which follow the LB's verdict). A check at
    any other address (a dedicated health endpoint): that one target, keyed by it."""
    if check is None:
        return {a: CheckTarget("tcp", a, 80) for a in (*lb.ipv4, *lb.ipv6)}
    family = lb.ipv6 if ":" in check.host else lb.ipv4
    if check.host not in family:
        return {check.host: check}
    return {a: check.at(a) for a in family}


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """The [health] section: how often, how patiently and how many at once."""

    interval: float = 1.0
    timeout: float = 1.0
    jitter: float = 0.1  # share of the interval each wait varies by, either way
    rise: int = 2
    fall: int = 2
    max_concurrent: int = 256
    queue_depth: int = 4096  # due probes waiting for a free slot; more are shed (admission)
    lifo_above: int = 256  # while more than this wait, the newest due probe starts first
    probe_deadline: float = 0.0  # a due probe not started within this (0: the interval) is
    # dropped, not run late: a late probe says nothing about now and delays the next ones
    expect_status: tuple[int, int] = (200, 299)
    body_match: str = ""
    max_bytes: int = 65536
    tls_verify: bool = False  # LB health checks usually talk to the LB's own certificate

    def __post_init__(self) -> None:
        if self.queue_depth < 1 or self.lifo_above < 0 or self.probe_deadline < 0:
            raise ValueError("queue_depth must be >= 1, lifo_above and probe_deadline >= 0")
        lo, hi = self.expect_status
        if not 100 <= lo <= hi <= 599:
            raise ValueError(f"expect_status {lo}..{hi} must lie in 100..599, low first")

    @property
    def start_deadline(self) -> float:
        """How long a due probe may wait for a slot before it is dropped."""
        return self.probe_deadline or self.interval
