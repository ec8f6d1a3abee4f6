"""The SQLite store's schema and row codecs: the tables, the schema-1 migration, the SQL
fence and gate expressions, and how content is stored as JSON rows."""

from __future__ import annotations

import json

from zonewarden.core.gates import MAX_TTL
from zonewarden.core.model import (
    EMPTY_CONTENT,
    Content,
    EndpointName,
    LbId,
    Policy,
    Record,
    RecordType,
)

ZONE_TABLES = """
CREATE TABLE IF NOT EXISTS zone(
    name TEXT PRIMARY KEY, gen INTEGER NOT NULL, digest TEXT NOT NULL,
    record_count INTEGER NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zone_records(
    name TEXT PRIMARY KEY, ttl INTEGER NOT NULL, policy TEXT NOT NULL, records TEXT NOT NULL
) WITHOUT ROWID;
"""

# schema 1 kept the live zone in one wide table: split it, keeping every row
MIGRATE_FROM_1 = [
    "ALTER TABLE zone RENAME TO zone_v1",
    "DROP INDEX IF EXISTS plan_endpoints_digest",
    "DROP INDEX IF EXISTS zone_version",
    "DROP INDEX IF EXISTS zone_gen",
    *(s.strip() for s in ZONE_TABLES.split(";") if s.strip()),
    "INSERT INTO zone SELECT name, gen, digest, record_count, version, updated_at FROM zone_v1",
    "INSERT INTO zone_records SELECT name, ttl, policy, records FROM zone_v1",
    "DROP TABLE zone_v1",
    "UPDATE meta SET value = '2' WHERE key = 'schema'",
]
# schema 2 did not record when content was last published: unknown (NULL) for what is
# stored, which clean-up treats as "may still be used" and checks in full
MIGRATE_FROM_2 = [
    "ALTER TABLE contents ADD COLUMN last_gen INTEGER",
    "UPDATE meta SET value = '3' WHERE key = 'schema'",
]
MIGRATIONS = {1: MIGRATE_FROM_1, 2: MIGRATE_FROM_2}
LIVE = (
    "SELECT z.name, z.gen, r.ttl, r.policy, r.records, z.digest "
    "FROM zone z JOIN zone_records r ON r.name = z.name"
)
SCHEMA_VERSION = 3

# The live zone is two tables: `zone` holds each endpoint's fencing row (generation,
# content digest, change version) and is narrow, so fast-forwarding 50,000 unchanged
# endpoints to a new generation rewrites ~2 MB, not every endpoint's records; the
# records themselves (`zone_records`) are written only when content changes. Neither
# has a secondary index: `changed_since` compares the `zone_version` counter first and
# scans the narrow table only when something changed, and clean-up's reference check
# scans it once per delete; an index on `gen` or `version` would instead be rewritten
# for every endpoint on every plan. For the same reason `plan_endpoints` has no index
# on `digest` (publishing 50,000 rows into one costs ~6x the rows themselves, in random
# order); clean-up finds orphaned content without it: `contents.last_gen` is the newest
# plan that published the content where its predecessor did not have it under that
# name, so content unused by the oldest kept plan and last published before it is used
# by no kept plan (see `_delete_plans`).
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans(
    gen INTEGER PRIMARY KEY, digest TEXT NOT NULL, created_at REAL NOT NULL,
    source TEXT NOT NULL, endpoint_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS contents(
    digest TEXT PRIMARY KEY, ttl INTEGER NOT NULL, policy TEXT NOT NULL,
    records TEXT NOT NULL, record_count INTEGER NOT NULL, weight_sum INTEGER NOT NULL,
    min_weight INTEGER NOT NULL, last_gen INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS plan_endpoints(
    gen INTEGER NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY(gen, name)) WITHOUT ROWID;
{ZONE_TABLES}
CREATE TABLE IF NOT EXISTS rollback(name TEXT PRIMARY KEY, gen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS locks(name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pins(name TEXT PRIMARY KEY, gen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS heartbeats(
    actor TEXT PRIMARY KEY, at REAL NOT NULL, gen INTEGER NOT NULL,
    phase TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
    kind TEXT NOT NULL, endpoint TEXT NOT NULL, gen INTEGER NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS health_state(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA_VERSION}');
INSERT OR IGNORE INTO meta VALUES ('frozen', '0');
INSERT OR IGNORE INTO meta VALUES ('next_gen', '1');
INSERT OR IGNORE INTO meta VALUES ('zone_version', '0');
"""

# core.gates.content_valid over a stored content's aggregates, so a write reads no records:
# never empty, no negative weight, total weight > 0, ttl within the limit. The decision
# itself is core.fence.decide (see zone.py); tests/stores/test_fence.py checks both.
VALID = (
    "c.record_count > 0 AND c.weight_sum > 0 AND c.min_weight >= 0 "
    f"AND c.ttl BETWEEN 0 AND {MAX_TTL}"
)


_COMPACT = json.JSONEncoder(separators=(",", ":"))
ANY_NAME = EndpointName("-")  # gates only name the endpoint in their messages


def _records_json(content: Content) -> str:
    return _COMPACT.encode([r.as_json() for r in content.records])


def _content_row(c: Content) -> tuple[str, int, str, str, int, int, int]:
    weights = [r.weight for r in c.records]
    return (
        c.digest,
        c.ttl,
        str(c.policy),
        _records_json(c),
        len(weights),
        sum(weights),
        min(weights, default=0),
    )


def _content(ttl: int, policy: str, records: str, digest: str) -> Content:
    rows = tuple(Record(RecordType(t), a, w, LbId(lb)) for t, a, w, lb in json.loads(records))
    if not rows and ttl == 0:
        return EMPTY_CONTENT
    return Content.restore(ttl, Policy(policy), rows, digest)
