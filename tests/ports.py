"""Loopback ports for test servers: one place that picks a port free for UDP and TCP.

A port free for UDP alone may still be held on TCP (by a listener, or as the local end of
a client connection another test left open), and servers such as unbound, named and the
embedded DNS server bind both, so a port is only handed out when both binds succeed."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port on 127.0.0.1 that is free for both UDP and TCP right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no loopback port is free for both UDP and TCP")
