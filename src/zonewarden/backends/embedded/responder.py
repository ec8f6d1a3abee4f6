"""The query handler: bytes in, bytes (or nothing) out, from the current snapshot.

Two paths, one behaviour:
- the fast path handles the common query (opcode QUERY, one question, class IN, no
  EDNS or an option-less EDNS 0 OPT) with a dict lookup of the lower-cased question
  bytes and a few slices: the ID, the question (case preserved) and the pre-built
  records are joined, nothing is parsed with a general library;
- everything else, including every miss, goes through `wire.parse_query`, which checks
  every length and pointer and turns bad input into FORMERR, NOTIMP or silence.
Rules kept here: AA on every authoritative answer, RA never set, RD copied, CD, Z and
AD cleared (as NSD and Knot do: no DNSSEC here); REFUSED outside the served zones; NXDOMAIN vs NODATA with the zone's SOA
(negative TTL) in the authority section; BADVERS for EDNS versions above 0; over UDP a
response never exceeds min(client payload, max_udp_payload), or 512 without EDNS: a
larger one is replaced by an empty TC answer so the client retries over TCP.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

from zonewarden.backends.embedded.cookies import Cookies, with_option
from zonewarden.backends.embedded.policy import Rng
from zonewarden.backends.embedded.snapshot import Snapshot
from zonewarden.backends.embedded.tsig import TsigKeys
from zonewarden.backends.embedded.wire import (
    BADVERS,
    C_IN,
    FORMERR,
    NOERROR,
    NOTAUTH,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    T_A,
    T_AAAA,
    T_ANY,
    T_AXFR,
    T_IXFR,
    T_OPT,
    T_TKEY,
    T_TSIG,
    Malformed,
    Query,
    parse_query,
)

ONE_QUESTION = b"\x00\x01\x00\x00\x00\x00\x00\x00"
ONE_QUESTION_OPT = b"\x00\x01\x00\x00\x00\x00\x00\x01"
CLASS_IN = b"\x00\x01"
BARE_OPT = b"\x00\x00\x29"  # root owner, type OPT
TCP_LIMIT = 65535
META_QTYPES = frozenset({T_OPT, T_TSIG, T_TKEY})  # MAILA/MAILB: no data, as NSD
TRANSFERS = frozenset({T_AXFR, T_IXFR})
ADDRESS_QTYPES = frozenset({T_A, T_AAAA, T_ANY})


def flag_table(rcode: int, *, aa: bool = True, tc: bool = False) -> tuple[bytes, bytes]:
    """Response flag bytes indexed by the query's RD bit (CD, AD and Z are not copied)."""
    high = 0x80 | (0x04 if aa else 0) | (0x02 if tc else 0)
    return bytes((high, rcode & 0xF)), bytes((high | 1, rcode & 0xF))


FLAGS_OK = flag_table(NOERROR)
FLAGS_NX = flag_table(NXDOMAIN)
FLAGS_REFUSED = flag_table(REFUSED, aa=False)
FLAGS_SERVFAIL = flag_table(SERVFAIL, aa=False)
FLAGS_TC = flag_table(NOERROR, tc=True)
FLAGS_BADVERS = flag_table(NOERROR, aa=False)  # as NSD and Knot: not an answer, no AA


class Responder:
    """Answers queries from `self.snapshot`, which the watcher replaces atomically."""

    def __init__(
        self,
        snapshot: Snapshot,
        rng: Rng,
        *,
        max_udp_payload: int = 1232,
        tsig: TsigKeys | None = None,
        cookies: Cookies | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.snapshot = snapshot
        self.cookies = cookies
        self.clock = clock
        self.rng = rng
        self.max_udp_payload = max_udp_payload
        self.tsig = tsig or TsigKeys()
        self.servfails = 0  # answers for names whose records could not be built
        # answers by rcode: the fast path's are all NOERROR and only counted (here and in
        # the compiled UDP loop); the careful path's by the rcode of what it built
        self.fast_answers = 0
        self.rcodes: dict[int, int] = {}
        self.empty_answers = 0  # NOERROR without data for an endpoint with no records
        self.opt = (self._opt(0, False), self._opt(0, True))
        self.opt_badvers = (self._opt(BADVERS, False), self._opt(BADVERS, True))

    def answers_by_rcode(self) -> dict[int, int]:
        out = dict(self.rcodes)
        out[NOERROR] = out.get(NOERROR, 0) + self.fast_answers
        return out

    def _opt(self, rcode: int, do: bool) -> bytes:
        ttl = ((rcode >> 4) << 24) | (0x8000 if do else 0)
        return BARE_OPT + struct.pack("!HIH", self.max_udp_payload, ttl, 0)

    # -- the fast path -------------------------------------------------------------------
    def respond(self, data: bytes, udp: bool = True, source: bytes = b"") -> bytes | None:
        """The response to one query message, or None to stay silent. `source` (the
        client's packed address) is needed only with cookies on, and only by the careful
        path: a query with a COOKIE option never takes the fast one."""
        if len(data) > 16 and not data[2] & 0xF8:
            counts = data[4:12]
            p = data.find(0, 12)
            if counts == ONE_QUESTION:
                if p + 5 == len(data) and data[p + 3 : p + 5] == CLASS_IN:
                    answer = self.snapshot.answers.get(data[12 : p + 3].lower())
                    if answer is not None:
                        out = b"".join(
                            (
                                data[:2],
                                FLAGS_OK[data[2] & 1],
                                answer.counts,
                                data[12:],
                                answer.pick(self.rng),
                            )
                        )
                        if not udp or len(out) <= 512:
                            self.fast_answers += 1
                            return out
            elif (
                counts == ONE_QUESTION_OPT
                and p + 16 == len(data)
                and data[p + 3 : p + 5] == CLASS_IN
                and data[p + 5 : p + 8] == BARE_OPT
                and data[p + 11] == 0  # EDNS version 0
                and data[p + 14 : p + 16] == b"\x00\x00"  # no options
            ):
                answer = self.snapshot.answers.get(data[12 : p + 3].lower())
                if answer is not None:
                    out = b"".join(
                        (
                            data[:2],
                            FLAGS_OK[data[2] & 1],
                            answer.counts_edns,
                            data[12 : p + 5],
                            answer.pick(self.rng),
                            self.opt[data[p + 12] >> 7],
                        )
                    )
                    if not udp or len(out) <= 512:
                        self.fast_answers += 1
                        return out  # larger ones: the slow path checks the client's payload
        return self.respond_slowly(data, udp, source)

    # -- the careful path ----------------------------------------------------------------
    def respond_slowly(self, data: bytes, udp: bool = True, source: bytes = b"") -> bytes | None:
        out = self._respond_slowly(data, udp, source)
        if out is not None and len(out) > 3:
            rcode = out[3] & 0xF
            self.rcodes[rcode] = self.rcodes.get(rcode, 0) + 1
        return out

    def _respond_slowly(self, data: bytes, udp: bool, source: bytes) -> bytes | None:
        query = parse_query(data)
        if isinstance(query, Malformed):
            return self._error(data, query) if query.rcode is not None else None
        limit = TCP_LIMIT
        if udp:
            payload = query.edns.payload if query.edns else 512
            limit = min(payload, self.max_udp_payload)
        if query.tsig is not None:
            opt = self.opt[int(query.edns.do)] if query.edns is not None else b""
            return self.tsig.answer(data, query, limit, self._answer, opt)
        return self._answer(data, query, limit, source)

    def _answer(self, data: bytes, q: Query, limit: int, source: bytes = b"") -> bytes:
        flag_index = (q.flags >> 8) & 1
        opt = b""
        if q.edns is not None:
            do = int(q.edns.do)
            if q.edns.version != 0:
                flags = FLAGS_BADVERS[flag_index]
                return _compose(data, q, flags, _counts(0, 0, True), b"", self.opt_badvers[do])
            opt = self.opt[do]
            if self.cookies is not None and q.edns.cookie is not None:
                option = self.cookies.option(q.edns.cookie, source, int(self.clock()))
                if option is None:  # RFC 7873 5.2.2
                    reason = "malformed COOKIE option"
                    m = Malformed(FORMERR, q.ident, q.flags, reason, q.question_end, q.edns)
                    return self._error(data, m)
                opt = with_option(opt, option)
        if q.qtype in META_QTYPES:
            return self._error(
                data,
                Malformed(FORMERR, q.ident, q.flags, "meta type as QTYPE", q.question_end, q.edns),
            )
        if q.qtype in TRANSFERS:  # no zone transfers from here: as Knot (NSD: REFUSED)
            return self._error(
                data, Malformed(NOTAUTH, q.ident, q.flags, "transfer", q.question_end, q.edns)
            )
        snap = self.snapshot
        lname = q.qname.lower()
        answer = snap.answers.get(lname + struct.pack("!H", q.qtype)) if q.qclass == C_IN else None
        if answer is not None:
            counts = answer.counts_edns if opt else answer.counts
            out = _compose(data, q, FLAGS_OK[flag_index], counts, answer.pick(self.rng), opt)
            return out if len(out) <= limit else _truncated(data, q, flag_index, opt)
        zone = snap.zone_of(lname) if q.qclass == C_IN else None
        if zone is None:
            counts = _counts(0, 0, bool(opt))
            return _compose(data, q, FLAGS_REFUSED[flag_index], counts, b"", opt)
        if lname in snap.broken:  # this name's answers could not be built: it alone fails
            self.servfails += 1
            counts = _counts(0, 0, bool(opt))
            return _compose(data, q, FLAGS_SERVFAIL[flag_index], counts, b"", opt)
        owner = struct.pack("!H", 0xC000 | (12 + len(lname) - len(zone.apex)))
        flags = (FLAGS_OK if lname in snap.nodes else FLAGS_NX)[flag_index]
        if lname in snap.empty and q.qtype in ADDRESS_QTYPES:
            self.empty_answers += 1  # what the 2025 failure served: must stay 0
        soa = owner + zone.soa_negative
        out = _compose(data, q, flags, _counts(0, 1, bool(opt)), soa, opt)
        return out if len(out) <= limit else _truncated(data, q, flag_index, opt)

    def _error(self, data: bytes, m: Malformed) -> bytes:
        """FORMERR/NOTIMP/NOTAUTH: opcode and RD echoed, the question when it parsed, and
        an OPT when the query carried a well-formed one (RFC 6891 6.1.1)."""
        high = 0x80 | ((m.flags >> 8) & 0x79)  # QR, opcode, RD
        opt = b"" if m.edns is None else self.opt[int(m.edns.do)]
        head = struct.pack(
            "!HBBHHHH", m.ident, high, m.rcode or 0, int(m.question_end > 12), 0, 0, int(bool(opt))
        )
        return head + data[12 : m.question_end] + opt


def _counts(answers: int, authority: int, edns: bool) -> bytes:
    return struct.pack("!HHHH", 1, answers, authority, 1 if edns else 0)


def _compose(
    data: bytes, q: Query, flags: bytes, counts: bytes, records: bytes, opt: bytes
) -> bytes:
    return b"".join((data[:2], flags, counts, data[12 : q.question_end], records, opt))


def _truncated(data: bytes, q: Query, flag_index: int, opt: bytes) -> bytes:
    counts = _counts(0, 0, bool(opt))
    return _compose(data, q, FLAGS_TC[flag_index], counts, b"", opt)
