"""The policy's view of a region's shape, computed once per config: which endpoints use
each LB, every endpoint's and AZ's nominal capacity, each LB's servable addresses (those
of the record types its endpoints serve), and the fixed weight reference.

Rule kept here: a planned capacity becomes a DNS weight on the region's fixed
reference (its largest configured LB capacity), never on the current total, so one
LB's change never re-weights the others; incremental planning relies on it.
"""

from __future__ import annotations

from zonewarden.core.model import EndpointName, LbId, RecordType
from zonewarden.core.region import Region

MAX_WEIGHT = 255  # Route 53's weight ceiling, so plans carry over to every backend


class RegionIndex:
    """What the policy needs about a region's shape, computed once per config."""

    def __init__(self, region: Region) -> None:
        self.region = region
        users: dict[LbId, list[EndpointName]] = {lb: [] for lb in region.lbs}
        types: dict[LbId, set[RecordType]] = {lb: set() for lb in region.lbs}
        for name, ep in region.endpoints.items():
            for lb in ep.lbs:
                users[lb].append(name)
                types[lb].update(ep.record_types)
        self.users = {lb: tuple(names) for lb, names in users.items()}
        self.servable = {
            lb: tuple(a for t in sorted(types[lb]) for a in region.lbs[lb].addresses(t))
            for lb in region.lbs
        }
        self.address_count = sum(len(a) for a in self.servable.values())
        self.nominal = {
            n: sum(region.lbs[lb].capacity for lb in e.lbs) for n, e in region.endpoints.items()
        }
        az: dict[str, int] = {}
        for config in region.lbs.values():
            az[config.az] = az.get(config.az, 0) + config.capacity
        self.az_capacity = az
        self.reference = max((c.capacity for c in region.lbs.values()), default=1) or 1

    def weight(self, capacity: int) -> int:
        """Planned capacity -> DNS weight 0..255 on the region's fixed reference, so one
        LB's change never re-weights the others (incremental planning relies on it)."""
        if capacity <= 0:
            return 0
        return min(MAX_WEIGHT, max(1, round(MAX_WEIGHT * capacity / self.reference)))
