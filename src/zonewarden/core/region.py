"""A region's static shape: its load balancers and endpoints, validated together.

Rules kept here: LB ids and endpoint names are unique; every endpoint names at least
one known LB; an endpoint asking for AAAA records has at least one LB with IPv6.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from zonewarden.core.model import Endpoint, EndpointName, LbId, LoadBalancer, RecordType
from zonewarden.core.names import in_zone


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    zone: str
    lbs: Mapping[LbId, LoadBalancer]
    endpoints: Mapping[EndpointName, Endpoint]

    @classmethod
    def build(
        cls, name: str, zone: str, lbs: list[LoadBalancer], endpoints: list[Endpoint]
    ) -> Region:
        """Build a region, raising ValueError with the offending item on bad shape."""
        lb_map: dict[LbId, LoadBalancer] = {}
        for lb in lbs:
            if lb.id in lb_map:
                raise ValueError(f"duplicate load balancer id {lb.id!r}")
            if lb.capacity < 0:
                raise ValueError(f"load balancer {lb.id!r} has negative capacity {lb.capacity}")
            if not lb.ipv4 and not lb.ipv6:
                raise ValueError(f"load balancer {lb.id!r} has no address")
            lb_map[lb.id] = lb
        ep_map: dict[EndpointName, Endpoint] = {}
        for ep in endpoints:
            if ep.name in ep_map:
                raise ValueError(f"duplicate endpoint name {ep.name!r}")
            if not ep.lbs:
                raise ValueError(f"endpoint {ep.name!r} has no load balancers")
            unknown = [lb for lb in ep.lbs if lb not in lb_map]
            if unknown:
                raise ValueError(f"endpoint {ep.name!r} names unknown load balancer(s) {unknown}")
            for rtype in ep.record_types:
                if not any(lb_map[lb].addresses(rtype) for lb in ep.lbs):
                    raise ValueError(
                        f"endpoint {ep.name!r} wants {rtype} records but none of its "
                        f"load balancers has an {rtype} address"
                    )
            if not in_zone(ep.name, zone):
                raise ValueError(f"endpoint {ep.name!r} is outside the zone {zone!r}")
            ep_map[ep.name] = ep
        return cls(
            name=name,
            zone=zone,
            lbs=MappingProxyType(dict(sorted(lb_map.items()))),
            endpoints=MappingProxyType(dict(sorted(ep_map.items()))),
        )

    def nominal_capacity(self, name: EndpointName) -> int:
        return sum(self.lbs[lb].capacity for lb in self.endpoints[name].lbs)


def demo_region(endpoints: int = 4, lbs_per_az: int = 4, azs: int = 3) -> Region:
    """The built-in demo: endpoints sharing a dozen LBs across three AZs, on loopback."""
    lbs = []
    for a in range(azs):
        for i in range(lbs_per_az):
            n = a * lbs_per_az + i + 1
            lbs.append(
                LoadBalancer(
                    id=LbId(f"lb-{a + 1}{chr(ord('a') + i)}"),
                    az=f"use1-az{a + 1}",
                    ipv4=(f"127.0.{a + 1}.{i + 1}",),
                    ipv6=(f"fd00:{a + 1}::{i + 1:x}",),
                    capacity=100 + 10 * (n % 3),
                )
            )
    ids = tuple(lb.id for lb in lbs)
    names = [
        ("kv.us-east-1.example.", (RecordType.A,)),
        ("kv.dualstack.us-east-1.example.", (RecordType.A, RecordType.AAAA)),
        ("kv-fips.us-east-1.example.", (RecordType.A,)),
        ("streams.kv.us-east-1.example.", (RecordType.A,)),
    ]
    eps = [Endpoint(EndpointName(n), ids, types, ttl=5) for n, types in names[:endpoints]]
    for extra in range(len(names), endpoints):
        eps.append(
            Endpoint(EndpointName(f"cell{extra}.kv.us-east-1.example."), ids, (RecordType.A,), 5)
        )
    return Region.build("us-east-1", "example.", lbs, eps)
