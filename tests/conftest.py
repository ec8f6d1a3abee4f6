"""The `servers` marker, checked: a test that starts a subprocess, a child process or a
listening socket must be marked `@pytest.mark.servers` (or `pytestmark` in its module,
or `pytest.param(..., marks=pytest.mark.servers)` in a fixture's params), so that
`pytest -m "not servers"` is the quick offline loop. `long` marks the long offline tests
(simulations of many seeds, exhaustive searches, fuzzing); every `long` test is given
the `servers` marker too at collection, so the quick loop leaves them out. An unmarked
test that starts one fails here with what to do, instead of silently slowing the quick
loop down.

Leaks, attributed: ResourceWarnings (an unclosed socket, file or subprocess pipe) are
errors (pyproject's filterwarnings), but the garbage collector reports a leaked object
only when it collects it, which may be during some later, unrelated test. So garbage is
collected at the end of every test's teardown, after its fixtures are gone: a leak fails
the test that made it (see _collect_garbage for what is found later, and where). To
find where the leaked object was made: `python -X dev -X tracemalloc=20 -m pytest ...`."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing.process
import socket
import subprocess
import sys
import traceback
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

HOW = "mark the test @pytest.mark.servers (see tests/conftest.py)"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    # after the fixtures are torn down (the code after `yield`), and reported here: what a
    # collection finalizes would otherwise reach pytest's own report of unraisable
    # exceptions only at the next test's setup
    result = yield
    leaks = _collect_garbage(last=nextitem is None)
    if leaks:
        pytest.fail(
            f"{item.nodeid} leaked (found when collecting garbage after it):\n\n"
            + "\n\n".join(leaks),
            pytrace=False,
        )
    return result


SWEEP_SLACK = 100_000  # frozen objects that may pile up before a sweep, besides doubling
_swept = [0]  # how many objects were frozen right after the last sweep


def _collect_garbage(*, last: bool) -> list[str]:
    """Collect garbage; return what finalizers raised (a ResourceWarning each, for
    unclosed sockets, files, pipes). Cheaply: a full collection walks every live object
    (0.2-1 s once the suite has imported its libraries), so what survives a test is
    frozen (gc.freeze) and the next test's collection walks only what that test made:
    everything a test made and let go of is found after it. What outlives a test and is
    let go of later in a cycle (a module-scoped fixture's objects, say) is found by a
    sweep of everything, thawed, which runs when the frozen objects have doubled since
    the last sweep (so sweeps cost what the collector's own oldest generation would)
    and after the last test; a leak a sweep finds is named with where it was made when
    tracemalloc is on."""
    leaks: list[str] = []

    def report(u: Any) -> None:  # sys.UnraisableHookArgs, only valid during the call
        where = tracemalloc.get_object_traceback(u.object) if tracemalloc.is_tracing() else None
        made = (
            "made at (most recent call last):\n" + "\n".join(where.format())
            if where
            else "run with `python -X dev -X tracemalloc=20 -m pytest ...` to see where it was made"
        )
        what = "".join(traceback.format_exception_only(u.exc_type, u.exc_value)).strip()
        leaks.append(f"{u.err_msg or 'Exception ignored in'}: {u.object!r}\n{what}\n{made}")

    previous, sys.unraisablehook = sys.unraisablehook, report
    try:
        sweep = last or gc.get_freeze_count() > 2 * _swept[0] + SWEEP_SLACK
        if sweep:
            gc.unfreeze()
        gc.collect()
        if not last:
            gc.freeze()
        if sweep:
            _swept[0] = gc.get_freeze_count()
    finally:
        sys.unraisablehook = previous
    return leaks


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # setup, not a fixture: a module- or session-scoped server fixture is set up inside
    # the setup of the first test that uses it, and is checked against that test
    with _guarded(item):
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A `long` test is left out of the quick loop like a server test: `-m "not servers"`."""
    for item in items:
        if item.get_closest_marker("long") is not None:
            item.add_marker(pytest.mark.servers)


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
