"""Minimal DNS wire helpers for the read path: build a query, parse one answer section.

Reads are the hot path of a fenced write (one before, one to verify), and a general
parser costs ~10x more than the server's work. These helpers handle exactly what the
backend asks: one question, IN class, answers of type A, AAAA, TXT or CNAME (a CNAME
marker) at that name. Records of other types than the question's, CNAMEs of a TXT
question included, are skipped, never guessed at.
"""

from __future__ import annotations

import socket
import struct

A, AAAA, TXT, CNAME = 1, 28, 16, 5
QUICKACK = getattr(socket, "TCP_QUICKACK", 12)
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out.append(len(raw))
        out += raw
    return bytes(out) + b"\0"


def query(name: str, rdtype: int) -> bytes:
    """A query without id (framing sets it) and without RD: we ask the authority."""
    return _HEADER.pack(0, 0, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", rdtype, 1)


def frame(message: bytes, message_id: int) -> bytes:
    return len(message).to_bytes(2, "big") + message_id.to_bytes(2, "big") + message[2:]


def _skip_name(data: bytes, pos: int) -> int:
    while True:
        if pos >= len(data):
            raise ValueError("name runs past the message")
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def _read_name(data: bytes, pos: int) -> str:
    """The (possibly compressed) name at pos, as text without the final dot."""
    labels: list[str] = []
    for _ in range(128):  # more jumps than labels in any name: a pointer loop
        if pos >= len(data):
            raise ValueError("name runs past the message")
        length = data[pos]
        if length & 0xC0 == 0xC0:
            pos = int.from_bytes(data[pos : pos + 2], "big") & 0x3FFF
            continue
        if length == 0:
            return ".".join(labels)
        labels.append(data[pos + 1 : pos + 1 + length].decode("ascii", errors="replace"))
        pos += 1 + length
    raise ValueError("name compression loops")


def parse_answer(data: bytes) -> tuple[int, int | None, list[str]]:
    """(rcode, ttl of the first matching record, values) for the question's type."""
    if len(data) < 12:
        raise ValueError("answer shorter than a DNS header")
    _, flags, qd, an, _, _ = _HEADER.unpack_from(data)
    rcode = flags & 0xF
    pos = 12
    qtype = 0
    for _ in range(qd):
        pos = _skip_name(data, pos)
        qtype = struct.unpack_from("!H", data, pos)[0]
        pos += 4
    values: list[str] = []
    ttl: int | None = None
    for _ in range(an):
        pos = _skip_name(data, pos)
        rtype, _, rttl, rdlen = _RR.unpack_from(data, pos)
        pos += _RR.size
        rdata = data[pos : pos + rdlen]
        pos += rdlen
        if rtype != qtype:
            continue
        ttl = rttl if ttl is None else ttl
        if rtype == A:
            values.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == AAAA:
            values.append(socket.inet_ntop(socket.AF_INET6, rdata))
        elif rtype == TXT:
            values.append(_txt(rdata))
        elif rtype == CNAME:
            values.append(_read_name(data, pos - rdlen))
    return rcode, ttl, values


def _txt(rdata: bytes) -> str:
    out, pos = [], 0
    while pos < len(rdata):
        n = rdata[pos]
        out.append(rdata[pos + 1 : pos + 1 + n])
        pos += 1 + n
    return b"".join(out).decode(errors="replace")


class FrameReader:
    """Reads length-prefixed DNS messages from a TCP socket, buffering efficiently."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, bytearray()

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            # servers that write the length prefix and the message separately meet our
            # delayed ACK (40 ms per answer); ask the kernel to ACK at once
            self.sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk

    def next(self) -> bytes:
        self._fill(2)
        size = int.from_bytes(self.buf[:2], "big")
        self._fill(2 + size)
        data = bytes(self.buf[2 : 2 + size])
        del self.buf[: 2 + size]
        return data


# -- UPDATE messages (RFC 2136), built directly: dnspython's builder costs ~10 us/record --
IN, NONE, ANY = 1, 254, 255
ANY_TYPE = 255
SOA = 6
OPCODE_UPDATE = 5 << 11
_RRHEAD = struct.Struct("!HHIH")


def txt_rdata(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 255:
        raise ValueError("TXT string longer than 255 bytes")
    return bytes([len(raw)]) + raw


def address_rdata(rtype: int, address: str) -> bytes:
    family = socket.AF_INET if rtype == A else socket.AF_INET6
    return socket.inet_pton(family, address)


class UpdateBuilder:
    """Prerequisites and updates of one UPDATE message, in wire format."""

    def __init__(self, zone: str) -> None:
        self.zone = encode_name(zone)
        self.prereq: list[bytes] = []
        self.updates: list[bytes] = []

    @staticmethod
    def _rr(name: bytes, rtype: int, rclass: int, ttl: int, rdata: bytes = b"") -> bytes:
        return name + _RRHEAD.pack(rtype, rclass, ttl, len(rdata)) + rdata

    def require_unused(self, name: str) -> None:
        """RFC 2136 2.4.5: name is not in use, no rrset of any type (else YXDOMAIN)."""
        self.prereq.append(self._rr(encode_name(name), ANY_TYPE, NONE, 0))

    def require_exactly(self, name: str, rtype: int, rdatas: list[bytes]) -> None:
        """RFC 2136 2.4.2: RRset exists with exactly these rdatas (else NXRRSET)."""
        owner = encode_name(name)
        self.prereq += [self._rr(owner, rtype, IN, 0, r) for r in rdatas]

    def delete_rrset(self, name: str, rtype: int) -> None:
        self.updates.append(self._rr(encode_name(name), rtype, ANY, 0))

    def replace(self, name: str, rtype: int, ttl: int, rdatas: list[bytes]) -> None:
        self.delete_rrset(name, rtype)
        self.add(name, rtype, ttl, rdatas)

    def add(self, name: str, rtype: int, ttl: int, rdatas: list[bytes]) -> None:
        """RFC 2136 2.5.1; a CNAME added where a CNAME is replaces it (3.4.2.2)."""
        owner = encode_name(name)
        self.updates += [self._rr(owner, rtype, IN, ttl, r) for r in rdatas]

    def wire(self, message_id: int = 0) -> bytes:
        header = _HEADER.pack(message_id, OPCODE_UPDATE, 1, len(self.prereq), len(self.updates), 0)
        return b"".join(
            [header, self.zone, struct.pack("!HH", SOA, IN), *self.prereq, *self.updates]
        )
