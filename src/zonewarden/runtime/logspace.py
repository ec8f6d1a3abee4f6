"""Room for the last words: log files keep space reserved, so a role that hits a full
disk can still say so in its log (the store and the logs usually share that disk).

Rules kept here: the reserve is allocated beyond the end of the file without changing
its size (Linux fallocate with FALLOC_FL_KEEP_SIZE), topped up as the log grows; where
that is not available, nothing is reserved and nothing fails.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

RESERVE = 64 * 1024  # a few hundred log lines
_FALLOC_FL_KEEP_SIZE = 1
# the process's own symbols include libc's: no `ldconfig -p` subprocess at import
# (ctypes.util.find_library runs one), which every `up` and test would pay for
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def reserve(path: Path, nbytes: int = RESERVE) -> bool:
    """Keep `nbytes` allocated past the end of `path`; False when that is not possible."""
    if _libc is None:
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        rc = _libc.fallocate(
            fd, _FALLOC_FL_KEEP_SIZE, ctypes.c_longlong(size), ctypes.c_longlong(nbytes)
        )
        return bool(rc == 0)
    finally:
        os.close(fd)


def free_bytes(path: Path) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize
