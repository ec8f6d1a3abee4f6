"""The compiled UDP loop and the Python one give byte-identical answers.

Two servers over the same store, each with its own `random.Random(7)`, get the same
queries in the same order (endpoints of both policies, random case, with and without
EDNS and DO, misses, other classes and types, mutated packets): every reply must be
the same bytes, or both silent. The weighted choice draws from the rng in the same
order on both paths, so even the chosen addresses agree.
"""

from __future__ import annotations

import random

import dns.message
import pytest

from tests.dns.conftest import start_server, stop_server
from tests.dns.query import ask_raw
from tests.dns.test_hardening import SEEDS

pytestmark = pytest.mark.servers


def queries(names: list[str], rng: random.Random, count: int) -> list[bytes]:
    out = []
    for i in range(count):
        if i % 10 == 9:  # a mutated packet
            wire = bytearray(rng.choice(SEEDS))
            wire[rng.randrange(2, len(wire))] = rng.randrange(256)
            out.append(bytes(wire))
            continue
        name = rng.choice([*names, "nx.example.", "example.", "other.org."])
        name = "".join(c.upper() if rng.random() < 0.3 else c for c in name)
        rdtype = rng.choice(["A", "AAAA", "A", "SOA", "NS", "TXT", "ANY"])
        edns = rng.choice([-1, -1, 0])
        q = dns.message.make_query(name, rdtype, use_edns=edns, want_dnssec=rng.random() < 0.3)
        q.id = i % 65536
        out.append(q.to_wire())
    return out


def test_compiled_and_python_loops_answer_alike(zone_store):
    compiled, t1 = start_server(zone_store, listen=("127.0.0.1:0",), compiled_udp=True)
    python, t2 = start_server(zone_store, listen=("127.0.0.1:0",), compiled_udp=False)
    try:
        assert compiled.server.compiled and not python.server.compiled
        names = list(zone_store.changed_since(0)[1])
        differences = []
        for wire in queries(names, random.Random(3), 1500):
            a = ask_raw(compiled.port, wire, timeout=0.3)
            b = ask_raw(python.port, wire, timeout=0.3)
            if a != b:
                differences.append((wire.hex(), a and a.hex(), b and b.hex()))
        assert not differences, differences[:3]
    finally:
        stop_server(compiled, t1)
        stop_server(python, t2)
