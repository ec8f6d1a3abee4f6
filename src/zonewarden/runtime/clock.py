"""Real time for the runtime: the wall clock and a sleep that a stop event interrupts."""

from __future__ import annotations

import asyncio
import contextlib
import time


class WallClock:
    def now(self) -> float:
        return time.time()


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, returning early when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
