"""Small versions of the cascade scenarios, sized to keep each test well under a second
or two; the full-size runs are `zonewarden sim cascade` and bench/cascade_*.py."""

from __future__ import annotations

from typing import Any

import pytest

# the October 2025 chain at 1/5 the hosts and a shorter outage: drain time 200 s, ~7 timeouts
SMALL_CHAIN: dict[str, Any] = {
    "hosts": 20_000,
    "workers": 100,
    "establish_time": 1.0,
    "establish_timeout": 30.0,
    "dns_outage": 1200.0,
    "after": 5400.0,
    "launches_per_host": 0.25,
    "network_rate": 2.0,
}


@pytest.fixture
def small_chain() -> dict[str, Any]:
    return dict(SMALL_CHAIN)
