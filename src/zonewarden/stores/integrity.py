"""The SQLite store file's health: integrity checks at open, online backups, and the
translation of the file system's refusals (read-only, full) into errors that say so.

Rules kept here:
- a process that would write the region refuses a damaged file before it starts
  (`require_intact`, SQLite's `PRAGMA quick_check`); `zonewarden store check` runs the
  full `integrity_check`; both read through a read-only connection, so checking never
  changes the file;
- damage, a read-only directory and a full disk are three different errors with three
  different remedies (recover / remount or fix permissions / free space), never one
  "restore from backup" for all;
- a backup is made with SQLite's online backup API into `<dest>.partial`, checked, and
  renamed into place: a failed or interrupted backup leaves no file that looks whole.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zonewarden.errors import (
    NotFound,
    StoreCorrupt,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
    ZoneWardenError,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
RECOVER_HINT = (
    "run `zonewarden store check` for details, then `zonewarden store recover` (from the "
    "newest valid plan, or `--from BACKUP` made by `zonewarden store backup`)"
)


@dataclass(frozen=True, slots=True)
class FileCheck:
    path: Path
    problems: tuple[str, ...]
    pages: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_only(path: Path) -> sqlite3.Connection:
    # mode=rw, not ro: a check only reads, but a read-only connection to a WAL database
    # fails with an I/O error while another process creates or removes the -shm file
    # (every role and CLI command opens and closes the store); rw never creates the file
    return sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=10.0)


DAMAGE = ("malformed", "not a database", "corrupt")


def check_file(path: Path, *, full: bool = False, limit: int = 20) -> FileCheck:
    """SQLite's own verdict on the file: [] when sound, else its first `limit` problems."""
    start = time.monotonic()
    _wait_while_created(path)
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise classify_os_error(path, exc, "read") from exc
    if len(head) < len(SQLITE_MAGIC):
        return FileCheck(path, (f"the file is {len(head)} bytes long: truncated or empty",))
    if head != SQLITE_MAGIC:
        return FileCheck(path, ("not an SQLite database (its header is not SQLite's)",))
    pragma = "integrity_check" if full else "quick_check"
    for attempt in range(5):
        try:
            db = _read_only(path)
            try:
                rows = db.execute(f"PRAGMA {pragma}({limit})").fetchall()
                pages = int(db.execute("PRAGMA page_count").fetchone()[0])
            finally:
                db.close()
            break
        except sqlite3.DatabaseError as exc:
            if any(word in str(exc).lower() for word in DAMAGE):
                problems: tuple[str, ...] = (str(exc),)
                return FileCheck(path, problems, seconds=time.monotonic() - start)
            # a full disk, a read-only file, a lock, a transient I/O error: not damage
            translated = translate_sqlite(path, exc)
            if translated is not None:
                raise translated from exc
            if _nearly_full(path.parent):  # SQLite says "I/O error" when -shm cannot grow
                raise StoreFull(f"store {path}: {full_disk_detail(path.parent)}") from exc
            if attempt == 4:
                raise StoreUnavailable(
                    f"cannot read {path} to check it ({exc}); the disk or another process "
                    "may be in the way: retry, and look at the system log if it persists"
                ) from exc
            time.sleep(0.1 * (attempt + 1))
    problems = tuple(str(r[0]) for r in rows if r[0] != "ok")
    return FileCheck(path, problems, pages, time.monotonic() - start)


CREATING_WINDOW = 3.0  # seconds a fresh file may stay shorter than SQLite's header


def _wait_while_created(path: Path) -> None:
    """A role that opens the store while another process is still creating it sees a
    file shorter than SQLite's 100-byte header for a few milliseconds: wait for the
    creator (at most CREATING_WINDOW) before calling a short, young file damaged."""
    deadline = time.monotonic() + CREATING_WINDOW
    while time.monotonic() < deadline:
        try:
            st = path.stat()
        except OSError:
            return  # reading it says what is wrong
        if st.st_size >= 100 or time.time() - st.st_mtime > CREATING_WINDOW:
            return
        time.sleep(0.05)


def _nearly_full(directory: Path) -> bool:
    try:
        st = os.statvfs(directory)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def require_intact(path: Path) -> None:
    """Raise StoreCorrupt, with the first problem and what to do, unless `path` is sound."""
    if not path.exists():
        return
    result = check_file(path)
    if not result.ok:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise StoreCorrupt(
            f"the store {path} is damaged: {result.problems[0]}{more}. Nothing was started "
            f"on it; {RECOVER_HINT}"
        )


def require_writable_dir(directory: Path) -> None:
    """Create the store's directory if needed; StoreReadOnly when it cannot be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise classify_os_error(directory, exc, "create") from exc
    if not os.access(directory, os.W_OK):
        raise classify_os_error(directory, PermissionError(errno.EACCES, "not writable"), "write")
    try:
        st = os.statvfs(directory)
    except OSError:
        return
    if st.f_flag & os.ST_RDONLY:
        raise classify_os_error(directory, OSError(errno.EROFS, "read-only"), "write")


def classify_os_error(path: Path, exc: OSError, doing: str) -> ZoneWardenError:
    """The error a file-system refusal means for the store, with its remedy."""
    where = path if path.is_dir() else path.parent
    if exc.errno == errno.EROFS:
        return StoreReadOnly(
            f"cannot {doing} {path}: {where} is on a read-only file system. ZoneWarden "
            "writes the store, its -wal/-shm files and its lock there: remount it "
            "read-write, or point [store] path at a writable directory"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StoreReadOnly(
            f"cannot {doing} {path}: permission denied (user id {os.getuid()}). ZoneWarden "
            f"writes the store, its -wal/-shm files and its lock in {where}: make it "
            "writable for this user, or point [store] path elsewhere"
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(f"cannot {doing} {path}: {full_disk_detail(where)}")
    return StoreCorrupt(f"cannot {doing} {path}: {exc.strerror or exc}")


def full_disk_detail(directory: Path) -> str:
    try:
        st = os.statvfs(directory)
        free = st.f_bavail * st.f_frsize
        room = f"{free // 1024} KiB free"
    except OSError:
        room = "free space unknown"
    return (
        f"the disk holding {directory} is full ({room}); free some space there. Writes "
        "are retried with back-off; DNS keeps serving the last applied state"
    )


def translate_sqlite(path: Path, exc: sqlite3.Error) -> ZoneWardenError | None:
    """A full disk or a read-only store behind an sqlite3 error, or None for the rest."""
    text = str(exc).lower()
    code = getattr(exc, "sqlite_errorcode", None)
    if "disk is full" in text or code == sqlite3.SQLITE_FULL:
        return StoreFull(f"store {path}: {full_disk_detail(path.parent)}")
    if "readonly" in text or "read-only" in text or code == sqlite3.SQLITE_READONLY:
        return classify_os_error(path, OSError(_readonly_errno(path.parent), "read-only"), "write")
    if "unable to open database file" in text and not path.parent.is_dir():
        return NotFound(f"cannot open {path}: the directory {path.parent} does not exist")
    if "unable to open database file" in text and not os.access(path.parent, os.W_OK):
        return classify_os_error(path, PermissionError(errno.EACCES, "denied"), "open")
    return None


def _readonly_errno(directory: Path) -> int:
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return errno.EROFS
    except OSError:
        pass
    return errno.EACCES


def backup(
    source: Path, dest: Path, *, progress: Callable[[int, int], None] | None = None
) -> FileCheck:
    """Copy the live store to `dest` with SQLite's online backup, consistent even while
    the region runs; the copy is checked before it takes its name."""
    if not source.exists():
        raise NotFound(f"no store at {source} to back up")
    if not dest.parent.is_dir():
        raise NotFound(
            f"cannot write the backup {dest}: the directory {dest.parent} does not exist"
        )
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        src = _read_only(source)
        try:
            out = sqlite3.connect(partial)
            try:

                def step(status: int, remaining: int, total: int) -> None:
                    if progress is not None:
                        progress(total - remaining, total)

                src.backup(out, pages=256, progress=step)
                # a backup is one self-contained file: no -wal/-shm beside it
                out.execute("PRAGMA journal_mode = DELETE")
            finally:
                out.close()
        finally:
            src.close()
        result = check_file(partial, full=True)
        if not result.ok:
            raise StoreCorrupt(
                f"the backup of {source} fails SQLite's integrity check "
                f"({result.problems[0]}): the store itself is damaged; {RECOVER_HINT}"
            )
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, dest)
        return FileCheck(dest, (), result.pages, result.seconds)
    except sqlite3.DatabaseError as exc:
        partial.unlink(missing_ok=True)
        translated = translate_sqlite(dest, exc)
        if translated is not None:
            raise translated from exc
        raise StoreCorrupt(
            f"cannot back up {source}: {exc}; the store may be damaged: {RECOVER_HINT}"
        ) from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise classify_os_error(dest, exc, "write") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
