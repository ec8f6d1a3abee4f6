"""The `servers` marker, checked: a test that starts a subprocess, a child process or a
listening socket must be marked `@pytest.mark.servers` (or `pytestmark` in its module,
or `pytest.param(..., marks=pytest.mark.servers)` in a fixture's params), so that
`pytest -m "not servers"` is the quick offline loop. An unmarked test that starts one
fails here with what to do, instead of silently slowing the quick loop down."""

from __future__ import annotations

import contextlib
import multiprocessing.process
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

HOW = "mark the test @pytest.mark.servers (see tests/conftest.py)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # setup, not a fixture: a module- or session-scoped server fixture is set up inside
    # the setup of the first test that uses it, and is checked against that test
    with _guarded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _guarded(item):
        return (yield)


@contextlib.contextmanager
def _guarded(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker("servers") is not None:
        yield
        return
    test = item.nodeid
    popen_init = subprocess.Popen.__init__
    listen = socket.socket.listen
    start = multiprocessing.process.BaseProcess.start

    def refuse(what: str) -> Any:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"{test} starts {what}: {HOW}")

        return guarded

    subprocess.Popen.__init__ = refuse("a subprocess")  # type: ignore[method-assign]
    socket.socket.listen = refuse("a listening server")  # type: ignore[method-assign]
    multiprocessing.process.BaseProcess.start = refuse("a child process")  # type: ignore[method-assign]
    try:
        yield
    finally:
        subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]
        socket.socket.listen = listen  # type: ignore[method-assign]
        multiprocessing.process.BaseProcess.start = start  # type: ignore[method-assign]
