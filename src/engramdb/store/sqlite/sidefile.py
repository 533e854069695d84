"""SideFile: a small SQLite file of its own beside the store (keys.db, audit.db).

It owns opening such a file: created owner-only (0600, in a 0700 folder when
it makes one; ``store.files``) before SQLite creates it, WAL, busy timeout, a
``user_version`` schema check, one lock around the one connection, and
``sqlite3.Error`` translated to ``StoreError`` naming the file. Subclasses own
their table's SQL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from engramdb.errors import StoreError
from engramdb.store.files import private_file

__all__ = ["SideFile"]


class SideFile:
    """One SQLite file (or ``":memory:"``) with a versioned schema; thread-safe."""

    def __init__(self, path: str | Path, *, label: str, schema: str, version: int) -> None:
        self.path = str(path)
        self._label = label
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                # Owner-only before SQLite creates it (0644 under the usual umask);
                # SQLite gives its -wal and -shm files the same mode.
                private_file(self.path)
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
            self._conn.execute("PRAGMA busy_timeout = 5000")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            found = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            if found > version:
                self._conn.close()
                raise StoreError(
                    f"{label} {self.path} has schema {found}, newer than this engramdb "
                    f"supports ({version}); upgrade engramdb"
                )
            self._conn.executescript(schema)
            self._conn.execute(f"PRAGMA user_version = {int(version)}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the {label} {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(f"{self._label} {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()
