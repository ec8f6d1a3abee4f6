"""The store fixture every contract test runs against: one param per implementation."""

from __future__ import annotations

import pytest

from zonewarden.stores.memory import MemoryStore
from zonewarden.stores.sqlite import SqliteStore

STORE_KINDS = ["memory", "sqlite"]


def make_store(kind: str, tmp_path):
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SqliteStore(tmp_path / "region.db")
    raise ValueError(kind)


@pytest.fixture(params=STORE_KINDS)
def store(request, tmp_path):
    s = make_store(request.param, tmp_path)
    yield s
    s.close()
