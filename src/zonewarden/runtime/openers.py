"""Open the store and health source a config names, with a clear error per failure.

Rules kept here: an SQLite store is checked before anything runs on it (SQLite's quick
check), so a damaged file is refused with one message instead of crash-looping every
role; a read-only directory and a full disk are reported as what they are.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any, cast

from zonewarden.config import Config
from zonewarden.errors import ConfigError, StoreCorrupt
from zonewarden.health.static import DemoHealth, StaticHealth
from zonewarden.ports import HealthSource, RegionStore

if TYPE_CHECKING:
    from zonewarden.backends.external import Ledger
    from zonewarden.stores.etcd import EtcdStore


def open_store(config: Config, *, create: bool = False) -> RegionStore:
    """The region store; with an external DNS backend, wrapped so writes reach it too."""
    store = _open_plain_store(config, create=create)
    if config.backend.get("kind", "embedded") == "embedded":
        return store
    from zonewarden.backends.external import ExternalZoneRegion
    from zonewarden.backends.factory import open_backend

    try:
        backend = open_backend(config.backend, default_zone=config.region.zone)
    except BaseException:
        store.close()
        raise
    return ExternalZoneRegion(store, backend)


def _open_plain_store(config: Config, *, create: bool = False) -> Ledger:
    kind = config.store.kind
    if kind == "sqlite":
        return open_sqlite(config, create=create)
    if kind == "etcd":  # the etcd store needs nothing beyond the standard library
        from zonewarden.stores.etcd import open_from_config

        return open_from_config(config)
    raise ConfigError(f"unknown store kind {kind!r}")


def open_health(config: Config, store: RegionStore | None = None) -> HealthSource:
    """The health source `[planner] health` names; "probe" probes from this process
    (vantage "planner" or "both") and reads the enactors' reports from `store`
    (vantage "enactors" or "both")."""
    if config.planner.health == "probe":
        from zonewarden.runtime.vantage import open_probe_health

        return open_probe_health(config, store)
    if config.planner.health == "demo":
        return DemoHealth(config.region, seed=config.planner.seed)
    return StaticHealth(config.region)


def open_sqlite(config: Config, *, create: bool = False) -> Ledger:
    """The SQLite store, refused when its file is damaged or its directory read-only."""
    from zonewarden.stores.integrity import require_intact, require_writable_dir, translate_sqlite
    from zonewarden.stores.sqlite import SqliteStore

    path = config.store.path
    require_writable_dir(path.parent)
    require_intact(path)
    try:
        return SqliteStore(path, create=create, synchronous=config.store.synchronous)
    except StoreCorrupt as exc:
        cause = exc.__cause__
        translated = translate_sqlite(path, cause) if isinstance(cause, sqlite3.Error) else None
        if translated is not None:
            raise translated from cause
        raise


def open_leadership(config: Config, store: RegionStore, candidate: str) -> Any:
    """A leader lease for planners on etcd (None elsewhere: one planner per store)."""
    if config.store.kind != "etcd":
        return None
    from zonewarden.stores.etcd.leader import LeaderLease

    plain = getattr(store, "store", store)  # an external backend wraps the store
    return LeaderLease(cast("EtcdStore", plain), candidate, ttl=config.health.leader_ttl)
