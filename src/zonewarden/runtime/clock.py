"""A sleep that a stop event interrupts. (Time itself is `time.time()`, read by each
runtime loop and passed into the pure core as `now`.)"""

from __future__ import annotations

import asyncio
import contextlib


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, returning early when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
