"""RFC 2136 dynamic update backend for BIND 9, Knot and PowerDNS (TSIG, TCP only).

Where the fencing token lives: at `_zw.<endpoint>`, by default a CNAME
`zw1.g<generation>.d<content digest>.invalid.` (or, with marker_type = "txt", a TXT
`"zw1 g=<generation> d=<content digest>"`; see "Marker type" below). Beside the name,
not at it, because
- the endpoint's own rrsets belong to its owners (SPF, site verification); a marker
  there would be replaced or matched by every prerequisite;
- answers for the endpoint stay free of control data, and `dig CNAME _zw.<endpoint>`
  shows an operator which generation is live;
- an UPDATE is atomic over the whole message at every name of the zone (RFC 2136
  3.2-3.4), so the marker needs no shared owner name to be written together.

Every fenced endpoint write is, inside one UPDATE message:
  prerequisite  `_zw.<name>` holds exactly the marker read before, or hinted by the
                ledger (value-dependent RRset exists, 2.4.2), or, for a new endpoint,
                `_zw.<name>` is not in use at all (2.4.5);
  update        replace the marker; replace (or delete) the A and AAAA rrsets.

Many endpoints share a message (default 100; 300 rrsets of 8 records come near the
64 KB message limit, so the batch size is capped at 250). If any prerequisite fails the
server rejects the whole message (NXRRSET, YXRRSET, YXDOMAIN) and applies nothing; the
base class re-reads, resends the batch once, then goes endpoint by endpoint.

Marker type (`marker_type`): "cname" (default) keeps the marker as
`_zw.<name> CNAME zw1.g<generation>.d<digest>.invalid.` (RFC 6761 `.invalid` never
resolves) and replaces it by adding the new one: RFC 2136 3.4.2.2 replaces a CNAME in
place, so the marker is never deleted. "txt" keeps it as a TXT rrset, replaced by
delete + add. Both are fenced alike; "cname" is the default because it is as fast or
faster on every server (BIND 0.75x vs 0.59x of raw nsupdate, Knot 0.86x vs 0.78x,
PowerDNS 0.83x vs 0.14x; docs/benchmarks.md), and PowerDNS needs it. Its RFC 2136
handler applies all deletions before all additions; every deletion that removes records
scans the whole zone for names below (`LIKE '%.<name>'`), and one that leaves nothing at
or below a name lists the whole zone to repair empty non-terminals. Replacing a TXT
marker is such a deletion, and the A rrset's after it then empties the name: about 11 ms
per endpoint in a zone of 8,000 rows, against 1.4 ms for an A replace at a name that
keeps a marker below it (bench/update_shapes.py, docs/benchmarks.md). BIND and Knot
handle both types alike. The type is per zone and ZoneWarden does not convert markers:
a backend of the other type finds no marker of its type, its "not in use" prerequisite
fails, and writes to marked names stop with nothing applied, as a `BackendRejected`
naming both types and the setting (`backend check` also says which type a PowerDNS
server wants). Switching means rewriting the markers with writers stopped.

Errors, translated here once: timeouts, refused connections, SERVFAIL, REFUSED and
NOTAUTH are `BackendUnavailable` (retry, with the likely cause named); a TSIG error
(unknown key, bad signature, clock skew; PowerDNS answers those with an unsigned
REFUSED/NOTAUTH), NOTZONE and FORMERR are `BackendRejected` naming the server and what
to fix. UPDATEs go over TCP only, so a lost answer can be resent on a new connection: a
fenced resend of an UPDATE that did land fails its prerequisite and reads back CURRENT.

Speed: queries and UPDATEs are built and parsed by `wire` (dnspython's general
builder costs ~10 us per record); reads are pipelined on one persistent TCP connection;
TSIG signing and answer verification stay with dnspython.
"""

from __future__ import annotations

import base64
import binascii
import random
import socket
import struct
import time
from collections.abc import Sequence

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig
import dns.tsigkeyring

import dns.query
from zonewarden.backends import wire
from zonewarden.backends.base import Change, FencedBackend, addresses_of
from zonewarden.core.model import EndpointName, RecordType
from zonewarden.errors import BackendRejected, BackendUnavailable, ConfigError
from zonewarden.ports import LiveEndpoint, Marker

MARKER_LABEL = "_zw"
MAX_BATCH = 250
MARKER_TTL = 60
MARKER_TYPES = {"txt": wire.TXT, "cname": wire.CNAME}
CNAME_MARKER_SUFFIX = "invalid"  # RFC 6761: never resolves, so nothing chases the marker
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1")
PREREQ_FAILED = {dns.rcode.NXRRSET, dns.rcode.YXRRSET, dns.rcode.NXDOMAIN, dns.rcode.YXDOMAIN}
RETRYABLE = {dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTAUTH}
ADDRESS_TYPES = (RecordType.A, RecordType.AAAA)
RDTYPE = {RecordType.A: wire.A, RecordType.AAAA: wire.AAAA}


def marker_name(name: str) -> str:
    return f"{MARKER_LABEL}.{name}"


class Rfc2136Backend(FencedBackend):
    """Fenced writes to one primary server over TCP, signed with a TSIG key."""

    def __init__(
        self,
        server: str,
        zone: str,
        *,
        port: int = 53,
        tsig_name: str | None = None,
        tsig_secret: str | None = None,
        tsig_algorithm: str = "hmac-sha256",
        require_tsig: bool = True,
        timeout: float = 3.0,
        batch_size: int = 100,
        verify: bool = True,
        marker_type: str = "cname",
    ) -> None:
        super().__init__(zone, batch_size=min(batch_size, MAX_BATCH), verify=verify)
        if marker_type not in MARKER_TYPES:
            raise ConfigError(
                f"[backend] marker_type {marker_type!r} unknown (known: txt, cname; cname "
                "for PowerDNS, see the rfc2136 backend's notes)"
            )
        self.marker_type, self.marker_rdtype = marker_type, MARKER_TYPES[marker_type]
        self.server, self.port, self.timeout = server, port, timeout
        self.description = f"DNS server {server}:{port} (zone {self.zone})"
        self.keyring: dict[dns.name.Name, dns.tsig.Key] | None = None
        self.keyname: dns.name.Name | None = None
        self.algorithm = tsig_algorithm
        if tsig_name and tsig_secret:
            self._set_key(tsig_name, tsig_secret, tsig_algorithm)
        elif require_tsig:
            raise ConfigError(
                f"RFC 2136 backend for {self.description} needs a TSIG key: set [backend] "
                "tsig_key_name and tsig_secret (HMAC-SHA256), or require_tsig = false to "
                "send unsigned updates (only for servers that allow them by address)"
            )
        self.sock: socket.socket | None = None

    def _set_key(self, name: str, secret: str, algorithm: str) -> None:
        if algorithm not in TSIG_ALGORITHMS:
            raise ConfigError(
                f"TSIG algorithm {algorithm!r} unknown (known: {', '.join(TSIG_ALGORITHMS)})"
            )
        try:
            base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"TSIG secret of key {name!r} is not base64") from None
        self.keyname = dns.name.from_text(name)
        self.keyring = dns.tsigkeyring.from_text({name: (algorithm, secret)})

    # -- connection ----------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        if self.sock is None:
            try:
                self.sock = socket.create_connection((self.server, self.port), self.timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError as exc:
                raise self._down(exc) from exc
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _down(self, exc: BaseException) -> BackendUnavailable:
        self.close()
        if isinstance(exc, TimeoutError | dns.exception.Timeout):
            return BackendUnavailable(
                f"{self.description}: no answer within {self.timeout:g}s (server paused or "
                "overloaded?); an UPDATE in flight is all or nothing, and the retry's "
                "prerequisite makes resending it safe; ZoneWarden retries"
            )
        cause = str(exc) or type(exc).__name__
        return BackendUnavailable(
            f"{self.description} is unreachable ({cause}); is it running and listening on "
            "TCP? nothing was applied by this attempt; ZoneWarden retries"
        )

    def _explain_rejection(self, name: EndpointName) -> None:
        other = "cname" if self.marker_type == "txt" else "txt"
        query = dns.message.make_query(marker_name(name), other.upper())
        try:
            answer = dns.query.tcp(query, self.server, port=self.port, timeout=self.timeout)
        except (OSError, dns.exception.DNSException):
            return
        if any(rrset.rdtype == dns.rdatatype.from_text(other) for rrset in answer.answer):
            raise BackendRejected(
                f"{self.description}: {marker_name(name)} holds a {other.upper()} marker but "
                f"[backend] marker_type is {self.marker_type!r}; a fenced write cannot pass "
                f"it. Set marker_type = {other!r}, or stop the enactors and delete the "
                f"{other.upper()} markers to switch types"
            )

    def probe(self) -> list[str]:
        """What the server says it is (version.bind), and whether the marker type suits
        it: PowerDNS with TXT markers lists the zone on every write (see the notes)."""
        query = dns.message.make_query("version.bind.", "TXT", "CH")
        try:
            answer = dns.query.tcp(query, self.server, port=self.port, timeout=self.timeout)
            version = " ".join(
                s.decode(errors="replace")
                for rrset in answer.answer
                for rd in rrset
                for s in rd.strings
            )
        except (OSError, dns.exception.DNSException):
            version = ""
        facts = [
            f"server says it is: {version or 'unknown (version.bind not answered)'}",
            f"marker: _zw.<name> {self.marker_type.upper()}, exact-value prerequisite in every UPDATE",
        ]
        if "powerdns" in version.lower() and self.marker_type == "txt":
            facts.append(
                "PowerDNS scans the zone when a TXT marker is replaced (0.1-0.2x the raw "
                'update rate); set [backend] marker_type = "cname" (docs/benchmarks.md)'
            )
        return facts

    def _exchange_update(self, update: wire.UpdateBuilder) -> dns.message.Message:
        """Send one UPDATE over TCP and return the verified answer; one reconnect."""
        for attempt in (1, 2):
            message, mac = self._signed(update)
            try:
                sock = self._connect()
                sock.settimeout(self.timeout)
                sock.sendall(len(message).to_bytes(2, "big") + message)
                data = wire.FrameReader(sock).next()
            except (OSError, EOFError) as exc:
                self.close()
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise self._down(exc) from exc
                continue
            try:
                return dns.message.from_wire(data, keyring=self.keyring, request_mac=mac)
            except (dns.tsig.PeerError, dns.message.UnknownTSIGKey, dns.tsig.BadSignature) as exc:
                self.close()
                raise self._bad_key(exc) from exc
            except dns.exception.DNSException as exc:
                self.close()
                unsigned = _unsigned(data)
                if unsigned is None:
                    raise BackendUnavailable(
                        f"{self.description} sent an unreadable answer to an UPDATE ({exc})"
                    ) from exc
                if unsigned.rcode() in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
                    # PowerDNS answers an unknown or wrong key this way, unsigned
                    rcode = dns.rcode.to_text(unsigned.rcode())
                    raise self._bad_key(RuntimeError(f"{rcode}, answer unsigned")) from exc
                if unsigned.rcode() != dns.rcode.NOERROR:
                    return unsigned  # SERVFAIL and friends: mapped by the caller
                raise BackendRejected(
                    f"{self.description} accepted a signed UPDATE but did not sign its answer; "
                    "check the TSIG configuration of the server"
                ) from exc
        raise AssertionError("unreachable")

    def _bad_key(self, exc: BaseException) -> BackendRejected:
        return BackendRejected(
            f"{self.description} rejected TSIG key {self.keyname} ({type(exc).__name__}: "
            f"{exc or 'bad key or signature'}); make [backend] tsig_key_name, tsig_secret "
            "and tsig_algorithm match the key in the server's config (and its update "
            "policy grant this key the zone), and check both clocks"
        )

    # -- hooks ---------------------------------------------------------------------------
    def _read(self, names: Sequence[EndpointName]) -> dict[EndpointName, LiveEndpoint]:
        queries = []
        for n in names:
            queries += [
                wire.query(marker_name(n), self.marker_rdtype),
                wire.query(n, wire.A),
                wire.query(n, wire.AAAA),
            ]
        answers = self._exchange_raw(queries)
        out = {}
        for i, n in enumerate(names):
            mark, a, aaaa = (self._answer(answers[3 * i + k]) for k in range(3))
            marker = self._marker(mark[1])
            addresses = {(RecordType.A, x) for x in a[1]} | {(RecordType.AAAA, x) for x in aaaa[1]}
            ttl = a[0] if a[1] else aaaa[0] if aaaa[1] else None
            out[n] = LiveEndpoint(n, marker, frozenset(addresses), ttl)
        return out

    def _read_back(self, applied: Sequence[Change]) -> dict[EndpointName, LiveEndpoint]:
        """The marker and the address types each new content serves. Types it does not
        serve were deleted by the same atomic UPDATE that set the marker, so a marker
        read back as ours proves them gone; reading them again would prove nothing."""
        queries, plan = [], []
        for c in applied:
            types = [t for t in ADDRESS_TYPES if addresses_of(c.content, t)]
            queries.append(wire.query(marker_name(c.name), self.marker_rdtype))
            queries += [wire.query(c.name, RDTYPE[t]) for t in types]
            plan.append((c.name, types))
        answers = iter(self._exchange_raw(queries))
        out = {}
        for name, types in plan:
            _, values = self._answer(next(answers))
            marker = self._marker(values)
            addresses: set[tuple[RecordType, str]] = set()
            ttl = None
            for t in types:
                ttl_t, values = self._answer(next(answers))
                ttl = ttl if ttl is not None else ttl_t
                addresses |= {(t, x) for x in values}
            out[name] = LiveEndpoint(name, marker, frozenset(addresses), ttl)
        return out

    def _marker(self, values: list[str]) -> Marker | None:
        parse = Marker.parse if self.marker_rdtype == wire.TXT else marker_of_cname
        return next(filter(None, (parse(v) for v in values)), None)

    def _answer(self, data: bytes) -> tuple[int | None, list[str]]:
        try:
            rcode, ttl, values = wire.parse_answer(data)
        except ValueError as exc:
            raise BackendUnavailable(f"{self.description} sent a malformed answer: {exc}") from exc
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise BackendUnavailable(
                f"{self.description} answered {dns.rcode.to_text(dns.rcode.Rcode.make(rcode))} to a read; "
                "is the zone loaded? ZoneWarden retries"
            )
        return ttl, values

    def _exchange_raw(self, queries: Sequence[bytes]) -> list[bytes]:
        """Pipelined unsigned reads on the persistent TCP connection, answers in order."""
        for attempt in (1, 2):
            try:
                return self._pipelined_raw(queries)
            except (OSError, EOFError) as exc:
                self.close()
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise self._down(exc) from exc
        raise AssertionError("unreachable")

    def _pipelined_raw(self, queries: Sequence[bytes]) -> list[bytes]:
        sock = self._connect()
        sock.settimeout(self.timeout)
        out: list[bytes] = []
        for start in range(0, len(queries), 60000):
            part = queries[start : start + 60000]
            sock.sendall(b"".join(wire.frame(q, i) for i, q in enumerate(part)))
            answers: list[bytes | None] = [None] * len(part)
            reader = wire.FrameReader(sock)
            for _ in part:
                data = reader.next()
                answers[int.from_bytes(data[:2], "big")] = data
            if any(a is None for a in answers):
                raise EOFError("answers missing")
            out += [a for a in answers if a is not None]
        return out

    def _apply(self, changes: Sequence[Change], *, fenced: bool) -> bool:
        update = wire.UpdateBuilder(self.zone)
        for c in changes:
            _add_change(update, c, fenced=fenced, marker_rdtype=self.marker_rdtype)
        return self._send_update(update, f"{len(changes)} endpoint(s)")

    def _remove(self, name: EndpointName) -> None:
        update = wire.UpdateBuilder(self.zone)
        for t in ADDRESS_TYPES:
            update.delete_rrset(name, RDTYPE[t])
        self._send_update(update, f"removal of {name}")

    def _signed(self, update: wire.UpdateBuilder) -> tuple[bytes, bytes]:
        """The message on the wire, TSIG-signed when a key is set, and its MAC."""
        raw = update.wire(random.getrandbits(16))
        if self.keyring is None or self.keyname is None:
            return raw, b""
        key = self.keyring[self.keyname]
        message_id = int.from_bytes(raw[:2], "big")
        blank = dns.rdtypes.ANY.TSIG.TSIG(  # type: ignore[no-untyped-call]
            dns.rdataclass.ANY,
            dns.rdatatype.TSIG,
            key.algorithm,
            0,
            300,
            b"",
            message_id,
            0,
            b"",
        )
        tsig, _ = dns.tsig.sign(  # type: ignore[no-untyped-call]
            raw, key, blank, int(time.time()), b""
        )
        rdata = tsig.to_wire()
        rr = (
            bytes(self.keyname.to_wire() or b"")
            + struct.pack("!HHIH", 250, 255, 0, len(rdata))
            + rdata
        )
        signed = raw[:10] + (1).to_bytes(2, "big") + raw[12:] + rr
        return signed, tsig.mac

    def _send_update(self, update: wire.UpdateBuilder, what: str) -> bool:
        answer = self._exchange_update(update)
        rcode = answer.rcode()
        if rcode == dns.rcode.NOTAUTH and self.keyring is not None and not answer.had_tsig:
            raise self._bad_key(RuntimeError("NOTAUTH to a signed UPDATE, answer unsigned"))
        if rcode == dns.rcode.NOERROR:
            return True
        if rcode in PREREQ_FAILED:
            return False
        name = dns.rcode.to_text(rcode)
        if rcode in RETRYABLE:
            hint = {
                dns.rcode.SERVFAIL: "the server failed internally",
                dns.rcode.REFUSED: "the server refused it (update policy or ACL does not "
                "allow this key, or the zone is not loaded yet)",
                dns.rcode.NOTAUTH: "the server is not authoritative for the zone now "
                "(zone not loaded, or a secondary)",
            }[rcode]
            raise BackendUnavailable(
                f"{self.description} answered {name} to an UPDATE of {what}: {hint}; "
                "nothing was applied; ZoneWarden retries, fix the server if it persists"
            )
        raise BackendRejected(
            f"{self.description} answered {name} to an UPDATE of {what}; nothing was "
            f"applied; check that the zone is {self.zone} and the server supports RFC 2136"
        )


def _unsigned(data: bytes) -> dns.message.Message | None:
    """The answer parsed without TSIG checks, or None if it is not DNS at all."""
    try:
        return dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None


def _cname_of_marker(marker: Marker) -> str:
    target = f"{Marker.PREFIX}.g{int(marker.generation)}.d{marker.digest}.{CNAME_MARKER_SUFFIX}"
    wire.encode_name(target)  # a digest that is no DNS label fails here, before sending
    return target


def marker_of_cname(target: str) -> Marker | None:
    """The marker a CNAME marker's target holds, or None if it is not one of ours."""
    labels = target.lower().split(".")
    if len(labels) != 4 or labels[0] != Marker.PREFIX or labels[3] != CNAME_MARKER_SUFFIX:
        return None
    if not labels[1].startswith("g") or not labels[2].startswith("d"):
        return None
    return Marker.parse(f"{Marker.PREFIX} g={labels[1][1:]} d={labels[2][1:]}")


def _marker_rdata(marker: Marker, rdtype: int) -> bytes:
    if rdtype == wire.TXT:
        return wire.txt_rdata(marker.text())
    return wire.encode_name(_cname_of_marker(marker))


def _add_change(update: wire.UpdateBuilder, c: Change, *, fenced: bool, marker_rdtype: int) -> None:
    mname = marker_name(c.name)
    if fenced:
        if c.expected is None:
            # not just "no marker of our type": a marker of the other type (a server
            # switched between txt and cname) fails this too, so the write is fenced out
            # instead of landing beside a marker the server would keep
            update.require_unused(mname)
        else:
            update.require_exactly(mname, marker_rdtype, [_marker_rdata(c.expected, marker_rdtype)])
    new_marker = [_marker_rdata(c.marker, marker_rdtype)]
    if marker_rdtype == wire.TXT:
        update.replace(mname, wire.TXT, MARKER_TTL, new_marker)
    else:
        if not fenced:
            update.delete_rrset(mname, wire.TXT)  # an unconditional write takes over
        update.add(mname, wire.CNAME, MARKER_TTL, new_marker)  # replaces the old one
    for t in ADDRESS_TYPES:
        addresses = addresses_of(c.content, t)
        if addresses:
            rdatas = [wire.address_rdata(RDTYPE[t], x) for x in addresses]
            update.replace(c.name, RDTYPE[t], c.content.ttl, rdatas)
        else:
            update.delete_rrset(c.name, RDTYPE[t])
