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
    assert any(s.labels == {"component": "retry-throttle", "name": "export-test"} for s in samples)
