"""The region's load balancers and endpoints, from [[lb]] and [[endpoint]] tables.

Rules kept here: load balancer ids are unique; every endpoint names known load
balancers and a valid DNS name; the region has at least one of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zonewarden.config.health import LB_HEALTH_KEYS
from zonewarden.config.schema import ENDPOINT_KEYS, LB_KEYS
from zonewarden.config.source import Source, section, tables
from zonewarden.core.model import Endpoint, LbId, LoadBalancer, Policy, RecordType, check_dns_name
from zonewarden.core.names import display_name, in_zone
from zonewarden.core.region import Region


def parse_region(src: Source, data: Mapping[str, Any], region: Mapping[str, Any]) -> Region:
    try:
        zone = str(check_dns_name(region.get("zone", "example.")))
    except ValueError as exc:
        raise src.error(f"[region] zone: {exc}", "region", None, "zone") from None
    lbs = _lbs(src, tables(src, data, "lb"))
    if all(lb.capacity == 0 for lb in lbs):
        raise src.error(
            "every load balancer has capacity 0, so every plan would have total weight 0; "
            "give at least one [[lb]] a capacity > 0",
            "lb",
            0,
            "capacity",
        )
    by_id = {lb.id: lb for lb in lbs}
    endpoints: dict[str, Endpoint] = {}
    for i, raw in enumerate(tables(src, data, "endpoint")):
        ep = _endpoint(src, section(src, raw, "endpoint", ENDPOINT_KEYS, i), i, zone, by_id)
        if ep.name in endpoints:
            raise src.error(f"duplicate endpoint name {ep.name}", "endpoint", i, "name")
        endpoints[ep.name] = ep
    if not endpoints:
        raise src.error("the region needs at least one [[endpoint]]", "region")
    try:
        return Region.build(region.get("name", "region"), zone, lbs, list(endpoints.values()))
    except ValueError as exc:  # every rule of Region.build is checked above, per item
        raise src.error(str(exc), "region") from None


def _lbs(src: Source, raws: list[Mapping[str, Any]]) -> list[LoadBalancer]:
    lbs: dict[str, LoadBalancer] = {}
    for i, raw in enumerate(raws):
        item = section(src, raw, "lb", LB_KEYS, i)
        for required in ("id", "az"):
            if required not in item:
                raise src.error(f"[[lb]] number {i + 1} needs {required!r}", "lb", i)
        if item["id"] in lbs:
            raise src.error(f"duplicate load balancer id {item['id']!r}", "lb", i, "id")
        if not item.get("ipv4") and not item.get("ipv6"):
            raise src.error(f"load balancer {item['id']!r} needs an ipv4 or ipv6 address", "lb", i)
        fields = {k: v for k, v in item.items() if k not in ("id", *LB_HEALTH_KEYS)}
        lbs[item["id"]] = LoadBalancer(LbId(item["id"]), **fields)
    if not lbs:
        raise src.error("the region needs at least one [[lb]]", "region")
    return list(lbs.values())


def _endpoint(
    src: Source,
    item: Mapping[str, Any],
    i: int,
    zone: str,
    by_id: Mapping[LbId, LoadBalancer],
) -> Endpoint:
    """One [[endpoint]], refused at its own line when it could never be served."""
    if "name" not in item:
        raise src.error(f"[[endpoint]] number {i + 1} needs 'name'", "endpoint", i)
    try:
        name = check_dns_name(item["name"])
    except ValueError as exc:
        raise src.error(str(exc), "endpoint", i, "name") from None
    shown = display_name(name)
    if not in_zone(name, zone):
        raise src.error(
            f"endpoint {shown} is outside the zone {zone} ([region] zone)", "endpoint", i, "name"
        )
    lbs_key = "lbs" if "lbs" in item else None
    ids = tuple(by_id) if item.get("lbs", "*") == "*" else tuple(LbId(x) for x in item["lbs"])
    if not ids:
        raise src.error(f"endpoint {shown} has no load balancers", "endpoint", i, "lbs")
    unknown = [x for x in ids if x not in by_id]
    if unknown:
        raise src.error(
            f"endpoint {shown} names unknown load balancer(s) {unknown}", "endpoint", i, "lbs"
        )
    if len(set(ids)) != len(ids):
        twice = sorted({x for x in ids if ids.count(x) > 1})
        raise src.error(f"endpoint {shown} names {twice} twice", "endpoint", i, "lbs")
    types = tuple(item.get("types", (RecordType.A,)))
    if not types:
        raise src.error(
            f"endpoint {shown} has types = []: it would serve nothing and no plan could be "
            'published for the region; give it "A", "AAAA" or both',
            "endpoint",
            i,
            "types",
        )
    if len(set(types)) != len(types):
        raise src.error(f"endpoint {shown} lists a record type twice", "endpoint", i, "types")
    live = [by_id[x] for x in ids if by_id[x].capacity > 0 and by_id[x].healthy]
    if not live:
        raise src.error(
            f"endpoint {shown}: none of its load balancers {list(ids)} can take traffic "
            "(each has capacity 0 or healthy = false), so it would have no records and no "
            "plan could be published; give one of them capacity > 0",
            "endpoint",
            i,
            lbs_key,
        )
    for rtype in types:
        if not any(lb.addresses(rtype) for lb in live):
            raise src.error(
                f"endpoint {shown} wants {rtype} records but none of its load balancers "
                f"that can take traffic has an {'ipv4' if rtype is RecordType.A else 'ipv6'} "
                "address",
                "endpoint",
                i,
                "types" if "types" in item else lbs_key,
            )
    return Endpoint(
        name, ids, types, item.get("ttl", 60), item.get("policy", Policy.WEIGHTED_MULTI)
    )


def check_nameservers(src: Source, dns: Mapping[str, Any], region: Region) -> None:
    """The zone's own nameservers must resolve: a name inside the zone needs an address
    (a resolver priming from the NS set asks the zone itself for it), and no endpoint
    may share a nameserver's name."""
    servers = dns.get("nameservers", ())
    if servers and "ns" in dns:
        raise src.error(
            "[dns] set ns (names only) or [[dns.nameservers]] (names with addresses), not both",
            "dns",
            None,
            "ns",
        )
    for i, (name, v4, v6) in enumerate(servers):
        if in_zone(name, region.zone) and not (v4 or v6):
            raise src.error(
                f"nameserver {display_name(name)} is inside the zone {region.zone}, so it "
                "needs an address: give it ipv4 and/or ipv6 (resolvers ask the zone for it)",
                "dns.nameservers",
                i,
            )
        if name in region.endpoints:
            raise src.error(
                f"nameserver {display_name(name)} is also an endpoint; give it its own name",
                "dns.nameservers",
                i,
                "name",
            )
