"""The region's load balancers and endpoints, from [[lb]] and [[endpoint]] tables.

Rules kept here: load balancer ids are unique; every endpoint names known load
balancers and a valid DNS name; the region has at least one of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zonewarden.config.schema import ENDPOINT_KEYS, LB_KEYS
from zonewarden.config.source import Source, section
from zonewarden.core.model import Endpoint, LbId, LoadBalancer, Policy, RecordType, check_dns_name
from zonewarden.core.region import Region


def parse_region(src: Source, data: Mapping[str, Any], region: Mapping[str, Any]) -> Region:
    lbs, endpoints, seen = [], [], set()
    for i, raw in enumerate(data.get("lb", [])):
        item = section(src, raw, "lb", LB_KEYS, i)
        for required in ("id", "az"):
            if required not in item:
                raise src.error(f"[[lb]] number {i + 1} needs {required!r}", "lb", i)
        if item["id"] in seen:
            raise src.error(f"duplicate load balancer id {item['id']!r}", "lb", i, "id")
        seen.add(item["id"])
        if not item.get("ipv4") and not item.get("ipv6"):
            raise src.error(f"load balancer {item['id']!r} needs an ipv4 or ipv6 address", "lb", i)
        lbs.append(LoadBalancer(LbId(item["id"]), **{k: v for k, v in item.items() if k != "id"}))
    if not lbs:
        raise src.error("the region needs at least one [[lb]]", "region")
    if all(lb.capacity == 0 for lb in lbs):
        raise src.error(
            "every load balancer has capacity 0, so every plan would have total weight 0; "
            "give at least one [[lb]] a capacity > 0",
            "lb",
            0,
            "capacity",
        )
    all_ids = tuple(lb.id for lb in lbs)
    for i, raw in enumerate(data.get("endpoint", [])):
        item = section(src, raw, "endpoint", ENDPOINT_KEYS, i)
        if "name" not in item:
            raise src.error(f"[[endpoint]] number {i + 1} needs 'name'", "endpoint", i)
        try:
            name = check_dns_name(item["name"])
        except ValueError as exc:
            raise src.error(str(exc), "endpoint", i, "name") from None
        ids = all_ids if item.get("lbs", "*") == "*" else tuple(LbId(x) for x in item["lbs"])
        if not ids:
            raise src.error(f"endpoint {name} has no load balancers", "endpoint", i, "lbs")
        unknown = [x for x in ids if x not in seen]
        if unknown:
            raise src.error(
                f"endpoint {name} names unknown load balancer(s) {unknown}", "endpoint", i, "lbs"
            )
        endpoints.append(
            Endpoint(
                name,
                ids,
                tuple(item.get("types", (RecordType.A,))),
                item.get("ttl", 60),
                item.get("policy", Policy.WEIGHTED_MULTI),
            )
        )
    if not endpoints:
        raise src.error("the region needs at least one [[endpoint]]", "region")
    try:
        zone = str(check_dns_name(region.get("zone", "example.")))
        return Region.build(region.get("name", "region"), zone, lbs, endpoints)
    except ValueError as exc:
        raise src.error(str(exc), "region") from None
