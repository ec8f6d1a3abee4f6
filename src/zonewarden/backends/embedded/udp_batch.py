"""Batched UDP for Linux: recvmmsg/sendmmsg through ctypes, driven by the event loop.

Why: on the machines we measure, a system call costs more than answering a query, and
one datagram per call (asyncio's or uvloop's DatagramProtocol) caps a Python server
near 45-50k queries/s however fast its answers are prepared. Reading up to `BATCH`
datagrams per call and sending all the answers in one call is what NSD and Knot do.

Rules kept here:
- every buffer, iovec and header is allocated once; the per-packet work is a copy in
  and a copy out of fixed buffers (no ctypes objects are created per packet);
- a datagram larger than the receive slot (flag MSG_TRUNC) is dropped, never answered
  from a partial read; an answer larger than the send slot is dropped (cannot happen:
  slots are sized to the UDP payload cap);
- one socket is one address family, so every source address has one length (16 octets
  for IPv4, 28 for IPv6): reply i normally reuses the address slot of datagram i, and
  only when a datagram gets no reply are later replies pointed elsewhere (then reset);
- a query whose source cannot be answered (port 0, an IPv4 source in 0/8 or 224/3, an
  IPv6 multicast source) is dropped before an answer is built, and counted;
- sendmmsg's return value is honoured: when the kernel refuses one reply (EINVAL,
  EACCES: a broadcast source, a route that does not exist) that reply is skipped and
  counted and the rest of the batch is sent; a full socket buffer (EAGAIN) drops the
  rest of the batch, counted as well;
- response rate limiting (`rrl`) sees every answer with its source prefix, the batch's
  one clock reading, and may drop it or send it truncated;
- `batched_udp_available()` says whether the platform offers recvmmsg (Linux with
  glibc or musl); elsewhere the server uses the plain DatagramProtocol;
- the same loop exists compiled (`_fastudp.c`, built at install time when a C compiler
  is there): it answers the responder's fast path itself from the same prepared
  answers and rng and hands every other datagram to `Responder.respond`; the Python
  loop below stays, is used when the extension is missing or `compiled=False`, and the
  test suites run both.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import logging
import socket
import sys
import time
from typing import Any

from zonewarden.backends.embedded.metrics import ServerMetrics
from zonewarden.backends.embedded.policy import Fixed, WeightedOne, WeightedRotation
from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.rrl import RateLimiter
from zonewarden.backends.embedded.transport import bad_source_table, count_error

log = logging.getLogger("zonewarden.dns")

BATCH = 64
RECV_SLOT = 4096  # larger queries are not DNS queries we answer
NAME_SLOT = 128
MMSG_SIZE = 64  # sizeof(struct mmsghdr) on 64-bit Linux
IOV_SIZE = 16
MSG_DONTWAIT = 0x40
MSG_TRUNC = 0x20
# uint32 word offsets inside one struct mmsghdr (64-bit Linux ABI)
W_NAMELEN, W_FLAGS, W_LEN = 8 // 4, 48 // 4, 56 // 4
MMSG_WORDS = MMSG_SIZE // 4


def _libc() -> Any | None:
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        recv, send = libc.recvmmsg, libc.sendmmsg
    except (OSError, AttributeError):
        return None
    recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
    send.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    return libc


LIBC = _libc()
FASTUDP_INTERFACE = 2  # must equal _fastudp.c's FASTUDP_INTERFACE


def _compiled() -> Any:
    """The compiled loop, or None: not built (no compiler at install time) or built from
    another version of _fastudp.c (a stale extension left by an earlier install), which is
    said once and replaced by the Python loop rather than called with the wrong arguments."""
    try:
        from zonewarden.backends.embedded import _fastudp  # type: ignore[attr-defined]
    except ImportError:
        return None
    found = getattr(_fastudp, "INTERFACE", None)
    if found != FASTUDP_INTERFACE:
        log.warning(
            "compiled UDP loop %s has interface %s, this code needs %s: using the Python "
            "loop (reinstall with `pip install -e .` to rebuild it)",
            getattr(_fastudp, "__file__", "_fastudp"),
            found,
            FASTUDP_INTERFACE,
        )
        return None
    _fastudp.configure(Fixed, WeightedOne, WeightedRotation)
    return _fastudp


_fastudp = _compiled()


def batched_udp_available() -> bool:
    return LIBC is not None


def compiled_udp_available() -> bool:
    return _fastudp is not None and LIBC is not None


class _Vector:
    """BATCH message headers, iovecs, address slots and data slots, laid out once."""

    def __init__(self, slot: int, names: ctypes.Array[ctypes.c_char]) -> None:
        self.slot = slot
        self.data = (ctypes.c_char * (slot * BATCH))()
        self.iov = (ctypes.c_char * (IOV_SIZE * BATCH))()
        self.msgs = (ctypes.c_char * (MMSG_SIZE * BATCH))()
        q_iov = memoryview(self.iov).cast("B").cast("Q")
        q_msg = memoryview(self.msgs).cast("B").cast("Q")
        data, iov, name = (ctypes.addressof(x) for x in (self.data, self.iov, names))
        for i in range(BATCH):
            q_iov[2 * i] = data + i * slot  # iov_base
            q_iov[2 * i + 1] = slot  # iov_len
            m = i * MMSG_SIZE // 8
            q_msg[m] = name + i * NAME_SLOT  # msg_name
            q_msg[m + 1] = NAME_SLOT  # msg_namelen (upper half: padding)
            q_msg[m + 2] = iov + i * IOV_SIZE  # msg_iov
            q_msg[m + 3] = 1  # msg_iovlen
        self.bytes = memoryview(self.data).cast("B")
        self.words = memoryview(self.msgs).cast("B").cast("I")
        self.iov_words = q_iov


class BatchedUdpServer:
    """Answers every datagram waiting on `sock` in batches, from the loop's reader."""

    def __init__(
        self,
        sock: socket.socket,
        responder: Responder,
        metrics: ServerMetrics,
        rrl: RateLimiter | None = None,
        prefix_octets: int = 3,
        *,
        compiled: bool = True,
    ) -> None:
        assert LIBC is not None, "batched UDP needs Linux recvmmsg (check batched_udp_available)"
        self.sock = sock
        self.fd = sock.fileno()
        self.responder = responder
        self.metrics = metrics
        self.rrl = rrl
        v6 = sock.family == socket.AF_INET6
        self.addr_offset = 8 if v6 else 4  # sin6_addr / sin_addr inside the sockaddr
        self.prefix_octets = prefix_octets
        # with cookies on, the careful path needs the client's address
        self.source_octets = (16 if v6 else 4) if responder.cookies is not None else 0
        self.bad_first_octet = bad_source_table(v6)
        self.names = (ctypes.c_char * (NAME_SLOT * BATCH))()
        self.name_bytes = memoryview(self.names).cast("B")
        self.rx = _Vector(RECV_SLOT, self.names)
        self.tx = _Vector(max(responder.max_udp_payload, 512), self.names)
        # one socket, one family: every reply's address has the same length
        name_len = 28 if sock.family == socket.AF_INET6 else 16
        for i in range(BATCH):
            self.tx.words[i * MMSG_WORDS + W_NAMELEN] = name_len
        # the compiled loop has fixed 4096-octet send slots (the config's udp_payload cap)
        self.compiled = compiled and compiled_udp_available() and self.tx.slot <= 4096
        self.rx_ptr = ctypes.addressof(self.rx.msgs)
        self.tx_ptr = ctypes.addressof(self.tx.msgs)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _restore_names(self, upto: int) -> None:
        """Point reply slots 0..upto-1 back at their own sender slots."""
        rx_words, tx_words = self.rx.words, self.tx.words
        for m in range(upto):
            tw = m * MMSG_WORDS
            tx_words[tw], tx_words[tw + 1] = rx_words[tw], rx_words[tw + 1]

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        loop.add_reader(self.fd, self.on_readable_compiled if self.compiled else self.on_readable)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.fd)
        self.sock.close()

    def on_readable(self) -> None:
        recvmmsg = LIBC.recvmmsg  # type: ignore[union-attr]
        respond = self.responder.respond
        rx_bytes, rx_words = self.rx.bytes, self.rx.words
        tx_bytes, tx_words, tx_iov = self.tx.bytes, self.tx.words, self.tx.iov_words
        rslot, tslot = RECV_SLOT, self.tx.slot
        names, bad, aoff = self.name_bytes, self.bad_first_octet, self.addr_offset
        admit = self.rrl.admit if self.rrl is not None else None
        pend = aoff + self.prefix_octets
        send = aoff + self.source_octets
        with_source = send > aoff
        metrics = self.metrics
        for _ in range(16):  # then yield to the loop, so TCP and the watcher get a turn
            n = recvmmsg(self.fd, self.rx_ptr, BATCH, MSG_DONTWAIT, None)
            if n <= 0:
                return
            metrics.udp_batches += 1
            metrics.udp_queries += n
            now = time.monotonic() if admit is not None else 0.0
            m = 0
            skewed = False
            for i in range(n):
                w = i * MMSG_WORDS
                if rx_words[w + W_FLAGS] & MSG_TRUNC:
                    continue
                a = i * NAME_SLOT
                if bad[names[a + aoff]] or not (names[a + 2] or names[a + 3]):
                    metrics.udp_bad_sources += 1  # port 0 or no unicast source: no reply
                    continue
                start = i * rslot
                try:
                    data = bytes(rx_bytes[start : start + rx_words[w + W_LEN]])
                    out = (
                        respond(data, True, bytes(names[a + aoff : a + send]))
                        if with_source
                        else respond(data)
                    )
                    if out is not None and admit is not None:
                        out = admit(bytes(names[a + aoff : a + pend]), out, now)
                except Exception as exc:
                    count_error(metrics, exc)
                    continue
                if out is None or (size := len(out)) > tslot:
                    continue
                if m != i:  # a datagram got no reply: reply slot m goes to sender i
                    tw = m * MMSG_WORDS
                    tx_words[tw] = rx_words[w]
                    tx_words[tw + 1] = rx_words[w + 1]
                    skewed = True
                tx_bytes[m * tslot : m * tslot + size] = out
                tx_iov[2 * m + 1] = size
                m += 1
            if m:
                self._send(m)
            if skewed:
                self._restore_names(m)
            if n < BATCH:
                return

    def on_readable_compiled(self) -> None:
        r, rrl, metrics = self.responder, self.rrl, self.metrics
        batches, queries, bad, refused, fast = _fastudp.serve(
            self.fd,
            r.snapshot.answers,
            r.respond,
            r.rng,
            rrl.admit if rrl is not None else None,
            time.monotonic() if rrl is not None else 0.0,
            self.addr_offset,
            self.prefix_octets,
            self.bad_first_octet,
            r.opt[0],
            r.opt[1],
            self._count_error,
            self.source_octets,
        )
        metrics.udp_batches += batches
        metrics.udp_queries += queries
        r.fast_answers += fast
        metrics.udp_bad_sources += bad
        if refused:
            before = metrics.udp_send_refused
            metrics.udp_send_refused += refused
            if before == 0 or before // 1000 != metrics.udp_send_refused // 1000:
                log.warning(
                    "the kernel refused replies; skipped them and sent the rest of their "
                    "batches (%d refused so far)",
                    metrics.udp_send_refused,
                )

    def _count_error(self, exc: BaseException) -> None:
        count_error(self.metrics, exc)

    def _send(self, m: int) -> None:
        """Send replies 0..m-1; a reply the kernel refuses is skipped, never the rest."""
        sendmmsg = LIBC.sendmmsg  # type: ignore[union-attr]
        done = 0
        while done < m:
            sent = sendmmsg(self.fd, self.tx_ptr + done * MMSG_SIZE, m - done, MSG_DONTWAIT)
            if sent > 0:
                done += sent
                continue
            err = ctypes.get_errno()
            if err == errno.EINTR:
                continue
            if err in (errno.EAGAIN, errno.EWOULDBLOCK):
                self.metrics.udp_send_refused += m - done  # socket buffer full: dropped
                return
            self.metrics.udp_send_refused += 1
            if self.metrics.udp_send_refused in (1, 1000, 1000000):
                log.warning(
                    "the kernel refused a reply (%s); skipped it and sent the rest of the "
                    "batch (%d refused so far)",
                    errno.errorcode.get(err, err),
                    self.metrics.udp_send_refused,
                )
            done += 1
