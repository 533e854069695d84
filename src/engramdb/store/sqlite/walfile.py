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

It cannot see a lost ``-wal`` when the ``-shm`` went with it (a copy of the
database file alone), nor a foreign ``-wal`` without a ``-shm`` (``check()``
then reports the pages that do not fit). A store closed cleanly has neither
file, and a checkpointed ``-wal`` holds nothing the database file lacks: both
open without a word.
"""

from __future__ import annotations

import struct
from pathlib import Path

from engramdb.errors import IntegrityError

__all__ = ["check_beside"]

_HEADER = struct.Struct("=IIIBBHII2I2I2I")  # WalIndexHdr: 48 bytes, twice over
_BACKFILLED = struct.Struct("=I")  # WalCkptInfo.nBackfill, at byte 96
_WAL_HEADER = 32
_FRAME_HEADER = 24
_VERSION = 3007000


def check_beside(database: str) -> None:
    """``IntegrityError`` when the ``-shm`` beside ``database`` indexes commits that
    its ``-wal`` does not hold (missing, cut short, or another database's)."""
    if database == ":memory:":
        return
    shm, wal = Path(f"{database}-shm"), Path(f"{database}-wal")
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
