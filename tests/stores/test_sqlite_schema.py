"""SQLite schema versions: a schema-1 store (one wide zone table) opens as schema 2."""

from __future__ import annotations

import sqlite3

import pytest
from tests.helpers import content, draft

from zonewarden.errors import StoreCorrupt
from zonewarden.stores.sqlite import SCHEMA_VERSION, SqliteStore

V1_ZONE = """
CREATE TABLE zone(
    name TEXT PRIMARY KEY, gen INTEGER NOT NULL, digest TEXT NOT NULL,
    ttl INTEGER NOT NULL, policy TEXT NOT NULL, records TEXT NOT NULL,
    record_count INTEGER NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX zone_version ON zone(version);
CREATE INDEX zone_gen ON zone(gen);
"""


def _downgrade_to_v1(path) -> None:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT z.name, z.gen, z.digest, r.ttl, r.policy, r.records, z.record_count, "
            "z.version, z.updated_at FROM zone z JOIN zone_records r USING (name)"
        ).fetchall()
        db.executescript("DROP TABLE zone; DROP TABLE zone_records;" + V1_ZONE)
        db.executemany("INSERT INTO zone VALUES (?,?,?,?,?,?,?,?,?)", rows)
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")


def test_schema_1_store_is_migrated_with_every_live_row(tmp_path):
    path = tmp_path / "region.db"
    store = SqliteStore(path)
    g = store.publish(
        draft(a=content("10.0.0.1"), b=content("10.0.0.2", "10.0.0.3")),
        source="t",
        actor="t",
        now=0,
    ).generation
    store.apply_if_newer(g, list(store.plan_names(g)), actor="e", now=1)
    before = (store.read_zone(), store.changed_since(0), store.applied())
    store.close()
    _downgrade_to_v1(path)

    store = SqliteStore(path)
    assert (store.read_zone(), store.changed_since(0), store.applied()) == before
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == (
            str(SCHEMA_VERSION),
        )
    store.close()


def test_unknown_schema_is_refused_with_both_versions(tmp_path):
    path = tmp_path / "region.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StoreCorrupt, match=f"schema 99, this ZoneWarden reads {SCHEMA_VERSION}"):
        SqliteStore(path)


def test_an_older_store_keeps_its_plan_history_and_audit_pages(tmp_path):
    """Plan history and audit pages need no new tables: a store written before them
    (here downgraded to schema 1) opens with every plan's time and its audit log."""
    path = tmp_path / "region.db"
    store = SqliteStore(path)
    for i in range(3):
        store.publish(draft(a=content(f"10.0.0.{i + 1}")), source="t", actor="t", now=10.0 * i)
    store.close()
    _downgrade_to_v1(path)
    store = SqliteStore(path)
    assert store.index().created == {1: 0.0, 2: 10.0, 3: 20.0}
    assert [e.generation for e in store.audit_page(limit=2)] == [3, 2]
    store.close()
