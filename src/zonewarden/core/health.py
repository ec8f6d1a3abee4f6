"""Health evidence: from single probe results to one verdict per load balancer.

Three steps, each pure:

1. `CheckState.step` is the rise/fall machine of one check at one vantage point: a
   healthy check turns unhealthy after `fall` consecutive failures, an unhealthy one
   healthy after `rise` consecutive successes; anything else keeps the verdict. A new
   check starts healthy, so a restarted prober drains nothing before `fall` failures.
2. `parse_capacity` turns a capacity endpoint's body into a number or a refusal with
   its reason (negative, NaN, infinite, absurdly large, not JSON); the caller keeps the
   last good value.
3. `combine` merges every vantage point's readings with a quorum: an LB is unhealthy only
   when at least `unhealthy_share` of the *fresh* vantage points say so. Stale readings
   are not health; too few fresh vantage points, or vantage points split on more than
   `max_split` of the LBs, are evidence problems: the planner then holds (fail-static).
   Each address of an LB gets its own verdict by the same quorum over the fresh
   vantage points that probed it, and an LB that reports addresses is healthy only
   while at least one of its addresses is (`Verdict.addresses`, `Verdict.down`).

      ok/fail results --> CheckState (per vantage, per LB) --> LbReading
      LbReading x vantage points --> combine(QuorumRule) --> Evidence(verdicts, problems)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zonewarden.core.model import LbId

MAX_CAPACITY = 10_000_000
NO_READING = "no fresh reading"


@dataclass(frozen=True, slots=True)
class RiseFall:
    rise: int = 2
    fall: int = 2

    def __post_init__(self) -> None:
        if self.rise < 1 or self.fall < 1:
            raise ValueError(f"rise {self.rise} and fall {self.fall} must be >= 1")


@dataclass(frozen=True, slots=True)
class CheckState:
    """One check's verdict, how many results in a row contradict it, and why."""

    healthy: bool = True
    streak: int = 0
    reason: str = "not probed yet"
    changed_at: float = 0.0
    checked_at: float | None = None
    transitions: int = 0
    last_ok: bool = True  # the newest result, whatever the verdict: a falling LB shows here first

    def step(self, ok: bool, reason: str, now: float, params: RiseFall) -> CheckState:
        """Feed one probe result (`reason` says what was seen, e.g. 'http 503')."""
        # direct construction, not dataclasses.replace: this runs once per probe
        if ok == self.healthy:
            return CheckState(self.healthy, 0, reason, self.changed_at, now, self.transitions, ok)
        streak = self.streak + 1
        needed = params.rise if ok else params.fall
        if streak < needed:
            return CheckState(
                self.healthy, streak, reason, self.changed_at, now, self.transitions, ok
            )
        verdict = "rise" if ok else "fall"
        return CheckState(
            healthy=ok,
            streak=0,
            reason=f"{reason} ({verdict} {streak}/{needed})",
            changed_at=now,
            checked_at=now,
            transitions=self.transitions + 1,
            last_ok=ok,
        )


def parse_capacity(body: bytes, limit: int = MAX_CAPACITY) -> tuple[int | None, str]:
    """A capacity endpoint's body -> (capacity, "") or (None, why it was refused).

    Accepted: a JSON number, or an object with a numeric "capacity" key."""
    try:
        value: object = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, f"capacity body is not JSON ({_preview(body)})"
    if isinstance(value, dict):
        if "capacity" not in value:
            return None, "capacity JSON has no 'capacity' key"
        value = value["capacity"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"capacity {value!r} is not a number"
    if math.isnan(value) or math.isinf(value):
        return None, f"capacity {value} is not a finite number"
    if value < 0:
        return None, f"capacity {value:g} is negative"
    if value > limit:
        return None, f"capacity {value:g} is over the plausible limit {limit:g}"
    return round(value), ""


def _preview(body: bytes) -> str:
    text = body[:40].decode("utf-8", "replace")
    return repr(text) + ("..." if len(body) > 40 else "")


@dataclass(frozen=True, slots=True)
class AddressReading:
    """One vantage point's current verdict on one address of an LB."""

    healthy: bool
    at: float
    reason: str = ""
    failing: bool = False


@dataclass(frozen=True, slots=True)
class LbReading:
    """One vantage point's current verdict on one LB, as published to the store."""

    healthy: bool
    at: float  # when the verdict was last confirmed by a probe
    reason: str = ""
    capacity: int | None = None
    failing: bool = False  # the newest probe failed (the verdict may not have fallen yet)
    addresses: Mapping[str, AddressReading] = field(default_factory=dict)  # each probed one


def address_summary(states: Mapping[str, CheckState]) -> CheckState:
    """One LB's state as one check from its addresses' states: its only address's, or
    healthy while one is, confirmed when the oldest was (None until every address was
    probed), failing when all fail."""
    if len(states) == 1:
        return next(iter(states.values()))
    healthy = any(s.healthy for s in states.values())
    down = [f"{a}: {s.reason}" for a, s in states.items() if not s.healthy]
    if not down:
        reason = f"{len(states)}/{len(states)} addresses healthy"
    elif healthy:
        reason = f"{len(states) - len(down)}/{len(states)} addresses healthy; " + "; ".join(down)
    else:
        reason = "every address unhealthy: " + "; ".join(down)
    checked = [s.checked_at for s in states.values()]
    return CheckState(
        healthy=healthy,
        reason=reason,
        changed_at=max(s.changed_at for s in states.values()),
        checked_at=None if None in checked else min(c for c in checked if c is not None),
        transitions=sum(s.transitions for s in states.values()),
        last_ok=any(s.last_ok for s in states.values()),
    )


def lb_reading(states: Mapping[str, CheckState], capacity: int | None = None) -> LbReading | None:
    """What a vantage point reports on one LB from its addresses' check states (None
    while an address has not been probed yet: no evidence either way)."""
    state = address_summary(states)
    if state.checked_at is None:
        return None
    addresses = {
        a: AddressReading(s.healthy, s.checked_at or 0.0, s.reason, not s.last_ok)
        for a, s in states.items()
    }
    return LbReading(
        state.healthy, state.checked_at, state.reason, capacity, not state.last_ok, addresses
    )


@dataclass(frozen=True, slots=True)
class VantageReport:
    """Everything one vantage point (the planner, an enactor's AZ) currently believes."""

    vantage: str
    at: float  # when it was published
    readings: Mapping[LbId, LbReading]
    overload: str = ""  # non-empty while the vantage point sheds probes: how many and why


@dataclass(frozen=True, slots=True)
class QuorumRule:
    unhealthy_share: float = 0.5  # of fresh vantage points, to call an LB unhealthy
    max_age: float = 10.0  # seconds; an older reading is stale, not evidence
    min_fresh: int = 1  # fewer fresh vantage points: the evidence is too thin
    max_split: float = 0.25  # share of LBs the fresh vantage points may disagree on


@dataclass(frozen=True, slots=True)
class AddressVerdict:
    """The combined verdict on one address of an LB and the votes behind it."""

    healthy: bool
    down: int
    fresh: int
    reason: str
    failing: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """The combined verdict on one LB and the votes behind it."""

    healthy: bool
    capacity: int | None
    down: int
    fresh: int
    reason: str
    failing: bool = False  # a quorum's newest probe failed: counts toward "fail at once"
    addresses: Mapping[str, AddressVerdict] = field(default_factory=dict)

    @property
    def split(self) -> bool:
        """The fresh vantage points disagree on the LB or on one of its addresses."""
        return 0 < self.down < self.fresh or any(
            0 < a.down < a.fresh for a in self.addresses.values()
        )

    @property
    def addresses_down(self) -> tuple[str, ...]:
        """The addresses a quorum calls unhealthy, sorted."""
        return tuple(sorted(a for a, v in self.addresses.items() if not v.healthy))

    @property
    def addresses_failing(self) -> tuple[str, ...]:
        """The addresses still up whose newest probes fail at a quorum, sorted (they
        count toward "fail at once" before their verdict falls, as an LB's do)."""
        return tuple(sorted(a for a, v in self.addresses.items() if v.healthy and v.failing))


@dataclass(frozen=True, slots=True)
class Evidence:
    verdicts: Mapping[LbId, Verdict]
    problems: tuple[str, ...] = ()  # non-empty: do not act on it (fail-static)
    stale: tuple[str, ...] = ()  # vantage points left out as stale, with their age
    fresh: tuple[str, ...] = ()
    overload: tuple[str, ...] = ()  # "vantage: N probes shed ..." per fresh vantage point shedding

    @property
    def usable(self) -> bool:
        return not self.problems


def combine(
    reports: Iterable[VantageReport], lbs: Iterable[LbId], now: float, rule: QuorumRule
) -> Evidence:
    """Merge vantage points' readings into one verdict per LB (see the module doc)."""
    lb_ids = list(lbs)
    fresh_reports, stale = [], []
    for report in sorted(reports, key=lambda r: r.vantage):
        age = now - report.at
        if age > rule.max_age:
            stale.append(f"{report.vantage} ({age:.1f} s old)")
        else:
            fresh_reports.append(report)
    verdicts: dict[LbId, Verdict] = {}
    missing = 0
    for lb in lb_ids:
        votes = [
            (r.vantage, r.readings[lb])
            for r in fresh_reports
            if lb in r.readings and now - r.readings[lb].at <= rule.max_age
        ]
        if not votes:
            missing += 1
            verdicts[lb] = Verdict(True, None, 0, 0, NO_READING, False)
            continue
        verdicts[lb] = _verdict(votes, rule)
    problems = _problems(verdicts, len(fresh_reports), missing, len(lb_ids), stale, rule)
    overload = tuple(f"{r.vantage}: {r.overload}" for r in fresh_reports if r.overload)
    fresh = tuple(r.vantage for r in fresh_reports)
    return Evidence(verdicts, problems, tuple(stale), fresh, overload)


def _verdict(votes: list[tuple[str, LbReading]], rule: QuorumRule) -> Verdict:
    lb = _lb_verdict(votes, rule)
    addresses = _address_verdicts(votes, rule)
    if not addresses:
        return lb
    # the LB is healthy while a quorum calls at least one of its addresses healthy
    healthy = any(v.healthy for v in addresses.values())
    reason = lb.reason
    down = sorted(a for a, v in addresses.items() if not v.healthy)
    if down and healthy:
        reason += "; address down: " + "; ".join(f"{a} ({addresses[a].reason})" for a in down)
    elif not healthy and lb.healthy:
        reason = "no address healthy: " + "; ".join(f"{a} ({addresses[a].reason})" for a in down)
    failing = lb.failing or all(v.failing or not v.healthy for v in addresses.values())
    return Verdict(healthy, lb.capacity, lb.down, lb.fresh, reason, failing, addresses)


def _address_verdicts(
    votes: list[tuple[str, LbReading]], rule: QuorumRule
) -> dict[str, AddressVerdict]:
    """A quorum per address over the fresh vantage points that probed it."""
    by_address: dict[str, list[tuple[str, AddressReading]]] = {}
    for vantage, reading in votes:
        for address, r in reading.addresses.items():
            by_address.setdefault(address, []).append((vantage, r))
    out = {}
    for address, seen in sorted(by_address.items()):
        down = [(v, r) for v, r in seen if not r.healthy]
        unhealthy = len(down) / len(seen) >= rule.unhealthy_share - 1e-9
        shown = down if unhealthy else [(v, r) for v, r in seen if r.healthy]
        why = "; ".join(f"{v}: {r.reason}" for v, r in shown[:3] if r.reason)
        tally = f"{len(down)}/{len(seen)} say unhealthy"
        failing = sum(1 for _, r in seen if r.failing or not r.healthy)
        out[address] = AddressVerdict(
            not unhealthy,
            len(down),
            len(seen),
            f"{tally}: {why}" if why else tally,
            failing / len(seen) >= rule.unhealthy_share - 1e-9,
        )
    return out


def _lb_verdict(votes: list[tuple[str, LbReading]], rule: QuorumRule) -> Verdict:
    down = [(v, r) for v, r in votes if not r.healthy]
    unhealthy = len(down) / len(votes) >= rule.unhealthy_share - 1e-9
    capacities = sorted(r.capacity for _, r in votes if r.healthy and r.capacity is not None)
    capacity = capacities[len(capacities) // 2] if capacities else None
    shown = down if unhealthy else [(v, r) for v, r in votes if r.healthy]
    why = "; ".join(f"{v}: {r.reason}" for v, r in shown[:3] if r.reason)
    tally = f"{len(down)}/{len(votes)} vantage points say unhealthy"
    failing = sum(1 for _, r in votes if r.failing or not r.healthy)
    return Verdict(
        not unhealthy,
        capacity,
        len(down),
        len(votes),
        f"{tally}: {why}" if why else tally,
        failing / len(votes) >= rule.unhealthy_share - 1e-9,
    )


def _problems(
    verdicts: Mapping[LbId, Verdict],
    fresh: int,
    missing: int,
    total: int,
    stale: list[str],
    rule: QuorumRule,
) -> tuple[str, ...]:
    out = []
    if fresh < rule.min_fresh:
        seen = f"; stale: {', '.join(stale)}" if stale else ""
        out.append(
            f"health evidence stale: {fresh} fresh vantage point(s), need {rule.min_fresh} "
            f"within {rule.max_age:g} s{seen}"
        )
    elif missing:
        out.append(
            f"health evidence stale: {missing}/{total} load balancers have no reading "
            f"younger than {rule.max_age:g} s (not probed yet, or the prober stopped)"
        )
    split = sum(1 for v in verdicts.values() if v.split)
    if total and fresh >= 2 and split / total > rule.max_split + 1e-9:
        out.append(
            f"vantage points disagree on {split}/{total} load balancers "
            f"({split / total:.0%}), over the bound {rule.max_split:.0%}"
        )
    return tuple(out)
