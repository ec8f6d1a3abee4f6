"""Loopback ports for test servers: one place that picks a port free for UDP and TCP.

A port free for UDP alone may still be held on TCP (by a listener, or as the local end of
a client connection another test left open), and servers such as unbound, named and the
embedded DNS server bind both, so a port is only handed out when both binds succeed.
The benchmarks need the same, so the one implementation lives in bench/harness.py."""

from __future__ import annotations

from bench.harness import free_port

__all__ = ["free_port"]
