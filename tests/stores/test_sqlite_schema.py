"""SQLite schema versions: a schema-1 store (one wide zone table) or a schema-2 store
(undated content) opens as the current schema, with every row."""

from __future__ import annotations

import sqlite3

import pytest
from tests.helpers import content, draft, name

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


def _downgrade_to_v2(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE contents DROP COLUMN last_gen")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")


def _downgrade_to_v1(path) -> None:
    _downgrade_to_v2(path)
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


def test_schema_2_store_is_migrated_and_its_undated_content_checked_in_full(tmp_path):
    """Content stored before schema 3 has no date (NULL): clean-up must check it in
    full, so content a kept plan still uses under another name survives."""
    path = tmp_path / "region.db"
    store = SqliteStore(path)
    shared = content("10.0.0.9")
    store.publish(draft(a=shared, b=content("10.0.0.2")), source="t", actor="t", now=0)
    store.publish(draft(a=content("10.0.0.1"), b=content("10.0.0.2")), source="t", actor="t", now=1)
    g3 = store.publish(
        draft(a=content("10.0.0.1"), b=content("10.0.0.2"), c=shared),
        source="t",
        actor="t",
        now=2,
    ).generation
    store.close()
    _downgrade_to_v2(path)
    store = SqliteStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("3",)
        assert db.execute("SELECT count(*) FROM contents WHERE last_gen IS NULL").fetchone()[0] > 0
    # plan 1 goes: `shared` (a's there) is a suspect, unused by plan 2, undated
    assert store.delete_unreferenced([1], actor="t", now=3).deleted == (1,)
    assert store.contents(g3)[name("c")] == shared
    store.close()


def test_content_published_again_under_another_name_survives_clean_up(tmp_path):
    """Schema 3 dates content by the newest plan that published it anew: content an old
    plan used, dropped by the next, and published again by a later one under another
    name is checked in full and kept; content no kept plan uses is deleted."""
    store = SqliteStore(tmp_path / "region.db")
    shared, gone = content("10.0.0.9"), content("10.0.0.8")
    store.publish(draft(a=shared, b=gone), source="t", actor="t", now=0)
    store.publish(draft(a=content("10.0.0.1"), b=content("10.0.0.2")), source="t", actor="t", now=1)
    g3 = store.publish(
        draft(a=content("10.0.0.1"), b=content("10.0.0.2"), c=shared),
        source="t",
        actor="t",
        now=2,
    ).generation
    assert store.delete_unreferenced([1], actor="t", now=3).deleted == (1,)
    assert store.contents(g3)[name("c")] == shared
    with sqlite3.connect(tmp_path / "region.db") as db:
        digests = {r[0] for r in db.execute("SELECT digest FROM contents")}
    assert shared.digest in digests and gone.digest not in digests
    store.close()


def test_content_of_a_plan_deleted_out_of_order_is_checked_in_full(tmp_path):
    """Content last published by a plan that clean-up deletes while an older plan stays
    (out of order) may live on in a later plan that carried it over: it is checked
    against every kept plan, and kept; content only the deleted plans used goes."""
    store = SqliteStore(tmp_path / "region.db")
    x, y, z = content("10.0.0.1"), content("10.0.0.2"), content("10.0.0.3")
    for endpoints in ({"a": x}, {"a": y}, {"a": y, "b": z}, {"a": y, "b": z}):
        store.publish(draft(**endpoints), source="t", actor="t", now=0)
    assert store.delete_unreferenced([1, 3], actor="t", now=1).deleted == (1, 3)
    assert store.contents(4)[name("b")] == z
    with sqlite3.connect(tmp_path / "region.db") as db:
        digests = {r[0] for r in db.execute("SELECT digest FROM contents")}
    assert digests == {y.digest, z.digest}
    store.close()
