"""The simulated world of LB addresses: a seeded region whose LBs have one to four
addresses, faults on single addresses, whole LBs, AZs and one address of every LB, and
the vantage points' probes of every address.

Rules kept here:
- one seed fixes the region (LBs with 1 address or 2-4, capacities, which endpoints
  share which LBs), the fault schedule and every probe's jitter and loss;
- an address is up, dead (connection refused at once), stalled (accepts, never answers:
  the probe fails after `timeout`) or flapping (up and down every 1.5 s); faults stack
  (an address is up again only when every fault on it healed);
- each vantage point probes every address every `interval` (+-jitter) through the
  production rise/fall machine (`core.health.CheckState`) and reports what the
  production prober reports (`core.health.lb_reading`); nothing here decides health.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from zonewarden.core.health import CheckState, LbReading, RiseFall, VantageReport, lb_reading
from zonewarden.core.model import Endpoint, EndpointName, LbId, LoadBalancer, RecordType
from zonewarden.core.region import Region

VANTAGE = ("az1", "az2", "az3")
Key = tuple[LbId, str]
FAULTS = ("addr", "stall-addr", "flap-addr", "lb", "stall-lb", "az", "every", "all", "drain")
WEIGHTS = (5, 2, 2, 3, 1, 2, 2, 1, 1)
FLAP = 1.5  # seconds up, seconds down


def address_region(rng: random.Random, azs: int = 3, dualstack: bool = False) -> Region:
    """LBs in `azs` AZs, about a third with one address and the rest with 2-4; four to
    six endpoints, each on LBs of at least two AZs, sharing them. With `dualstack`,
    every LB has as many IPv6 addresses as IPv4 ones and the first endpoint serves
    AAAA records too."""
    lbs = []
    for a in range(azs):
        for i in range(rng.randint(3, 4)):
            count = 1 if rng.random() < 0.35 else rng.randint(2, 4)
            lbs.append(
                LoadBalancer(
                    id=LbId(f"lb-{a + 1}{chr(ord('a') + i)}"),
                    az=f"use1-az{a + 1}",
                    ipv4=tuple(f"127.{a + 1}.{i + 1}.{k + 1}" for k in range(count)),
                    ipv6=tuple(f"fd00:{a + 1}:{i + 1}::{k + 1}" for k in range(count))
                    if dualstack
                    else (),
                    capacity=rng.randrange(60, 201, 10),
                )
            )
    ids = [lb.id for lb in lbs]
    types = (RecordType.A, RecordType.AAAA) if dualstack else (RecordType.A,)
    eps = [Endpoint(EndpointName("all.kv.example."), tuple(ids), types, ttl=5)]
    for n in range(rng.randint(3, 5)):
        while True:
            chosen = sorted(rng.sample(ids, rng.randint(4, len(ids) - 1)))
            if len({lb.az for lb in lbs if lb.id in chosen}) >= 2:
                break
        eps.append(
            Endpoint(EndpointName(f"cell{n}.kv.example."), tuple(chosen), (RecordType.A,), 5)
        )
    return Region.build("us-east-1", "example.", lbs, eps)


@dataclass(frozen=True, slots=True)
class Fault:
    at: float
    kind: str  # one of FAULTS
    keys: tuple[Key, ...] = ()  # the addresses it hits
    az: str = ""  # an operator drain's AZ
    heal: bool = False

    def __str__(self) -> str:
        what = self.az or (
            ",".join(f"{lb}/{a}" for lb, a in self.keys[:3]) + ("..." if len(self.keys) > 3 else "")
        )
        return f"t={self.at:.0f} {'heal' if self.heal else 'start'} {self.kind} {what}"


def lb_addresses(lb: LoadBalancer) -> tuple[str, ...]:
    """Every address of an LB, IPv4 first."""
    return lb.ipv4 + lb.ipv6


def schedule(rng: random.Random, region: Region, duration: float) -> list[Fault]:
    """A random fault schedule, each fault with its heal, sorted by time."""
    lbs = list(region.lbs.values())
    azs = sorted({lb.az for lb in lbs})
    out = []
    for _ in range(rng.randint(2, 6)):
        t = rng.uniform(0, duration * 0.8)
        kind = rng.choices(FAULTS, WEIGHTS)[0]
        az = ""
        if kind in ("addr", "stall-addr", "flap-addr"):
            lb = rng.choice(lbs)
            keys: tuple[Key, ...] = ((lb.id, rng.choice(lb_addresses(lb))),)
        elif kind in ("lb", "stall-lb"):
            lb = rng.choice(lbs)
            keys = tuple((lb.id, a) for a in lb_addresses(lb))
        elif kind == "az":
            az = rng.choice(azs)
            keys = tuple((lb.id, a) for lb in lbs if lb.az == az for a in lb_addresses(lb))
        elif kind == "every":  # one address of every LB at once (the fail-static case)
            keys = tuple((lb.id, rng.choice(lb_addresses(lb))) for lb in lbs)
        elif kind == "all":
            keys = tuple((lb.id, a) for lb in lbs for a in lb_addresses(lb))
        else:  # an operator drains an AZ
            az = rng.choice(azs)
            keys = ()
        out.append(Fault(t, kind, keys, az if kind == "drain" else ""))
        out.append(Fault(t + rng.uniform(20, 400), kind, keys, az if kind == "drain" else "", True))
    return in_order(out)


def in_order(faults: list[Fault]) -> list[Fault]:
    """Faults by time, a heal before a start at the same time."""
    return sorted(faults, key=lambda f: (f.at, not f.heal))


@dataclass
class Faults:
    """The faults in force: how many of each mode hold every address, and the drains."""

    dead: Counter[Key] = field(default_factory=Counter)
    stalled: Counter[Key] = field(default_factory=Counter)
    flapping: Counter[Key] = field(default_factory=Counter)
    drained: Counter[str] = field(default_factory=Counter)

    def apply(self, fault: Fault) -> None:
        if fault.kind == "drain":
            self.drained[fault.az] += -1 if fault.heal else 1
            self.drained += Counter()  # drop zero counts
            return
        mode = {"stall-addr": self.stalled, "stall-lb": self.stalled, "flap-addr": self.flapping}
        counter = mode.get(fault.kind, self.dead)
        for key in fault.keys:
            counter[key] += -1 if fault.heal else 1
            if counter[key] <= 0:
                del counter[key]

    def broken(self, key: Key) -> bool:
        """Dead or stalled: every probe of it fails."""
        return key in self.dead or key in self.stalled

    def up(self, key: Key, at: float) -> bool:
        if self.broken(key):
            return False
        return key not in self.flapping or int(at / FLAP) % 2 == 0


class Probes:
    """Every vantage point's rise/fall state per address, and their reports."""

    def __init__(
        self,
        region: Region,
        rng: random.Random,
        *,
        interval: float,
        jitter: float,
        loss: float,
        timeout: float,
        params: RiseFall,
    ) -> None:
        self.region, self.rng = region, rng
        self.interval, self.jitter, self.loss, self.timeout = interval, jitter, loss, timeout
        self.params = params
        self.keys: list[Key] = [(lb, a) for lb, c in region.lbs.items() for a in lb_addresses(c)]
        self.states = {v: {k: CheckState() for k in self.keys} for v in VANTAGE}
        self.due = {(v, k): rng.uniform(0, interval) for v in VANTAGE for k in self.keys}

    def run_until(self, now: float, faults: Faults) -> None:
        """Every probe due by `now`; a stalled address's result comes `timeout` late."""
        for (v, key), due in self.due.items():
            states = self.states[v]
            while True:
                stalled = key in faults.stalled and key not in faults.dead
                at = due + self.timeout if stalled else due  # a stall answers `timeout` late
                if at > now:
                    break
                if stalled:
                    ok, reason = False, f"timeout after {self.timeout:g} s"
                else:
                    ok = faults.up(key, due) and self.rng.random() >= self.loss
                    reason = "http 200" if ok else "connection refused"
                states[key] = states[key].step(ok, reason, at, self.params)
                due += self.interval * (1 + self.rng.uniform(-self.jitter, self.jitter))
            self.due[(v, key)] = due

    def reports(self, now: float) -> list[VantageReport]:
        out = []
        for v in VANTAGE:
            states = self.states[v]
            readings: dict[LbId, LbReading] = {}
            for lb, config in self.region.lbs.items():
                reading = lb_reading({a: states[(lb, a)] for a in lb_addresses(config)})
                if reading is not None:
                    readings[lb] = reading
            out.append(VantageReport(v, now, readings))
        return out
