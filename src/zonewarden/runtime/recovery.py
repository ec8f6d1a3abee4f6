"""`zonewarden store check | backup | recover`: the SQLite store's integrity, by hand.

Rules kept here:
- nothing runs beside a recovery: it holds the store's `up` lock for its whole length;
- the damaged file is never written and never deleted: it is salvaged from a copy, and
  moved aside (with its -wal and -shm) under a dated name, so nothing is lost;
- a recovered store continues the generation numbering past the highest generation the
  damaged one (or the backup) shows, so no fence at a backend or DNS server ever sees a
  generation go backwards: it publishes the newest valid plan again as a new generation
  and applies it to every endpoint;
- the new file is built under a temporary name and checked; only then does it take the
  store's name, so an interrupted recovery leaves the damaged file where it was.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zonewarden.config import Config
from zonewarden.core.gates import content_valid, draft_valid
from zonewarden.core.model import Content, EndpointName, Generation, PlanDraft, Policy, Record
from zonewarden.errors import NotFound, PermanentError, StoreCorrupt, ZoneWardenError
from zonewarden.runtime.supervisor import UpLock
from zonewarden.stores.integrity import FileCheck, backup, check_file
from zonewarden.stores.sqlite import SqliteStore

SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True, slots=True)
class Recovered:
    path: Path
    source: str  # "plan 41 of the damaged store" or "backup FILE"
    generation: int  # the recovered plan's new generation
    endpoints: int
    moved_aside: Path | None


def up_lock(config: Config) -> UpLock:
    path = config.store.path
    return UpLock(path.with_name(path.name + ".up.lock"))


def check(config: Config, *, full: bool = True) -> FileCheck:
    """SQLite's integrity check over the region's store file; on etcd (whose members
    check their own data), that every kept plan's contents are stored and every stored
    content is referenced (`EtcdStore.content_problems`)."""
    if config.store.kind == "etcd":
        return _check_etcd(config)
    _sqlite_only(config, "store check")
    if not config.store.path.exists():
        raise NotFound(f"no store at {config.store.path}")
    return check_file(config.store.path, full=full)


def _check_etcd(config: Config) -> FileCheck:
    from zonewarden.stores.etcd import open_from_config

    started = time.monotonic()
    store = open_from_config(config)
    try:
        problems = tuple(store.content_problems(leaks=False))
    finally:
        store.close()
    where = Path(f"etcd {' '.join(config.store.endpoints)} {config.store.prefix}")
    return FileCheck(where, problems, 0, time.monotonic() - started)


def make_backup(
    config: Config, dest: Path, *, progress: Callable[[int, int], None] | None = None
) -> FileCheck:
    _sqlite_only(config, "store backup")
    if dest.resolve() == config.store.path.resolve():
        raise PermanentError(f"the backup must go to another file than the store {dest} itself")
    return backup(config.store.path, dest, progress=progress)


def recover(config: Config, *, source: Path | None = None, now: float | None = None) -> Recovered:
    """Replace a damaged store: from a backup file, or from the damaged store's newest
    plan that reads back whole and passes the gates."""
    _sqlite_only(config, "store recover")
    path = config.store.path
    now = time.time() if now is None else now
    lock = up_lock(config)
    lock.acquire()  # refuses while `up` runs on this store
    try:
        if source is None and path.exists() and check_file(path, full=True).ok:
            raise PermanentError(
                f"the store {path} passes SQLite's integrity check: nothing to recover. "
                "To restore a backup over it anyway: `zonewarden store recover --from BACKUP`"
            )
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".recover-") as work:
            scratch = Path(work)
            highest = _highest_generation(path, scratch) if path.exists() else 0
            if source is not None:
                draft, old_gen, store_file, label = _from_backup(source, scratch)
            else:
                draft, old_gen, store_file, label = _from_damaged(config, path, scratch)
            new_gen = _republish(store_file, draft, old_gen, highest, label, now)
            result = check_file(store_file, full=True)
            if not result.ok:
                raise StoreCorrupt(f"the recovered store fails its check: {result.problems[0]}")
            aside = _move_aside(path, now)
            shutil.move(str(store_file), path)
        return Recovered(path, label, new_gen, len(draft.endpoints), aside)
    finally:
        lock.release()


def _sqlite_only(config: Config, what: str) -> None:
    if config.store.kind != "sqlite":
        raise NotFound(
            f"`zonewarden {what}` works on SQLite stores; an etcd cluster keeps its own "
            "copies: use `etcdctl endpoint status` / `etcdctl snapshot save` there"
        )


def _copy_with_wal(path: Path, scratch: Path) -> Path:
    """A private copy of the damaged file (and its WAL), so salvage never writes to it."""
    copy = scratch / "damaged.db"
    shutil.copyfile(path, copy)
    for suffix in SIDE_FILES[:1]:
        side = path.with_name(path.name + suffix)
        if side.exists():
            shutil.copyfile(side, copy.with_name(copy.name + suffix))
    return copy


def _highest_generation(path: Path, scratch: Path) -> int:
    """The highest generation the damaged store shows anywhere that still reads."""
    copy = _copy_with_wal(path, scratch)
    highest = 0
    queries = (
        "SELECT CAST(value AS INTEGER) - 1 FROM meta WHERE key = 'next_gen'",
        "SELECT max(gen) FROM plans",
        "SELECT max(gen) FROM zone",
        "SELECT max(gen) FROM plan_endpoints",
    )
    with contextlib.closing(sqlite3.connect(copy)) as db:
        for query in queries:
            with contextlib.suppress(sqlite3.Error):
                row = db.execute(query).fetchone()
                if row and row[0] is not None:
                    highest = max(highest, int(row[0]))
    copy.unlink()
    return highest


@contextlib.contextmanager
def _opened(path: Path, what: str) -> Iterator[SqliteStore | None]:
    try:
        store = SqliteStore(path, create=False)
    except ZoneWardenError:
        yield None  # its schema pages are lost: only raw rows may still read
        return
    try:
        yield store
    finally:
        store.close()


def _newest_valid(store: SqliteStore | None, config: Config | None) -> tuple[PlanDraft, int] | None:
    if store is None:
        return None
    try:  # the plan list alone: index() also reads the live zone, which may be lost
        with contextlib.closing(sqlite3.connect(store.path)) as db:
            rows = db.execute("SELECT gen FROM plans ORDER BY gen DESC").fetchall()
        generations = [Generation(int(r[0])) for r in rows]
    except sqlite3.Error:
        generations = []
    for g in generations:
        try:
            contents = store.contents(g)
        except ZoneWardenError:
            continue  # this plan's pages are damaged: try an older one
        draft = PlanDraft(contents)
        if draft_valid(draft):
            continue
        if config is not None and set(config.region.endpoints) - set(contents):
            continue  # rows lost: it no longer covers the region
        return draft, g
    return None


def _live_records(copy: Path, config: Config) -> PlanDraft | None:
    """What the damaged store was serving (its live zone rows), when they read back whole,
    cover the region and pass the gates: the plans' pages may be lost while these are not."""
    try:
        with contextlib.closing(sqlite3.connect(copy)) as db:
            rows = db.execute("SELECT name, ttl, policy, records FROM zone_records").fetchall()
        contents = {
            EndpointName(str(name)): Content(
                int(ttl), Policy(policy), tuple(Record.from_json(r) for r in json.loads(records))
            )
            for name, ttl, policy, records in rows
        }
    except (sqlite3.Error, ValueError, TypeError):
        return None
    draft = PlanDraft({n: c for n, c in contents.items() if n in config.region.endpoints})
    if set(config.region.endpoints) - set(draft.endpoints) or draft_valid(draft):
        return None
    return draft


def _from_damaged(config: Config, path: Path, scratch: Path) -> tuple[PlanDraft, int, Path, str]:
    copy = _copy_with_wal(path, scratch)
    with _opened(copy, f"the damaged store {path}") as damaged:
        found = _newest_valid(damaged, config)
    if found is not None:
        draft, g = found
        label = f"plan {g} of the damaged store"
    else:
        live = _live_records(copy, config)
        if live is None:
            raise StoreCorrupt(
                f"neither a plan nor the live records of the damaged store {path} read back "
                "whole and valid; recover from a backup instead: "
                "`zonewarden store recover --from BACKUP`"
            )
        draft, g, label = live, 0, "the live records of the damaged store (no plan read back)"
    fresh = scratch / "recovered.db"
    SqliteStore(fresh, create=True).close()
    return draft, g, fresh, label


def _from_backup(source: Path, scratch: Path) -> tuple[PlanDraft, int, Path, str]:
    result = check_file(source, full=True)
    if not result.ok:
        raise StoreCorrupt(f"the backup {source} is damaged too: {result.problems[0]}")
    fresh = scratch / "recovered.db"
    backup(source, fresh)
    with _opened(fresh, f"the backup {source}") as restored:
        found = _newest_valid(restored, None)
    if found is None:
        raise StoreCorrupt(f"the backup {source} holds no valid plan")
    draft, g = found
    return draft, g, fresh, f"backup {source} (its plan {g})"


def _republish(
    store_file: Path, draft: PlanDraft, old_gen: int, highest: int, label: str, now: float
) -> int:
    """Publish the recovered plan past every generation seen, and apply it everywhere."""
    store = SqliteStore(store_file, create=False)
    try:
        floor = max(highest, old_gen, store.newest()) + 1
        plan = store.publish(
            draft,
            source=f"recovered-{old_gen}",
            actor="store recover",
            now=now,
            min_generation=floor,
        )
        names = sorted(n for n, c in draft.endpoints.items() if not content_valid(n, c))
        store.apply_if_newer(Generation(plan.generation), names, actor="store recover", now=now)
        store.record(
            "store recover",
            "recover",
            now=now,
            generation=plan.generation,
            detail=f"recovered from {label}; republished as generation {plan.generation}",
        )
        return plan.generation
    finally:
        store.close()


def _move_aside(path: Path, now: float) -> Path | None:
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        n += 1
    for suffix in SIDE_FILES:  # a WAL left beside the new file would be replayed into it
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(aside.with_name(aside.name + suffix))
    path.rename(aside)
    return aside
