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

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from zonewarden.backends.answer_probe import Finding, split_server
from zonewarden.backends.rfc2136 import marker_name, marker_of_cname
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


async def _query(server: str, name: str, rtype: str, timeout: float) -> dns.message.Message | None:
    host, port = split_server(server)
    query = dns.message.make_query(dns.name.from_text(name), dns.rdatatype.from_text(rtype))
    query.flags &= ~0x0100
    try:
        return await dns.asyncquery.udp(query, host, port=port, timeout=timeout)
    except (dns.exception.DNSException, ValueError, OSError):
        return None  # the address probe reports timeouts and garbage; nothing to add


async def read_marker(server: str, endpoint: str, timeout: float) -> Marker | None:
    """The endpoint's marker at `server`: the `_zw` CNAME, else its TXT."""
    owner = dns.name.from_text(marker_name(endpoint))
    for rtype in ("CNAME", "TXT"):
        reply = await _query(server, owner.to_text(), rtype, timeout)
        if reply is None or reply.rcode() != dns.rcode.NOERROR:
            continue
        for rrset in reply.answer:
            if rrset.name != owner:
                continue
            for rd in rrset:
                if rrset.rdtype == dns.rdatatype.CNAME:
                    found = marker_of_cname(rd.target.to_text(omit_final_dot=True))
                elif rrset.rdtype == dns.rdatatype.TXT:
                    found = Marker.parse(b"".join(rd.strings).decode(errors="replace"))
                else:
                    found = None
                if found is not None:
                    return found
    return None


async def read_serial(server: str, zone: str, timeout: float) -> int | None:
    reply = await _query(server, zone, "SOA", timeout)
    if reply is None:
        return None
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None


async def watch_round(
    watch: MarkerWatch,
    servers: Sequence[str],
    endpoints: Iterable[str],
    zones: Iterable[str],
    *,
    timeout: float = 1.0,
    concurrency: int = 256,
) -> list[Finding]:
    """One round: every server's SOA serial per zone, and every endpoint's marker at the
    servers that publish markers; the findings are the ones that went backwards."""
    import asyncio

    gate = asyncio.Semaphore(concurrency)
    names = sorted(set(endpoints))

    async def marker(server: str, name: str) -> tuple[str, str, Marker | None]:
        async with gate:
            return server, name, await read_marker(server, name, timeout)

    async def serial(server: str, zone: str) -> tuple[str, str, int | None]:
        async with gate:
            return server, zone, await read_serial(server, zone, timeout)

    asking = [s for s in servers if s not in watch.without_markers]
    markers = await asyncio.gather(*(marker(s, n) for s in asking for n in names))
    serials = await asyncio.gather(*(serial(s, z) for s in servers for z in sorted(set(zones))))
    out: list[Finding] = []
    seen: dict[str, int] = {}
    for server, name, found in markers:
        if found is not None:
            seen[server] = seen.get(server, 0) + 1
            alert = watch.marker(server, name, int(found.generation))
            if alert is not None:
                out.append(alert)
    watch.without_markers.update(s for s in asking if names and s not in seen)
    for server, zone, value in serials:
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
