"""The October 2025 recovery chain: DNS outage -> leases -> network state -> health checks.

Theory of operation (incident.md section 3). From t = 0 the DNS endpoint the lease
checks need is gone for `dns_outage` seconds. Each of H hosts renews its lease every
`check_interval` seconds (phases spread evenly), so the leases whose `lease_ttl` runs
out before DNS returns expire; when DNS comes back, the lease manager tries to
re-establish every expired lease at once: a burst into the retrying-service model
(service.py) with W workers, an establishment time and an establishment timeout, retried
until done (a host without a lease takes no instances). Every re-established lease
releases launches into the network-state backlog (network.py); instances without
their network state fail health checks, whose load and fail-over are health.py.

Recovery is reported per stage, in the order it happened: DNS (given), leases (the
last lease back), network state (the backlog drained), health checks (no backlog, no
AZ out of DNS, nothing failing). With H large enough that draining the backlog takes
several establishment timeouts, FIFO with immediate retries never finishes: every
attempt served has already been abandoned.

The parameters are not AWS's (AWS published none of them) except the DNS outage of
2 h 37 min (23:48 to 02:25 PDT); each default below is an assumption, named so in
docs/cascade.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from zonewarden.sim.cascade.health import HealthParams, HealthStage
from zonewarden.sim.cascade.network import NetworkBacklog
from zonewarden.sim.cascade.params import ParamError, ServiceParams, need
from zonewarden.sim.cascade.policies import Policy
from zonewarden.sim.cascade.service import ServiceModel, ServiceResult, calendar_bucket
from zonewarden.sim.scheduler import Event, Scheduler

PUBLISHED_DNS_OUTAGE = 9420.0  # 23:48 to 02:25 PDT, 19-20 October 2025
HEALTH_TICK = "health-tick"
STAGES = ("dns", "leases", "network_state", "health_checks")


@dataclass(frozen=True, slots=True)
class ChainParams:
    hosts: int = 100_000
    workers: int = 200
    establish_time: float = 2.0
    establish_jitter: float = 0.1
    establish_timeout: float = 60.0
    check_interval: float = 300.0
    lease_ttl: float = 900.0
    dns_outage: float = PUBLISHED_DNS_OUTAGE
    after: float = 4 * 3600.0  # simulated time after DNS returns
    sample: float = 30.0
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    launches_per_host: float = 0.05
    network_rate: float = 1.0
    health: HealthParams = field(default_factory=HealthParams)

    def check(self) -> None:
        need("hosts", self.hosts, 1, 1e8)
        need("workers", self.workers, 1, 1e6)
        need("establish_time", self.establish_time, 0.0, 3600.0, open_low=True)
        need("check_interval", self.check_interval, 0.0, 86400.0, open_low=True)
        need("lease_ttl", self.lease_ttl, 0.0, 86400.0 * 7, open_low=True)
        need("dns_outage", self.dns_outage, 0.0, 86400.0 * 7)
        need("after", self.after, 1.0, 86400.0 * 7)
        need("launches_per_host", self.launches_per_host, 0.0, 1000.0)
        need("network_rate", self.network_rate, 0.0, 1e7, open_low=True)
        if not self.establish_timeout > self.establish_time:
            raise ParamError(
                "establish_timeout",
                self.establish_timeout,
                f"must be > establish_time {self.establish_time:g} s "
                "(no lease could ever be established in time)",
            )

    @property
    def expired(self) -> int:
        """Leases that run out before DNS returns (renewal phases spread evenly)."""
        last = self.lease_ttl - self.dns_outage  # a phase older than this has expired
        share = min(1.0, max(0.0, (self.check_interval - last) / self.check_interval))
        return math.floor(self.hosts * share + 0.5)

    def service(self) -> ServiceParams:
        restored = self.dns_outage
        return ServiceParams(
            workers=self.workers,
            service_time=self.establish_time,
            service_jitter=self.establish_jitter,
            timeout=self.establish_timeout,
            max_attempts=None,
            persistent=True,
            server_timeout=True,
            recheck=self.check_interval,
            refused_delay=self.establish_timeout,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            restart_after=4 * self.establish_timeout,
            rates=((0.0, 0.0),),
            bursts=((restored, self.expired),),
            trigger_end=restored,
            horizon=restored + self.after,
            sample=self.sample,
        )


@dataclass(slots=True)
class ChainResult:
    params: ChainParams
    lease: ServiceResult
    health_rows: list[tuple[float, ...]]
    milestones: dict[str, float | None]
    peak_network_backlog: int
    peak_healthy_removed: float
    counters: dict[str, dict[str, int]]

    @property
    def recovered(self) -> bool:
        return all(self.milestones[s] is not None for s in STAGES)

    @property
    def recovery_s(self) -> float | None:
        if not self.recovered:
            return None
        last = max(t for t in self.milestones.values() if t is not None)
        return last - self.params.dns_outage

    @property
    def order(self) -> list[str]:
        done = [(t, s) for s, t in self.milestones.items() if t is not None]
        return [s for _, s in sorted(done)]

    def as_json(self) -> dict[str, Any]:
        body = self.lease.as_json()
        body.update(
            {
                "recovered": self.recovered,
                "recovery_s": self.recovery_s,
                "leases_expired": self.params.expired,
                "hosts": self.params.hosts,
                "milestones_s": self.milestones,
                "recovery_order": self.order,
                "peak_network_backlog": self.peak_network_backlog,
                "peak_healthy_capacity_removed": self.peak_healthy_removed,
                "leases_per_s": body["goodput_per_s"],
            }
        )
        body["counters"] = self.counters
        return body


def run_chain(
    params: ChainParams,
    policy: Policy,
    seed: int,
    progress: Callable[[float], None] | None = None,
) -> ChainResult:
    params.check()
    sched = Scheduler(calendar_bucket(params.service()))
    h = params.health
    net = NetworkBacklog(params.network_rate, params.launches_per_host, h.azs)
    health = HealthStage(h, net, policy.velocity, policy.fail_open, policy.shed_late)
    model = ServiceModel(
        params.service(), policy, seed, on_success=lambda _r, now: net.lease_back(now), sched=sched
    )
    horizon = params.dns_outage + params.after

    def tick(_ev: Event) -> None:
        health.tick(sched.now)
        if sched.now + h.interval <= horizon:
            sched.after(h.interval, HEALTH_TICK)

    model.handlers[HEALTH_TICK] = tick
    sched.at(params.dns_outage, HEALTH_TICK)
    lease = model.run(progress)
    milestones = _milestones(params, lease, net, health, horizon)
    counters = dict(lease.counters)
    counters["velocity"] = health.limiter.counters.snapshot()
    return ChainResult(
        params,
        lease,
        health.rows,
        milestones,
        net.peak_backlog,
        health.peak_healthy_removed,
        counters,
    )


def _milestones(
    p: ChainParams, lease: ServiceResult, net: NetworkBacklog, health: HealthStage, horizon: float
) -> dict[str, float | None]:
    out: dict[str, float | None] = dict.fromkeys(STAGES)
    out["dns"] = p.dns_outage
    if not lease.recovered or lease.recovery_s is None:
        return out
    leases_at = p.dns_outage + lease.recovery_s
    out["leases"] = leases_at
    if net.backlog == 0:
        out["network_state"] = max(leases_at, net.last_done or leases_at)
    settled = health.last_unhealthy
    if out["network_state"] is not None and (
        settled is None or settled + p.health.interval * p.health.rise < horizon
    ):
        out["health_checks"] = max(
            out["network_state"] or 0.0, (settled or 0.0) + p.health.interval
        )
    return out


def with_hosts(params: ChainParams, hosts: int) -> ChainParams:
    return replace(params, hosts=hosts)
