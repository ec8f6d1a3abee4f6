"""The store fixture every contract test runs against: one param per implementation."""

from __future__ import annotations

import pytest
from tests.stores.etcd_cluster import fresh_prefix, shared_cluster

from zonewarden.stores.memory import MemoryStore
from zonewarden.stores.sqlite import SqliteStore

STORE_KINDS = ["memory", "sqlite", "etcd"]


def make_store(kind: str, tmp_path):
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "region.db")
    if kind == "etcd":
        from zonewarden.stores.etcd import EtcdStore

        try:
            cluster = shared_cluster()
        except RuntimeError as exc:  # missing binary or a cluster that cannot start: FAIL
            pytest.fail(str(exc), pytrace=False)
        return EtcdStore(cluster.endpoints, prefix=fresh_prefix())
    raise ValueError(kind)


@pytest.fixture(params=STORE_KINDS)
def store(request, tmp_path):
    s = make_store(request.param, tmp_path)
    yield s
    s.close()


@pytest.fixture
def etcd():
    """An etcd store alone, under a fresh prefix of the shared cluster."""
    s = make_store("etcd", None)
    yield s
    s.close()
