"""Prometheus metrics of the control plane, served by the API at /metrics.

A custom collector reads the view's cached snapshot at scrape time, so a scrape costs no
store read and the numbers are the ones the dashboard shows. One registry per process:
the API's own (never the global default, which other libraries may fill).

Cardinality at 50,000 endpoints: per-endpoint series (applied generation, lag, records)
are exported for at most `per_endpoint_limit` endpoints (default 2,000), the worst first
(empty, then most lagging, then by name), so the one that matters is always among them;
aggregates always cover every endpoint: counts by lag bucket
(`zonewarden_endpoints_by_lag{le=...}`), empty, lagging, the largest lag and the low
watermark. A region of 50,000 names is ~2,000 x 3 endpoint series, not 150,000.
Per LB (thousands, not tens of thousands): live weight, serving, health verdict; per
vantage point: its report's age and how many LBs it calls healthy, down and failing.
Per probed LB address: its verdict and whether the plan carries it
(`zonewarden_lb_address_healthy` / `_planned{lb,address,az}`), for at most
`per_address_limit` addresses (default 5,000, so at most 10,000 series), problems first
(down, waiting out hold-down, left out of the plan; api/addresses.py), so a problem
address is always among them; `zonewarden_lb_addresses{state}` counts every address.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zonewarden.api.addresses import STATES, every_address
from zonewarden.api.lbs import budget_held, fail_static, vantage_points
from zonewarden.api.view import PLANS_DELETED, RegionView
from zonewarden.resilience.metrics import prometheus_collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAG_BUCKETS = (0, 1, 2, 5, 10, 100)
KIND_COUNTERS = {
    "write": ("zonewarden_writes_total", "Fenced writes that changed an endpoint's records"),
    "fenced": ("zonewarden_fenced_total", "Stale writes fenced out (a newer generation was live)"),
    "refused": ("zonewarden_refused_total", "Writes refused by the never-empty/weights gate"),
    "publish": ("zonewarden_plans_published_total", "Plans published"),
    "hold": ("zonewarden_planner_holds_total", "Times the planner held the last good plan"),
    "repair": ("zonewarden_repairs_total", "Repair passes that found and fixed something"),
    "legacy-write": ("zonewarden_legacy_writes_total", "Unfenced writes (legacy protocol only)"),
}


class RegionCollector(Collector):
    def __init__(
        self, view: RegionView, per_endpoint_limit: int = 2000, per_address_limit: int = 5000
    ) -> None:
        self.view, self.limit, self.address_limit = view, per_endpoint_limit, per_address_limit

    def collect(self) -> Iterator[Metric]:
        s = self.view.snapshot
        g = GaugeMetricFamily
        yield g("zonewarden_plan_newest_generation", "Newest published generation", s.newest)
        age = max(0.0, s.taken_at - s.newest_at) if s.newest_at else 0.0
        yield g("zonewarden_plan_age_seconds", "Age of the newest plan", age)
        yield g("zonewarden_plans_stored", "Plans kept in the store", len(s.generations))
        yield g("zonewarden_frozen", "1 while operators froze all writes", int(s.frozen))
        yield g("zonewarden_endpoints", "Endpoints in the region", len(s.endpoints))
        yield g(
            "zonewarden_endpoints_empty",
            "Endpoints whose live record set is empty",
            s.empty_endpoints,
        )
        yield g(
            "zonewarden_endpoint_lag_max_generations",
            "Largest lag behind the newest plan over all endpoints",
            s.max_lag,
        )
        yield g(
            "zonewarden_endpoints_lagging",
            "Endpoints whose applied generation is behind the newest plan",
            s.lagging_endpoints,
        )
        yield g(
            "zonewarden_endpoint_applied_generation_min",
            "Smallest applied generation over all endpoints (the low watermark)",
            min((e.generation for e in s.endpoints), default=0),
        )
        yield g(
            "zonewarden_store_readable", "0 while the API cannot read the store", int(not s.error)
        )
        yield from self._per_endpoint()
        yield from self._audit_counters()
        yield from self._actors()
        yield from self._health()
        alarms = g("zonewarden_alarms", "Active alarms by kind", labels=["kind", "severity"])
        for alarm in s.alarms:
            alarms.add_metric([alarm.kind, alarm.severity], alarm.count)
        yield alarms

    def _per_endpoint(self) -> Iterator[Metric]:
        s = self.view.snapshot
        worst = sorted(s.endpoints, key=lambda e: (not e.empty, -e.lag, e.name))[: self.limit]
        applied = GaugeMetricFamily(
            "zonewarden_endpoint_applied_generation",
            "Live generation per endpoint",
            labels=["endpoint"],
        )
        lag = GaugeMetricFamily(
            "zonewarden_endpoint_lag_generations",
            "Generations behind the newest plan",
            labels=["endpoint"],
        )
        records = GaugeMetricFamily(
            "zonewarden_endpoint_records", "Live records per endpoint", labels=["endpoint"]
        )
        for e in worst:
            applied.add_metric([e.name], e.generation)
            lag.add_metric([e.name], e.lag)
            records.add_metric([e.name], e.records)
        yield from (applied, lag, records)
        buckets = GaugeMetricFamily(
            "zonewarden_endpoints_by_lag",
            "Endpoints at most `le` generations behind the newest plan (cumulative)",
            labels=["le"],
        )
        lags = sorted(e.lag for e in s.endpoints)
        for bound in LAG_BUCKETS:
            buckets.add_metric([str(bound)], bisect.bisect_right(lags, bound))
        buckets.add_metric(["+Inf"], len(lags))
        yield buckets

    def _audit_counters(self) -> Iterator[Metric]:
        counts = self.view.snapshot.counts
        for kind, (name, doc) in KIND_COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=counts.get(kind, 0))
        passes = CounterMetricFamily(
            "zonewarden_cleanup_passes", "Clean-up passes that deleted or kept plans"
        )
        passes.add_metric([], counts.get("cleanup", 0))
        yield passes
        yield CounterMetricFamily(
            "zonewarden_cleanup_plans_deleted",
            "Plans deleted by clean-up (each pass's deleted generations, summed)",
            value=counts.get(PLANS_DELETED, 0),
        )
        events = CounterMetricFamily(
            "zonewarden_audit_events", "Audit events by kind", labels=["kind"]
        )
        for kind, n in sorted(counts.items()):
            if kind != PLANS_DELETED:
                events.add_metric([kind], n)
        yield events

    def _actors(self) -> Iterator[Metric]:
        s = self.view.snapshot
        age = GaugeMetricFamily(
            "zonewarden_heartbeat_age_seconds",
            "Seconds since each actor's last heartbeat",
            labels=["actor"],
        )
        gen = GaugeMetricFamily(
            "zonewarden_actor_generation", "Plan each actor works on", labels=["actor"]
        )
        for h in s.heartbeats:
            age.add_metric([h.actor], max(0.0, s.taken_at - h.at))
            gen.add_metric([h.actor], h.generation)
        yield from (age, gen)

    def _health(self) -> Iterator[Metric]:
        s = self.view.snapshot
        holding, _ = fail_static(s)
        yield GaugeMetricFamily(
            "zonewarden_fail_static_engaged",
            "1 while the planner holds its last good plan",
            int(holding),
        )
        held = budget_held(s)
        if held is not None:
            yield GaugeMetricFamily(
                "zonewarden_budget_held_back", "Capacity removal held back by the budget", held
            )
        weight = GaugeMetricFamily(
            "zonewarden_lb_weight", "Total live weight per load balancer", labels=["lb"]
        )
        serving = GaugeMetricFamily(
            "zonewarden_lb_serving", "1 if the LB has weight in any live answer", labels=["lb"]
        )
        for lb, row in sorted(s.lbs.items()):
            weight.add_metric([lb], row.weight)
            serving.add_metric([lb], int(row.serving))
        yield from (weight, serving)
        yield from self._lb_health()

    def _lb_health(self) -> Iterator[Metric]:
        """The planner's verdict per LB, what the budget holds back per LB, and each
        vantage point's own probe results (absent without probed health)."""
        s = self.view.snapshot
        healthy = GaugeMetricFamily(
            "zonewarden_lb_healthy",
            "1 if the planner's combined verdict on the LB is healthy, 0 if not",
            labels=["lb", "az"],
        )
        for lb, row in sorted((s.health.get("lbs") or {}).items()):
            if row.get("healthy") is not None:
                healthy.add_metric([lb, str(row.get("az") or "")], int(bool(row["healthy"])))
        yield healthy
        held = GaugeMetricFamily(
            "zonewarden_lb_budget_held_back",
            "Capacity the removal budget keeps on this LB although health wants it removed",
            labels=["lb"],
        )
        for h in s.health.get("held_back") or []:
            held.add_metric([str(h["lb"])], max(0, int(h["wanted"]) - int(h["removed"])))
        yield held
        results = GaugeMetricFamily(
            "zonewarden_vantage_lbs",
            "LBs by what one vantage point's probes say: healthy, down (verdict fallen), "
            "failing (newest probe failed, verdict not fallen yet)",
            labels=["vantage", "state"],
        )
        age = GaugeMetricFamily(
            "zonewarden_vantage_report_age_seconds",
            "Age of each vantage point's newest probe report",
            labels=["vantage"],
        )
        fresh = GaugeMetricFamily(
            "zonewarden_vantage_fresh",
            "1 if the planner counted this vantage point as fresh evidence, 0 if stale",
            labels=["vantage"],
        )
        for p in vantage_points(s):
            name = p["vantage"]
            results.add_metric([name, "healthy"], p["healthy"])
            results.add_metric([name, "down"], len(p["down"]))
            results.add_metric([name, "failing"], len(p["failing"]))
            age.add_metric([name], p["age"])
            if p["fresh"] is not None:
                fresh.add_metric([name], int(p["fresh"]))
        yield from (results, age, fresh)
        yield from self._addresses()

    def _addresses(self) -> Iterator[Metric]:
        """Each probed address's verdict and place in the plan (capped, problems first)."""
        every = every_address(self.view.snapshot.health)
        labels = ["lb", "address", "az"]
        healthy = GaugeMetricFamily(
            "zonewarden_lb_address_healthy",
            "1 if a quorum of fresh vantage points calls the LB address healthy, 0 if not",
            labels=labels,
        )
        planned = GaugeMetricFamily(
            "zonewarden_lb_address_planned",
            "1 if the newest plan carries the LB address, 0 if it leaves it out",
            labels=labels,
        )
        for lb, az, row in every[: self.address_limit]:
            key = [lb, row["address"], az]
            if isinstance(row.get("healthy"), bool):
                healthy.add_metric(key, int(row["healthy"]))
            if isinstance(row.get("planned"), bool):
                planned.add_metric(key, int(row["planned"]))
        yield from (healthy, planned)
        states = GaugeMetricFamily(
            "zonewarden_lb_addresses",
            "Probed LB addresses by state: healthy, down, waiting (out of the plan until its "
            "hold-down ends), left-out (healthy but not planned), unknown",
            labels=["state"],
        )
        counts = dict.fromkeys(STATES, 0)
        for _, _, row in every:
            counts[row["state"]] += 1
        for state, n in counts.items():
            states.add_metric([state], n)
        yield states


def _published(view: RegionView) -> dict[str, Any]:
    return dict(view.snapshot.counters)


def registry_for(view: RegionView) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RegionCollector(view))
    # rate limits, retries, probe queues (zonewarden.resilience): the API's own counters
    # and those the planner and the enactors published to the store
    registry.register(prometheus_collector("api", lambda: _published(view)))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
