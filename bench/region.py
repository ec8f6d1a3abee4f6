"""The benchmark's synthetic region: N endpoints x R A records drawn from an LB pool.

Rules kept here:
- everything is derived from a seed, so the ZoneWarden run and the octoDNS peer see
  byte-for-byte the same names and addresses;
- each endpoint is served by R distinct load balancers with one IPv4 address each, so
  it has exactly R weighted A records (ZoneWarden) or one A RRset of R values (octoDNS);
- the incremental change picks every 100th endpoint (1%) and replaces one of its load
  balancers with a spare one: a new address and a new weight for exactly those names.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from zonewarden.core.model import Endpoint, EndpointName, LbId, LoadBalancer, RecordType
from zonewarden.core.region import Region

ZONE = "bench.example."
TTL = 60
SPARES = 64  # load balancers only the changed endpoints move to
CHANGE_EVERY = 100  # 1% of the endpoints change in the incremental plan


@dataclass(frozen=True, slots=True)
class Shape:
    endpoints: int = 50_000
    records: int = 8
    seed: int = 2

    @property
    def pool(self) -> int:
        """Shared load balancers: enough that almost every endpoint's set is unique."""
        return max(4 * self.records, min(4096, self.endpoints))


def endpoint_name(i: int) -> EndpointName:
    return EndpointName(f"ep{i:05d}.{ZONE}")


def _lb(n: int, capacity: int) -> LoadBalancer:
    # 10.0.0.0/8 for the shared pool, 172.16.0.0/12 for the spares: never collide
    base = 10 << 24 if n >= 0 else 172 << 24 | 16 << 16
    k = n if n >= 0 else -n
    addr = base + k + 1
    ipv4 = f"{addr >> 24}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}"
    lb_id = LbId(f"lb-{n:05d}" if n >= 0 else f"spare-{k:03d}")
    return LoadBalancer(lb_id, f"az{abs(n) % 3 + 1}", (ipv4,), (), capacity)


def load_balancers(shape: Shape) -> list[LoadBalancer]:
    rng = random.Random(shape.seed)
    shared = [_lb(n, rng.randrange(50, 201)) for n in range(shape.pool)]
    spares = [_lb(-k, rng.randrange(50, 201)) for k in range(1, SPARES + 1)]
    return shared + spares


def assignments(shape: Shape) -> list[tuple[LbId, ...]]:
    """The load balancers of every endpoint in the base region (sorted ids)."""
    rng = random.Random(shape.seed + 1)
    ids = [LbId(f"lb-{n:05d}") for n in range(shape.pool)]
    return [tuple(sorted(rng.sample(ids, shape.records))) for _ in range(shape.endpoints)]


def changed_indexes(shape: Shape) -> range:
    return range(0, shape.endpoints, CHANGE_EVERY)


def changed_assignments(shape: Shape) -> list[tuple[LbId, ...]]:
    """The base assignments with one LB of every 100th endpoint swapped for a spare."""
    out = assignments(shape)
    for k, i in enumerate(changed_indexes(shape)):
        lbs = list(out[i])
        lbs[k % len(lbs)] = LbId(f"spare-{k % SPARES + 1:03d}")
        out[i] = tuple(sorted(lbs))
    return out


def build_region(shape: Shape, lbs_of: list[tuple[LbId, ...]]) -> Region:
    endpoints = [
        Endpoint(endpoint_name(i), lbs, (RecordType.A,), ttl=TTL) for i, lbs in enumerate(lbs_of)
    ]
    return Region.build("bench", ZONE, load_balancers(shape), endpoints)


def address_sets(shape: Shape, lbs_of: list[tuple[LbId, ...]]) -> Iterator[tuple[str, list[str]]]:
    """(relative name, sorted addresses) per endpoint: what octoDNS and BIND get."""
    address = {lb.id: lb.ipv4[0] for lb in load_balancers(shape)}
    for i, lbs in enumerate(lbs_of):
        yield f"ep{i:05d}", sorted(address[lb] for lb in lbs)
