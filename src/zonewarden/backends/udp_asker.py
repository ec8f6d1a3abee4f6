"""Many DNS questions in flight over one UDP socket to one server, as an outside client
asks them: the answer probe's transport (backends/answer_probe.py, marker_watch.py).

dnspython's per-query `asyncquery.udp` opens a socket per question and parses every
reply in full: ~300 names/s on a loaded box. Here each server gets one connected UDP
socket; questions are prebuilt wire (only the ID changes), up to `window` are in
flight, and a reply is matched by its ID *and* its question before a small parser reads
only what the probe judges: the rcode and the records owned by the question's name.

Rules kept here:
- a reply is accepted only for an ID in flight, with QR set, one question, and that
  question equal to ours (name case-insensitively, type, class); an ID in flight with
  anything else (short, unparsable, another question) is `Garbage` for that question;
  a datagram for no ID in flight (late, stray) is dropped and counted;
- a timed-out ID is not reused within the round, so a late reply cannot be taken for a
  newer question; freed IDs go to the back of the queue;
- every question ends as exactly one of `Answer`, `Timeout`, `Garbage`; a socket error
  ends the questions still waiting as `Garbage` with the error, never the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import socket
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype

T_A, T_CNAME, T_SOA, T_TXT, T_AAAA = 1, 5, 6, 16, 28
HEADER = struct.Struct("!HHHHHH")
RR_FIXED = struct.Struct("!HHIH")
NOT_OURS = "not an answer to our question"
Value = str | int
RCVBUF = 4 * 1024 * 1024  # a datagram costs ~1 KB of buffer: the default holds ~200


@dataclass(frozen=True, slots=True)
class Answer:
    rcode: int
    records: tuple[tuple[int, Value], ...]  # (type, value) owned by the question's name
    truncated: bool = False

    def values(self, rtype: int) -> list[Value]:
        return [v for t, v in self.records if t == rtype]


@dataclass(frozen=True, slots=True)
class Timeout:
    seconds: float


@dataclass(frozen=True, slots=True)
class Garbage:
    detail: str


Outcome = Answer | Timeout | Garbage


class _Question:
    __slots__ = ("owner", "rtype", "tail", "type_class")

    def __init__(self, name: str, rtype: str) -> None:
        owner = _wire_name(name)
        self.owner = owner.lower()
        self.rtype = int(dns.rdatatype.from_text(rtype))
        self.type_class = struct.pack("!HH", self.rtype, 1)
        # flags 0 (no recursion wanted: we ask the authority), QD=1, class IN
        self.tail = b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + owner + self.type_class


@functools.lru_cache(maxsize=1 << 18)
def _question(name: str, rtype: str) -> _Question:
    """Questions are immutable: `zonewarden probe` asks the same ones every round."""
    return _Question(name, rtype)


def _wire_name(name: str) -> bytes:
    """The wire form of a name: by hand for plain ASCII names (the endpoints are
    A-labels), through dnspython for anything with escapes or odd labels."""
    if name.isascii() and "\\" not in name:
        labels = name.rstrip(".").encode().split(b".")
        if all(0 < len(label) < 64 for label in labels) and len(name) < 254:
            return b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"
    wire = dns.name.from_text(name).to_wire()
    assert wire is not None  # to_wire() without a file returns the bytes
    return wire


def _name_at(data: bytes, offset: int) -> tuple[bytes, int]:
    """The lower-cased wire name at `offset` (pointers followed) and the offset after it."""
    labels, end, hops = [], -1, 0
    while True:
        length = data[offset]
        if length >= 0xC0:
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            hops += 1
            if hops > 64:
                raise ValueError("compression loop")
            continue
        if length > 63:
            raise ValueError(f"bad label length {length}")
        if length == 0:
            labels.append(b"\x00")
            return b"".join(labels).lower(), (end if end >= 0 else offset + 1)
        labels.append(data[offset : offset + 1 + length])
        offset += 1 + length


def _value(data: bytes, rtype: int, start: int, size: int) -> Value | None:
    if rtype == T_A and size == 4:
        return socket.inet_ntop(socket.AF_INET, data[start : start + 4])
    if rtype == T_AAAA and size == 16:
        return socket.inet_ntop(socket.AF_INET6, data[start : start + 16])
    if rtype == T_CNAME:
        wire, _ = _name_at(data, start)
        return dns.name.from_wire(wire, 0)[0].to_text(omit_final_dot=True)
    if rtype == T_TXT:
        out, i = [], start
        while i < start + size:
            out.append(data[i + 1 : i + 1 + data[i]])
            i += 1 + data[i]
        return b"".join(out).decode(errors="replace")
    if rtype == T_SOA:
        _, i = _name_at(data, start)
        _, i = _name_at(data, i)
        return int(struct.unpack_from("!I", data, i)[0])
    return None


def parse_reply(data: bytes, question: _Question) -> Outcome:
    """Judge one reply whose ID matched `question`: Answer or Garbage."""
    try:
        _, flags, qd, an, _, _ = HEADER.unpack_from(data, 0)
        owner = question.owner
        end = 12 + len(owner) + 4
        if (
            not flags & 0x8000
            or qd != 1
            or data[12 : end - 4].lower() != owner
            or data[end - 4 : end] != question.type_class
        ):
            return Garbage(f"{NOT_OURS} (another name, type or count)")
        records: list[tuple[int, Value]] = []
        offset, length, unpack, ntop = end, len(data), RR_FIXED.unpack_from, socket.inet_ntop
        for _ in range(an):
            if data[offset] == 0xC0 and data[offset + 1] == 12:  # a pointer to the question
                ours, offset = True, offset + 2
            else:
                name, offset = _name_at(data, offset)
                ours = name == owner
            rtype, _, _, size = unpack(data, offset)
            offset += 10
            if offset + size > length:
                raise ValueError("record past the end of the message")
            if ours:
                if rtype == T_A and size == 4:  # the common case, inline
                    records.append((T_A, ntop(socket.AF_INET, data[offset : offset + 4])))
                else:
                    value = _value(data, rtype, offset, size)
                    if value is not None:
                        records.append((rtype, value))
            offset += size
        return Answer(flags & 0xF, tuple(records), bool(flags & 0x0200))
    except (struct.error, IndexError, ValueError, UnicodeError, dns.exception.DNSException) as exc:
        return Garbage(f"unparsable reply: {type(exc).__name__}: {exc}"[:200])


class _Asker:
    """One round of questions to one server over one connected, non-blocking UDP socket
    read by the event loop's reader callback, which drains every queued reply at once
    (asyncio's datagram transport would wake once per datagram)."""

    def __init__(
        self, sock: socket.socket, questions: list[_Question], timeout: float, window: int
    ) -> None:
        self.sock, self.questions, self.timeout, self.window = sock, questions, timeout, window
        self.results: list[Outcome | None] = [None] * len(questions)
        rng = random.Random()  # seeded from the OS: unpredictable IDs per round
        a, b = rng.randrange(1, 65536, 2), rng.randrange(65536)  # a odd: a permutation
        self.free: deque[int] = deque([(a * k + b) & 0xFFFF for k in range(65536)])
        # in flight: ID -> (question index, deadline), in the order sent (oldest first)
        self.flying: dict[int, tuple[int, float]] = {}
        self.next = 0
        self.left = len(questions)
        self.stray = 0
        # replies that carried a question's ID but another question: it keeps waiting
        # for its own (IDs collide with strays), and times out as this Garbage if none
        self.mismatched: dict[int, Outcome] = {}
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.sweeper: asyncio.TimerHandle | None = None
        self.retry: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.loop.add_reader(self.sock.fileno(), self._readable)
        self._fill()
        self._sweep()

    def stop(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        for handle in (self.sweeper, self.retry):
            if handle is not None:
                handle.cancel()

    def _fill(self) -> None:
        self.retry = None
        deadline = self.loop.time() + self.timeout
        send, questions = self.sock.send, self.questions
        while self.next < len(questions) and len(self.flying) < self.window and self.free:
            index = self.next
            ident = self.free.popleft()
            try:
                send(ident.to_bytes(2, "big") + questions[index].tail)
            except BlockingIOError:  # the socket's send buffer is full: a moment later
                self.free.appendleft(ident)
                if self.retry is None:
                    self.retry = self.loop.call_later(0.001, self._fill)
                break
            except OSError as exc:
                self.free.appendleft(ident)
                self._fail(f"{type(exc).__name__}: {exc}")
                return
            self.next = index + 1
            self.flying[ident] = (index, deadline)
        if not self.free and not self.flying and self.next < len(questions):
            for index in range(self.next, len(questions)):  # 65,536 timeouts this round
                self._finish(index, Garbage("no query ID left: every ID timed out this round"))
            self.next = len(questions)
        if not self.left and not self.done.done():
            self.done.set_result(None)

    def _finish(self, index: int, outcome: Outcome) -> None:
        self.results[index] = outcome
        self.left -= 1

    def _sweep(self) -> None:
        """Time out what is overdue (one timer for the whole window, not one per
        question); a timed-out ID stays out of the queue this round."""
        now = self.loop.time()
        expired = []
        for ident, (index, deadline) in self.flying.items():
            if deadline > now:
                break  # sent in order with one timeout: the rest are younger
            expired.append((ident, index))
        for ident, index in expired:
            del self.flying[ident]
            self._finish(index, self.mismatched.pop(index, Timeout(self.timeout)))
        if expired:
            self._fill()
        if not self.done.done():
            self.sweeper = self.loop.call_later(min(0.05, self.timeout / 4), self._sweep)

    def _readable(self) -> None:
        recv, flying, questions = self.sock.recv, self.flying, self.questions
        for count in range(1, 4097):
            if count % 64 == 0:
                self._fill()  # keep the server busy while we read: no lock-step waves
            try:
                data = recv(65535)
            except BlockingIOError:
                break
            except OSError as exc:  # e.g. ICMP port unreachable: nobody serves there
                self._fail(f"{type(exc).__name__}: {exc}")
                return
            ident = int.from_bytes(data[:2], "big") if len(data) >= 2 else -1
            found = flying.get(ident)
            if found is None:
                self.stray += 1  # late (timed out) or not ours
                continue
            outcome = parse_reply(data, questions[found[0]])
            if isinstance(outcome, Garbage) and outcome.detail.startswith(NOT_OURS):
                self.stray += 1  # the ID matched, the question did not: wait for ours
                self.mismatched[found[0]] = outcome
                continue
            del flying[ident]
            self.mismatched.pop(found[0], None)
            self.free.append(ident)
            self._finish(found[0], outcome)
        self._fill()

    def _fail(self, why: str) -> None:
        for index, _ in self.flying.values():
            self._finish(index, Garbage(why[:200]))
        self.flying.clear()
        for index in range(self.next, len(self.questions)):
            self._finish(index, Garbage(why[:200]))
        self.next = len(self.questions)
        if not self.done.done():
            self.done.set_result(None)


async def ask_many(
    host: str,
    port: int,
    questions: Sequence[tuple[str, str]],
    *,
    timeout: float = 1.0,
    window: int = 512,
) -> list[Outcome]:
    """Ask every (name, type) once at host:port; one outcome per question, in order."""
    if not questions:
        return []
    built = [_question(n, t) for n, t in questions]
    loop = asyncio.get_running_loop()
    try:
        family, _, _, _, address = (await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM))[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        return [Garbage(f"cannot reach {host}:{port}: {exc}"[:200])] * len(questions)
    with sock:
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):  # room for a window of replies (kernel-capped)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.connect(address)  # the kernel drops datagrams from anyone else
        except OSError as exc:
            return [Garbage(f"cannot reach {host}:{port}: {exc}"[:200])] * len(questions)
        asker = _Asker(sock, built, timeout, max(1, min(window, 4096)))
        asker.start()
        try:
            await asker.done
        finally:
            asker.stop()
    return [r if r is not None else Garbage("no outcome") for r in asker.results]
