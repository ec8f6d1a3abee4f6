import pytest

from zonewarden.resilience import metrics
from zonewarden.resilience.retry_budget import RetryThrottle


def test_prometheus_collector_exports_every_component_or_names_the_package() -> None:
    t = RetryThrottle(name="export-test")
    t.allow_retry()
    try:
        collector = metrics.prometheus_collector()
    except RuntimeError as exc:
        assert "prometheus_client" in str(exc)
        pytest.skip("prometheus_client not installed")
    families = {f.name: f for f in collector.collect()}
    samples = families["zonewarden_resilience_retries_allowed"].samples
    assert any(
        s.labels == {"component": "retry-throttle", "name": "export-test", "process": "local"}
        for s in samples
    )


def test_published_counters_of_another_process_are_exported_beside_our_own() -> None:
    pytest.importorskip("prometheus_client")
    published = {
        "planner": {
            "work-queue/probes/planner": {"dropped-expired": 7, "served": 90, "note": "x"},
            "broken": "not counts",
        },
        "api": {"rate-limit/api": {"allowed": 1}},  # our own name: the live counters win
    }
    collector = metrics.prometheus_collector("api", lambda: published)
    families = {f.name: f for f in collector.collect()}
    samples = families["zonewarden_resilience_dropped_expired"].samples
    wanted = {"component": "work-queue", "name": "probes/planner", "process": "planner"}
    assert [s.value for s in samples if s.labels == wanted] == [7]
    assert "zonewarden_resilience_note" not in families
