"""The independent checker of the address simulation: it reads the plan's records, never
the planner's ledger, and checks after every tick, per name and per AZ.

Capacity served is counted from the plan: each record of an LB stands for an equal
share of the LB's capacity per address, and the LB's weight (on the region's fixed
reference, the documented weight rule) for its capacity, so an LB with `k` of its `n`
addresses in a name's records serves that name `weight x reference / 255 x k / n`.

Invariants:
- never empty: every name keeps at least one record of each of its types;
- floor: every name serves at least `floor` of its nominal capacity, unless an
  operator drain is in force or ended less than `recover` seconds ago (its LBs'
  way back);
- budget: no name and no AZ lost more than `fraction` of its capacity within any
  window (the highest value in the window minus the current one), except in windows
  where an operator drain took effect;
- fail-static: once more than `max_failing` of the LBs have been wholly dead (or,
  with `address_fail_static`, of the servable addresses) for the detection time, a
  published plan takes capacity from no name;
- a dead address leaves: an address dead (or stalled) for longer than the detection
  time stays in the plan for no more than `grace` ticks in which the budget had room to
  take it out (the checker's own tally of what left each scope in the window, plus the
  removal, fits the budget and the floor by a margin).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zonewarden.core.budget import removed_in_window
from zonewarden.core.model import EndpointName, LbId, PlanDraft
from zonewarden.core.region import Region
from zonewarden.sim.address_world import Key, lb_addresses

MAX_WEIGHT = 255  # the DNS weight ceiling the plan's weights are on


@dataclass(frozen=True, slots=True)
class Served:
    """A plan's capacity per name, per LB and per AZ, counted from its records."""

    names: Mapping[EndpointName, float]
    lbs: Mapping[LbId, float]
    present: Mapping[LbId, frozenset[str]]  # the addresses each LB has in the plan
    empty: tuple[str, ...]


def served(region: Region, plan: PlanDraft, reference: float) -> Served:
    names: dict[EndpointName, float] = {}
    weight: dict[LbId, int] = {}
    present: dict[LbId, set[str]] = {}
    empty = []
    for name, ep in region.endpoints.items():
        content = plan.endpoints.get(name)
        records = content.records if content is not None else ()
        seen: dict[LbId, set[tuple[str, str]]] = {}
        top: dict[LbId, int] = {}
        for r in records:
            seen.setdefault(r.lb, set()).add((r.rtype.value, r.address))
            top[r.lb] = max(top.get(r.lb, 0), r.weight)
            present.setdefault(r.lb, set()).add(r.address)
        total = 0.0
        for lb, keys in seen.items():
            weight[lb] = max(weight.get(lb, 0), top[lb])
            mine = sum(len(region.lbs[lb].addresses(t)) for t in ep.record_types)
            total += top[lb] * reference / MAX_WEIGHT * len(keys) / max(1, mine)
        names[name] = total
        for rtype in ep.record_types:
            if not any(r.rtype is rtype for r in records):
                empty.append(f"{name} has no {rtype.value} record")
    lbs = {}
    for lb in region.lbs:
        n = len(servable(region, lb))
        k = len(present.get(lb, ()))
        lbs[lb] = weight.get(lb, 0) * reference / MAX_WEIGHT * k / max(1, n)
    return Served(names, lbs, {lb: frozenset(a) for lb, a in present.items()}, tuple(empty))


def servable(region: Region, lb: LbId) -> tuple[str, ...]:
    types = {t for ep in region.endpoints.values() if lb in ep.lbs for t in ep.record_types}
    return tuple(a for t in sorted(types) for a in region.lbs[lb].addresses(t))


@dataclass(frozen=True, slots=True)
class Limits:
    fraction: float = 0.25
    window: float = 300.0
    floor: float = 0.3
    max_failing: float = 0.5
    detect: float = 8.0  # seconds from a death until the planner may be expected to see it
    grace: int = 3  # ticks a dead address may linger with room for its removal
    recover: float = 40.0  # seconds after a drain ends for its capacity to come back
    address_fail_static: bool = False  # more than max_failing of the addresses dead holds too


@dataclass
class Checker:
    region: Region
    limits: Limits
    violations: list[str] = field(default_factory=list)
    lingered: int = 0  # ticks some dead address stayed in the plan with room to leave
    reference: float = 1.0
    _series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    _drops: list[tuple[float, LbId, float]] = field(default_factory=list)
    _last: Served | None = None
    _plan: PlanDraft | None = None
    _operator: list[float] = field(default_factory=list)
    _broken_since: dict[Key, float] = field(default_factory=dict)
    _mass_since: float | None = None
    _drain_seen: float | None = None
    _linger: dict[LbId, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reference = float(max(c.capacity for c in self.region.lbs.values()))
        self.addresses = sum(len(servable(self.region, lb)) for lb in self.region.lbs)
        self.nominal = {n: float(self.region.nominal_capacity(n)) for n in self.region.endpoints}
        self.az_nominal: dict[str, float] = {}
        for c in self.region.lbs.values():
            self.az_nominal[c.az] = self.az_nominal.get(c.az, 0.0) + c.capacity
        # one weight step per LB each way: the rounding of weights and record weights
        self.slack = {
            n: 2 * self.reference / MAX_WEIGHT * len(ep.lbs)
            for n, ep in self.region.endpoints.items()
        }

    def step(
        self,
        now: float,
        plan: PlanDraft | None,
        *,
        published: bool,
        held: bool,
        drained_azs: Iterable[str],
        operator_drained: bool,
        broken: Iterable[Key],
    ) -> None:
        """Check the plan in force after the tick at `now` (see the module doc)."""
        drained = set(drained_azs)
        if drained:
            self._drain_seen = now
        draining = self._drain_seen is not None and now - self._drain_seen <= self.limits.recover
        broken_now = set(broken)
        for key in list(self._broken_since):
            if key not in broken_now:
                del self._broken_since[key]
        for key in broken_now:
            self._broken_since.setdefault(key, now)
        if operator_drained:
            self._operator.append(now)
        if plan is None:
            return
        last = self._last
        s = (
            last
            if plan is self._plan and last is not None
            else served(self.region, plan, self.reference)
        )
        self._last, self._plan = s, plan
        self._tally_drops(now, last, s, drained)
        for e in s.empty:
            self.violations.append(f"t={now:.0f}: {e}")
        self._mass(now, drained, published, last, s)
        recent = any(now - t < self.limits.window for t in self._operator)
        scopes = self._scopes(s)
        for scope, (value, total, slack) in scopes.items():
            points = self._series.setdefault(scope, [])
            points.append((now, value))
            while len(points) > 1 and points[1][0] <= now - self.limits.window:
                del points[0]  # keep one point from before the window: where it starts
            floor = self.limits.floor * total
            if scope.startswith("name ") and not draining and value + slack < floor:
                self.violations.append(
                    f"t={now:.0f}: {scope} serves {value:.0f} < floor "
                    f"{self.limits.floor:.0%} of {total:g}"
                )
            removed = removed_in_window(points, now, self.limits.window)
            if not recent and removed > self.limits.fraction * total + slack:
                self.violations.append(
                    f"t={now:.0f}: {scope} lost {removed:.0f} of {total:g} "
                    f"within {self.limits.window:g} s"
                )
        if not held:
            self._lingering(now, s, drained)

    def _scopes(self, s: Served) -> dict[str, tuple[float, float, float]]:
        out = {f"name {n}": (v, self.nominal[n], self.slack[n]) for n, v in s.names.items()}
        for az, total in self.az_nominal.items():
            lbs = [lb for lb, c in self.region.lbs.items() if c.az == az]
            value = sum(s.lbs[lb] for lb in lbs)
            out[f"az {az}"] = (value, total, 2 * self.reference / MAX_WEIGHT * len(lbs))
        return out

    def _tally_drops(self, now: float, last: Served | None, s: Served, drained: set[str]) -> None:
        """What left each LB this tick automatically (a drained LB's loss is the
        operator's), for the checker's own budget tally."""
        if last is None:
            return
        for lb, value in s.lbs.items():
            drop = last.lbs[lb] - value
            if drop > 1e-9 and self.region.lbs[lb].az not in drained:
                self._drops.append((now, lb, drop))
        cut = now - self.limits.window
        self._drops = [d for d in self._drops if d[0] > cut]

    def _mass(
        self, now: float, drained: set[str], published: bool, last: Served | None, s: Served
    ) -> None:
        dead = [
            lb
            for lb, c in self.region.lbs.items()
            if c.az not in drained and all((lb, a) in self._broken_since for a in lb_addresses(c))
        ]
        broken = sum(
            1
            for lb, c in self.region.lbs.items()
            if c.az not in drained
            for a in servable(self.region, lb)
            if (lb, a) in self._broken_since
        )
        by_address = self.limits.address_fail_static and broken > self.limits.max_failing * (
            self.addresses
        )
        if len(dead) / len(self.region.lbs) > self.limits.max_failing or by_address:
            self._mass_since = now if self._mass_since is None else self._mass_since
        else:
            self._mass_since = None
        settled = self._mass_since is not None and now - self._mass_since > self.limits.detect
        if settled and published and last is not None:
            for name, value in s.names.items():
                if value + self.slack[name] < last.names[name]:
                    self.violations.append(
                        f"t={now:.0f}: {len(dead)}/{len(self.region.lbs)} LBs and "
                        f"{broken}/{self.addresses} addresses dead, yet a plan "
                        f"took {last.names[name] - value:.0f} from {name}"
                    )

    def _lingering(self, now: float, s: Served, drained: set[str]) -> None:
        if self._mass_since is not None:
            return  # fail-static may hold every dead address in
        for lb, config in self.region.lbs.items():
            present = s.present.get(lb, frozenset())
            dead = [
                a
                for a in present
                if (lb, a) in self._broken_since
                and now - self._broken_since[(lb, a)] > self.limits.detect
            ]
            if not dead or config.az in drained:
                self._linger.pop(lb, None)
                continue
            n = len(servable(self.region, lb))
            whole = all((lb, a) in self._broken_since for a in servable(self.region, lb))
            cost = s.lbs[lb] if whole else s.lbs[lb] - config.capacity * (len(present) - 1) / n
            if cost <= 0 or not self._room(lb, max(cost, 0.0), s):
                self._linger.pop(lb, None)
                continue
            self._linger[lb] = self._linger.get(lb, 0) + 1
            self.lingered += 1
            if self._linger[lb] == self.limits.grace:
                self.violations.append(
                    f"t={now:.0f}: {lb} address {sorted(dead)[0]} dead for "
                    f"{now - self._broken_since[(lb, sorted(dead)[0])]:.0f} s still in the plan, "
                    f"though the budget had room for its {cost:.0f}"
                )

    def _room(self, lb: LbId, cost: float, s: Served) -> bool:
        """Whether every budget `lb`'s removal spends, and every floor, fits `cost` by a
        margin (the checker's own tally, not the planner's ledger)."""
        az = self.region.lbs[lb].az
        checks = [(az, self.az_nominal[az], [x for x, c in self.region.lbs.items() if c.az == az])]
        for name, ep in self.region.endpoints.items():
            if lb in ep.lbs:
                checks.append((name, self.nominal[name], list(ep.lbs)))
                floor = self.limits.floor * self.nominal[name]
                if s.names[name] - cost < floor + self.slack[name]:
                    return False
        for _, total, members in checks:
            spent = sum(d for _, x, d in self._drops if x in members)
            margin = max(5.0, 0.02 * total)
            if spent + cost > self.limits.fraction * total - margin:
                return False
        return True
