"""The built-in demo region, written as TOML so every child process reads one file."""

from __future__ import annotations

from zonewarden.core.region import demo_region


def demo_toml(*, planner_interval: float = 1.0, protocol: str = "safe") -> str:
    """The built-in demo region as TOML: four endpoints sharing twelve LBs in three AZs."""
    region = demo_region()
    out = [
        "# ZoneWarden demo region, written by `zonewarden up`; edit freely.",
        "[region]",
        f'name = "{region.name}"',
        f'zone = "{region.zone}"',
        "",
        "[store]",
        'kind = "sqlite"',
        'path = "region.db"',
        "",
        "[planner]",
        f"interval = {planner_interval}",
        'health = "demo"  # demo: capacities drift so plans keep coming',
        "",
        "[enactors]",
        'ids = ["az1", "az2", "az3"]',
        f'protocol = "{protocol}"',
        "poll_interval = 0.2",
        "",
        "[dns]",
        'listen = ["127.0.0.1:5353"]',
        "",
        "[[dns.nameservers]]  # the zone's NS set, with the address resolvers reach it at",
        f'name = "ns1.{region.zone}"',
        'ipv4 = ["127.0.0.1"]',
        "",
        "[api]  # dashboard, status page, admin API and /metrics",
        'listen = "127.0.0.1:8053"',
        'token_file = "api.token"  # bearer token for freeze, pin, rollback, repair (written by `up`)',
        "",
    ]
    for lb in region.lbs.values():
        out += [
            "[[lb]]",
            f'id = "{lb.id}"',
            f'az = "{lb.az}"',
            f"ipv4 = {list(lb.ipv4)!r}".replace("'", '"'),
            f"ipv6 = {list(lb.ipv6)!r}".replace("'", '"'),
            f"capacity = {lb.capacity}",
            "",
        ]
    for ep in region.endpoints.values():
        out += [
            "[[endpoint]]",
            f'name = "{ep.name}"',
            'lbs = "*"',
            f"types = {[str(t) for t in ep.record_types]!r}".replace("'", '"'),
            f"ttl = {ep.ttl}",
            f'policy = "{ep.policy}"',
            "",
        ]
    return "\n".join(out)
