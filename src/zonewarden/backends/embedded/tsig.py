"""TSIG on queries to the embedded server (RFC 8945): verify with a known key, else BADKEY.

Rules kept here:
- a query signed with a key the server does not know gets NOTAUTH with a TSIG record
  whose error is BADKEY and whose MAC is empty, unsigned (RFC 8945 5.2, 5.3.2), the
  question and the EDNS state echoed (as Knot does); it is never answered as if
  unsigned;
- with keys configured, a signed query is verified (MAC, then time within its fudge)
  by dnspython's TSIG code; a bad MAC gets NOTAUTH/BADSIG and a clock outside the fudge
  NOTAUTH/BADTIME, both unsigned; a verified query is answered as usual and the answer
  signed with the same key over the request's MAC;
- this is the slow path only: TSIG queries never meet the fast path (their ARCOUNT
  names a record that is not a bare OPT).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Mapping

import dns.exception
import dns.message
import dns.tsig

from zonewarden.backends.embedded.wire import (
    BADKEY,
    BADTIME,
    BADVERS,
    C_ANY,
    FORMERR,
    NOTAUTH,
    T_TSIG,
    Query,
    read_name,
)

BADSIG = BADVERS  # one number, two names (RFC 8945 section 3)
AnswerFn = Callable[[bytes, Query, int], bytes]
TSIG_ROOM = 160  # octets kept free below the UDP limit for the TSIG record of a signed answer


class TsigKeys:
    """The server's TSIG keys by lower-case wire name; empty means every key is unknown."""

    def __init__(self, keys: Mapping[str, tuple[str, str]] | None = None) -> None:
        """`keys`: key name -> (algorithm, base64 secret)."""
        self.keys: dict[bytes, dns.tsig.Key] = {}
        for name, (algorithm, secret) in (keys or {}).items():
            key = dns.tsig.Key(name, base64.b64decode(secret), algorithm)
            self.keys[key.name.to_wire().lower()] = key  # type: ignore[union-attr]

    def answer(self, data: bytes, q: Query, limit: int, answer: AnswerFn, opt: bytes) -> bytes:
        """The reply to signed query `q`: signed when verified, else a TSIG error.
        `opt` is the server's OPT record for this query's EDNS state (b"" without)."""
        assert q.tsig is not None
        key = self.keys.get(q.tsig.key)
        if key is None:
            return error_reply(data, q, BADKEY, opt)
        try:
            signed = dns.message.from_wire(data, keyring=key)
        except dns.tsig.BadTime:
            return error_reply(data, q, BADTIME, opt)
        except (dns.tsig.BadSignature, dns.tsig.PeerError):
            return error_reply(data, q, BADSIG, opt)
        except dns.exception.DNSException:
            return error_reply(data, q, BADSIG, opt, rcode=FORMERR)
        unsigned = bytearray(data[: q.tsig.start])
        struct.pack_into("!H", unsigned, 10, struct.unpack_from("!H", data, 10)[0] - 1)
        reply = dns.message.from_wire(answer(bytes(unsigned), q, limit - TSIG_ROOM))
        reply.request_mac = signed.mac or b""
        reply.use_tsig(key, original_id=signed.id)
        return reply.to_wire()


def error_reply(data: bytes, q: Query, error: int, opt: bytes, *, rcode: int = NOTAUTH) -> bytes:
    """NOTAUTH with an unsigned TSIG record carrying `error` (RFC 8945 5.3.2)."""
    assert q.tsig is not None
    rdata = q.tsig.rdata
    alg = read_name(rdata, 0)
    if alg is None or alg[1] + 10 > len(rdata):
        return _header(data, q, FORMERR, bool(opt)) + data[12 : q.question_end] + opt
    time_fudge = rdata[alg[1] : alg[1] + 8]
    tsig_rdata = alg[0] + time_fudge + struct.pack("!HHHH", 0, q.ident, error, 0)
    owner = data[q.tsig.start : q.tsig.start + len(q.tsig.key)]
    record = owner + struct.pack("!HHIH", T_TSIG, C_ANY, 0, len(tsig_rdata)) + tsig_rdata
    return _header(data, q, rcode, 1 + bool(opt)) + data[12 : q.question_end] + opt + record


def _header(data: bytes, q: Query, rcode: int, additional: int) -> bytes:
    high = 0x80 | ((q.flags >> 8) & 0x79)  # QR, opcode, RD
    return struct.pack("!HBBHHHH", q.ident, high, rcode, 1, 0, 0, additional)
