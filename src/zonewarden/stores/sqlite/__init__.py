"""The SQLite region store: one WAL file per region, shared safely by several processes
on one host. See `store.py` for the rules it keeps."""

from __future__ import annotations

from zonewarden.stores.sqlite.schema import SCHEMA, SCHEMA_VERSION
from zonewarden.stores.sqlite.store import SqliteStore

__all__ = ["SCHEMA", "SCHEMA_VERSION", "SqliteStore"]
