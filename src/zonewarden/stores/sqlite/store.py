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
- parts: `base` (opening, transactions, helpers), `schema` (tables and row codecs),
  `zone` (zone reads and fenced writes), `legacy` (the unsafe 2025 mode), this module
  (plans and control).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from zonewarden.core.cleanup import cleanup_detail, deletable
from zonewarden.core.gates import content_valid, require_valid
from zonewarden.core.model import (
    NO_GENERATION,
    Content,
    EndpointName,
    Generation,
    Plan,
    PlanDraft,
    PlanHeader,
)
from zonewarden.core.outcomes import CleanupIndex, CleanupResult, PlanIndex
from zonewarden.errors import NotFound, check_expected
from zonewarden.ports import AuditEvent, Heartbeat
from zonewarden.stores.health_state import HealthStateOps
from zonewarden.stores.sqlite.legacy import LegacyOps
from zonewarden.stores.sqlite.schema import ANY_NAME, VALID, _content, _content_row
from zonewarden.stores.sqlite.zone import ZoneOps


class SqliteStore(ZoneOps, LegacyOps, HealthStateOps):
    """A RegionStore in one SQLite file; safe to share between processes."""

    # -- plans ---------------------------------------------------------------------------
    def publish(
        self,
        draft: PlanDraft,
        *,
        source: str,
        actor: str,
        now: float,
        min_generation: int = 0,
        expect_newest: int | None = None,
    ) -> Plan:
        names = json.dumps({name: c.digest for name, c in draft.endpoints.items()})
        with self._tx() as db:
            newest = db.execute("SELECT max(gen) FROM plans").fetchone()[0] or 0
            unique = self._moved_content(db, draft, names, newest)
            stored = self._stored_digests(db, unique)
            fresh = [c for digest, c in unique.items() if digest not in stored]
            # stored content passed these gates when first published, so only new content
            # is checked; on any failure the whole draft is checked, for exactly the
            # message MemoryStore gives, and nothing is written
            if not draft.endpoints or not all(stored.values()):
                require_valid(draft)
            if any(content_valid(ANY_NAME, c) for c in fresh):
                require_valid(draft)
            if expect_newest is not None:
                check_expected(expect_newest, newest)
            g = Generation(max(int(self._meta(db, "next_gen")), min_generation))
            self._set_meta(db, "next_gen", g + 1)
            db.execute(
                "INSERT INTO plans VALUES (?,?,?,?,?)",
                (g, draft.digest, now, source, len(draft.endpoints)),
            )
            db.executemany(
                "INSERT INTO contents VALUES (?,?,?,?,?,?,?,?)",
                ((*_content_row(c), g) for c in fresh),
            )
            # content this plan holds where its predecessor did not: dated for clean-up
            if stored:
                db.execute(
                    "UPDATE contents SET last_gen = ? WHERE digest IN "
                    "(SELECT value FROM json_each(?))",
                    (g, json.dumps(list(stored))),
                )
            db.execute(
                "INSERT INTO plan_endpoints SELECT ?, key, value FROM json_each(?)", (g, names)
            )
            self._audit(db, [(now, actor, "publish", "", g, f"{len(draft.endpoints)} endpoints")])
        return Plan(g, draft.endpoints, draft.digest, created_at=now, source=source)

    @staticmethod
    def _moved_content(
        db: sqlite3.Connection, draft: PlanDraft, names: str, newest: int
    ) -> dict[str, Content]:
        """The content of the draft's endpoints that the newest plan does not hold as
        they are, by digest: only this content can be new to the store (the rest was
        published, and passed the gates, with the newest plan). SQLite compares the
        draft with the newest plan's narrow rows, a key lookup per endpoint, and
        returns only the difference (a 1% change: 1% of the rows reach Python)."""
        rows = db.execute(
            "SELECT j.key FROM json_each(?) j LEFT JOIN plan_endpoints pe "
            "ON pe.gen = ? AND pe.name = j.key WHERE pe.digest IS NOT j.value",
            (names, newest),
        ).fetchall()
        moved = (draft.endpoints[EndpointName(r[0])] for r in rows)
        return {c.digest: c for c in moved}

    @staticmethod
    def _stored_digests(db: sqlite3.Connection, digests: Iterable[str]) -> dict[str, bool]:
        """Which of `digests` are stored in `contents`, and whether each passes the
        structural gates (computed from the stored aggregates)."""
        wanted = list(digests)
        if not wanted:
            return {}
        rows = db.execute(
            f"SELECT c.digest, {VALID} FROM contents c "
            "WHERE c.digest IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        ).fetchall()
        return {digest: bool(ok) for digest, ok in rows}

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
            rows = db.execute("SELECT gen, created_at FROM plans ORDER BY gen").fetchall()
            gens = tuple(Generation(r[0]) for r in rows)
            applied = self.applied()
            names = self.plan_names(gens[-1]) if gens else ()
        return PlanIndex(gens, applied, names, {Generation(g): at for g, at in rows})

    def cleanup_index(self) -> CleanupIndex:
        """`summarise(self.index())` computed in SQLite: two aggregates instead of a
        Python row per endpoint (the enactor reads this after every pass)."""
        with self._tx(write=False) as db:
            rows = db.execute("SELECT gen, created_at FROM plans ORDER BY gen").fetchall()
            live = frozenset(Generation(r[0]) for r in db.execute("SELECT DISTINCT gen FROM zone"))
            watermark = NO_GENERATION
            if rows:
                names, applied, lowest = db.execute(
                    "SELECT count(*), count(z.gen), min(z.gen) FROM plan_endpoints pe "
                    "LEFT JOIN zone z ON z.name = pe.name WHERE pe.gen = ?",
                    (rows[-1][0],),
                ).fetchone()
                # an endpoint of the newest plan never applied counts as generation 0
                if names and applied == names:
                    watermark = Generation(lowest)
        gens = tuple(Generation(r[0]) for r in rows)
        return CleanupIndex(gens, watermark, live, {Generation(g): at for g, at in rows})

    def delete_unreferenced(
        self, generations: Sequence[Generation], *, actor: str, now: float
    ) -> CleanupResult:
        wanted = sorted(set(generations))
        with self._tx() as db:
            newest = Generation(db.execute("SELECT max(gen) FROM plans").fetchone()[0] or 0)
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
            result = deletable(wanted, present, newest, referenced)
            self._delete_plans(db, result.deleted)
            if result.deleted or result.kept_referenced:
                detail = cleanup_detail(result.deleted, result.kept_referenced)
                self._audit(db, [(now, actor, "cleanup", "", 0, detail)])
        return result

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

    def audit_page(
        self,
        *,
        limit: int,
        after: int = 0,
        before: int | None = None,
        since: float = 0.0,
        kinds: tuple[str, ...] = (),
        newest_first: bool = True,
    ) -> list[AuditEvent]:
        # the same filter as AuditQuery.keeps, in SQL: the seq range is a primary key
        # range, the page stops at LIMIT (no index on `at` or `kind`: every write would
        # pay for one; a sparse filter scans the seq range inside SQLite)
        sql = (
            "SELECT seq, at, actor, kind, endpoint, gen, detail FROM audit "
            "WHERE seq > :after AND seq < :before AND at >= :since"
        )
        if kinds:
            sql += " AND kind IN (SELECT value FROM json_each(:kinds))"
        sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT :limit"
        args = {
            "after": after,
            "before": 2**63 - 1 if before is None else before,
            "since": since,
            "kinds": json.dumps(list(kinds)),
            "limit": max(0, limit),
        }
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [AuditEvent(*r) for r in rows]

    # -- health state (stores/health_state.py) ------------------------------------------
    def _health_write(
        self, key: str, value: str | None, audit: tuple[str, str, float, str] | None
    ) -> None:
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM health_state WHERE key=?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO health_state VALUES (?,?)", (key, value))
            if audit is not None:
                kind, actor, now, detail = audit
                self._audit(db, [(now, actor, kind, "", 0, detail)])

    def _health_read(self, prefix: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM health_state WHERE substr(key, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchall()
        return dict(rows)
