"""The answer probe's watch on generation markers: alert when what a DNS server says
about an endpoint's generation goes backwards, the sign of a stale writer (the 2025
race) or of a server serving an older copy of the zone.

What each server exposes:
- zones written by the RFC 2136 backend carry a marker per endpoint at `_zw.<name>`,
  a CNAME `zw1.g<generation>.d<digest>.invalid.` (or, with `marker_type = "txt"`, a TXT
  `zw1 g=<generation> d=<digest>`), readable by any client (backends/rfc2136.py);
- the embedded server publishes no per-endpoint marker (generations are not DNS data
  there); what it exposes is its SOA serial, the zone store's version (mod 2**32), which
  only moves forward while the server serves one store. So for it the watch is per
  server: a serial that goes backwards (RFC 1982 comparison) means the server answers
  from an older zone than it did in the last round.

Rules kept here: `MarkerWatch` is pure (what was seen, what goes backwards); a server
that answers no marker for any endpoint in a round is not asked for markers again, so
servers without markers cost one SOA query per round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dns.rcode

from zonewarden.backends.answer_probe import Finding, split_server
from zonewarden.backends.rfc2136 import marker_name, marker_of_cname
from zonewarden.backends.udp_asker import T_CNAME, T_SOA, T_TXT, Answer, Outcome, ask_many
from zonewarden.ports import Marker

SERIAL_HALF = 2**31


def serial_before(a: int, b: int) -> bool:
    """RFC 1982: serial `a` is before serial `b` (32-bit arithmetic)."""
    return a != b and ((a < b and b - a < SERIAL_HALF) or (a > b and a - b > SERIAL_HALF))


@dataclass
class MarkerWatch:
    """The last generation seen per (server, endpoint) and SOA serial per server."""

    generations: dict[tuple[str, str], int] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)
    without_markers: set[str] = field(default_factory=set)

    def marker(self, server: str, endpoint: str, generation: int) -> Finding | None:
        key = (server, endpoint)
        last = self.generations.get(key)
        self.generations[key] = generation
        if last is not None and generation < last:
            return Finding(
                server,
                endpoint,
                "marker",
                "marker-backwards",
                detail=f"generation marker went back from {last} to {generation}",
            )
        return None

    def serial(self, server: str, zone: str, serial: int) -> Finding | None:
        last = self.serials.get(server)
        self.serials[server] = serial
        if last is not None and serial_before(serial, last):
            return Finding(
                server,
                zone,
                "SOA",
                "serial-backwards",
                detail=f"SOA serial went back from {last} to {serial}: an older zone",
            )
        return None


def _marker(outcome: Outcome) -> Marker | None:
    if not isinstance(outcome, Answer) or outcome.rcode != dns.rcode.NOERROR:
        return None
    for value in outcome.values(T_CNAME):
        found = marker_of_cname(str(value))
        if found is not None:
            return found
    for value in outcome.values(T_TXT):
        found = Marker.parse(str(value))
        if found is not None:
            return found
    return None


async def read_markers(
    server: str, endpoints: Sequence[str], timeout: float, window: int = 512
) -> list[Marker | None]:
    """Each endpoint's marker at `server`: the `_zw` CNAME, else its TXT."""
    host, port = split_server(server)
    owners = [marker_name(e) for e in endpoints]
    cnames = await ask_many(
        host, port, [(o, "CNAME") for o in owners], timeout=timeout, window=window
    )
    found = [_marker(o) for o in cnames]
    missing = [i for i, m in enumerate(found) if m is None]
    txts = await ask_many(
        host, port, [(owners[i], "TXT") for i in missing], timeout=timeout, window=window
    )
    for i, outcome in zip(missing, txts, strict=True):
        found[i] = _marker(outcome)
    return found


async def read_serial(server: str, zone: str, timeout: float) -> int | None:
    host, port = split_server(server)
    (outcome,) = await ask_many(host, port, [(zone, "SOA")], timeout=timeout)
    if isinstance(outcome, Answer):
        for value in outcome.values(T_SOA):
            return int(value)
    return None


async def watch_round(
    watch: MarkerWatch,
    servers: Sequence[str],
    endpoints: Iterable[str],
    zones: Iterable[str],
    *,
    timeout: float = 1.0,
    concurrency: int = 512,
) -> list[Finding]:
    """One round: every server's SOA serial per zone, and every endpoint's marker at the
    servers that publish markers; the findings are the ones that went backwards."""
    import asyncio

    names = sorted(set(endpoints))
    asking = [s for s in servers if s not in watch.without_markers]
    markers = await asyncio.gather(*(read_markers(s, names, timeout, concurrency) for s in asking))
    pairs = [(s, z) for s in servers for z in sorted(set(zones))]
    serials = await asyncio.gather(*(read_serial(s, z, timeout) for s, z in pairs))
    out: list[Finding] = []
    seen: dict[str, int] = {}
    for server, found in zip(asking, markers, strict=True):
        for name, marker in zip(names, found, strict=True):
            if marker is not None:
                seen[server] = seen.get(server, 0) + 1
                alert = watch.marker(server, name, int(marker.generation))
                if alert is not None:
                    out.append(alert)
    watch.without_markers.update(s for s in asking if names and s not in seen)
    for (server, zone), value in zip(pairs, serials, strict=True):
        if value is not None:
            alert = watch.serial(server, zone, value)
            if alert is not None:
                out.append(alert)
    return out


def marker_summary(watch: MarkerWatch) -> Mapping[str, str]:
    """Per server, what the watch follows: markers or only the SOA serial."""
    servers = {s for s, _ in watch.generations} | set(watch.serials) | watch.without_markers
    return {
        s: "soa-serial" if s in watch.without_markers else "markers+soa-serial"
        for s in sorted(servers)
    }
