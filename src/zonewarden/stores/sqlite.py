"""The SQLite region store: plans, the live zone and control state in one WAL file.

Rules kept here:
- every conditional write is ONE `BEGIN IMMEDIATE` transaction: the fence comparison,
  the write and its audit rows commit together, so several OS processes may share the
  file safely (SQLite serialises writers; readers see committed snapshots);
- endpoint content is stored once per digest (`contents`); a plan is a list of
  (endpoint, digest) rows, so a plan that changes 1% of the endpoints stores 1% new
  content; the live zone keeps its own copy of what it serves, so no plan deletion can
  empty it (except `legacy_delete_older`, which reproduces the 2025 failure on purpose);
- semantics are exactly those of `MemoryStore` (checked by the contract suite and a
  hypothesis agreement test);
- sqlite3 errors are translated here, once: locked -> StoreUnavailable (retryable),
  not-a-database -> StoreCorrupt.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from zonewarden.core.gates import content_valid
from zonewarden.core.model import (
    EMPTY_CONTENT,
    NO_GENERATION,
    Content,
    EndpointName,
    Generation,
    LbId,
    Plan,
    PlanDraft,
    PlanHeader,
    Policy,
    Record,
    RecordType,
    ZoneEntry,
)
from zonewarden.core.outcomes import CleanupResult, Outcome, PlanIndex
from zonewarden.errors import NotFound, StoreCorrupt, StoreUnavailable
from zonewarden.ports import AuditEvent, Heartbeat
from zonewarden.stores.memory import require_valid

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
LIVE = (
    "SELECT z.name, z.gen, r.ttl, r.policy, r.records, z.digest "
    "FROM zone z JOIN zone_records r ON r.name = z.name"
)
SCHEMA_VERSION = 2
MAX_TTL = 86400

# The live zone is two tables: `zone` holds each endpoint's fencing row (generation,
# content digest, change version) and is narrow, so fast-forwarding 50,000 unchanged
# endpoints to a new generation rewrites ~2 MB, not every endpoint's records; the
# records themselves (`zone_records`) are written only when content changes. Neither
# has a secondary index: `changed_since` compares the `zone_version` counter first and
# scans the narrow table only when something changed, and clean-up's reference check
# scans it once per delete; an index on `gen` or `version` would instead be rewritten
# for every endpoint on every plan. For the same reason `plan_endpoints` has no index
# on `digest` (publishing 50,000 rows into one costs ~6x the rows themselves, in random
# order); clean-up finds orphaned content without it (see `_delete_plans`).
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans(
    gen INTEGER PRIMARY KEY, digest TEXT NOT NULL, created_at REAL NOT NULL,
    source TEXT NOT NULL, endpoint_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS contents(
    digest TEXT PRIMARY KEY, ttl INTEGER NOT NULL, policy TEXT NOT NULL,
    records TEXT NOT NULL, record_count INTEGER NOT NULL, weight_sum INTEGER NOT NULL,
    min_weight INTEGER NOT NULL) WITHOUT ROWID;
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
INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA_VERSION}');
INSERT OR IGNORE INTO meta VALUES ('frozen', '0');
INSERT OR IGNORE INTO meta VALUES ('next_gen', '1');
INSERT OR IGNORE INTO meta VALUES ('zone_version', '0');
"""

# the fence, written once: live generation < g, or == g with other content (self-repair)
FENCE = "(zone.gen < excluded.gen OR (zone.gen = excluded.gen AND zone.digest != excluded.digest))"
VALID = f"c.record_count > 0 AND c.weight_sum > 0 AND c.min_weight >= 0 AND c.ttl BETWEEN 0 AND {MAX_TTL}"


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


class SqliteStore:
    """A RegionStore in one SQLite file; safe to share between processes."""

    def __init__(
        self, path: str | Path, *, create: bool = True, synchronous: str = "NORMAL"
    ) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise NotFound(
                f"no ZoneWarden store at {self.path}: start a region with `zonewarden up` "
                "or point --config at the region's config"
            )
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(f"PRAGMA synchronous = {synchronous}")
            # one plan's rows (~4 MB per 50k endpoints) and the zone fit in the page cache,
            # so a big transaction does not spill dirty pages to the WAL before COMMIT
            self._db.execute("PRAGMA cache_size = -65536")
            # every plan rewrites the same pages (its rows, the fencing rows): checkpoint
            # every ~32 MiB of WAL rather than 4, so each page is copied back once per
            # several plans instead of once per plan
            self._db.execute("PRAGMA wal_autocheckpoint = 8192")
            self._check_schema(create)
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(
                f"{self.path} is not a readable ZoneWarden store ({exc}); "
                "move it aside or restore it from a backup"
            ) from exc

    def _check_schema(self, create: bool) -> None:
        tables = {
            r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and "meta" not in tables:
            raise StoreCorrupt(f"{self.path} is an SQLite file but not a ZoneWarden store")
        if not tables and not create:
            raise StoreCorrupt(f"{self.path} is empty, not a ZoneWarden store")
        if "meta" in tables:
            self._upgrade()
        self._db.executescript(SCHEMA)

    def _upgrade(self) -> None:
        """Check the schema version; migrate schema 1 in one transaction."""
        version = int(self._meta(self._db, "schema"))
        if version == SCHEMA_VERSION:
            return
        if version != 1:
            raise StoreCorrupt(
                f"{self.path} has schema {version}, this ZoneWarden reads {SCHEMA_VERSION}"
            )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if int(self._meta(self._db, "schema")) == 1:  # another process may have won
                for statement in MIGRATE_FROM_1:
                    self._db.execute(statement)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _tx(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction (nested calls join the outer one); sqlite3 errors leave here
        translated. A read-only outer transaction must not contain writes."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            try:
                self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreUnavailable(
                        f"store {self.path} is busy ({exc}); retrying helps"
                    ) from exc
                raise StoreCorrupt(f"store {self.path}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise StoreCorrupt(f"store {self.path} is damaged: {exc}") from exc

    def consistent_read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """Group several reads into one snapshot: `with store.consistent_read(): ...`."""
        return self._tx(write=False)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> str:
        return str(db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0])

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: object) -> None:
        db.execute("UPDATE meta SET value=? WHERE key=?", (str(value), key))

    def _bump_version(self, db: sqlite3.Connection) -> int:
        version = int(self._meta(db, "zone_version")) + 1
        self._set_meta(db, "zone_version", version)
        return version

    @staticmethod
    def _audit(
        db: sqlite3.Connection, rows: Iterable[tuple[float, str, str, str, int, str]]
    ) -> None:
        db.executemany(
            "INSERT INTO audit(at, actor, kind, endpoint, gen, detail) VALUES (?,?,?,?,?,?)", rows
        )

    # -- plans ---------------------------------------------------------------------------
    def publish(
        self, draft: PlanDraft, *, source: str, actor: str, now: float, min_generation: int = 0
    ) -> Plan:
        unique = {c.digest: c for c in draft.endpoints.values()}
        names = json.dumps({name: c.digest for name, c in draft.endpoints.items()})
        with self._tx() as db:
            stored = self._stored_digests(db, unique)
            fresh = [c for digest, c in unique.items() if digest not in stored]
            # stored content passed these gates when first published, so only new content
            # is checked; on any failure the whole draft is checked, for exactly the
            # message MemoryStore gives, and nothing is written
            if not draft.endpoints or not all(stored.values()):
                require_valid(draft)
            if any(content_valid(ANY_NAME, c) for c in fresh):
                require_valid(draft)
            g = Generation(max(int(self._meta(db, "next_gen")), min_generation))
            self._set_meta(db, "next_gen", g + 1)
            db.execute(
                "INSERT INTO plans VALUES (?,?,?,?,?)",
                (g, draft.digest, now, source, len(draft.endpoints)),
            )
            db.executemany("INSERT INTO contents VALUES (?,?,?,?,?,?,?)", map(_content_row, fresh))
            db.execute(
                "INSERT INTO plan_endpoints SELECT ?, key, value FROM json_each(?)", (g, names)
            )
            self._audit(db, [(now, actor, "publish", "", g, f"{len(draft.endpoints)} endpoints")])
        return Plan(g, draft.endpoints, draft.digest, created_at=now, source=source)

    @staticmethod
    def _stored_digests(db: sqlite3.Connection, digests: Iterable[str]) -> dict[str, bool]:
        """Which of `digests` are stored, and whether each passes the structural gates.

        Most of a new plan's content is the newest plan's: those digests come from one
        range scan of its narrow `plan_endpoints` rows (a published plan's content passed
        the gates); only the rest are looked up in `contents`, whose wide rows cost a
        page read per lookup."""
        newest = db.execute(
            "SELECT digest FROM plan_endpoints WHERE gen = (SELECT max(gen) FROM plans)"
        ).fetchall()
        in_newest = {r[0] for r in newest}
        found = dict.fromkeys((d for d in digests if d in in_newest), True)
        rest = [d for d in digests if d not in in_newest]
        if rest:
            rows = db.execute(
                f"SELECT c.digest, {VALID} FROM contents c "
                "WHERE c.digest IN (SELECT value FROM json_each(?))",
                (json.dumps(rest),),
            ).fetchall()
            found.update((digest, bool(ok)) for digest, ok in rows)
        return found

    def newest(self) -> Generation:
        with self._lock:
            row = self._db.execute("SELECT max(gen) FROM plans").fetchone()
        return Generation(row[0] or NO_GENERATION)

    def header(self, generation: Generation) -> PlanHeader | None:
        with self._lock:
            row = self._db.execute(
                "SELECT gen, digest, endpoint_count, created_at, source FROM plans WHERE gen=?",
                (generation,),
            ).fetchone()
        if row is None:
            return None
        return PlanHeader(Generation(row[0]), row[1], row[2], row[3], row[4])

    def plan(self, generation: Generation) -> Plan | None:
        with self._tx(write=False):
            head = self.header(generation)
            if head is None:
                return None
            endpoints = self.contents(generation)
        return Plan(generation, endpoints, head.digest, head.created_at, head.source)

    def contents(
        self, generation: Generation, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, Content]:
        sql = (
            "SELECT pe.name, c.ttl, c.policy, c.records, c.digest FROM plan_endpoints pe "
            "JOIN contents c ON c.digest = pe.digest WHERE pe.gen = ?"
        )
        args: tuple[object, ...] = (generation,)
        if names is not None:
            sql += " AND pe.name IN (SELECT value FROM json_each(?))"
            args += (json.dumps(list(names)),)
        with self._lock:
            if (
                self._db.execute("SELECT 1 FROM plans WHERE gen=?", (generation,)).fetchone()
                is None
            ):
                raise NotFound(f"plan {generation} is not in the store")
            rows = self._db.execute(sql + " ORDER BY pe.name", args).fetchall()
        return {EndpointName(n): _content(t, p, r, d) for n, t, p, r, d in rows}

    def plan_names(self, generation: Generation) -> tuple[EndpointName, ...]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name FROM plan_endpoints WHERE gen=? ORDER BY name", (generation,)
            ).fetchall()
        return tuple(EndpointName(r[0]) for r in rows)

    def index(self) -> PlanIndex:
        with self._tx(write=False) as db:
            gens = tuple(Generation(r[0]) for r in db.execute("SELECT gen FROM plans ORDER BY gen"))
            applied = self.applied()
            names = self.plan_names(gens[-1]) if gens else ()
        return PlanIndex(gens, applied, names)

    def delete_unreferenced(
        self, generations: Sequence[Generation], *, actor: str, now: float
    ) -> CleanupResult:
        wanted = sorted(set(generations))
        with self._tx() as db:
            newest = db.execute("SELECT max(gen) FROM plans").fetchone()[0] or 0
            present = {
                r[0]
                for r in db.execute(
                    "SELECT gen FROM plans WHERE gen IN (SELECT value FROM json_each(?))",
                    (json.dumps(wanted),),
                )
            }
            referenced = {
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT gen FROM zone WHERE gen IN (SELECT value FROM json_each(?))",
                    (json.dumps(wanted),),
                )
            }
            kept_new = [g for g in wanted if g in present and g == newest]
            kept_ref = [g for g in wanted if g in present and g != newest and g in referenced]
            doomed = [g for g in wanted if g in present and g != newest and g not in referenced]
            self._delete_plans(db, doomed)
            if doomed or kept_ref:
                self._audit(
                    db,
                    [
                        (
                            now,
                            actor,
                            "cleanup",
                            "",
                            0,
                            f"deleted {doomed} kept referenced {kept_ref}",
                        )
                    ],
                )
        return CleanupResult(
            tuple(map(Generation, doomed)),
            tuple(map(Generation, kept_ref)),
            tuple(map(Generation, kept_new)),
        )

    @staticmethod
    def _delete_plans(db: sqlite3.Connection, gens: Sequence[int]) -> None:
        if not gens:
            return
        arg = (json.dumps(list(gens)),)
        # content a doomed row uses is orphaned only if no surviving row uses it. Rows
        # whose name has the same content in one surviving plan are settled by a primary
        # key probe; only the rest (what changed between plans) need the full check, one
        # scan of the surviving rows against that short list. No index on digest needed.
        keep = db.execute(
            "SELECT min(gen) FROM plans WHERE gen NOT IN (SELECT value FROM json_each(?))", arg
        ).fetchone()[0]
        suspects = db.execute(
            "SELECT json_group_array(DISTINCT d.digest) FROM plan_endpoints d "
            "LEFT JOIN plan_endpoints k ON k.gen = ? AND k.name = d.name "
            "WHERE d.gen IN (SELECT value FROM json_each(?)) "
            "AND (k.digest IS NULL OR k.digest != d.digest)",
            (keep, *arg),
        ).fetchone()[0]
        db.execute("DELETE FROM plans WHERE gen IN (SELECT value FROM json_each(?))", arg)
        db.execute("DELETE FROM plan_endpoints WHERE gen IN (SELECT value FROM json_each(?))", arg)
        db.execute(
            "DELETE FROM contents WHERE digest IN (SELECT value FROM json_each(:s)) "
            "AND digest NOT IN (SELECT digest FROM plan_endpoints "
            "WHERE digest IN (SELECT value FROM json_each(:s)))",
            {"s": suspects},
        )

    # -- zone ----------------------------------------------------------------------------
    def read_zone(
        self, names: Iterable[EndpointName] | None = None
    ) -> dict[EndpointName, ZoneEntry]:
        sql = LIVE
        args: tuple[object, ...] = ()
        if names is not None:
            sql += " WHERE z.name IN (SELECT value FROM json_each(?))"
            args = (json.dumps(list(names)),)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY z.name", args).fetchall()
        return {
            EndpointName(n): ZoneEntry(EndpointName(n), Generation(g), _content(t, p, r, d))
            for n, g, t, p, r, d in rows
        }

    def applied(self) -> dict[EndpointName, Generation]:
        with self._lock:
            rows = self._db.execute("SELECT name, gen FROM zone ORDER BY name").fetchall()
        return dict(rows)  # NewTypes are plain str and int at run time

    def changed_since(self, version: int) -> tuple[int, dict[EndpointName, ZoneEntry]]:
        with self._tx(write=False) as db:
            current = int(self._meta(db, "zone_version"))
            if current <= version:
                return current, {}
            rows = db.execute(
                LIVE + " WHERE z.version > ? ORDER BY z.name",
                (version,),
            ).fetchall()
        return current, {
            EndpointName(n): ZoneEntry(EndpointName(n), Generation(g), _content(t, p, r, d))
            for n, g, t, p, r, d in rows
        }

    def advance_unchanged(
        self, generation: Generation, *, actor: str, now: float
    ) -> tuple[EndpointName, ...]:
        with self._tx() as db:
            if self._meta(db, "frozen") == "1" or not self._has_plan(db, generation):
                return ()
            # the served content does not change, so the zone version does not either:
            # DNS servers polling `changed_since` see only what they must re-serve
            cur = db.execute(
                "UPDATE zone SET gen = :g, updated_at = :now FROM plan_endpoints pe "
                "WHERE pe.gen = :g AND pe.name = zone.name AND pe.digest = zone.digest "
                "AND zone.gen < :g AND zone.record_count > 0",
                {"g": generation, "now": now},
            )
            if cur.rowcount:
                self._audit(
                    db,
                    [
                        (
                            now,
                            actor,
                            "advance",
                            "",
                            generation,
                            f"{cur.rowcount} unchanged endpoints",
                        )
                    ],
                )
            rows = db.execute(
                "SELECT pe.name FROM plan_endpoints pe LEFT JOIN zone z ON z.name = pe.name "
                "WHERE pe.gen = :g AND (z.name IS NULL OR z.gen < :g "
                "OR (z.gen = :g AND z.digest != pe.digest)) ORDER BY pe.name",
                {"g": generation},
            ).fetchall()
        return tuple(r[0] for r in rows)

    @staticmethod
    def _has_plan(db: sqlite3.Connection, generation: int) -> bool:
        return db.execute("SELECT 1 FROM plans WHERE gen=?", (generation,)).fetchone() is not None

    def apply_if_newer(
        self, generation: Generation, names: Sequence[EndpointName], *, actor: str, now: float
    ) -> dict[EndpointName, Outcome]:
        g = generation
        listed = json.dumps(list(names))
        with self._tx() as db:
            if self._meta(db, "frozen") == "1":
                self._audit(db, [(now, actor, "frozen", n, g, "") for n in names])
                return dict.fromkeys(names, Outcome.FROZEN)
            rows = db.execute(
                f"SELECT j.value, pe.digest, ({VALID}) AS ok, c.record_count, z.gen, z.digest "
                "FROM json_each(?) j "
                "LEFT JOIN plan_endpoints pe ON pe.gen = ? AND pe.name = j.value "
                "LEFT JOIN contents c ON c.digest = pe.digest "
                "LEFT JOIN zone z ON z.name = j.value",
                (listed, g),
            ).fetchall()
            out: dict[EndpointName, Outcome] = {}
            audit = []
            for name, digest, ok, count, live_gen, live_digest in rows:
                outcome = _fence(g, digest, ok, live_gen, live_digest)
                out[EndpointName(name)] = outcome
                if outcome is Outcome.APPLIED:
                    audit.append((now, actor, "write", name, g, f"{count} records"))
                elif outcome is Outcome.FENCED_OUT:
                    audit.append((now, actor, "fenced", name, g, f"live {live_gen}"))
                elif outcome is Outcome.MISSING_PLAN:
                    audit.append(
                        (now, actor, "missing-plan", name, g, "plan or endpoint not in the store")
                    )
                elif outcome is Outcome.REFUSED:
                    audit.append(
                        (now, actor, "refused", name, g, "content fails never-empty/weights gate")
                    )
            to_write = [n for n, o in out.items() if o is Outcome.APPLIED]
            if to_write:
                version = self._bump_version(db)
                fenced_in = db.execute(  # the fence again, in the write itself (rule 2)
                    "INSERT INTO zone(name, gen, digest, record_count, version, updated_at) "
                    "SELECT pe.name, pe.gen, pe.digest, c.record_count, ?, ? "
                    "FROM plan_endpoints pe JOIN contents c ON c.digest = pe.digest "
                    f"WHERE pe.gen = ? AND pe.name IN (SELECT value FROM json_each(?)) AND {VALID} "
                    "ON CONFLICT(name) DO UPDATE SET gen = excluded.gen, digest = excluded.digest, "
                    "record_count = excluded.record_count, version = excluded.version, "
                    f"updated_at = excluded.updated_at WHERE {FENCE} RETURNING name",
                    (version, now, g, json.dumps(to_write)),
                ).fetchall()
                db.execute(
                    "INSERT OR REPLACE INTO zone_records(name, ttl, policy, records) "
                    "SELECT pe.name, c.ttl, c.policy, c.records "
                    "FROM plan_endpoints pe JOIN contents c ON c.digest = pe.digest "
                    "WHERE pe.gen = ? AND pe.name IN (SELECT value FROM json_each(?))",
                    (g, json.dumps([r[0] for r in fenced_in])),
                )
            self._audit(db, audit)
        return {n: out[n] for n in names}

    # -- legacy (unsafe) -----------------------------------------------------------------
    def legacy_write(
        self, generation: Generation, name: EndpointName, *, actor: str, now: float
    ) -> Outcome:
        with self._tx() as db:
            if self._meta(db, "frozen") == "1":
                return Outcome.FROZEN
            live = db.execute("SELECT gen FROM zone WHERE name=?", (name,)).fetchone()
            if live is not None and not self._has_plan(db, live[0]):
                return Outcome.DANGLING
            row = db.execute(
                "SELECT c.ttl, c.policy, c.records, c.record_count, c.digest FROM plan_endpoints pe "
                "JOIN contents c ON c.digest = pe.digest WHERE pe.gen=? AND pe.name=?",
                (generation, name),
            ).fetchone()
            if row is None:
                return Outcome.MISSING_PLAN
            if live is not None:
                db.execute("INSERT OR REPLACE INTO rollback VALUES (?,?)", (name, live[0]))
            version = self._bump_version(db)
            ttl, policy, records, count, digest = row
            db.execute(  # unconditional: no fence, exactly the 2025 bug
                "INSERT OR REPLACE INTO zone VALUES (?,?,?,?,?,?)",
                (name, generation, digest, count, version, now),
            )
            db.execute(
                "INSERT OR REPLACE INTO zone_records VALUES (?,?,?,?)", (name, ttl, policy, records)
            )
            self._audit(db, [(now, actor, "legacy-write", name, generation, "")])
        return Outcome.APPLIED

    def legacy_delete_older(
        self, below: Generation, *, actor: str, now: float
    ) -> tuple[Generation, ...]:
        with self._tx() as db:
            doomed = [
                r[0]
                for r in db.execute("SELECT gen FROM plans WHERE gen < ? ORDER BY gen", (below,))
            ]
            if not doomed:
                return ()
            self._delete_plans(db, doomed)
            version = self._bump_version(db)
            e = EMPTY_CONTENT
            emptied = db.execute(  # the plan's record tree goes with it: live endpoints go empty
                "UPDATE zone SET record_count=0, digest=?, version=?, updated_at=? "
                "WHERE gen IN (SELECT value FROM json_each(?)) RETURNING name",
                (e.digest, version, now, json.dumps(doomed)),
            ).fetchall()
            db.execute(
                "UPDATE zone_records SET records='[]', ttl=?, policy=? "
                "WHERE name IN (SELECT value FROM json_each(?))",
                (e.ttl, str(e.policy), json.dumps([r[0] for r in emptied])),
            )
            self._audit(db, [(now, actor, "legacy-cleanup", "", 0, f"deleted {doomed}")])
        return tuple(map(Generation, doomed))

    def try_lock(self, name: EndpointName, owner: str, *, now: float, ttl: float) -> bool:
        with self._tx() as db:
            row = db.execute("SELECT owner, expires FROM locks WHERE name=?", (name,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now:
                return False
            db.execute("INSERT OR REPLACE INTO locks VALUES (?,?,?)", (name, owner, now + ttl))
        return True

    def unlock(self, name: EndpointName, owner: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE name=? AND owner=?", (name, owner))

    # -- control -------------------------------------------------------------------------
    def frozen(self) -> bool:
        with self._lock:
            return self._meta(self._db, "frozen") == "1"

    def set_frozen(self, frozen: bool, *, actor: str, now: float, reason: str = "") -> None:
        with self._tx() as db:
            self._set_meta(db, "frozen", "1" if frozen else "0")
            self._audit(db, [(now, actor, "freeze" if frozen else "unfreeze", "", 0, reason)])

    def pins(self) -> dict[EndpointName, Generation]:
        with self._lock:
            rows = self._db.execute("SELECT name, gen FROM pins ORDER BY name").fetchall()
        return {EndpointName(n): Generation(g) for n, g in rows}

    def set_pin(
        self, name: EndpointName, generation: Generation | None, *, actor: str, now: float
    ) -> None:
        with self._tx() as db:
            if generation is None:
                db.execute("DELETE FROM pins WHERE name=?", (name,))
                self._audit(db, [(now, actor, "unpin", name, 0, "")])
            else:
                db.execute("INSERT OR REPLACE INTO pins VALUES (?,?)", (name, generation))
                self._audit(db, [(now, actor, "pin", name, generation, "")])

    def beat(self, heartbeat: Heartbeat) -> None:
        h = heartbeat
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO heartbeats VALUES (?,?,?,?,?)",
                (h.actor, h.at, h.generation, h.phase, h.detail),
            )

    def heartbeats(self) -> list[Heartbeat]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM heartbeats ORDER BY actor").fetchall()
        return [Heartbeat(*r) for r in rows]

    def record(
        self,
        actor: str,
        kind: str,
        *,
        now: float,
        endpoint: str = "",
        generation: int = 0,
        detail: str = "",
    ) -> None:
        with self._tx() as db:
            self._audit(db, [(now, actor, kind, endpoint, generation, detail)])

    def audit_log(self, *, after: int = 0, limit: int = 1000) -> list[AuditEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, at, actor, kind, endpoint, gen, detail FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [AuditEvent(*r) for r in rows]


def _fence(
    g: int, digest: str | None, ok: int | None, live_gen: int | None, live_digest: str | None
) -> Outcome:
    """The per-endpoint decision, identical to MemoryStore._apply_one."""
    if digest is None:
        return Outcome.MISSING_PLAN
    if not ok:
        return Outcome.REFUSED
    if live_gen is not None and live_gen > g:
        return Outcome.FENCED_OUT
    if live_gen == g and live_digest == digest:
        return Outcome.CURRENT
    return Outcome.APPLIED
