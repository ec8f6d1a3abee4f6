"""The snapshot watcher: polls the zone store and swaps new snapshots into the responder.

Rules kept here:
- the watcher uses only the ZoneStore Protocol's `changed_since`, so it works with
  every store; a poll that finds nothing new costs one cheap read; a store that offers
  `watch_zone` (etcd) wakes it on a change instead of a timer;
- a snapshot is built completely before it is published by one attribute assignment,
  so queries never see half an update and are never paused for one;
- when the store cannot be read the last snapshot keeps being served (static
  stability): the first failure and the recovery are logged, every failure counted;
- the store is read in a worker thread so a slow store cannot stall the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from zonewarden.backends.embedded.responder import Responder
from zonewarden.backends.embedded.snapshot import Snapshot, SnapshotBuilder
from zonewarden.ports import ZoneStore

log = logging.getLogger("zonewarden.dns")


@dataclass
class ServerMetrics:
    """Counters and gauges of one server process, rendered in Prometheus text format."""

    snapshots_built: int = 0
    snapshot_version: int = 0
    snapshot_built_at: float = 0.0
    store_errors: int = 0
    store_reachable: bool = True
    tcp_connections: int = 0
    tcp_refused: int = 0
    tcp_timeouts: int = 0
    udp_batches: int = 0
    udp_queries: int = 0
    tcp_queries: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def snapshot_built(self, version: int) -> None:
        self.snapshots_built += 1
        self.snapshot_version = version
        self.snapshot_built_at = time.time()

    def render(self) -> str:
        age = time.time() - self.snapshot_built_at if self.snapshot_built_at else 0.0
        rows = [
            ("zonewarden_dns_snapshots_built_total", self.snapshots_built),
            ("zonewarden_dns_snapshot_version", self.snapshot_version),
            ("zonewarden_dns_snapshot_age_seconds", round(age, 3)),
            ("zonewarden_dns_store_errors_total", self.store_errors),
            ("zonewarden_dns_store_reachable", int(self.store_reachable)),
            ("zonewarden_dns_tcp_connections", self.tcp_connections),
            ("zonewarden_dns_tcp_refused_total", self.tcp_refused),
            ("zonewarden_dns_tcp_idle_timeouts_total", self.tcp_timeouts),
            ("zonewarden_dns_udp_batches_total", self.udp_batches),
            ("zonewarden_dns_udp_queries_total", self.udp_queries),
            ("zonewarden_dns_tcp_queries_total", self.tcp_queries),
            ("zonewarden_dns_packet_errors_total", sum(self.errors.values())),
        ]
        return "".join(f"{name} {value}\n" for name, value in rows)


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

    def poll_once(self) -> bool:
        """Read changes and swap in a new snapshot; True when one was published."""
        version, changed = self.store.changed_since(self.version)
        if version == self.version:
            return False
        snapshot = self.builder.build(version, changed)
        self.responder.snapshot = snapshot  # the atomic swap
        self.version = version
        self.metrics.snapshot_built(version)
        log.info("serving snapshot version %d (%d endpoints changed)", version, len(changed))
        return True

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
