"""Value checkers for config keys: each returns the clean value or raises ValueError(why).

Rules kept here: a checker never guesses (no coercion of strings to numbers), and its
message says what was expected and what was found; the caller adds file and line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from zonewarden.core.names import canonical_name, display_name


def num(lo: float, hi: float) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"expected a number, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"{v} is outside {lo}..{hi}")
        return float(v)

    return check


def integer(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"expected an integer, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"{v} is outside {lo}..{hi}")
        return v

    return check


def nonempty(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError(f"expected a non-empty string, got {v!r}")
    return v


def choice(*options: str) -> Callable[[Any], str]:
    if not options:
        raise TypeError("choice() needs at least one option")

    def check(v: Any) -> str:
        if v not in options:
            raise ValueError(f"{v!r} is not one of: {', '.join(options)}")
        return str(v)

    return check


def boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def strings(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise ValueError(f"expected a list of strings, got {v!r}")
    return tuple(v)


def addresses(
    kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address],
) -> Callable[[Any], tuple[str, ...]]:
    def check(v: Any) -> tuple[str, ...]:
        out = []
        for text in strings(v) if v else ():
            try:
                out.append(str(kind(text)))
            except ValueError:
                family = "IPv4" if kind is ipaddress.IPv4Address else "IPv6"
                raise ValueError(f"{text!r} is not an {family} address") from None
        return tuple(out)

    return check


def listen(v: Any) -> tuple[str, ...]:
    out = []
    for item in strings(v):
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"{item!r} is not ADDR:PORT (for example 127.0.0.1:5353 or [::1]:5353)"
            )
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(f"{item!r}: {host!r} is not an IP address") from None
        out.append(item)
    return tuple(out)


def dns_name(v: Any) -> str:
    """A DNS name the server can encode (core.names), in canonical A-label form."""
    return canonical_name(nonempty(v))


def dns_names(v: Any) -> tuple[str, ...]:
    names = tuple(dns_name(x) for x in strings(v))
    if len(set(names)) != len(names):
        raise ValueError(f"a name is listed twice: {[display_name(n) for n in names]}")
    return names
