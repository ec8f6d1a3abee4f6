"""Fixtures: real DNS servers (one per session and kind) and backends over them.

Servers are shared across a session to keep the suite fast; every test writes its own
endpoint names (`names` fixture), so tests never see each other's records.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from tests.backends.servers import (
    KEY_NAME,
    KEY_SECRET,
    STARTERS,
    ZONE,
    Running,
    moto_client,
    start_moto,
)
from zonewarden.backends.memory import MemoryBackend
from zonewarden.backends.rfc2136 import Rfc2136Backend
from zonewarden.backends.route53 import Route53Backend
from zonewarden.core.model import EndpointName
from zonewarden.ports import DnsBackend

DNS_KINDS = ["bind", "knot", "pdns"]
# "<server>-txt": the same server with the marker kept as a TXT (marker_type)
BACKEND_KINDS = ["memory", *DNS_KINDS, *(f"{k}-txt" for k in DNS_KINDS), "route53"]
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> Iterator[dict[str, Running]]:
    running: dict[str, Running] = {}
    yield running
    for run in running.values():
        run.stop()


def server_of(servers: dict[str, Running], kind: str, tmp_path_factory) -> Running:
    if kind not in servers or servers[kind].proc.poll() is not None:
        if kind.startswith("moto"):
            servers[kind] = start_moto(tmp_path_factory.mktemp(kind), exact=kind == "moto-exact")
        else:
            servers[kind] = STARTERS[kind](tmp_path_factory.mktemp(kind))
    return servers[kind]


_opened: list[DnsBackend] = []  # what route53() and rfc2136() made during this test


@pytest.fixture(autouse=True)
def _close_backends() -> Iterator[None]:
    """Close every backend the helpers below made (their TCP connection, boto3's pool)."""
    yield
    while _opened:
        _opened.pop().close()


def route53(run: Running, **kw) -> Route53Backend:
    """A Route 53 backend on a fresh hosted zone of the moto_server `run`, closed when
    the test ends."""
    client = moto_client(run)
    zone = client.create_hosted_zone(Name=ZONE, CallerReference=str(next(_counter)))
    backend = Route53Backend(zone["HostedZone"]["Id"], ZONE, client=client, **kw)
    _opened.append(backend)
    return backend


def rfc2136(run: Running, **kw) -> Rfc2136Backend:
    """An RFC 2136 backend for the server `run`, closed when the test ends."""
    kw.setdefault("tsig_name", KEY_NAME)
    kw.setdefault("tsig_secret", KEY_SECRET)
    kw.setdefault("timeout", 2.0)
    backend = Rfc2136Backend(run.server, ZONE, port=run.port, **kw)
    _opened.append(backend)
    return backend


def _params(kinds: list[str]) -> list[object]:
    """Each kind as a fixture param; every kind but memory starts a server (`servers`)."""
    return [k if k == "memory" else pytest.param(k, marks=pytest.mark.servers) for k in kinds]


@pytest.fixture(params=_params(BACKEND_KINDS))
def backend(request, servers, tmp_path_factory):
    if request.param == "memory":
        yield MemoryBackend(ZONE)
        return
    if request.param == "route53":  # moto with Route 53's own batch checks (moto_exact.py)
        yield route53(server_of(servers, "moto-exact", tmp_path_factory))
        return
    kind, _, marker_type = request.param.partition("-")
    yield rfc2136(server_of(servers, kind, tmp_path_factory), marker_type=marker_type or "cname")


@pytest.fixture(params=_params(DNS_KINDS))
def dns_server(request, servers, tmp_path_factory) -> Running:
    return server_of(servers, request.param, tmp_path_factory)


@pytest.fixture
def bind_server(servers, tmp_path_factory) -> Running:
    return server_of(servers, "bind", tmp_path_factory)


@pytest.fixture
def names() -> Callable[[str], EndpointName]:
    """Unique endpoint names for this test: names('kv') -> kv-t17.example."""
    test = next(_counter)
    return lambda short: EndpointName(f"{short}-t{test}.{ZONE}")
