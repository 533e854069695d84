"""The database of a SqliteStore: its file, its one connection, its transactions.

Owns where the file is (``database_path``), opening it (pragmas, schema
migrations, or the schema check of a read-only open), write transactions with
bounded retry on a busy database, read snapshots, the WAL checkpoint, and the
one place where a ``sqlite3`` error becomes a ``StoreError`` that says what
failed and why (``failures``). It knows no table but ``schema_version``: the
SQL of memories, indexes and keys lives in the modules beside it.

Reliability (docs/reliability.md): a write is one ``BEGIN IMMEDIATE``
transaction, retried with jittered backoff while another process holds the
write lock; a read runs on one snapshot, so a batch written by another process
is seen entirely or not at all; SQLite's "disk is full" and "read-only" errors
become a ``StoreError`` that says so, after the transaction rolled back.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engramdb.errors import (
    EngramError,
    IntegrityError,
    NotFoundError,
    SchemaError,
    StoreError,
)
from engramdb.store.files import private_file
from engramdb.store.sqlite import reserve, walfile
from engramdb.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "DB_FILENAME",
    "Database",
    "database_path",
    "existing_database",
    "failure",
    "failures",
    "is_busy",
    "is_damage",
    "is_full",
    "is_read_only",
]

DB_FILENAME = "engram.db"
_DB_SUFFIXES = frozenset({".db", ".sqlite", ".sqlite3"})
_BUSY_TIMEOUT_MS = 5000
#: SQLite's page cache of the store's connection, in KiB (SQLite's own default is 2 MiB):
#: a two-stage search reads the rows, dynamics and vectors of about a thousand
#: candidates scattered over the file, and with 2 MiB nearly every page is read from
#: the operating system again (docs/limits.md, "Caches"; BENCHMARKS.md, "Scale").
PAGE_CACHE_KIB = 64 * 1024
_BUSY_RETRIES = 8  # on top of busy_timeout: bounded, with jittered backoff (docs/reliability.md)

# The stores this process holds open, by file, and a lock over opening one. SQLite's
# locks on a store's -shm are POSIX record locks, held per process: closing any file
# descriptor of the -shm in this process drops them all, and another process that then
# opens the store truncates the -shm under this one's mapping of it (SIGBUS). So the
# -wal/-shm check before an open (``walfile.check_beside``, which reads the -shm) runs
# only while this process holds no connection to the store, and no connection opens
# while it reads.
_OPENING = threading.Lock()
_HELD: dict[str, int] = {}


def database_path(path: str | Path) -> Path:
    """The database file of the store at ``path``: the ``.db`` file it names, or
    ``engram.db`` in the folder it names. Looks only; creates nothing."""
    p = Path(path)
    if p.suffix in _DB_SUFFIXES or p.is_file():
        return p
    return p / DB_FILENAME


def existing_database(path: str | Path) -> Path:
    """``database_path(path)`` when that file exists, else ``NotFoundError`` naming ``path``.

    It only looks: a typo'd ``--store`` must not leave a store behind.
    """
    found = database_path(path)
    if not found.is_file():
        where = f"no {DB_FILENAME} in it" if Path(path).is_dir() else "no such file or directory"
        raise NotFoundError(f"no store at {path}: {where}")
    return found


class Database:
    """One SQLite database file (or ``":memory:"``) behind one connection and one lock.

    The connection is shared by threads (``check_same_thread=False``), so every
    use of it holds ``lock``; ``read`` and ``write`` take it themselves.
    """

    def __init__(
        self, path: str | Path, *, read_only: bool, prepare: Callable[[Database], None]
    ) -> None:
        """Open the store's database at ``path`` (created owner-only unless ``read_only``).

        A writable open migrates the schema to this version; a read-only one
        checks it is already there. ``prepare`` runs last, with the database
        open (the store checks its master key there): when anything fails, no
        connection is left open behind the error.
        """
        self.read_only = read_only
        #: run inside each write transaction, last before its COMMIT (the row checksums
        #: of the rows it touched: ``checksums.watch``); what it raises rolls it back
        self.before_commit: Callable[[sqlite3.Connection], None] | None = None
        self.path = self._resolve_existing(path) if read_only else self._resolve(path)
        _refuse_empty(self.path)
        self.lock = threading.RLock()
        self.closed = False
        self._held = "" if self.in_memory else os.path.realpath(self.path)
        with _OPENING:
            if not _HELD.get(self._held):
                # before SQLite opens it and rebuilds the -shm (see _OPENING)
                walfile.check_beside(self.path)
            if not self.in_memory:
                reserve.room_to_open(self.path)  # the -shm SQLite makes needs room on the disk
            try:
                if read_only:
                    uri = _read_only_uri(Path(self.path))
                    self.conn = sqlite3.connect(
                        uri, uri=True, isolation_level=None, check_same_thread=False, timeout=5.0
                    )
                else:
                    self.conn = sqlite3.connect(
                        self.path, isolation_level=None, check_same_thread=False, timeout=5.0
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open store at {self.path}: {exc}") from exc
            _HELD[self._held] = _HELD.get(self._held, 0) + 1
        self.conn.row_factory = sqlite3.Row
        try:
            self._configure()
            if read_only:
                self._check_schema()
            else:
                self.migrate()
            prepare(self)
        except sqlite3.Error as exc:
            # e.g. "file is not a database": a typed error, not a raw sqlite3 one,
            # and no connection left open behind it
            self._release()
            kind = IntegrityError if is_damage(exc) else StoreError
            raise kind(f"cannot open store at {self.path}: {exc}") from exc
        except UnicodeDecodeError as exc:
            # text that is not UTF-8 where SQLite reads the schema (its error message
            # quotes it and sqlite3 cannot decode that) or where opening reads rows
            self._release()
            raise IntegrityError(
                f"cannot open store at {self.path}: it holds text that is not valid UTF-8 "
                f"(damaged on disk: {exc})"
            ) from exc
        except BaseException:  # a wrong key, a newer schema: no connection left behind
            self._release()
            raise
        if not read_only and not self.in_memory:
            reserve.keep(self.path)  # room for an erasure on a full disk

    @staticmethod
    def _resolve(path: str | Path) -> str:
        if str(path) == ":memory:":
            return ":memory:"
        target = database_path(path)
        if not target.exists():
            _create(target)
        return str(target)

    @staticmethod
    def _resolve_existing(path: str | Path) -> str:
        if str(path) == ":memory:":
            raise StoreError("a read-only store needs a file; ':memory:' is always empty")
        return str(existing_database(path))

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    def _configure(self) -> None:
        conn = self.conn
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        # Erasure that reaches the file (docs/security.md): freed pages are overwritten
        # with zeros, so deleted text does not linger in free pages.
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
        if self.read_only:
            conn.execute("PRAGMA query_only = ON")
            return
        if not self.in_memory:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"could not switch {self.path} to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")

    def _check_schema(self) -> None:
        """A read-only store cannot migrate: its schema must be this version's."""
        with self.read() as conn:
            known = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            current = (
                conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
                if known
                else 0
            )
        if current > SCHEMA_VERSION:
            raise SchemaError(
                f"store schema version {current} is newer than this engramdb supports "
                f"({SCHEMA_VERSION}); upgrade engramdb"
            )
        if current < SCHEMA_VERSION:
            raise SchemaError(
                f"store schema version {current} is older than this engramdb's "
                f"({SCHEMA_VERSION}), or it is not an engramdb store; open it writable "
                "once to migrate it"
            )

    def migrate(self) -> None:
        """Run the migrations this file has not had yet, each in its own transaction."""
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        if current > SCHEMA_VERSION:
            raise SchemaError(
                f"store schema version {current} is newer than this engramdb supports "
                f"({SCHEMA_VERSION}); upgrade engramdb"
            )
        for number in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction() as conn:
                # re-check inside the write lock: another process may have migrated
                done = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
                if done >= number:
                    continue
                for statement in _split_sql(MIGRATIONS[number - 1]):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def write(
        self, action: str, *, refusable: bool = False, erasure: bool = False
    ) -> Iterator[sqlite3.Connection]:
        """One write transaction for ``action`` whose ``sqlite3`` errors become a
        ``StoreError`` saying why ``action`` failed (``failures``).

        ``erasure``: the write deletes memories, and may use the room the store
        keeps for that on a nearly full disk (``reserve``).
        """
        if erasure and not self.in_memory and not self.read_only:
            reserve.release_if_short(self.path)
        try:
            with failures(action, refusable=refusable), self.transaction() as conn:
                yield conn
        except StoreError as exc:
            cause = exc.__cause__
            if erasure and isinstance(cause, sqlite3.Error) and is_full(cause):
                raise StoreError(
                    f"{exc}. An erasure needs room for the pages it changes and the store's "
                    "reserve was not enough: free some space on the disk and try again "
                    '(docs/reliability.md, "A full disk")'
                ) from cause
            raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE), retried while the database is busy.

        busy_timeout already waits up to 5 s for the write lock; on top of that
        BEGIN is retried ``_BUSY_RETRIES`` times with jittered exponential
        backoff, so a burst of writers from several processes queues instead of
        failing (tests/reliability/test_concurrency.py). The wait is bounded:
        after it the caller gets a ``StoreError``, never a raw sqlite3 error.
        Errors of the statements inside pass through as they are (``write``
        translates them).
        """
        with self.lock:
            self.check_open()
            if self.read_only:
                raise StoreError(
                    f"cannot write: the store is read-only (opened read-only: {self.path})"
                )
            for attempt in range(_BUSY_RETRIES + 1):
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc) or attempt == _BUSY_RETRIES:
                        raise failure("starting a write transaction", exc) from exc
                    _backoff(attempt)
            try:
                yield self.conn
                if self.before_commit is not None:
                    self.before_commit(self.conn)
            except BaseException:
                self._rollback()
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise failure("commit", exc) from exc

    def _rollback(self) -> None:
        # SQLite rolls a transaction back by itself after SQLITE_FULL, SQLITE_IOERR
        # and the like, and a second ROLLBACK would raise and hide the error that
        # matters; a failing ROLLBACK likewise must not replace the original error.
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Reads on one snapshot: every statement inside sees the same committed state.

        Without it each statement would see the latest commit, so a search
        could find a batch that another process wrote through one index and
        miss it through the next. Taking the snapshot is retried while the
        database is busy (a reader can meet SQLITE_BUSY while another
        connection recovers the WAL after a crash). Nested reads share the
        outer snapshot, and a read inside a write sees the write's own state.
        """
        with self.lock:
            self.check_open()
            if self.conn.in_transaction:
                with failures("read"):
                    yield self.conn
                return
            self._begin_read()
            try:
                with failures("read"):
                    yield self.conn
            finally:
                self._rollback()  # a read-only transaction: nothing to commit

    def _begin_read(self) -> None:
        for attempt in range(_BUSY_RETRIES + 1):
            try:
                self.conn.execute("BEGIN")
                # a deferred BEGIN takes its snapshot at the first read: take it now
                self.conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                return
            except sqlite3.OperationalError as exc:
                self._rollback()
                if not is_busy(exc) or attempt == _BUSY_RETRIES:
                    raise failure("read", exc) from exc
                _backoff(attempt)

    def check_open(self) -> None:
        if self.closed:
            raise StoreError("the store is closed")

    def checkpoint(self) -> None:
        """Truncate the WAL file without waiting: a reader that holds it back makes
        this raise (SQLITE_BUSY), and the caller decides whether that matters."""
        with self.lock:
            # No busy wait: TRUNCATE would otherwise wait out busy_timeout for
            # every open reader.
            self.conn.execute("PRAGMA busy_timeout = 0")
            try:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")

    def close(self) -> None:
        """Close the connection; a file store truncates its WAL first if it can."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if not self.read_only and not self.in_memory:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self._release()

    def _release(self) -> None:
        """Close the connection and count it out of the ones this process holds."""
        with _OPENING:
            self.conn.close()
            left = _HELD.get(self._held, 0) - 1
            if left > 0:
                _HELD[self._held] = left
            else:
                _HELD.pop(self._held, None)


def _create(target: Path) -> None:
    """Create the database file at ``target`` whole: never a zero-length file.

    Owner-only (docs/security.md): the file exists 0600 before SQLite opens it,
    and SQLite gives the -wal, -shm and -journal files the same mode. It is
    made under a scratch name, given its SQLite header and its version table
    there, and linked into place, so a store file that exists always has a
    header: a zero-length one is damage (docs/reliability.md, "Damage"), even
    when a process was killed while creating the store. Another process that
    creates the same store at the same moment wins the link; ours then goes.
    """
    scratch = target.with_name(f".{target.name}.new-{os.getpid()}-{threading.get_ident()}")
    try:
        private_file(scratch, exclusive=True)
        conn = sqlite3.connect(scratch, isolation_level=None)
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        finally:
            conn.close()
        with contextlib.suppress(FileExistsError):
            os.link(scratch, target)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot create store at {target}: {exc}") from exc
    finally:
        for suffix in ("", "-journal"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)


def _read_only_uri(path: Path) -> str:
    """The URI of a read-only open (docs/reliability.md, "Read-only stores").

    ``mode=ro`` on a WAL database makes SQLite create the ``-shm`` and ``-wal``
    files beside it, to read while other processes write. When no process can
    write the file (it has no write bit, or its file system is mounted
    read-only) and no WAL holds commits, ``immutable=1`` reads the file alone
    and creates nothing, which is also what lets a store on a read-only mount
    open at all.
    """
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        unwritable = path.stat().st_mode & 0o222 == 0 or bool(
            os.statvfs(path).f_flag & os.ST_RDONLY
        )
        wal = Path(f"{path}-wal")
        committed = wal.exists() and wal.stat().st_size > 0
    except OSError:
        return uri
    return uri + "&immutable=1" if unwritable and not committed else uri


def _refuse_empty(path: str) -> None:
    """A zero-length store file is damage, not a new store (docs/reliability.md).

    engramdb creates a store's file whole (``_create``), so a store that
    existed has a header and a version: opening an empty file as a new store
    would hide that its content was lost.
    """
    if path == ":memory:":
        return
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise StoreError(f"cannot open store at {path}: {exc}") from exc
    if size == 0:
        raise IntegrityError(
            f"the store file {path} is empty (0 bytes): a store has a header and a "
            "version, so this one is damaged; restore it from a backup (engram restore), "
            "or delete the file if it never held memories"
        )


@contextmanager
def failures(action: str, *, refusable: bool = False) -> Iterator[None]:
    """Turn a ``sqlite3`` error raised inside into the ``StoreError`` of ``failure``.

    ``refusable``: a constraint violation (a duplicate id, a missing memory)
    means the store refused what it was given, and says so.
    A value that does not decode (not UTF-8, not JSON, not a stored time: a flipped
    bit) is an ``IntegrityError`` naming ``action``: values engramdb wrote always
    decode, so only damage makes them fail (docs/reliability.md, "Damage").
    """
    try:
        yield
    except EngramError:
        raise
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError among them
        raise IntegrityError(
            f"{action} failed: a stored value does not decode ({exc}); the store is "
            "damaged: 'engram check' lists where"
        ) from exc
    except sqlite3.IntegrityError as exc:
        if refusable:
            raise StoreError(f"{action} refused by the store: {exc}") from exc
        raise failure(action, exc) from exc
    except sqlite3.Error as exc:
        raise failure(action, exc) from exc


def failure(action: str, exc: sqlite3.Error) -> StoreError:
    """A StoreError that says in plain words why ``action`` failed (docs/reliability.md).

    The transaction has rolled back by then, so the message can promise that
    nothing was written.
    """
    if is_damage(exc):
        return IntegrityError(
            f"{action} failed: the store's file is damaged ({exc}); 'engram check' lists "
            "the damage, 'engram check --repair' says what it can fix"
        )
    if is_full(exc):
        return StoreError(
            f"{action} failed: the disk is full ({exc}); nothing was written, "
            "the store is unchanged and still readable"
        )
    if is_read_only(exc):
        return StoreError(f"{action} failed: the store is read-only ({exc}); nothing was written")
    if is_busy(exc):
        return StoreError(
            f"{action} failed: the store stayed busy (another process held its lock "
            f"for too long): {exc}"
        )
    return StoreError(f"{action} failed: {exc}")


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means the file is damaged (malformed, or not a database)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def is_full(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means the disk (or the file's size limit) is full."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_FULL") or "disk is full" in str(exc).lower()


def is_read_only(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means the connection may not write (a read-only file,
    file system or open)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = str(exc).lower()
    return name.startswith("SQLITE_READONLY") or "readonly" in message or "read-only" in message


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means another connection holds a lock (worth waiting out)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = str(exc).lower()
    return (
        name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
        or "locked" in message
        or "busy" in message
    )


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))  # noqa: S311 - jitter


def _split_sql(script: str) -> list[str]:
    """The statements of ``script``; a trigger's body (``BEGIN ...; END``) stays whole."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip().rstrip(";").strip())
            pending = ""
    return statements
