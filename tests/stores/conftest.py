"""The store fixture every contract test runs against: one param per implementation."""

from __future__ import annotations

import pytest
from tests.stores.etcd_cluster import fresh_prefix, shared_cluster

from zonewarden.backends.external import ExternalZoneRegion
from zonewarden.backends.memory import MemoryBackend
from zonewarden.stores.memory import MemoryStore
from zonewarden.stores.sqlite import SqliteStore

# etcd-tls: https + client cert + auth; external: the SQLite ledger with records kept at
# the in-memory DNS backend (backends/external.py)
STORE_KINDS = ["memory", "sqlite", "external", "etcd", "etcd-tls"]


def make_store(kind: str, tmp_path):
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "region.db")
    if kind == "external":
        return ExternalZoneRegion(SqliteStore(tmp_path / "ledger.db"), MemoryBackend("example."))
    if kind == "etcd":
        from zonewarden.stores.etcd import EtcdStore

        try:
            cluster = shared_cluster()
        except RuntimeError as exc:  # missing binary or a cluster that cannot start: FAIL
            pytest.fail(str(exc), pytrace=False)
        return EtcdStore(cluster.endpoints, prefix=fresh_prefix())
    raise ValueError(kind)


@pytest.fixture(scope="session")
def tls_etcd(tmp_path_factory):
    """One etcd member serving https with --client-cert-auth and etcd auth on, for the
    session; stopped when the session ends."""
    from tests.stores.etcd_tls import start_tls_etcd

    try:
        server = start_tls_etcd(tmp_path_factory.mktemp("etcd-tls"))
    except RuntimeError as exc:  # missing binary or a member that cannot start: FAIL
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def _params(kinds: list[str]) -> list[object]:
    """Each kind as a fixture param; the ones that start a server are marked `servers`."""
    return [pytest.param(k, marks=pytest.mark.servers) if "etcd" in k else k for k in kinds]


@pytest.fixture(params=_params(STORE_KINDS))
def store(request, tmp_path):
    if request.param == "etcd-tls":
        s = request.getfixturevalue("tls_etcd").store()
    else:
        s = make_store(request.param, tmp_path)
    yield s
    s.close()


@pytest.fixture
def etcd():
    """An etcd store alone, under a fresh prefix of the shared cluster."""
    s = make_store("etcd", None)
    yield s
    s.close()
