"""A damaged, truncated, read-only or full store: every role refuses or backs off with
one clear message naming the remedy; `store check | backup | recover` work; nothing
is half-written and the damaged file is never lost."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from zonewarden import config as cfg
from zonewarden.cli.main import cli
from zonewarden.core.model import PlanDraft
from zonewarden.errors import StoreCorrupt, StoreFull
from zonewarden.health.static import StaticHealth
from zonewarden.runtime import logspace
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.planner import Planner
from zonewarden.stores.integrity import backup, check_file
from zonewarden.stores.sqlite import SqliteStore

ROLES = [
    ["up", "--quiet", "--duration", "3"],
    ["planner"],
    ["enactor", "--id", "az1"],
    ["reconciler"],
    ["serve-dns", "--listen", "127.0.0.1:0"],
    ["status"],
]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, " ".join(result.output.split())  # rich wraps at 80 columns


def make_region(tmp_path: Path, plans: int = 3) -> tuple[Path, cfg.Config]:
    """A demo region's store with `plans` generations, the newest applied everywhere."""
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml())
    config = cfg.load(path)
    store = open_store(config, create=True)
    Planner(config, store, StaticHealth(config.region)).once(0.0)
    draft = PlanDraft(store.contents(store.newest()))
    for i in range(1, plans):
        store.publish(draft, source="test", actor="test", now=float(i))
    store.apply_if_newer(store.newest(), list(config.region.endpoints), actor="t", now=9.0)
    store.close()
    return path, config


def root_pages(db: Path, *tables: str) -> list[int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = dict(conn.execute("SELECT name, rootpage FROM sqlite_master"))
    return [rows[t] for t in tables]


def damage(db: Path, pages: list[int]) -> None:
    """Write garbage over whole pages (1-based, as SQLite counts), as a bad disk would."""
    size = 4096
    with db.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * size)
            f.write(os.urandom(size))


@pytest.fixture
def damaged(tmp_path):
    path, config = make_region(tmp_path)
    damage(config.store.path, [4, 5, 6, 7])  # the four garbage pages
    return path, config


@pytest.mark.servers
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r[0])
def test_every_role_refuses_a_damaged_store(damaged, role):
    path, config = damaged
    before = config.store.path.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "zonewarden", *role, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out
    assert "is damaged" in out and "zonewarden store recover" in out, out
    assert "Traceback" not in out
    assert out.count("error:") == 1, out
    assert not (path.parent / "logs").exists(), "nothing was started"
    assert config.store.path.read_bytes() == before, "the damaged file is left alone"


def test_store_check_reports_damage(damaged):
    path, _ = damaged
    code, out = run("store", "check", "--config", str(path))
    assert code == 3 and "is damaged" in out and "store recover" in out


def test_recover_from_the_live_records_when_the_plans_are_lost(damaged):
    path, config = damaged
    code, out = run("store", "recover", "--config", str(path))
    assert code == 0, out
    assert "the live records of the damaged store" in out
    assert check_file(config.store.path, full=True).ok
    kept = list(config.store.path.parent.glob("region.db.damaged-*"))
    assert [p.name for p in kept if p.suffix not in (".db-wal", ".db-shm")], kept
    store = SqliteStore(config.store.path, create=False)
    try:
        assert store.newest() >= 4  # past every generation the damaged file showed (1..3)
        zone = store.read_zone()
        assert set(zone) == set(config.region.endpoints)
        assert all(e.content.records for e in zone.values())
    finally:
        store.close()
    code, out = run("status", "--config", str(path))
    assert code == 0, out


def test_recover_from_the_newest_plan_when_the_zone_is_lost(tmp_path):
    path, config = make_region(tmp_path)
    damage(config.store.path, root_pages(config.store.path, "zone", "zone_records"))
    code, out = run("store", "recover", "--config", str(path))
    assert code == 0 and "plan 3 of the damaged store" in out, out
    store = SqliteStore(config.store.path, create=False)
    try:
        assert store.newest() == 4
        assert {e.generation for e in store.read_zone().values()} == {4}
    finally:
        store.close()


def test_recover_refuses_a_sound_store_and_needs_a_backup_when_nothing_reads(tmp_path):
    path, config = make_region(tmp_path)
    code, out = run("store", "recover", "--config", str(path))
    assert code == 2 and "nothing to recover" in out
    code, out = run("store", "backup", str(tmp_path / "backup.db"), "--config", str(path))
    assert code == 0 and "checked" in out
    assert not list(tmp_path.glob("backup.db?*")), "no -wal, -shm or .partial left beside it"
    damage(config.store.path, root_pages(config.store.path, "plans", "zone_records"))
    code, out = run("store", "recover", "--config", str(path))
    assert code == 3 and "--from BACKUP" in out
    code, out = run(
        "store", "recover", "--from", str(tmp_path / "backup.db"), "--config", str(path)
    )
    assert code == 0, out
    store = SqliteStore(config.store.path, create=False)
    try:
        assert store.newest() == 4  # the backup's plan 3, republished past it
    finally:
        store.close()


def test_recover_refuses_while_up_runs(damaged):
    path, config = damaged
    from zonewarden.runtime.supervisor import UpLock

    lock = UpLock(config.store.path.with_name("region.db.up.lock"))
    lock.acquire()
    try:
        code, out = run("store", "recover", "--config", str(path))
        assert code == 4 and "already runs the region" in out
    finally:
        lock.release()


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "malformed"),
        (lambda p: p.write_bytes(b"SQLite"), "truncated or empty"),
        (lambda p: p.write_bytes(b""), "truncated or empty"),
        (lambda p: p.write_bytes(b"\x00" * 8192), "not an SQLite database"),
    ],
    ids=["half", "header-only", "empty", "zeros"],
)
def test_truncated_and_foreign_files(tmp_path, mangle, why):
    path, config = make_region(tmp_path)
    mangle(config.store.path)
    code, out = run("status", "--config", str(path))
    assert code == 3 and why in out and "Traceback" not in out, out


def test_backup_while_a_writer_publishes(tmp_path):
    _path, config = make_region(tmp_path, plans=1)
    store = SqliteStore(config.store.path, create=False)
    draft = store.contents(store.newest())
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set() and i < 2000:
            store.publish(PlanDraft(draft), source="t", actor="t", now=float(i))
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for n in range(3):
            result = backup(config.store.path, tmp_path / f"b{n}.db")
            assert result.ok
    finally:
        stop.set()
        writer.join()
        store.close()
    for n in range(3):
        copy = SqliteStore(tmp_path / f"b{n}.db", create=False)
        try:
            gens = copy.index().generations
            assert gens == tuple(range(gens[0], gens[-1] + 1))  # a consistent prefix
        finally:
            copy.close()


def test_a_full_disk_is_not_damage(tmp_path):
    """SQLite's max_page_count stands in for a full disk: the error is StoreFull
    (retryable, says to free space), not StoreCorrupt; the transaction is undone."""
    _path, config = make_region(tmp_path, plans=1)
    store = SqliteStore(config.store.path, create=False)
    try:
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")
        draft = store.contents(store.newest())
        newest = store.newest()
        with pytest.raises(StoreFull, match="full") as info:
            for i in range(200):
                store.publish(PlanDraft(draft), source="t", actor="t", now=float(i))
        assert info.value.delay >= 1.0
        assert not isinstance(info.value, StoreCorrupt)
        store._db.execute("PRAGMA max_page_count = 1073741823")
        plan = store.publish(PlanDraft(draft), source="t", actor="t", now=1.0)
        assert plan.generation > newest  # the store works again: nothing was left open
    finally:
        store.close()


@contextlib.contextmanager
def read_only(directory: Path):
    """`directory` read-only: a read-only bind mount as root, else chmod."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    try:
        subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(directory)], check=True, capture_output=True
        )
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def _can_mount() -> bool:
    if os.geteuid() != 0:
        return True  # chmod works for other users
    probe = Path("/tmp") / f"zw-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(["mount", "--bind", str(probe), str(probe)], capture_output=True)
        if ok.returncode == 0:
            subprocess.run(["umount", str(probe)], check=False)
        return ok.returncode == 0
    finally:
        probe.rmdir()


@pytest.mark.servers
@pytest.mark.skipif(not _can_mount(), reason="cannot make a read-only mount here")
@pytest.mark.parametrize("role", [["status"], ["up", "--quiet", "--duration", "2"], ["planner"]])
def test_a_read_only_store_directory_says_so(tmp_path, role):
    region_dir = tmp_path / "r"
    region_dir.mkdir()
    path, _config = make_region(region_dir)
    with read_only(region_dir):
        proc = subprocess.run(
            [sys.executable, "-m", "zonewarden", *role, "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "read-only" in out or "permission denied" in out, out
    assert "backup" not in out and "damaged" not in out and "Traceback" not in out, out


@pytest.mark.servers
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small tmpfs")
def test_a_full_disk_is_logged_once_and_the_planner_recovers(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    proc = None
    try:
        path, config = make_region(mnt, plans=1)
        path.write_text(path.read_text().replace("interval = 1.0", "interval = 0.05"))
        log = mnt / "planner.log"
        since = time.time()
        logspace.reserve(log)  # as `up` does for every child's log
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "zonewarden", "planner", "--config", str(path)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60  # the planner is running: it has beaten once
        while time.monotonic() < deadline and not _beaten(config.store.path, "planner", since):
            time.sleep(0.1)
        filler = mnt / "filler"
        with filler.open("wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
        deadline = time.monotonic() + 40
        while "StoreFull" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        text = log.read_text()
        assert text.count("StoreFull") == 1, text  # once, not once per attempt
        assert "free some space" in text
        assert proc.poll() is None, "the planner backs off; it does not exit"
        filler.unlink()
        deadline = time.monotonic() + 40
        while "cleared after" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "cleared after" in log.read_text(), log.read_text()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        subprocess.run(["umount", str(mnt)], check=False)


def _beaten(db: Path, actor: str, since: float) -> bool:
    store = SqliteStore(db, create=False)
    try:
        return any(h.actor == actor and h.at > since for h in store.heartbeats())
    finally:
        store.close()


def _fill_later(src: Path, dst: Path, delay: float) -> threading.Thread:
    def fill() -> None:
        time.sleep(delay)
        dst.write_bytes(src.read_bytes())

    t = threading.Thread(target=fill)
    t.start()
    return t


@pytest.mark.parametrize("window", [3.0, 0.0], ids=["waits", "control-no-wait"])
def test_a_store_still_being_created_is_not_called_damaged(tmp_path, monkeypatch, window):
    """Another process has created the file (0 bytes) and is writing its first page: a
    role opening it then waits for the creator; without the wait it would be refused."""
    _path, config = make_region(tmp_path, plans=1)
    fresh = tmp_path / "fresh.db"
    fresh.write_bytes(b"")
    monkeypatch.setattr("zonewarden.stores.integrity.CREATING_WINDOW", window)
    writer = _fill_later(config.store.path, fresh, 0.3)
    try:
        result = check_file(fresh)
    finally:
        writer.join()
    if window:
        assert result.ok, result.problems
    else:
        assert not result.ok and "truncated or empty" in result.problems[0]


@pytest.mark.servers
def test_roles_opening_a_fresh_store_at_once_all_start(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(cfg.demo_toml())
    code = (
        "import sys; from zonewarden import config as cfg; "
        "from zonewarden.runtime.openers import open_store; "
        f"open_store(cfg.load({str(path)!r}), create=True).close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert check_file(cfg.load(path).store.path).ok
