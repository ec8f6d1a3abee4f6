"""The DNS server's metrics over HTTP, in Prometheus text that prometheus_client parses."""

from __future__ import annotations

import urllib.request

import dns.message
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.dns.conftest import start_server, stop_server
from tests.dns.peer_servers import free_port
from tests.dns.query import ask

pytestmark = pytest.mark.servers


def test_metrics_endpoint_serves_the_counters(zone_store):
    port = free_port()
    live, thread = start_server(
        zone_store, listen=("127.0.0.1:0",), metrics_listen=f"127.0.0.1:{port}", rrl_rate=200
    )
    try:
        for _ in range(3):
            ask(live.port, dns.message.make_query("ep1.example.", "A"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/plain")
            text = r.read().decode()
        samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
        assert samples["zonewarden_dns_udp_queries_total"] >= 3
        assert samples["zonewarden_dns_store_reachable"] == 1.0
        for name in (
            "rrl_dropped",
            "rrl_slipped",
            "udp_send_refused",
            "udp_bad_source",
            "tcp_evicted",
            "tcp_deadlines",
            "servfail",
            "snapshot_failures",
        ):
            assert f"zonewarden_dns_{name}_total" in samples, name
    finally:
        stop_server(live, thread)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def test_answers_are_counted_by_rcode_on_every_udp_path_and_tcp(live):
    def answers(rcode: str) -> float:
        text = live.server.metrics.render()
        return _samples(text).get(("zonewarden_dns_answers_total", (("rcode", rcode),)), 0.0)

    before = {rc: answers(rc) for rc in ("NOERROR", "NXDOMAIN", "REFUSED")}
    for _ in range(3):
        ask(live.port, dns.message.make_query("ep1.example.", "A"))  # the fast path
    ask(live.port, dns.message.make_query("ep1.example.", "A", use_edns=0))
    ask(live.port, dns.message.make_query("nope.example.", "A"))
    ask(live.port, dns.message.make_query("elsewhere.test.", "A"))
    ask(live.port, dns.message.make_query("ep1.example.", "A"), tcp=True)
    assert answers("NOERROR") - before["NOERROR"] == 5
    assert answers("NXDOMAIN") - before["NXDOMAIN"] == 1
    assert answers("REFUSED") - before["REFUSED"] == 1
    empty = _samples(live.server.metrics.render())[("zonewarden_dns_empty_answers_total", ())]
    assert empty == 0  # every name of this zone has records
