"""Metrics of one embedded DNS server process, exposed through prometheus_client.

Rules kept here:
- the hot path only adds to plain integer attributes of `ServerMetrics` (an attribute
  increment is the cheapest thing Python does; a prometheus_client Counter takes a lock
  per `inc`), and a custom collector turns them into Prometheus families when scraped;
- one collector per server, registered in the registry it is given: the process's
  default registry in `serve-dns` (so a process has one registry), a private one in
  tests that run several servers in one process;
- names keep the `zonewarden_dns_` prefix and the `_total` suffix on counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
               5: "REFUSED", 9: "NOTAUTH"}  # fmt: skip
# (attribute, metric name without _total, help) of every counter
COUNTERS = (
    ("snapshots_built", "zonewarden_dns_snapshots_built", "Snapshots built and served"),
    ("snapshot_failures", "zonewarden_dns_snapshot_failures", "Rebuilds that failed (last kept)"),
    ("store_errors", "zonewarden_dns_store_errors", "Failed zone store reads"),
    ("tcp_refused", "zonewarden_dns_tcp_refused", "TCP connections closed at the caps"),
    (
        "tcp_evicted",
        "zonewarden_dns_tcp_evicted",
        "Idle or slow TCP connections closed for a newcomer",
    ),
    ("tcp_timeouts", "zonewarden_dns_tcp_idle_timeouts", "TCP connections closed when idle"),
    ("tcp_deadlines", "zonewarden_dns_tcp_deadlines", "TCP messages not complete in time"),
    ("udp_batches", "zonewarden_dns_udp_batches", "recvmmsg batches"),
    ("udp_queries", "zonewarden_dns_udp_queries", "UDP datagrams received"),
    ("tcp_queries", "zonewarden_dns_tcp_queries", "TCP messages received"),
    (
        "udp_bad_sources",
        "zonewarden_dns_udp_bad_source",
        "Queries from unanswerable sources, dropped",
    ),
    ("udp_send_refused", "zonewarden_dns_udp_send_refused", "Replies the kernel refused to send"),
    ("rrl_dropped", "zonewarden_dns_rrl_dropped", "Answers withheld by response rate limiting"),
    ("rrl_slipped", "zonewarden_dns_rrl_slipped", "Rate-limited answers sent truncated (slip)"),
    ("servfails", "zonewarden_dns_servfail", "SERVFAIL answers for names that could not be built"),
    (
        "build_errors",
        "zonewarden_dns_answer_build_errors",
        "Names whose answers could not be built",
    ),
)


@dataclass
class ServerMetrics:
    """Counters and gauges of one server process."""

    snapshots_built: int = 0
    snapshot_failures: int = 0
    snapshot_version: int = 0
    snapshot_built_at: float = 0.0
    store_errors: int = 0
    store_reachable: bool = True
    broken_names: int = 0
    tcp_connections: int = 0
    tcp_refused: int = 0
    tcp_evicted: int = 0
    tcp_timeouts: int = 0
    tcp_deadlines: int = 0
    udp_batches: int = 0
    udp_queries: int = 0
    tcp_queries: int = 0
    udp_bad_sources: int = 0
    udp_send_refused: int = 0
    rrl_dropped: int = 0
    rrl_slipped: int = 0
    servfails: int = 0
    build_errors: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    empty_answers: int = 0
    # answers built, by rcode: the responder's fast path (all NOERROR) and careful path
    answers: Callable[[], Mapping[int, int]] = field(default=lambda: {})
    # counters kept elsewhere (the responder, the rate limiter), read when scraped
    sources: dict[str, Callable[[], int]] = field(default_factory=dict)

    def snapshot_built(self, version: int) -> None:
        self.snapshots_built += 1
        self.snapshot_version = version
        self.snapshot_built_at = time.time()

    def value(self, attribute: str) -> int:
        source = self.sources.get(attribute)
        return int(getattr(self, attribute)) + (source() if source else 0)

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(_Collector(self))

    def render(self) -> str:
        """Prometheus text exposition of these metrics alone."""
        registry = CollectorRegistry(auto_describe=True)
        self.register(registry)
        return generate_latest(registry).decode()


class _Collector(Collector):
    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        m = self.metrics
        for attribute, name, doc in COUNTERS:
            yield CounterMetricFamily(name, doc, value=m.value(attribute))
        errors = CounterMetricFamily(
            "zonewarden_dns_packet_errors", "Packets dropped by an error", labels=["error"]
        )
        for kind, count in sorted(m.errors.items()):
            errors.add_metric([kind], count)
        yield errors
        answers = CounterMetricFamily(
            "zonewarden_dns_answers",
            "Answers built, by rcode (before response rate limiting)",
            labels=["rcode"],
        )
        for rcode, count in sorted(m.answers().items()):
            answers.add_metric([RCODE_NAMES.get(rcode, str(rcode))], count)
        yield answers
        yield CounterMetricFamily(
            "zonewarden_dns_empty_answers",
            "Address queries answered NOERROR with no data for an endpoint with no records "
            "(the 2025 failure's answer): must stay 0",
            value=m.value("empty_answers"),
        )
        age = time.time() - m.snapshot_built_at if m.snapshot_built_at else 0.0
        for name, doc, value in (
            ("zonewarden_dns_snapshot_version", "Store version served", m.snapshot_version),
            ("zonewarden_dns_snapshot_age_seconds", "Seconds since the last snapshot", age),
            ("zonewarden_dns_store_reachable", "1 while the zone store answers", m.store_reachable),
            ("zonewarden_dns_tcp_connections", "Open TCP connections", m.tcp_connections),
            ("zonewarden_dns_broken_names", "Names answered SERVFAIL", m.broken_names),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))
