"""Snapshots: one immutable, fully prepared view of the zone per applied store version.

Rules kept here:
- a `Snapshot` is never mutated after `SnapshotBuilder.build` returns it; the server swaps
  its reference in one assignment, so every query sees one consistent applied state;
- answers are keyed by lower-cased wire qname + 2-byte qtype and hold wire bytes whose
  owner names point at the question (offset 12), so case is preserved for free;
- a rebuild touches only the endpoints whose content digest changed (a new generation
  with the same records reuses the prepared answers), plus the apex SOA, whose serial is
  the store version; the set of existing names (endpoints, apexes and the empty
  non-terminals between them) is recomputed only when names appear;
- an endpoint whose record set is empty still exists: it answers NOERROR with no data,
  which is exactly what the 2025 failure served and what tests must be able to see;
- endpoints outside every served zone are not served (and counted in `outside`);
- one name whose answers cannot be built (a label that is not ASCII, an address the
  store should never have held) takes down that name only: it is logged once with its
  cause, counted, kept in `broken` (answered SERVFAIL) and every other name is served.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zonewarden.backends.embedded.policy import Answer, Fixed, build_answer
from zonewarden.backends.embedded.settings import ZoneSettings
from zonewarden.backends.embedded.wire import (
    C_IN,
    T_A,
    T_AAAA,
    T_ANY,
    T_NS,
    T_SOA,
    name_to_wire,
)
from zonewarden.core.model import EndpointName, RecordType, ZoneEntry

log = logging.getLogger("zonewarden.dns")
POINTER_TO_QNAME = b"\xc0\x0c"
RR_FIXED = struct.Struct("!HHIH")


@dataclass(frozen=True, slots=True)
class ZoneAnswers:
    """Per zone and version: what negative answers put in the authority section."""

    apex: bytes  # lower-case wire
    soa_negative: bytes  # SOA RR without its owner name, TTL = negative TTL


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    answers: Mapping[bytes, Answer]
    nodes: Mapping[bytes, bytes]  # every existing name -> its zone's apex
    zones: Mapping[bytes, ZoneAnswers]  # by apex, longest apex first
    endpoints: int
    outside: int
    broken: frozenset[bytes] = frozenset()  # names answered SERVFAIL (lower-case wire)
    empty: frozenset[bytes] = frozenset()  # endpoints with no records (lower-case wire)

    def zone_of(self, lname: bytes) -> ZoneAnswers | None:
        """The served zone containing `lname` (lower-case wire), or None."""
        apex = self.nodes.get(lname)
        if apex is not None:
            return self.zones[apex]
        for apex, zone in self.zones.items():
            if lname.endswith(apex) and _at_label_boundary(lname, len(lname) - len(apex)):
                return zone
        return None


def _at_label_boundary(lname: bytes, offset: int) -> bool:
    i = 0
    while i < offset:
        i += lname[i] + 1
    return i == offset


def lenient_wire(name: str) -> bytes:
    """Lower-case wire form of `name` as a client would send it (labels in UTF-8, no
    length checks): the key under which an unbuildable name answers SERVFAIL."""
    labels = [p.encode("utf-8", "surrogateescape") for p in name.lower().split(".") if p]
    return b"".join(bytes((len(x) & 0xFF,)) + x for x in labels) + b"\x00"


def _own_glue(zone: ZoneSettings) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The nameservers of `zone` that lie inside it, with their addresses."""
    apex = zone.apex
    return [g for g in zone.glue if apex == "." or g[0] == apex or g[0].endswith("." + apex)]


def rr(rtype: int, ttl: int, rdata: bytes, owner: bytes = POINTER_TO_QNAME) -> bytes:
    return owner + RR_FIXED.pack(rtype, C_IN, ttl, len(rdata)) + rdata


def _address_rdata(rtype: RecordType, address: str) -> bytes:
    family = socket.AF_INET if rtype is RecordType.A else socket.AF_INET6
    return socket.inet_pton(family, address)  # C speed; the store holds checked addresses


class SnapshotBuilder:
    """Turns store changes into successive snapshots, reusing what did not change."""

    def __init__(self, zones: Sequence[ZoneSettings], multi_k: int = 8) -> None:
        self.zones = sorted(zones, key=lambda z: -len(z.apex_wire))
        self.multi_k = multi_k
        self._answers: dict[bytes, Answer] = {}
        self._keys: dict[EndpointName, tuple[bytes, ...]] = {}
        self._names: dict[bytes, ZoneSettings] = {}
        self._digests: dict[EndpointName, str] = {}  # endpoint wire name -> zone
        self._nodes: dict[bytes, bytes] = {}
        self._broken: dict[EndpointName, bytes] = {}  # endpoint -> its best-effort wire key
        self._empty: dict[EndpointName, bytes] = {}  # endpoint -> wire name, no records
        self.outside = 0
        self.build_errors = 0  # names whose answers could not be built, ever

    def fresh(self) -> SnapshotBuilder:
        """A builder with the same settings and nothing built yet."""
        fresh = SnapshotBuilder(self.zones, self.multi_k)
        fresh.build_errors = self.build_errors
        return fresh

    def _zone_for(self, lname: bytes) -> ZoneSettings | None:
        for zone in self.zones:
            apex = zone.apex_wire
            if lname.endswith(apex) and _at_label_boundary(lname, len(lname) - len(apex)):
                return zone
        return None

    def build(self, version: int, changed: Mapping[EndpointName, ZoneEntry]) -> Snapshot:
        answers = dict(self._answers)
        names_changed = False
        for name, entry in changed.items():
            if self._digests.get(name) == entry.content.digest:
                continue  # only the generation moved (advance_unchanged): same answers
            self._digests[name] = entry.content.digest
            for key in self._keys.pop(name, ()):
                answers.pop(key, None)
            self._broken.pop(name, None)
            self._empty.pop(name, None)
            try:
                lname = name_to_wire(name.lower())
                zone = self._zone_for(lname)
                if zone is None:
                    self.outside += name not in self._keys
                    continue
                keys = self._endpoint_answers(lname, entry, answers)
                if not keys:
                    self._empty[name] = lname
            except Exception as exc:  # this name only: it answers SERVFAIL, the rest serve
                self._unbuildable(name, exc)
                continue
            if lname not in self._names:
                self._names[lname] = zone
                names_changed = True
            self._keys[name] = keys
        zones = {z.apex_wire: self._zone_answers(z, version, answers) for z in self.zones}
        if names_changed or not self._nodes:
            self._nodes = self._all_nodes()
        self._answers = answers
        return Snapshot(
            version=version,
            answers=answers,
            nodes=self._nodes,
            zones=zones,
            endpoints=len(self._keys),
            outside=self.outside,
            broken=frozenset(self._broken.values()),
            empty=frozenset(self._empty.values()),
        )

    def _unbuildable(self, name: EndpointName, exc: Exception) -> None:
        self.build_errors += 1
        self._broken[name] = lenient_wire(name)
        log.error(
            "cannot build answers for %r (%s: %s): it answers SERVFAIL until its records "
            "change; every other name is served",
            name,
            type(exc).__name__,
            exc,
        )

    def _endpoint_answers(
        self, lname: bytes, entry: ZoneEntry, answers: dict[bytes, Answer]
    ) -> tuple[bytes, ...]:
        content = entry.content
        keys = []
        first: Answer | None = None
        for rtype, code in ((RecordType.A, T_A), (RecordType.AAAA, T_AAAA)):
            records = [r for r in content.records if r.rtype is rtype]
            rrs = [rr(code, content.ttl, _address_rdata(rtype, r.address)) for r in records]
            answer = build_answer(content.policy, rrs, [r.weight for r in records], self.multi_k)
            if answer is None:
                continue
            key = lname + struct.pack("!H", code)
            answers[key] = answer
            keys.append(key)
            first = first or answer
        if first is not None:  # the apex's own ANY (its SOA) is written after this
            key = lname + struct.pack("!H", T_ANY)  # RFC 8482: one RRset is enough
            answers[key] = first
            keys.append(key)
        return tuple(keys)

    def _zone_answers(
        self, zone: ZoneSettings, version: int, answers: dict[bytes, Answer]
    ) -> ZoneAnswers:
        apex = zone.apex_wire
        soa = zone.soa_rdata(version)
        soa_answer = Fixed(1, rr(T_SOA, zone.soa_ttl, soa))
        ns_rrs = b"".join(rr(T_NS, zone.ns_ttl, name_to_wire(n)) for n in zone.nameservers)
        answers[apex + struct.pack("!H", T_SOA)] = soa_answer
        answers[apex + struct.pack("!H", T_NS)] = Fixed(len(zone.nameservers), ns_rrs)
        answers[apex + struct.pack("!H", T_ANY)] = soa_answer
        for name, v4, v6 in _own_glue(zone):  # the zone's nameservers, so resolvers reach them
            lname = name_to_wire(name)
            for code, rtype, addrs in ((T_A, RecordType.A, v4), (T_AAAA, RecordType.AAAA, v6)):
                if addrs:
                    rrs = b"".join(rr(code, zone.ns_ttl, _address_rdata(rtype, a)) for a in addrs)
                    answers[lname + struct.pack("!H", code)] = Fixed(len(addrs), rrs)
        return ZoneAnswers(apex, rr(T_SOA, zone.negative_ttl, soa, owner=b""))

    def _all_nodes(self) -> dict[bytes, bytes]:
        nodes = {z.apex_wire: z.apex_wire for z in self.zones}
        names = dict(self._names)
        for zone in self.zones:
            for name, _, _ in _own_glue(zone):
                names.setdefault(name_to_wire(name), zone)
        for lname, zone in names.items():
            apex = zone.apex_wire
            stop = len(lname) - len(apex)
            i = 0
            while i <= stop:  # the name itself and every empty non-terminal above it
                nodes.setdefault(lname[i:], apex)
                i += lname[i] + 1
        return nodes
