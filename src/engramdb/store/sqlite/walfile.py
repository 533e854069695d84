"""A store's ``-wal`` file against what its ``-shm`` file says it holds, read before
SQLite opens the store (docs/reliability.md, "Damage").

In WAL mode the commits made since the last checkpoint live only in the
``-wal`` file; the ``-shm`` file indexes them. When SQLite opens a store whose
``-wal`` is missing, shorter than its index, or another database's, it
silently opens the store as of its last checkpoint (or applies the foreign
pages): acknowledged writes are gone and nothing says so. The ``-shm`` index
tells: its header holds how many frames the ``-wal`` holds that the database
file does not (``mxFrame`` past ``nBackfill``), their page size and the
``-wal``'s salt. This module reads that header (SQLite's wal.c, "WalIndexHdr"
and "WalCkptInfo", native byte order) and the ``-wal`` header, and nothing
else; it writes nothing.

A ``-wal`` without its ``-shm`` has nothing to be held to: SQLite would rebuild
the index from the ``-wal`` alone and apply every commit it holds, whoever's they
are. SQLite itself never leaves one that holds anything the database file lacks:
the last connection to close deletes the ``-shm`` only after a complete
checkpoint, just before the ``-wal``. So such a ``-wal`` is read frame by frame
(its header, salts and checksum chain as SQLite checks them, wal.c "WAL Frame
Format"), and refused when a page of its last commit is not the database file's
own: it is another database's, a copy's (of the same store, with its own
commits), or this one's with its ``-shm`` lost, and nothing tells which.

It cannot see a lost ``-wal`` when the ``-shm`` went with it (the database file
alone, as of its last checkpoint). A store closed cleanly has neither file, and
a checkpointed ``-wal`` holds nothing the database file lacks: both open
without a word.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from engramdb.errors import IntegrityError

__all__ = ["check_beside"]

_HEADER = struct.Struct("=IIIBBHII2I2I2I")  # WalIndexHdr: 48 bytes, twice over
_BACKFILLED = struct.Struct("=I")  # WalCkptInfo.nBackfill, at byte 96
_WAL_HEADER = 32
_FRAME_HEADER = 24
_VERSION = 3007000
_MAGIC = (0x377F0682, 0x377F0683)  # the -wal's checksums little- / big-endian
_WAL_FIELDS = struct.Struct(">IIII")  # magic, version, page size, checkpoint sequence
_FRAME_FIELDS = struct.Struct(">II")  # page number, database size in pages after a commit
_MASK = 0xFFFFFFFF


def check_beside(database: str) -> None:
    """``IntegrityError`` when the ``-shm`` beside ``database`` indexes commits that
    its ``-wal`` does not hold (missing, cut short, or another database's)."""
    if database == ":memory:":
        return
    shm, wal = Path(f"{database}-shm"), Path(f"{database}-wal")
    if not shm.exists():
        _check_unindexed(Path(database), wal, shm)
        return
    before = _index(shm)
    if before is None:
        return
    frames, unbackfilled, page_size, salt = before
    try:
        size = wal.stat().st_size
        with wal.open("rb") as f:
            head = f.read(_WAL_HEADER)
    except FileNotFoundError:
        size, head = -1, b""
    except OSError:
        return  # unreadable here: SQLite's open says why
    if _index(shm) != before:
        return  # another process is writing: its -wal and -shm are live, not damage
    need = _WAL_HEADER + frames * (_FRAME_HEADER + page_size)
    restore = "restore the store from a backup (engram check --repair --from BACKUP)"
    # advice for a store no process has open (a live process would lose its commits)
    advice = (
        f"{restore}, or, with no process using the store, move {shm.name} aside to "
        "open it as of its last checkpoint"
    )
    if size >= _WAL_HEADER and head[16:24] != salt:
        raise IntegrityError(
            f"{wal.name} is not the one {shm.name} indexes (another database's, or "
            f"damaged): opening it would apply foreign or damaged pages; {restore}, or, "
            f"with no process using the store, move {wal.name} and {shm.name} aside to "
            "open it as of its last checkpoint"
        )
    if not unbackfilled:
        return  # every frame is in the database file too: the -wal holds nothing more
    if size < 0:
        raise IntegrityError(
            f"{wal.name} is missing, but {shm.name} says it holds {frames} page writes "
            f"not yet in {Path(database).name}: the commits since the last checkpoint "
            f"are lost; {advice}"
        )
    if size < need:
        raise IntegrityError(
            f"{wal.name} is cut short ({size:,} bytes; {shm.name} says it holds {need:,}): "
            f"the commits since the last checkpoint are lost or damaged; {advice}"
        )


def _index(shm: Path) -> tuple[int, bool, int, bytes] | None:
    """From the ``-shm`` header: the frames the ``-wal`` holds, whether some are not
    in the database file yet, the page size and the ``-wal``'s salt; None when there
    is no header or it indexes no frame."""
    try:
        with shm.open("rb") as f:
            data = f.read(100)
    except OSError:
        return None
    if len(data) < 100 or data[:48] != data[48:96]:
        return None  # absent, or being written this moment: nothing to hold it to
    version, _, _, initialised, _, size, frames, *_ = _HEADER.unpack(data[:48])
    (backfilled,) = _BACKFILLED.unpack_from(data, 96)
    if version != _VERSION or not initialised or not frames:
        return None
    page_size = 65536 if size == 1 else size
    return frames, frames > backfilled, page_size, data[32:40]


def _check_unindexed(database: Path, wal: Path, shm: Path) -> None:
    """``IntegrityError`` when ``wal``, with no ``-shm`` beside it, holds a commit that
    would change a page of ``database`` (module docstring)."""
    try:
        with wal.open("rb") as f:
            found = _committed(f)
            if found is None:
                return
            page_size, pages, size = found
            with database.open("rb") as db:
                differs = db.seek(0, os.SEEK_END) != size * page_size
                for number, at in pages.items():
                    if differs:
                        break
                    f.seek(at)
                    db.seek((number - 1) * page_size)
                    differs = db.read(page_size) != f.read(page_size)
            identity = os.fstat(f.fileno())
        # another process opened the store meanwhile (SQLite's last close deletes the
        # -shm, then the -wal): what was read may be theirs, mid-change
        current = wal.stat()
        if shm.exists() or (current.st_ino, current.st_dev) != (identity.st_ino, identity.st_dev):
            return
    except OSError:
        return  # gone meanwhile, or unreadable here: SQLite's open says why
    if differs:
        name = database.name
        raise IntegrityError(
            f"{wal.name} has no {shm.name} beside it and its commits would change "
            f"{name}: nothing tells whether it is this database's own (its {shm.name} "
            "lost), a copy's or another database's, and opening would apply it; restore "
            "the store from a backup (engram check --repair --from BACKUP), or, with no "
            f"process using the store, move {wal.name} aside to open it as of its last "
            f"checkpoint (if it is this database's own, `sqlite3 {name} 'PRAGMA "
            "wal_checkpoint'` applies it first)"
        )


def _committed(f: BinaryIO) -> tuple[int, dict[int, int], int] | None:
    """What SQLite would apply of the ``-wal`` open as ``f``: its page size, where the
    last image of each page of its committed frames is, and the database's size in
    pages after the last commit; None when it holds no commit. A frame counts while
    its salts are the header's and its checksum continues the chain (wal.c, "WAL
    Frame Format")."""
    header = f.read(_WAL_HEADER)
    if len(header) < _WAL_HEADER:
        return None
    magic, version, page_size, _ = _WAL_FIELDS.unpack_from(header)
    valid_size = 512 <= page_size <= 65536 and not page_size & (page_size - 1)
    if magic not in _MAGIC or version != _VERSION or not valid_size:
        return None  # SQLite ignores it, or refuses it itself
    order = ">" if magic & 1 else "<"
    sums = _checksum(order, header[:24], (0, 0))
    if sums != struct.unpack_from(">II", header, 24):
        return None
    pages: dict[int, int] = {}
    committed: dict[int, int] = {}
    size = 0
    at = _WAL_HEADER
    while True:
        head, page = f.read(_FRAME_HEADER), f.read(page_size)
        if len(head) < _FRAME_HEADER or len(page) < page_size or head[8:16] != header[16:24]:
            break
        sums = _checksum(order, page, _checksum(order, head[:8], sums))
        number, commit = _FRAME_FIELDS.unpack_from(head)
        if not number or sums != struct.unpack_from(">II", head, 16):
            break
        pages[number] = at + _FRAME_HEADER
        if commit:
            committed, size = dict(pages), commit
        at += _FRAME_HEADER + page_size
    return (page_size, committed, size) if size else None


def _checksum(order: str, data: bytes, sums: tuple[int, int]) -> tuple[int, int]:
    """SQLite's -wal checksum of ``data`` (32-bit words, in pairs), continuing ``sums``."""
    s1, s2 = sums
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s1 = (s1 + words[i] + s2) & _MASK
        s2 = (s2 + words[i + 1] + s1) & _MASK
    return s1, s2
