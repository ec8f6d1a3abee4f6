"""Process launcher: one server process, or N sharing the listen ports via SO_REUSEPORT.

Rules kept here:
- every child opens its own store connection and builds its own snapshots (no shared
  state between processes, so one child dying cannot corrupt another);
- the kernel spreads queries across the children's sockets (SO_REUSEPORT);
- the parent forwards SIGINT/SIGTERM to its children and exits when any child exits,
  so a supervisor (`zonewarden up`, systemd) sees the failure instead of a half-server.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import sys
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

from zonewarden.backends.embedded.server import run_server
from zonewarden.backends.embedded.settings import ServerSettings, parse_listen
from zonewarden.ports import ZoneStore


def serve(open_store: Callable[[], ZoneStore], settings: ServerSettings) -> int:
    """Serve until interrupted; returns a process exit status."""
    if settings.processes == 1:
        run_server(open_store, settings)
        return 0
    if any(parse_listen(text)[1] == 0 for text in settings.listen):
        raise ValueError("several processes need a fixed port to share (not port 0)")
    ctx = multiprocessing.get_context("fork")
    children: list[BaseProcess] = [
        ctx.Process(target=run_server, args=(open_store, settings), name=f"serve-dns-{i}")
        for i in range(settings.processes)
    ]
    for child in children:
        child.start()

    asked: list[int] = []  # a stop asked for by a signal is a clean exit, not a failure

    def stop(signum: int, frame: FrameType | None) -> None:
        if frame is not None:
            asked.append(signum)
        for child in children:
            if child.is_alive() and child.pid is not None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    try:
        multiprocessing.connection.wait([c.sentinel for c in children])
    finally:
        stop(signal.SIGTERM, None)
        for child in children:
            child.join(timeout=5)
            status = status or (child.exitcode or 0)
    if asked:
        return 0
    print(f"serve-dns: a server process exited (status {status}); stopped all", file=sys.stderr)
    return status if status > 0 else 1
