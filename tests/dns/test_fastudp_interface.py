"""A compiled UDP loop from another version of _fastudp.c is never called.

An editable install keeps the extension it built beside the sources; after a pull that
changes `_fastudp.c` without a reinstall, the old build would be handed arguments it does
not take and the server would crash at its first query. `udp_batch._compiled()` checks
the build's INTERFACE and falls back to the Python loop, saying so.
"""

from __future__ import annotations

import logging
import sys
import types

import pytest

from zonewarden.backends import embedded
from zonewarden.backends.embedded import udp_batch

MODULE = "zonewarden.backends.embedded._fastudp"


def _stale(monkeypatch: pytest.MonkeyPatch, interface: object | None) -> None:
    fake = types.ModuleType(MODULE)
    fake.__file__ = "/old/_fastudp.so"
    if interface is not None:
        fake.INTERFACE = interface  # type: ignore[attr-defined]
    fake.configure = lambda *a: pytest.fail("a stale build must not be configured")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, MODULE, fake)
    monkeypatch.setattr(embedded, "_fastudp", fake, raising=False)


@pytest.mark.parametrize("interface", [None, udp_batch.FASTUDP_INTERFACE + 1])
def test_a_stale_build_is_refused_and_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, interface: object
) -> None:
    _stale(monkeypatch, interface)
    with caplog.at_level(logging.WARNING, logger="zonewarden.dns"):
        assert udp_batch._compiled() is None
    assert "using the Python loop" in caplog.text and "/old/_fastudp.so" in caplog.text


def test_the_current_build_is_used_when_present() -> None:
    try:
        from zonewarden.backends.embedded import _fastudp  # type: ignore[attr-defined]
    except ImportError:
        pytest.skip("the compiled loop is not built here (no compiler at install time)")
    assert _fastudp.INTERFACE == udp_batch.FASTUDP_INTERFACE
    assert udp_batch._compiled() is _fastudp
