"""Shared machinery of the SQLite store: opening and schema checks, one transaction per
conditional write with sqlite3 errors translated once, meta and audit helpers, and plan
deletion. The rules it serves are in `store.py`'s docstring."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from zonewarden.errors import NotFound, StoreCorrupt, StoreUnavailable
from zonewarden.stores.integrity import translate_sqlite
from zonewarden.stores.sqlite.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION


class SqliteBase:
    """Opening, transactions and helpers; `SqliteStore` adds the port's methods."""

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
        """Check the schema version; migrate older schemas, one step after another, in
        one transaction."""
        version = int(self._meta(self._db, "schema"))
        if version == SCHEMA_VERSION:
            return
        if version not in MIGRATIONS:
            raise StoreCorrupt(
                f"{self.path} has schema {version}, this ZoneWarden reads {SCHEMA_VERSION}"
            )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # another process may have migrated it meanwhile: read the version again
            while (version := int(self._meta(self._db, "schema"))) in MIGRATIONS:
                for statement in MIGRATIONS[version]:
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
                self._abandon()
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreUnavailable(
                        f"store {self.path} is busy ({exc}); retrying helps"
                    ) from exc
                # a full disk or a read-only file is not damage: say which it is
                raise translate_sqlite(self.path, exc) or StoreCorrupt(
                    f"store {self.path}: {exc}"
                ) from exc
            except sqlite3.DatabaseError as exc:
                raise StoreCorrupt(f"store {self.path} is damaged: {exc}") from exc

    def _abandon(self) -> None:
        """After a failed COMMIT (a full disk) SQLite may keep the transaction open; end
        it, or the next call would join a transaction that can never commit."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

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

    @staticmethod
    def _has_plan(db: sqlite3.Connection, generation: int) -> bool:
        return db.execute("SELECT 1 FROM plans WHERE gen=?", (generation,)).fetchone() is not None

    @staticmethod
    def _delete_plans(db: sqlite3.Connection, gens: Sequence[int]) -> None:
        if not gens:
            return
        arg = (json.dumps(list(gens)),)
        # content a doomed row uses is orphaned only if no surviving row uses it. Rows
        # whose name has the same content in the oldest surviving plan are settled by a
        # primary key probe; only the rest (what changed between plans) are suspects.
        # `last_gen` (the newest plan that published the content anew) settles most of
        # them without a scan: if that plan survives, it uses the content; if it is
        # older than the oldest surviving plan, only that plan can still use it (a
        # later plan got it from its predecessor, so from that plan, or published it
        # anew, which would have moved last_gen). Only suspects of unknown date, or
        # whose plan was deleted out of order, need the full check, one scan of the
        # surviving rows. The cheap terms come first: SQLite evaluates them in order.
        # No index on digest.
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
            "AND (last_gen IS NULL OR last_gen NOT IN (SELECT gen FROM plans)) "
            "AND digest NOT IN (SELECT digest FROM plan_endpoints WHERE gen = :keep "
            "AND digest IN (SELECT value FROM json_each(:s))) "
            "AND (last_gen < :keep OR digest NOT IN (SELECT digest FROM plan_endpoints "
            "WHERE digest IN (SELECT value FROM json_each(:s))))",
            {"s": suspects, "keep": keep},
        )
