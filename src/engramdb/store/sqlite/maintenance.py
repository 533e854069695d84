"""Upkeep of a SqliteStore's file: checks, online backups, scrubbing after erasure.

Owns what ``engram check`` reads (SQLite's integrity and foreign-key checks,
the orphans and partial writes a crash must never leave, each namespace's
memories against its lexical rows, stored vectors and loaded index), writing
a verified backup while the store is in use, copying a database file, and
pushing erased bytes out of the FTS segments and the WAL after a delete
(docs/security.md, docs/reliability.md). Restoring a backup, which opens the
copy as a store to check it, is ``SqliteStore.restore_backup``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from engramdb.errors import IntegrityError, StoreError
from engramdb.security.crypto import OVERHEAD
from engramdb.store.files import private_dir, private_file
from engramdb.store.sqlite import (
    annfile,
    checksums,
    lexical,
    reserve,
    rows,
    soundness,
    walfile,
)
from engramdb.store.sqlite.cache import NamespaceCache, bump, generations, renumber
from engramdb.store.sqlite.database import Database, failure, failures, is_busy, is_full
from engramdb.store.sqlite.schema import SCHEMA_VERSION
from engramdb.store.sqlite.sealing import DataKeys, unopenable

__all__ = [
    "Scrubber",
    "copy_database",
    "disk_full",
    "erase_in_steps",
    "guarded",
    "problems",
    "rebuild",
    "salvage",
    "set_aside",
    "write_backup",
]

# Orphans and partial writes that a crash must never leave (tests/reliability).
_ORPHAN_CHECKS = {
    # a memory written without its vector is pending, not damaged (docs/write-path.md)
    "memories without a vector": "SELECT COUNT(*) FROM engrams e "
    "LEFT JOIN vectors v ON v.engram_rowid = e.rowid WHERE v.engram_rowid IS NULL "
    "AND e.rowid NOT IN (SELECT engram_rowid FROM vectors_pending)",
    "pending memories with a vector": "SELECT COUNT(*) FROM vectors_pending "
    "WHERE engram_rowid IN (SELECT engram_rowid FROM vectors)",
    "memories missing from the lexical index": "SELECT COUNT(*) FROM engrams e "
    "WHERE e.rowid NOT IN (SELECT rowid FROM engram_fts)",
    "lexical index rows without a memory": "SELECT COUNT(*) FROM engram_fts "
    "WHERE rowid NOT IN (SELECT rowid FROM engrams)",
    "memories without a current version": "SELECT COUNT(*) FROM engrams e WHERE NOT "
    "EXISTS (SELECT 1 FROM versions v WHERE v.engram_rowid = e.rowid "
    "AND v.valid_to IS NULL AND v.version = e.version)",
    "memories with more than one current version": "SELECT COUNT(*) FROM (SELECT 1 "
    "FROM versions WHERE valid_to IS NULL GROUP BY engram_rowid HAVING COUNT(*) > 1)",
    "versions without a memory": "SELECT COUNT(*) FROM versions "
    "WHERE engram_rowid NOT IN (SELECT rowid FROM engrams)",
    "vectors without a memory": "SELECT COUNT(*) FROM vectors "
    "WHERE engram_rowid NOT IN (SELECT rowid FROM engrams)",
    # an erasure moves the end of what the erased facts had superseded (store.derivation)
    "facts superseded by a fact that does not exist": "SELECT COUNT(*) FROM facts f "
    "WHERE f.superseded_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM engrams s "
    "JOIN facts g ON g.engram_rowid = s.rowid "
    "WHERE s.id = f.superseded_by AND g.namespace = f.namespace)",
}
# sealed vectors carry the cipher's overhead
_VECTOR_SIZE_CHECK = "SELECT COUNT(*) FROM vectors WHERE length(data) != dims + ?"
_VACUUM_FREE_SHARE = 0.25  # forget_namespace reclaims space above this share of free pages
_ERASE_STEP = 64  # memories per step of an erasure on a full disk (erase_in_steps)
_MERGE_SLACK = 16 * 1024  # the -wal's header and frame headers, the structure record


def problems(conn: sqlite3.Connection, keys: DataKeys, cache: NamespaceCache) -> list[str]:
    """What is wrong with the store as the snapshot ``conn`` sees it (empty when sound).

    Each probe runs on its own (``guarded``): damage that makes one probe fail,
    such as text that is not UTF-8, becomes a reported problem and the other
    probes still run (docs/reliability.md, "Damage").
    """
    encrypted = keys.encrypted
    found = guarded("integrity check", lambda: _integrity(conn))
    found += guarded("schema check", lambda: soundness.drifted(conn))
    found += guarded("text check", lambda: soundness.undecodable(conn))
    found += guarded("value check", lambda: soundness.malformed(conn, encrypted=encrypted))
    found += guarded("copy check", lambda: soundness.disagreeing(conn, encrypted=encrypted))
    found += guarded(
        "row checksums",
        lambda: checksums.mismatched(conn, keys.ciphers(conn), encrypted=encrypted),
    )
    for label, sql in _ORPHAN_CHECKS.items():
        found += guarded(label, functools.partial(_count, conn, label, sql))
    overhead = OVERHEAD if keys.vectors_sealed else 0
    found += guarded(
        "vector size check",
        lambda: _count(
            conn,
            "vectors whose size does not match their dims",
            _VECTOR_SIZE_CHECK,
            (overhead,),
        ),
    )
    found += guarded("lexical index levels", lambda: _levels(conn))
    found += guarded("index comparison", lambda: _index_problems(conn, cache))
    if keys.encrypted:
        found += guarded("sealed values check", lambda: unopenable(conn, keys))
    return found


def guarded(label: str, probe: Callable[[], list[str]]) -> list[str]:
    """The problems ``probe`` finds, or the one saying why it could not run."""
    try:
        return probe()
    except (sqlite3.Error, StoreError, UnicodeError) as exc:
        return [f"{label} could not run: {exc}"]


def _integrity(conn: sqlite3.Connection) -> list[str]:
    found: list[str] = []
    result = conn.execute("PRAGMA integrity_check").fetchall()
    if [r[0] for r in result] != ["ok"]:
        found.extend(f"integrity: {r[0]}" for r in result)
    violations = conn.execute("PRAGMA foreign_key_check").fetchall()
    if violations:
        found.append(f"foreign key violations: {len(violations)}")
    return found


def _count(
    conn: sqlite3.Connection, label: str, sql: str, parameters: tuple[object, ...] = ()
) -> list[str]:
    count = int(conn.execute(sql, parameters).fetchone()[0])
    return [f"{label}: {count}"] if count else []


def _levels(conn: sqlite3.Connection) -> list[str]:
    """An FTS5 index near the levels past which SQLite 3.40 no longer opens it
    (``lexical.optimize``), as erasures by an older engramdb leave it."""
    count = lexical.levels(conn)
    if count <= lexical.MAX_LEVELS:
        return []
    return [
        f"lexical index: {count:,} levels (FTS5 stops opening it past 2,000): "
        "'engram check --repair' rebuilds it"
    ]


def _index_problems(conn: sqlite3.Connection, cache: NamespaceCache) -> list[str]:
    """Per namespace: memories vs lexical rows, stored vectors, the loaded index."""
    found: list[str] = []
    memories = dict(
        conn.execute("SELECT namespace, COUNT(*) FROM engrams GROUP BY namespace").fetchall()
    )
    indexed = lexical.row_counts(conn)
    vectors = dict(
        conn.execute(
            "SELECT e.namespace, COUNT(*) FROM vectors v "
            "JOIN engrams e ON e.rowid = v.engram_rowid GROUP BY e.namespace"
        ).fetchall()
    )
    waiting = dict(
        conn.execute(
            "SELECT e.namespace, COUNT(*) FROM vectors_pending p "
            "JOIN engrams e ON e.rowid = p.engram_rowid GROUP BY e.namespace"
        ).fetchall()
    )
    counted = generations(conn)
    for namespace, count in sorted(memories.items()):
        rows = indexed.pop(lexical.namespace_token(namespace), 0)
        if rows != count:
            found.append(f"namespace {namespace!r}: {count} memories but {rows} lexical index rows")
        vectored = count - waiting.get(namespace, 0)  # the others' vectors follow
        if vectors.get(namespace, 0) != vectored:
            found.append(
                f"namespace {namespace!r}: {vectored} memories with a vector but "
                f"{vectors.get(namespace, 0)} stored vectors"
            )
        if namespace not in counted:
            found.append(f"namespace {namespace!r}: no change counter (generation)")
        found.extend(cache.problems(namespace, vectored, counted.get(namespace)))
    stray = sum(indexed.values())
    if stray:
        found.append(f"lexical index rows of no namespace with memories: {stray}")
    return found


def rebuild(conn: sqlite3.Connection, keys: DataKeys, namespace: str | None) -> int:
    """Rebuild the derived indexes of one namespace (or all) from the tables, inside
    the caller's write transaction; the number of memories indexed.

    Derived (docs/reliability.md, "Repair"): the lexical index (FTS5) of the
    namespace. For the whole store also every SQLite index (``REINDEX``) and the
    vector change log: emptied, under a new epoch and new generations, so that
    no process catches up from it and every vector index, loaded or saved, is
    rebuilt from the ``vectors`` table, and consolidation's mark of what it
    consumed (a shortcut, moved up again from the episodes' own marks by the next
    run). Deleting the saved index files is the cache's
    (``NamespaceCache.discard``), once this has committed.
    """
    if namespace is None:
        conn.execute("REINDEX")
    count = lexical.reindex(conn, keys.ciphers(conn), namespace)
    if namespace is None:
        conn.execute("UPDATE consolidation_state SET consumed_to = 0")
        conn.execute("DELETE FROM vector_changes")
        conn.execute(
            "UPDATE vector_log SET pruned_to = COALESCE((SELECT seq FROM sqlite_sequence "
            "WHERE name = 'vector_changes'), 0)"
        )
        renumber(conn)
    return count


def disk_full(exc: StoreError) -> bool:
    """Whether a store's write failed because the disk is full."""
    cause = exc.__cause__
    return isinstance(cause, sqlite3.Error) and is_full(cause)


def erase_in_steps(db: Database, namespace: str) -> list[int]:
    """Delete a namespace's memories a few at a time, for a disk too full to erase
    them in one transaction (docs/reliability.md, "A full disk"); their rowids.

    Each step is a transaction of its own (a memory goes whole, with its
    versions, vectors, links and index rows, and the namespace's change counter
    moves), then a checkpoint gives the ``-wal``'s room back for the next step.
    A step that still finds no room is halved, down to one memory. What is
    left (the namespace's side records and its data key) is the caller's last
    step. A crash between steps leaves part of the namespace: forgetting it
    again finishes the work.
    """
    erased: list[int] = []
    step = _ERASE_STEP
    while True:
        try:
            with db.write("forget_namespace", erasure=True) as conn:
                doomed = [
                    int(r[0])
                    for r in conn.execute(
                        "SELECT rowid FROM engrams WHERE namespace = ? ORDER BY rowid LIMIT ?",
                        (namespace, step),
                    )
                ]
                if doomed:
                    rows.delete(conn, doomed)
                    bump(conn, namespace)
        except StoreError as exc:
            if step == 1 or not disk_full(exc):
                raise
            step //= 2
            continue
        if not doomed:
            return erased
        erased += doomed
        with db.lock:
            _tolerated(db.checkpoint)


def write_backup(db: Database, target: Path) -> Path:
    """Write a consistent copy of the whole database to ``target`` while it is in use.

    SQLite's online backup API copies every page in one step on one read
    snapshot, so writers in other processes go on (WAL readers do not block
    them) and the copy holds exactly the transactions committed before it
    began. The copy is written beside the target, switched to a single-file
    journal, checked with ``PRAGMA integrity_check``, synced, then renamed
    over the target: a crash or a failed check never leaves half a backup.
    """
    if target.is_dir():
        raise StoreError(f"backup target {target} is a directory; name a file")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with failures("backup"):
            partial.unlink(missing_ok=True)
            # a backup holds every memory: owner-only, like the store (docs/security.md)
            private_file(partial)
            copy = sqlite3.connect(partial, isolation_level=None)
            try:
                with db.lock:
                    db.check_open()
                    db.conn.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")
                result = [r[0] for r in copy.execute("PRAGMA integrity_check").fetchall()]
            finally:
                copy.close()
            if result != ["ok"]:
                raise IntegrityError(f"the backup failed its integrity check: {result[:5]}")
            _fsync(partial)
            partial.replace(target)
            _fsync(target.parent)
    except OSError as exc:
        raise StoreError(f"backup to {target} failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def salvage(source: Path, target: Path) -> int:
    """Copy the rows of the store at ``source`` that are not derived into a new store
    file at ``target``, built by the migrations; the number of memories copied
    (``engram check --repair``, docs/reliability.md "Repair").

    What is derived is left behind to be built anew: SQLite's indexes (every row
    is read from its table, ``NOT INDEXED``, and indexed as it goes in), the
    lexical index (the caller reindexes the copy, with the store's key) and the
    vector change log. So damage confined to those is repaired, even where it
    keeps the store from opening. Triggers are off during the copy (what they
    record is copied with the rest). When a table's rows do not all read, or
    fewer memories read than the id index lists, it raises ``IntegrityError``
    and nothing is kept: the damage is in the memories themselves.
    """
    walfile.check_beside(str(source))  # commits lost with a -wal are not salvaged
    target.unlink(missing_ok=True)
    Database(target, read_only=False, prepare=lambda _: None).close()
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("ATTACH DATABASE ? AS damaged", (str(source),))
        version = conn.execute("SELECT MAX(version) FROM damaged.schema_version").fetchone()[0]
        if version != SCHEMA_VERSION:  # its rows would need the migrations in between
            raise IntegrityError(
                f"the damaged store has schema version {version}, this engramdb "
                f"{SCHEMA_VERSION}: its rows cannot be salvaged by this version"
            )
        triggers = conn.execute(
            "SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger'"
        ).fetchall()
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'engram_fts%' "
                "AND name != 'vector_changes'"
            )
        ]
        conn.execute("BEGIN IMMEDIATE")
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER main.{_quoted(name)}")
        for table in tables:
            info = conn.execute(f"PRAGMA main.table_info({_quoted(table)})").fetchall()
            columns = ", ".join(_quoted(str(r[1])) for r in info)
            conn.execute(f"DELETE FROM main.{_quoted(table)}")
            conn.execute(
                f"INSERT INTO main.{_quoted(table)} ({columns}) "
                f"SELECT {columns} FROM damaged.{_quoted(table)} NOT INDEXED"
            )
        for _, sql in triggers:
            conn.execute(sql)
        conn.execute("COMMIT")
        copied = int(conn.execute("SELECT COUNT(*) FROM main.engrams").fetchone()[0])
        listed = _listed(conn)  # after the commit: damage met here ends no transaction
        if listed is not None and listed != copied:
            raise IntegrityError(
                f"{copied} memories read from their table but the id index lists {listed}: "
                "the memories' own rows are damaged"
            )
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise IntegrityError(f"the memories' own rows do not all read ({exc})") from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
        for suffix in ("-wal", "-shm", "-journal", "-reserve"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    return copied


def _listed(conn: sqlite3.Connection) -> int | None:
    """How many memories the damaged store's id index lists, or None when it is damaged."""
    try:
        row = conn.execute(
            "SELECT COUNT(*) FROM damaged.engrams INDEXED BY sqlite_autoindex_engrams_1 "
            "WHERE id IS NOT NULL"
        ).fetchone()
    except sqlite3.Error:
        return None
    return int(row[0])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def set_aside(database: Path, label: str) -> Path:
    """Move the files of a store that does not open into the folder
    ``<database>.<label>`` beside it (renamed, never deleted); that folder.

    What moves: the database, its ``-wal``, ``-shm`` and ``-journal``, and the
    saved vector indexes (``engram check --repair --from``, docs/reliability.md).
    ``keys.db`` and ``audit.db`` stay: they belong to the place, not to the
    content. The folder holds memories: it is owner-only, and ``verify-erasure``
    scans it like the store's other files.
    """
    folder = private_dir(database.with_name(f"{database.name}.{label}"))
    beside = [Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
    for path in [*beside, *annfile.paths(str(database))]:
        if path.exists():
            path.rename(folder / path.name)
    return folder


def copy_database(source: Path, target: Path) -> None:
    """Copy a database file with the backup API (consistent even if it is in use)."""
    target.unlink(missing_ok=True)
    private_file(target)  # a copy of every memory: owner-only (docs/security.md)
    uri = source.resolve().as_uri() + "?mode=ro"
    src = sqlite3.connect(uri, uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _tolerated(step: Callable[[], object]) -> bool:
    """Run a scrubbing step after a committed erasure; False when another process's
    lock or a full disk stopped it (it is owed), a ``StoreError`` for anything else."""
    try:
        step()
    except sqlite3.Error as exc:
        if is_busy(exc) or is_full(exc):
            return False
        raise failure("scrubbing after erasure", exc) from exc
    return True


def _room_to_merge(db: Database) -> bool:
    """Whether the disk holds what merging the lexical index writes: its new segment
    and (secure_delete) its zeroed old pages in the -wal, and the segment again in
    the database when the checkpoint copies it there. A merge that took that room
    would leave a -wal that cannot be checkpointed, and a store, and its audit
    log, without room to open (docs/reliability.md, "A full disk")."""
    free = reserve.free_beside(db.path)
    if free >= 3 * os.stat(db.path).st_size + _MERGE_SLACK:
        return True  # no merge writes more than the database holds
    return free >= 3 * lexical.stored_bytes(db.conn) + _MERGE_SLACK


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Scrubber:
    """Pushes erased bytes out of the FTS segments and the WAL file after a delete
    (docs/security.md), and remembers an FTS merge it still owes."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.owed = False  # an erasure's FTS optimize failed: ``close`` tries again

    def scrub(self, *, vacuum: bool = False) -> None:
        """Scrub after a committed delete; it never fails the delete.

        A concurrent reader can keep the WAL from being truncated (SQLITE_BUSY,
        or a checkpoint that reports itself blocked); ``close`` tries again.
        FTS5 keeps deleted tokens in its segments until they are merged:
        ``optimize`` rewrites them into one segment without the erased rows
        (after a single delete too: a few ms at 2k memories, ~70 ms at 30k;
        SQLite 3.40 has no FTS5 secure-delete). If a writer in another process
        blocks it, or the disk is too full for the merged segment, ``close``
        tries again (docs/reliability.md, "A full disk").
        ``vacuum``: when more than a quarter of the file is free pages (zeroed
        by secure_delete), VACUUM gives the space back to the file system; on
        a full disk it cannot (it needs room for a copy) and is left.
        """
        db = self._db
        if db.in_memory:
            return
        with db.lock:
            # The erasure's pages go to the database first, so that its -wal's room
            # is free again before the steps that need room of their own; no busy
            # wait: the delete is already done.
            _tolerated(db.checkpoint)
            self.owed = True
            if _room_to_merge(db) and _tolerated(lambda: lexical.optimize(db.conn)):
                self.owed = False
            if vacuum:
                _tolerated(lambda: self._vacuum(db.conn))
            _tolerated(db.checkpoint)
        reserve.keep(db.path)  # an erasure may have used it: made again if there is room

    @staticmethod
    def _vacuum(conn: sqlite3.Connection) -> None:
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        if pages and free / pages > _VACUUM_FREE_SHARE:
            conn.execute("VACUUM")

    def settle(self) -> None:
        """At close: the FTS merge an erasure still owes, if it can be done now."""
        db = self._db
        if self.owed and not db.read_only and not db.in_memory:
            with db.lock, contextlib.suppress(sqlite3.Error):
                if _room_to_merge(db):
                    lexical.optimize(db.conn)
