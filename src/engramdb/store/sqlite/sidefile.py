"""SideFile: a small SQLite file of its own beside the store (keys.db, audit.db).

It owns opening such a file: created owner-only (0600, in a 0700 folder when
it makes one; ``store.files``) and whole (its schema written under a scratch
name, then linked into place, so an empty file is always damage), WAL, busy
timeout, a ``user_version`` schema check, one lock around the one connection,
``sqlite3.Error`` translated to ``StoreError`` naming the file, and the check
``engram check`` runs on it. Subclasses own their table's SQL.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from engramdb.errors import IntegrityError, StoreError
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
                _refuse_empty(self.path, label)
                if not Path(self.path).exists():
                    _create(Path(self.path), schema, version)
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

    def problems(self) -> list[str]:
        """What is wrong with the file, each naming it (empty when sound): SQLite's
        integrity check, then every row read back (``_row_problems``)."""
        found: list[str] = []
        try:
            with self._locked() as conn:
                result = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                found += [f"integrity: {r}" for r in result]
            found += self._row_problems()
        except (StoreError, ValueError) as exc:
            found.append(str(exc))
        name = Path(self.path).name
        return [f"{name}: {problem}" for problem in found]

    def _row_problems(self) -> list[str]:
        """Read every row as the callers would (a value that does not decode raises);
        what else is wrong with them."""
        return []

    @contextlib.contextmanager
    def _decoding(self) -> Iterator[None]:
        """Rows read back inside: a value that does not decode is damage, named."""
        try:
            yield
        except (ValueError, TypeError) as exc:  # a time, a number, JSON: a flipped bit
            raise IntegrityError(
                f"{self._label} {self.path}: a stored value does not decode ({exc}); "
                "the file is damaged"
            ) from exc

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


def _refuse_empty(path: str, label: str) -> None:
    """An empty file is damage: this module never leaves one (``_create``)."""
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_size == 0:
            raise IntegrityError(
                f"the {label} {path} is empty (0 bytes): it is damaged and what it held "
                "is lost; move it aside and a new one is made (docs/reliability.md, "
                '"Damage")'
            )


def _create(target: Path, schema: str, version: int) -> None:
    """Create the file at ``target`` whole: its schema and version are written under a
    scratch name, which is then linked into place (a process that made it at the
    same moment wins the link; ours then goes)."""
    scratch = target.with_name(f".{target.name}.new-{os.getpid()}-{threading.get_ident()}")
    try:
        # Owner-only before SQLite writes it (0644 under the usual umask); SQLite
        # gives the -wal and -shm files the same mode.
        private_file(scratch, exclusive=True)
        conn = sqlite3.connect(scratch, isolation_level=None)
        try:
            conn.executescript(schema)
            conn.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            conn.close()
        with contextlib.suppress(FileExistsError):
            os.link(scratch, target)
    finally:
        for suffix in ("", "-journal"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
