"""The built-in demo region, written as TOML so every child process reads one file.

With `lb_port`, the demo is live: `[planner] health = "probe"` checks each LB at
`http://<its IPv4>:<lb_port>/health` (the demo's LB addresses are on loopback) and reads
its capacity from `/capacity`, and `[demo] lb_servers = true` has `up` start those load
balancers itself (zonewarden.health.lbserver). Without it, the `demo` health source
drifts capacities so plans keep coming (the race replay and most tests use that).
"""

from __future__ import annotations

from zonewarden.core.region import demo_region


def demo_toml(
    *, planner_interval: float = 1.0, protocol: str = "safe", lb_port: int | None = None
) -> str:
    """The built-in demo region as TOML: four endpoints sharing twelve LBs in three AZs."""
    region = demo_region()
    health = (
        'health = "probe"  # live HTTP checks of the demo LBs `up` starts ([demo])\n'
        "hold_down = 5  # a mended LB returns after 5 s healthy (default 30)"
        if lb_port
        else 'health = "demo"  # demo: capacities drift so plans keep coming'
    )
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
        health,
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
    if lb_port:
        out += [
            "[health]  # a quick demo: an LB that stops answering leaves DNS within ~2 s",
            "interval = 0.5",
            "timeout = 0.4",
            "",
            "[demo]",
            "lb_servers = true  # `up` runs a loopback LB at each check address",
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
        ]
        if lb_port:
            base = f"http://{lb.ipv4[0]}:{lb_port}"
            out += [f'check = "{base}/health"', f'capacity_url = "{base}/capacity"']
        out += [""]
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
