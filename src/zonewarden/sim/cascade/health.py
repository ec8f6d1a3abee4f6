"""Health checking under load, and the AZ fail-over it drives (incident.md section 3).

Theory of operation, one tick every `interval` seconds:

- every target is due one check per tick; a launched instance still waiting for its
  network state flaps (its checks fail, then pass, then fail: incident.md section 3)
  and costs `flap_cost` extra checks per tick; every apparent state change costs
  `change_cost` re-checks, and every target moved in or out of DNS `failover_cost`;
- the checkers do `capacity` checks per tick; the rest wait (a backlog), and the share
  of checks not done in time, min(1, backlog / capacity), is seen as failing: healthy
  targets look unhealthy because their checks are late. This is the sustaining loop:
  late checks -> apparent failures -> state changes -> more checks -> later checks;
- truly failing targets are the launched instances whose network state has not arrived;
- an AZ whose apparent failing share exceeds `az_threshold` is failed out of DNS. With
  `velocity`, the removal goes through `resilience.VelocityLimiter` (the removal
  budget of `core.budget`, per endpoint), so only part of it may happen per window;
  with `fail_open`, a removal that would leave less than `fail_open_floor` of the
  capacity in DNS is not made at all (treat all as healthy, as Route 53 and ELB do);
- an AZ returns to DNS after `rise` consecutive ticks below the threshold;
- with `shed_late` (what ZoneWarden's own prober does: health/prober.py) checks beyond
  the capacity are shed each tick instead of waiting, and a shed check is no evidence:
  an AZ is judged by the checks done in time, which see only the true failures. No
  backlog builds, `late_share` is then the share shed, and the loop has nothing to feed
  on.

Rules kept here: deterministic (no randomness needed); capacity is counted in targets;
"healthy capacity removed" is capacity that was truly healthy and out of DNS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.core.budget import BudgetRule, Scope
from zonewarden.resilience.velocity import VelocityLimiter
from zonewarden.sim.cascade.network import NetworkBacklog

REGIONAL = Scope("endpoint", "regional")
HEALTH_COLUMNS = (
    "t",
    "checks_due",
    "check_backlog",
    "late_share",
    "true_failing",
    "seen_failing",
    "azs_out",
    "capacity_in_dns",
    "healthy_removed",
    "healthy_in_dns",
)


@dataclass(frozen=True, slots=True)
class HealthParams:
    azs: int = 3
    targets_per_az: int = 2000
    interval: float = 10.0
    capacity: float = 15000.0  # checks per tick
    flap_cost: float = 3.0
    change_cost: float = 1.0
    failover_cost: float = 1.0
    az_threshold: float = 0.3
    rise: int = 3
    velocity_fraction: float = 0.25
    velocity_window: float = 300.0
    fail_open_floor: float = 0.34


@dataclass(slots=True)
class HealthStage:
    p: HealthParams
    net: NetworkBacklog
    velocity: bool
    fail_open: bool
    shed_late: bool = False
    limiter: VelocityLimiter = field(init=False)
    removed: list[float] = field(init=False)  # capacity of each AZ out of DNS
    calm: list[int] = field(init=False)
    seen_prev: list[float] = field(init=False)
    backlog: float = 0.0
    extra_checks: float = 0.0
    rows: list[tuple[float, ...]] = field(default_factory=list)
    last_unhealthy: float | None = None

    def __post_init__(self) -> None:
        rule = BudgetRule(self.p.velocity_fraction, self.p.velocity_window)
        self.limiter = VelocityLimiter({"endpoint": rule} if self.velocity else {}, name="health")
        self.removed = [0.0] * self.p.azs
        self.calm = [0] * self.p.azs
        self.seen_prev = [0.0] * self.p.azs

    def targets(self, az: int) -> float:
        launched = self.net.launched // self.p.azs + (az < self.net.launched % self.p.azs)
        return float(self.p.targets_per_az + launched)

    def tick(self, now: float) -> None:
        p, net = self.p, self.net
        net.advance(now)
        sizes = [self.targets(a) for a in range(p.azs)]
        total = sum(sizes)
        flapping = float(sum(net.unconnected(a) for a in range(p.azs)))
        due = total + self.extra_checks + flapping * p.flap_cost
        if self.shed_late:  # shed what cannot be done this tick; judge by the rest
            self.backlog = 0.0
            late = max(0.0, due - p.capacity) / due if due else 0.0
            misread = 0.0
        else:
            self.backlog = max(0.0, self.backlog + due - p.capacity)
            late = misread = min(1.0, self.backlog / p.capacity)
        changes = 0.0
        moved = 0.0
        true_failing = 0.0
        seen_failing = 0.0
        for az in range(p.azs):
            failing = float(net.unconnected(az))
            seen = failing + misread * (sizes[az] - failing)
            changes += abs(seen - self.seen_prev[az])
            self.seen_prev[az] = seen
            true_failing += failing
            seen_failing += seen
            moved += self.fail_over(az, seen / sizes[az], sizes, now)
        self.extra_checks = changes * p.change_cost + moved * p.failover_cost
        in_dns = total - sum(self.removed)
        healthy_removed = sum(
            self.removed[az] * (1.0 - net.unconnected(az) / sizes[az]) for az in range(p.azs)
        )
        healthy_in_dns = sum(
            (sizes[az] - self.removed[az]) * (1.0 - net.unconnected(az) / sizes[az])
            for az in range(p.azs)
        )
        azs_out = sum(1 for r in self.removed if r > 0)
        if self.backlog > 0 or azs_out or true_failing or (self.shed_late and late > 0):
            self.last_unhealthy = now
        self.rows.append(
            (
                now,
                due,
                self.backlog,
                late,
                true_failing,
                seen_failing,
                azs_out,
                in_dns,
                healthy_removed,
                healthy_in_dns,
            )
        )

    def fail_over(self, az: int, share: float, sizes: list[float], now: float) -> float:
        """Move AZ `az` out of (or back into) DNS; returns the capacity moved."""
        p = self.p
        if share <= p.az_threshold:
            self.calm[az] += 1
            if self.removed[az] > 0 and self.calm[az] >= p.rise:
                back, self.removed[az] = self.removed[az], 0.0
                return back
            return 0.0
        self.calm[az] = 0
        want = sizes[az] - self.removed[az]
        if want <= 0:
            return 0.0
        total = sum(sizes)
        if self.fail_open and total - sum(self.removed) - want < p.fail_open_floor * total:
            return 0.0  # fail open: this removal would leave too little; keep serving all
        granted = self.limiter.remove({REGIONAL: total}, want, now)
        self.removed[az] += granted
        return granted

    @property
    def peak_healthy_removed(self) -> float:
        return max((row[8] for row in self.rows), default=0.0)
