"""Sending queries to a live server over UDP or TCP, as dnspython messages or raw bytes."""

from __future__ import annotations

import socket
import struct

import dns.message

import dns.query


def ask(
    port: int, query: dns.message.Message, *, tcp: bool = False, host: str = "127.0.0.1"
) -> dns.message.Message:
    if tcp:
        return dns.query.tcp(query, host, port=port, timeout=3)
    return dns.query.udp(query, host, port=port, timeout=3, ignore_trailing=False)


def ask_raw(port: int, wire: bytes, *, tcp: bool = False, timeout: float = 1.0) -> bytes | None:
    """Send raw bytes; the raw reply, or None when the server stayed silent."""
    if tcp:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            try:
                head = _read_exact(s, 2)
                return _read_exact(s, struct.unpack("!H", head)[0])
            except (TimeoutError, ConnectionError):
                return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(wire, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def _read_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out
