"""Open the store and health source a config names, with a clear error per failure."""

from __future__ import annotations

import importlib

from zonewarden.config import Config
from zonewarden.errors import ConfigError, MissingExtra
from zonewarden.health.static import DemoHealth, StaticHealth
from zonewarden.ports import HealthSource, RegionStore


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


def _open_plain_store(config: Config, *, create: bool = False) -> RegionStore:
    kind = config.store.kind
    if kind == "sqlite":
        from zonewarden.stores.sqlite import SqliteStore

        config.store.path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStore(config.store.path, create=create, synchronous=config.store.synchronous)
    if kind == "etcd":
        try:
            module = importlib.import_module("zonewarden.stores.etcd")
        except ModuleNotFoundError as exc:
            raise MissingExtra("the etcd store", "etcd") from exc
        store: RegionStore = module.open_from_config(config)
        return store
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
