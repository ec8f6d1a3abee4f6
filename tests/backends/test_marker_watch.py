"""The probe's generation watch: a marker that goes backwards at a real BIND (written
by the RFC 2136 backend, then set back by the legacy unfenced write, as the 2025 stale
enactor did) is an alert within the round; forward moves are not (the control); the
SOA serial comparison follows RFC 1982."""

from __future__ import annotations

import asyncio

import pytest

from tests.backends.conftest import rfc2136
from tests.backends.servers import ZONE
from tests.helpers import content
from zonewarden.backends.marker_watch import MarkerWatch, serial_before, watch_round
from zonewarden.core.model import Generation


def test_a_generation_going_back_is_one_alert_and_forward_is_none():
    watch = MarkerWatch()
    assert watch.marker("s", "a.", 5) is None
    assert watch.marker("s", "a.", 7) is None
    alert = watch.marker("s", "a.", 6)
    assert alert is not None and alert.result == "marker-backwards" and alert.alert
    assert "from 7 to 6" in alert.detail
    assert watch.marker("s", "a.", 6) is None  # alerted once, at the step back
    assert watch.marker("other", "a.", 1) is None  # per server


def test_soa_serials_compare_as_rfc_1982_serials():
    assert serial_before(1, 2) and not serial_before(2, 1) and not serial_before(3, 3)
    assert serial_before(2**32 - 5, 3)  # wrapped: 3 is after 2**32 - 5
    watch = MarkerWatch()
    assert watch.serial("s", ZONE, 2**32 - 5) is None
    assert watch.serial("s", ZONE, 3) is None
    alert = watch.serial("s", ZONE, 2)
    assert alert is not None and alert.result == "serial-backwards"


def one_round(watch: MarkerWatch, server: str, names: list[str]):
    return asyncio.run(watch_round(watch, [server], names, [ZONE], timeout=2.0))


@pytest.mark.servers
@pytest.mark.parametrize("marker_type", ["cname", "txt"])
@pytest.mark.parametrize("step_back", [True, False], ids=["stale-write", "control-forward"])
def test_a_marker_set_back_at_bind_alerts(bind_server, names, marker_type, step_back):
    backend = rfc2136(bind_server, marker_type=marker_type)
    a, b = names("kv"), names("web")
    server = f"{bind_server.server}:{bind_server.port}"
    watch = MarkerWatch()
    try:
        backend.apply_fenced(Generation(5), {a: content("10.0.0.1"), b: content("10.0.0.2")})
        assert one_round(watch, server, [a, b]) == []
        assert watch.generations[(server, a)] == 5  # BIND publishes the marker: it is read
        if step_back:
            backend.write_unfenced(Generation(3), a, content("10.0.0.9"))  # the stale writer
        else:
            backend.apply_fenced(Generation(6), {a: content("10.0.0.9")})
        alerts = one_round(watch, server, [a, b])
    finally:
        backend.close()
    if step_back:
        assert [(f.endpoint, f.result) for f in alerts] == [(a, "marker-backwards")]
        assert "from 5 to 3" in alerts[0].detail
    else:
        assert alerts == []
    assert server not in watch.without_markers
