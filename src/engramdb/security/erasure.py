"""Proof of erasure: which files of a store still hold given bytes (docs/security.md).

It owns finding a store's files on disk and scanning their raw bytes; it does
not open the database (a scan must see what is on disk, WAL included, and must
not create a store where there is none) and it does not delete anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["store_files", "where_found"]

_DB_SUFFIXES = {".db", ".sqlite", ".sqlite3"}


def store_files(path: str | Path) -> list[Path]:
    """Every file a store at ``path`` wrote: database, -wal, -shm, keys.db, audit.db,
    and the saved vector indexes (``<database>.ann-<digest>``).

    A directory store owns every file in its directory (recursively); a store
    named by its database file owns the files beside it whose names start with
    the database's name or stem (``x.db``, ``x.db-wal``, ``x.keys.db``).
    """
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file())
    if p.suffix not in _DB_SUFFIXES and not p.is_file():
        return []
    parent = p.parent if str(p.parent) else Path()
    if not parent.is_dir():
        return []
    return sorted(
        f
        for f in parent.iterdir()
        if f.is_file() and (f.name.startswith(p.name) or f.name.startswith(p.stem + "."))
    )


def where_found(files: Iterable[Path], needles: Sequence[str]) -> list[Path]:
    """The files whose bytes contain any needle (UTF-8), ignoring ASCII case.

    Case is ignored because the lexical index keeps tokens lower-cased.
    """
    wanted = [n.encode("utf-8").lower() for n in needles if n]
    found = []
    for file in files:
        data = file.read_bytes().lower()
        if any(needle in data for needle in wanted):
            found.append(file)
    return found
