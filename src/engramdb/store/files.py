"""Files and folders that only their owner can open (docs/security.md, "Files on disk").

It owns how engramdb creates anything that may hold memories: a store's
database (SQLite gives its -wal, -shm and -journal files the database's mode),
``keys.db``, ``audit.db``, backups, exports and the scratch copies of a
restore. A file is created 0600 and a folder 0700 whatever the umask, and
before anything writes to it, so there is no moment when another user could
open it. What exists already keeps its mode: engramdb never changes the
permissions of a file or folder it did not create.

It does not write content; the caller opens the file it was handed.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "private_dir", "private_file"]

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create the folder ``path`` and its missing parents, each owner-only (0700).

    Unlike ``Path.mkdir(parents=True)``, which gives the parents it creates the
    umask's mode, every folder made here is 0700. Existing folders are left as
    they are.
    """
    folder = Path(path)
    missing: list[Path] = []
    for level in (folder, *folder.parents):
        if level.is_dir():
            break
        missing.append(level)
    for level in reversed(missing):
        try:
            level.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            if not level.is_dir():
                raise
            continue  # another process made it first: theirs, keep its mode
        os.chmod(level, FOLDER_MODE)  # exactly 0700: a umask can only have taken bits away
    return folder


def private_file(path: str | Path, *, exclusive: bool = False) -> Path:
    """Create ``path`` empty and owner-only (0600) unless it exists; returns it.

    Its folder is made with ``private_dir`` when missing. An existing file keeps
    its content and its mode, unless ``exclusive``, which raises
    ``FileExistsError`` instead (for a file that must be new).
    """
    file = Path(path)
    private_dir(file.parent)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        if exclusive:
            raise
        return file
    try:
        os.fchmod(fd, FILE_MODE)  # exactly 0600: a umask can only have taken bits away
    finally:
        os.close(fd)
    return file
