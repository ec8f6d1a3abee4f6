"""Prometheus metrics of the control plane, served by the API at /metrics.

A custom collector reads the view's cached snapshot at scrape time, so a scrape costs no
store read and the numbers are the ones the dashboard shows. One registry per process:
the API's own (never the global default, which other libraries may fill).

Per-endpoint series are exported for at most `per_endpoint_limit` endpoints (the worst
first: empty, then most lagging); the totals always cover every endpoint, so a region
of 50,000 names does not become 50,000 x 4 series by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from zonewarden.api.lbs import budget_held, fail_static
from zonewarden.api.view import RegionView
from zonewarden.resilience.metrics import prometheus_collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
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
    def __init__(self, view: RegionView, per_endpoint_limit: int = 2000) -> None:
        self.view, self.limit = view, per_endpoint_limit

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

    def _audit_counters(self) -> Iterator[Metric]:
        counts = self.view.snapshot.counts
        for kind, (name, doc) in KIND_COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=counts.get(kind, 0))
        deleted = CounterMetricFamily(
            "zonewarden_cleanup_passes_total", "Clean-up passes that deleted or kept plans"
        )
        deleted.add_metric([], counts.get("cleanup", 0))
        yield deleted
        events = CounterMetricFamily(
            "zonewarden_audit_events_total", "Audit events by kind", labels=["kind"]
        )
        for kind, n in sorted(counts.items()):
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


def _published(view: RegionView) -> dict[str, Any]:
    counters = view.snapshot.health.get("resilience")
    return {"planner": counters} if isinstance(counters, dict) else {}


def registry_for(view: RegionView) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RegionCollector(view))
    # rate limits, retries, probe queues (zonewarden.resilience): the API's own counters
    # and those the planner published with its health status
    registry.register(prometheus_collector("api", lambda: _published(view)))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
