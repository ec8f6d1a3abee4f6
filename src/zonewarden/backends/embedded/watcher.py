"""The snapshot watcher: polls the zone store and swaps new snapshots into the responder.

Rules kept here:
- the watcher uses only the ZoneStore Protocol's `changed_since`, so it works with
  every store; a poll that finds nothing new costs one cheap read; a store that offers
  `watch_zone` (etcd) wakes it on a change instead of a timer;
- a snapshot is built completely before it is published by one attribute assignment,
  so queries never see half an update and are never paused for one;
- when the store cannot be read the last snapshot keeps being served (static
  stability): the first failure and the recovery are logged, every failure counted;
- the store is read in a worker thread so a slow store cannot stall the event loop;
- a snapshot that cannot be built (whatever the cause: one bad name is contained by the
  builder, this is for everything else) leaves the last good one served; the failure is
  logged once per cause and counted, and the next poll rebuilds from the whole zone
  with a fresh builder, since the failed build may have left the old one half-updated.
"""

from __future__ import annotations

import asyncio
import logging

from zonewarden.backends.embedded.metrics import ServerMetrics
from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.snapshot import Snapshot, SnapshotBuilder
from zonewarden.ports import ZoneStore

__all__ = ["ServerMetrics", "SnapshotWatcher", "first_snapshot"]

log = logging.getLogger("zonewarden.dns")


def first_snapshot(store: ZoneStore, builder: SnapshotBuilder) -> Snapshot:
    """The snapshot of the whole zone as it is now (version 0 asks for everything)."""
    version, entries = store.changed_since(0)
    return builder.build(version, entries)


class SnapshotWatcher:
    """Keeps `responder.snapshot` within one poll interval of the store."""

    def __init__(
        self,
        store: ZoneStore,
        builder: SnapshotBuilder,
        responder: Responder,
        metrics: ServerMetrics,
        *,
        interval: float = 0.025,
    ) -> None:
        self.store = store
        self.builder = builder
        self.responder = responder
        self.metrics = metrics
        self.interval = interval
        self.version = responder.snapshot.version
        self._rebuild = False  # the last build failed: rebuild from the whole zone
        self._failure: str | None = None

    def poll_once(self) -> bool:
        """Read changes and swap in a new snapshot; True when one was published."""
        since = 0 if self._rebuild else self.version
        version, changed = self.store.changed_since(since)
        if version == self.version and not self._rebuild:
            return False
        builder = self.builder.fresh() if self._rebuild else self.builder
        try:
            snapshot = builder.build(version, changed)
        except Exception as exc:  # not one name: the whole build. Keep the last good one.
            self._build_failed(exc)
            return False
        self.builder = builder
        self._rebuild = False
        self.responder.snapshot = snapshot  # the atomic swap
        self.version = version
        self.metrics.snapshot_built(version)
        self.metrics.broken_names = len(snapshot.broken)
        self.metrics.build_errors = builder.build_errors
        if self._failure is not None:
            log.warning("snapshot built again (version %d) after: %s", version, self._failure)
            self._failure = None
        log.info("serving snapshot version %d (%d endpoints changed)", version, len(changed))
        return True

    def _build_failed(self, exc: Exception) -> None:
        self.metrics.snapshot_failures += 1
        self._rebuild = True
        cause = f"{type(exc).__name__}: {exc}"
        if cause != self._failure:
            log.error(
                "cannot build a snapshot of the zone (%s); still serving version %d",
                cause,
                self.version,
            )
        self._failure = cause

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self.poll_once)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any store failure: keep serving the last snapshot
                self._store_failed(exc)
            else:
                self._store_ok()
            await self._wait_for_change(loop)

    async def _wait_for_change(self, loop: asyncio.AbstractEventLoop) -> None:
        """Until the next poll: a store with a zone watch (etcd) wakes us on the change
        itself, within a 1 s cap; any other store, or a failing watch, is polled."""
        watch = getattr(self.store, "watch_zone", None)
        if watch is None or not self.metrics.store_reachable:
            await asyncio.sleep(self.interval)
            return
        try:
            await loop.run_in_executor(None, watch, self.version, 1.0)
        except Exception:  # the poll that follows reports the store's state
            await asyncio.sleep(self.interval)

    def _store_failed(self, exc: Exception) -> None:
        self.metrics.store_errors += 1
        if self.metrics.store_reachable:
            log.warning(
                "zone store unreachable (%s: %s); still serving snapshot version %d",
                type(exc).__name__,
                exc,
                self.version,
            )
        self.metrics.store_reachable = False

    def _store_ok(self) -> None:
        if not self.metrics.store_reachable:
            log.warning("zone store reachable again; serving version %d", self.version)
        self.metrics.store_reachable = True
