"""Room kept for erasure on a full disk: ``<database>-reserve``, a file of zeros
beside the store (docs/reliability.md, "A full disk").

A delete writes before it frees: SQLite first journals every page it changes
(with ``secure_delete``, every page it zeroes too) in the ``-wal`` file, so on
a full disk an erasure would fail like any other write, which is exactly when
a user may need one. So a store opened for writing keeps a reserve: a quarter
of its database, at least 256 KiB and at most 16 MiB (deleting one memory
journals some 60 KiB; forgetting a namespace of 1,000 memories about 2 MiB),
made only while the disk has room for it twice over. An erasure that finds
less free space than the reserve holds deletes the reserve first, so its
journal has that room; other writes never touch it. Opening a store needs a
little room too (SQLite's ``-shm`` index, 32 KiB, made at the first open after
the last process closed it): on a full disk the reserve gives up that much
first (``room_to_open``), so that the store opens and the erasure can run. It
is made whole again at the next open, or after an erasure, once there is room.

It owns the file and nothing else: which writes are erasures is the store's.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from engramdb.store.files import private_file

__all__ = [
    "MAX_BYTES",
    "MIN_BYTES",
    "SUFFIX",
    "free_beside",
    "keep",
    "path_of",
    "release_if_short",
    "room_to_open",
    "wanted",
]

SUFFIX = "-reserve"
MIN_BYTES = 256 * 1024
MAX_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024
_TO_OPEN = 128 * 1024  # the -shm index (32 KiB), the -wal's header and a page or two


def path_of(database: str) -> Path:
    return Path(f"{database}{SUFFIX}")


def wanted(database_bytes: int) -> int:
    """The reserve a database of ``database_bytes`` keeps."""
    return max(MIN_BYTES, min(MAX_BYTES, database_bytes // 4))


def keep(database: str) -> None:
    """Make or grow the reserve of ``database`` if the disk has room for it twice over.

    Never fails: a reserve that cannot be made costs nothing until the disk is
    full, and then the erasure's own error says what to do.
    """
    path = path_of(database)
    try:
        size = wanted(os.stat(database).st_size)
        held = path.stat().st_size if path.exists() else 0
        missing = size - held
        if missing <= 0 or _free(path.parent) < 2 * missing:
            return
        private_file(path)  # zeros, but owner-only like every file of the store
        with path.open("r+b") as out:
            _allocate(out.fileno(), held, missing)
    except OSError:
        return


def room_to_open(database: str) -> None:
    """On a nearly full disk, shorten the reserve by the little a store needs to open."""
    path = path_of(database)
    try:
        free = _free(path.parent)
        if free >= _TO_OPEN:
            return
        held = path.stat().st_size
        os.truncate(path, max(0, held - (_TO_OPEN - free)))
    except OSError:
        return


def release_if_short(database: str) -> bool:
    """Delete the reserve when the file system has less free space than it holds,
    so that the erasure about to run has its room; whether it did."""
    path = path_of(database)
    try:
        held = path.stat().st_size
        if _free(path.parent) >= held:
            return False
        path.unlink()
    except OSError:
        return False
    return True


def free_beside(database: str) -> int:
    """The bytes the file system beside ``database`` has free (0 when unknown)."""
    try:
        return _free(path_of(database).parent)
    except OSError:
        return 0


def _free(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def _allocate(fd: int, start: int, length: int) -> None:
    """Give the file real blocks (a sparse file would reserve nothing)."""
    with contextlib.suppress(AttributeError, OSError):
        os.posix_fallocate(fd, start, length)
        return
    os.lseek(fd, start, os.SEEK_SET)
    zeros = bytes(_CHUNK)
    left = length
    while left > 0:
        left -= os.write(fd, zeros[: min(left, _CHUNK)])
    os.fsync(fd)
