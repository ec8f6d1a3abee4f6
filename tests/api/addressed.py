"""A real planner's health status with a verdict per LB address: the demo region's LBs
(an IPv4 and an IPv6 address each) probed by the planner's own vantage point, every
address healthy except the ones a test says are down. The status document is the one
`Planner.once` writes (runtime/health_status.py), not a hand-made copy."""

from __future__ import annotations

from collections.abc import Mapping

from zonewarden.config import Config
from zonewarden.core.health import AddressReading, LbReading, QuorumRule, VantageReport
from zonewarden.health.source import ProbeHealth
from zonewarden.ports import RegionStore
from zonewarden.runtime.planner import Planner

DOWN_ADDRESS, DOWN_LB = "fd00:1::1", "lb-1a"
DOWN_REASON = "http connect refused (fall 2/2)"


class AddressedHealth:
    """Readings per address that a test changes between planner ticks."""

    def __init__(self, config: Config, down: Mapping[str, str] | None = None) -> None:
        self.config, self.down = config, dict(down or {})

    def report(self, now: float) -> VantageReport:
        readings = {}
        for lb_id, lb in self.config.region.lbs.items():
            every = [*lb.ipv4, *lb.ipv6]
            addresses = {
                a: AddressReading(a not in self.down, now, self.down.get(a, "http 200"))
                for a in every
            }
            up = sum(1 for r in addresses.values() if r.healthy)
            why = "http 200" if up == len(every) else f"{up}/{len(every)} addresses healthy"
            readings[lb_id] = LbReading(up > 0, now, why, addresses=addresses)
        return VantageReport("planner", now, readings)


def addressed_planner(
    config: Config, store: RegionStore, down: Mapping[str, str] | None = None
) -> tuple[Planner, AddressedHealth]:
    health = AddressedHealth(config, down)
    source = ProbeHealth(config.region.lbs, QuorumRule(), local=health.report)
    return Planner(config, store, source), health
