"""The unsafe 2025 protocol on SQLite, for `legacy` mode only: unfenced writes behind a
lock, age-only clean-up that empties live endpoints. Each call is still one transaction
(the store stays consistent); what is missing on purpose is the generation check."""

from __future__ import annotations

import json

from zonewarden.core.model import EMPTY_CONTENT, EndpointName, Generation
from zonewarden.core.outcomes import Outcome
from zonewarden.stores.sqlite.base import SqliteBase


class LegacyOps(SqliteBase):
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
