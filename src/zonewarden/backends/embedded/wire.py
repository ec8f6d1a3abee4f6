"""DNS wire format for the embedded server: constants, names, and the careful query parser.

Rules kept here:
- nothing in this module trusts a count, a length or a pointer from the network: every
  read is bounds-checked, names are limited to 255 octets and 63-octet labels, and
  compression pointers must point strictly backwards (so loops cannot exist);
- `parse_query` never raises on bad input: it returns a `Query` or a `Malformed` that
  says which rcode (if any) the caller should answer with, and how much of the query
  (the question, the EDNS state) can be echoed in that error (RFC 6891 6.1.1: an OPT
  in every reply to a query that carried a well-formed one);
- the authority section is accepted only in IXFR queries (RFC 1995: the client's SOA),
  whose records are bounds-checked and skipped; a TSIG record must be the last
  additional record (RFC 8945 5.1) and is located, not trusted;
- names are kept as wire bytes; the lower-cased form (`bytes.lower()` only touches
  A-Z, never a length octet, since those are <= 63) is the lookup key everywhere.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# header flags (16-bit word)
QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100
RA = 0x0080
AD = 0x0020
CD = 0x0010

# rcodes
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
NOTAUTH = 9
BADVERS = 16  # also BADSIG (TSIG error field)
BADKEY, BADTIME, BADCOOKIE = 17, 18, 23

# types and classes
T_A, T_NS, T_SOA, T_AAAA, T_OPT, T_ANY = 1, 2, 6, 28, 41, 255
T_IXFR, T_AXFR, T_MAILB, T_MAILA, T_TSIG, T_TKEY = 251, 252, 253, 254, 250, 249
C_IN, C_ANY = 1, 255
DO_BIT = 0x8000
OPT_COOKIE = 10

MAX_NAME = 255
MAX_LABEL = 63
MIN_UDP_PAYLOAD = 512
HEADER = struct.Struct("!HHHHHH")


@dataclass(frozen=True, slots=True)
class Edns:
    """What the client's OPT record said; options other than the cookie are ignored
    (RFC 6891 section 6.1.2)."""

    payload: int
    version: int
    do: bool
    cookie: bytes | None = None  # the COOKIE option's data (RFC 7873), when sent


@dataclass(frozen=True, slots=True)
class Tsig:
    """Where a query's TSIG record is and which key it names (nothing verified yet)."""

    start: int  # offset of the TSIG RR: the signed part of the message ends here
    key: bytes  # lower-case wire name of the key
    rdata: bytes  # the record's rdata as sent


@dataclass(frozen=True, slots=True)
class Query:
    """A well-formed query: the question as sent (case preserved) and its EDNS state."""

    ident: int
    flags: int
    qname: bytes  # wire form, as sent
    qtype: int
    qclass: int
    question_end: int  # offset just past QCLASS
    edns: Edns | None
    tsig: Tsig | None = None

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF


@dataclass(frozen=True, slots=True)
class Malformed:
    """A packet we cannot answer normally; rcode None means drop it silently."""

    rcode: int | None
    ident: int = 0
    flags: int = 0
    reason: str = ""
    question_end: int = 12  # the question is echoed when it parsed (12: no question)
    edns: Edns | None = None  # a well-formed OPT: the error reply carries one too


def name_to_wire(text: str) -> bytes:
    """Wire form of a dotted name (absolute or not); raises ValueError when too long."""
    labels = [p for p in text.strip().rstrip(".").split(".") if p] if text.strip(".") else []
    out = bytearray()
    for label in labels:
        raw = label.encode("ascii")
        if not 0 < len(raw) <= MAX_LABEL:
            raise ValueError(f"label {label!r} of {text!r} is not 1-63 octets")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > MAX_NAME:
        raise ValueError(f"name {text!r} is longer than 255 octets on the wire")
    return bytes(out)


def wire_to_text(wire: bytes) -> str:
    """Dotted text of an uncompressed wire name (for logs and tests)."""
    parts, i = [], 0
    while wire[i]:
        n = wire[i]
        parts.append(wire[i + 1 : i + 1 + n].decode("ascii", "backslashreplace"))
        i += n + 1
    return ".".join(parts) + "."


def read_name(data: bytes, offset: int) -> tuple[bytes, int] | None:
    """Read a possibly compressed name at `offset`: (uncompressed wire, end offset).

    None when the name is truncated, too long, uses a reserved label type or a pointer
    that does not point strictly backwards (which rules out loops)."""
    out = bytearray()
    end = -1
    limit = len(data)
    pos = offset
    floor = offset  # pointers must go below every position seen so far
    while True:
        if pos >= limit:
            return None
        n = data[pos]
        if n == 0:
            out.append(0)
            if end < 0:
                end = pos + 1
            return (bytes(out), end) if len(out) <= MAX_NAME else None
        if n & 0xC0 == 0xC0:
            if pos + 1 >= limit:
                return None
            target = ((n & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= floor:
                return None
            floor = target
            pos = target
            continue
        if n & 0xC0:
            return None  # 0x40 / 0x80 label types are obsolete or reserved
        if pos + 1 + n > limit:
            return None
        out += data[pos : pos + 1 + n]
        if len(out) + 1 > MAX_NAME:
            return None
        pos += 1 + n


def _skip_record(data: bytes, pos: int) -> tuple[int, int, int, int, int] | None:
    """(type, class, ttl, rdata offset, end) of the resource record at `pos`, or None."""
    name = read_name(data, pos)
    if name is None:
        return None
    _, pos = name
    if pos + 10 > len(data):
        return None
    rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
    start = pos + 10
    if start + rdlen > len(data):
        return None
    return rtype, rclass, ttl, start, start + rdlen


def parse_query(data: bytes) -> Query | Malformed:
    """Parse a query the slow, thorough way (the responder's fast path comes first)."""
    if len(data) < 12:
        return Malformed(None, reason="shorter than a DNS header")
    ident, flags, qd, an, ns, ar = HEADER.unpack_from(data)
    if flags & QR:
        return Malformed(None, reason="a response, not a query")
    question = _question(data) if qd == 1 else None
    if (flags >> 11) & 0xF != 0:
        echo = _echo(data, question, an, ns, ar)
        return Malformed(NOTIMP, ident, flags, "opcode not implemented", *echo)
    if question is None:
        reason = f"QDCOUNT is {qd}, not 1" if qd != 1 else "question name or fields malformed"
        return Malformed(FORMERR, ident, flags, reason)
    qname, qtype, qclass, question_end = question
    records = _records(data, question_end, an, ns, ar, ixfr=qtype == T_IXFR)
    if isinstance(records, Malformed):
        edns = records.edns
        return Malformed(FORMERR, ident, flags, records.reason, question_end, edns)
    edns, tsig = records
    return Query(ident, flags, qname, qtype, qclass, question_end, edns, tsig)


def _question(data: bytes) -> tuple[bytes, int, int, int] | None:
    """(qname as sent, qtype, qclass, end) of the one question, or None."""
    name = read_name(data, 12)
    if name is None or name[1] + 4 > len(data) or name[1] - 12 != len(name[0]):
        return None  # truncated, or a compressed question name
    qtype, qclass = struct.unpack_from("!HH", data, name[1])
    return data[12 : name[1]], qtype, qclass, name[1] + 4


def _echo(
    data: bytes, question: tuple[bytes, int, int, int] | None, an: int, ns: int, ar: int
) -> tuple[int, Edns | None]:
    """What an error reply may echo: the question and the EDNS state, when they parse."""
    if question is None:
        return 12, None
    records = _records(data, question[3], an, ns, ar, ixfr=True)
    edns = records.edns if isinstance(records, Malformed) else records[0]
    return question[3], edns


def _records(
    data: bytes, pos: int, an: int, ns: int, ar: int, *, ixfr: bool
) -> tuple[Edns | None, Tsig | None] | Malformed:
    if an or (ns and not ixfr):
        return Malformed(FORMERR, reason="query carries answer or authority records")
    for _ in range(ns):
        rec = _skip_record(data, pos)
        if rec is None:
            return Malformed(FORMERR, reason="authority record truncated or malformed")
        pos = rec[4]
    edns: Edns | None = None
    tsig: Tsig | None = None
    for _ in range(ar):
        if tsig is not None:
            return Malformed(FORMERR, reason="TSIG is not the last record", edns=edns)
        rec = _skip_record(data, pos)
        if rec is None:
            return Malformed(FORMERR, reason="additional record truncated or malformed", edns=edns)
        rtype, rclass, ttl, start, end = rec
        if rtype == T_OPT:
            if edns is not None or data[pos] != 0:
                return Malformed(FORMERR, reason="more than one OPT, or OPT not at the root")
            cookie = _options(data, start, end)
            if isinstance(cookie, bool):
                return Malformed(FORMERR, reason="EDNS option lengths do not add up")
            payload = max(rclass, MIN_UDP_PAYLOAD)
            edns = Edns(payload, (ttl >> 16) & 0xFF, bool(ttl & DO_BIT), cookie)
        elif rtype == T_TSIG:
            name = read_name(data, pos)
            assert name is not None  # _skip_record read it
            tsig = Tsig(pos, name[0].lower(), data[start:end])
        pos = end
    if pos != len(data):
        return Malformed(FORMERR, reason="trailing bytes after the last record", edns=edns)
    return edns, tsig


def _options(data: bytes, pos: int, end: int) -> bytes | bool | None:
    """The COOKIE option's data (None without one), or False when lengths do not add up."""
    cookie: bytes | None = None
    while pos < end:
        if pos + 4 > end:
            return False
        code, length = struct.unpack_from("!HH", data, pos)
        if code == OPT_COOKIE and pos + 4 + length <= end:
            cookie = data[pos + 4 : pos + 4 + length]
        pos += 4 + length
    return cookie if pos == end else False
