"""The query shapes ISC's DNS compliance tester (genreport) sends, as wire bytes.

Each shape is a name and a function of (qname, qtype) returning one query message
plus whether it goes over TCP. The differential suite sends every shape to ZoneWarden,
NSD and Knot and compares the answers field by field (`fields`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring

# a key that no server in the tests knows (genreport signs with one as well)
UNKNOWN_KEY = dns.tsig.Key("unknown-key.", b"0123456789abcdef0123456789abcdef", "hmac-sha256")
Z_FLAG = 0x0040


@dataclass(frozen=True)
class Shape:
    name: str
    build: Callable[[str, str], bytes]
    tcp: bool = False


def _query(
    qname: str,
    qtype: str,
    *,
    edns: int = -1,
    payload: int = 4096,
    do: bool = False,
    options: list[dns.edns.Option] | None = None,
    ednsflags: int = 0,
    flags: int = 0,
    norec: bool = True,
    opcode: int = 0,
    key: dns.tsig.Key | None = None,
) -> bytes:
    q = dns.message.make_query(
        qname,
        qtype,
        use_edns=edns,
        payload=payload,
        want_dnssec=do,
        options=options or [],
        ednsflags=ednsflags,
    )
    if norec:
        q.flags &= ~dns.flags.RD
    q.flags |= flags
    q.id = 0x2A2A
    if key is not None:
        q.use_tsig(key)
    wire = bytearray(q.to_wire())
    if opcode:
        wire[2] = (wire[2] & 0x87) | (opcode << 3)
    return bytes(wire)


def _opt(code: int, data: bytes) -> dns.edns.Option:
    return dns.edns.GenericOption(code, data)


NSID = _opt(3, b"")
COOKIE = _opt(10, bytes.fromhex("0102030405060708"))
EXPIRE = _opt(9, b"")
SUBNET = _opt(8, struct.pack("!HBB", 1, 0, 0))  # family 1, /0, scope 0
UNKNOWN_OPT = _opt(100, b"")

SHAPES: list[Shape] = [
    Shape("plain", lambda n, t: _query(n, t)),
    Shape("aa", lambda n, t: _query(n, t, flags=dns.flags.AA)),
    Shape("ad", lambda n, t: _query(n, t, flags=dns.flags.AD)),
    Shape("cd", lambda n, t: _query(n, t, flags=dns.flags.CD)),
    Shape("ra", lambda n, t: _query(n, t, flags=dns.flags.RA)),
    Shape("rd", lambda n, t: _query(n, t, norec=False)),
    Shape("tc", lambda n, t: _query(n, t, flags=dns.flags.TC)),
    Shape("zflag", lambda n, t: _query(n, t, flags=Z_FLAG)),
    Shape("opcode", lambda n, t: _query(n, t, opcode=15)),
    Shape(
        "opcodeflg",
        lambda n, t: _query(
            n, t, opcode=15, flags=dns.flags.TC | dns.flags.AA | dns.flags.AD | Z_FLAG
        ),
    ),
    Shape("type666", lambda n, t: _query(n, "TYPE666")),
    Shape("tcp", lambda n, t: _query(n, t), tcp=True),
    Shape("edns", lambda n, t: _query(n, t, edns=0)),
    Shape("edns1", lambda n, t: _query(n, t, edns=1)),
    Shape("edns@512", lambda n, t: _query(n, t, edns=0, payload=512, do=True)),
    Shape("ednsopt", lambda n, t: _query(n, t, edns=0, options=[UNKNOWN_OPT])),
    Shape("edns1opt", lambda n, t: _query(n, t, edns=1, options=[UNKNOWN_OPT])),
    Shape("do", lambda n, t: _query(n, t, edns=0, do=True)),
    Shape("ednsflags", lambda n, t: _query(n, t, edns=0, ednsflags=0x0080)),
    Shape(
        "optlist",
        lambda n, t: _query(n, t, edns=0, options=[NSID, SUBNET, EXPIRE, COOKIE]),
    ),
    Shape("nsid", lambda n, t: _query(n, t, edns=0, options=[NSID])),
    Shape("cookie", lambda n, t: _query(n, t, edns=0, options=[COOKIE])),
    Shape("expire", lambda n, t: _query(n, t, edns=0, options=[EXPIRE])),
    Shape("subnet", lambda n, t: _query(n, t, edns=0, options=[SUBNET])),
    Shape("signed", lambda n, t: _query(n, t, edns=0, key=UNKNOWN_KEY)),
    Shape("signed-noedns", lambda n, t: _query(n, t, key=UNKNOWN_KEY)),
    Shape("ednstcp", lambda n, t: _query(n, t, edns=0), tcp=True),
    Shape("edns1tcp", lambda n, t: _query(n, t, edns=1), tcp=True),
    Shape("ixfr", lambda n, t: _ixfr(n)),
    Shape("axfr-tcp", lambda n, t: _query(n, "AXFR"), tcp=True),
    Shape("maila", lambda n, t: _query(n, "MAILA")),
    Shape("mailb", lambda n, t: _query(n, "MAILB", edns=0)),
]
# names each shape is asked about: the apex SOA, an endpoint's A, a missing name
# (one.example. has a single address, so every server gives the same answer)
TARGETS = [("example.", "SOA"), ("one.example.", "A"), ("nx.example.", "A")]


def _ixfr(apex: str) -> bytes:
    q = dns.message.make_query(apex, "IXFR")
    q.flags &= ~dns.flags.RD
    q.id = 0x2A2A
    soa = dns.rrset.from_text(apex, 0, "IN", "SOA", f"ns1.{apex} h.{apex} 1 3600 600 86400 60")
    q.authority.append(soa)
    return q.to_wire()


def fields(wire: bytes) -> dict[str, object]:
    """Every field of a response compared across servers (all but the ID-free payload size
    and the apex NS NSD adds to positive answers)."""
    m = dns.message.from_wire(wire, ignore_trailing=True, keyring=False)  # type: ignore[arg-type]
    head = struct.unpack("!H", wire[2:4])[0]
    out: dict[str, object] = {
        "id": m.id,
        "opcode": (head >> 11) & 0xF,
        "flags": dns.flags.to_text(head & 0x87F0 & ~0x0040),
        "z": bool(head & 0x0040),
        "rcode": m.rcode(),
        "question": [q.to_text().lower() for q in m.question],
        "answer": sorted(r.to_text().lower() for r in m.answer),
        "authority": sorted(
            r.to_text().lower()
            for r in m.authority
            if not (r.rdtype == dns.rdatatype.NS and m.answer)
        ),
        "additional": sorted(r.to_text().lower() for r in m.additional),
        "edns": m.edns,
        "ednsflags": dns.flags.edns_to_text(m.ednsflags) if m.edns >= 0 else "",
        "options": sorted(o.otype for o in m.options),
        "tsig": None if not m.had_tsig else (m.keyname.to_text(), m.tsig_error),
    }
    return out
