"""The region's settings as parsed from its config: frozen values the drivers read.

Rules kept here: defaults live on the dataclasses, so a missing key and the demo agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zonewarden.config.health import HealthSettings
from zonewarden.core.enactor import EnactorConfig
from zonewarden.core.gates import Limits
from zonewarden.core.region import Region

DEFAULT_STATE_DIR = Path(".zonewarden")
DEMO_CONFIG = DEFAULT_STATE_DIR / "demo.toml"
PROTOCOLS = ("safe", "legacy")
STORE_KINDS = ("sqlite", "etcd")
HEALTH_SOURCES = ("static", "demo", "probe")
BACKEND_KINDS = ("embedded", "rfc2136", "route53")


@dataclass(frozen=True, slots=True)
class StoreSettings:
    kind: str = "sqlite"
    path: Path = DEFAULT_STATE_DIR / "region.db"
    endpoints: tuple[str, ...] = ()
    prefix: str = "/zonewarden"
    synchronous: str = "NORMAL"
    ca_file: Path | None = None  # etcd over https: the CA of the members' certificates
    cert_file: Path | None = None  # etcd client certificate and its key (both or neither)
    key_file: Path | None = None
    username: str | None = None  # etcd authentication
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """Where the region's state lives, for people: a file or a cluster and prefix."""
        if self.kind == "etcd":
            return f"etcd {', '.join(self.endpoints)} (prefix {self.prefix})"
        return str(self.path)


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    interval: float = 1.0
    limits: Limits = field(default_factory=Limits)
    max_unhealthy_fraction: float = 0.5
    health: str = "static"
    seed: int = 1


# plan history operators can diff and roll back to: a day or 1,000 plans, whichever is less
# ([enactors] history_age / history_count; the core's own default is no history)
HISTORY_DEFAULTS: dict[str, Any] = {"history_age": 86400.0, "history_count": 1000}


@dataclass(frozen=True, slots=True)
class EnactorSettings:
    ids: tuple[str, ...] = ("az1", "az2", "az3")
    protocol: str = "safe"
    config: EnactorConfig = field(default_factory=lambda: EnactorConfig(**HISTORY_DEFAULTS))


@dataclass(frozen=True, slots=True)
class ReconcilerSettings:
    interval: float = 2.0
    max_lag: int = 10


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """The admin API, dashboard and status page (`zonewarden api`, and a child of `up`)."""

    listen: str = "127.0.0.1:8053"
    token_file: Path | None = None  # bearer token for mutating calls; None: none allowed
    rate_per_second: float = 2.0  # mutating calls per client, after a burst of rate_burst
    rate_burst: int = 10
    max_body: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    region: Region
    store: StoreSettings = field(default_factory=StoreSettings)
    planner: PlannerSettings = field(default_factory=PlannerSettings)
    enactors: EnactorSettings = field(default_factory=EnactorSettings)
    reconciler: ReconcilerSettings = field(default_factory=ReconcilerSettings)
    dns: Mapping[str, Any] = field(default_factory=dict)
    backend: Mapping[str, Any] = field(default_factory=dict)
    health: HealthSettings = field(default_factory=HealthSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    demo: Mapping[str, Any] = field(default_factory=dict)
