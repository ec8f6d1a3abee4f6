"""The etcd v3 region store (issue 5): for regions whose enactors run on several hosts.

`open_from_config(config)` is what `zonewarden.runtime.openers.open_store` calls for
`[store] kind = "etcd"`. The client is etcd's own v3 JSON gateway over HTTP with the
standard library (see `client.py` for why), so this store needs no pip extra. TLS and
etcd users come from the `[store]` keys ca_file, cert_file, key_file, username and
password or password_file (checked in config.py; see `client.py` and `security.py`).
"""

from __future__ import annotations

from zonewarden.config import Config
from zonewarden.errors import ConfigError
from zonewarden.stores.etcd.security import Security
from zonewarden.stores.etcd.store import EtcdStore

__all__ = ["EtcdStore", "Security", "open_from_config"]


def open_from_config(config: Config) -> EtcdStore:
    settings = config.store
    if not settings.endpoints:
        raise ConfigError(
            '[store] kind = "etcd" needs endpoints = ["http://host:2379", ...] '
            "(the client URLs of the etcd members)"
        )
    security = Security(
        ca_file=settings.ca_file,
        cert_file=settings.cert_file,
        key_file=settings.key_file,
        username=settings.username,
        password=settings.password,
    )
    return EtcdStore(settings.endpoints, prefix=settings.prefix, security=security)
