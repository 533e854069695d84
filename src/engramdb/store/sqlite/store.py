"""SqliteStore: the embedded default backend (one SQLite file in WAL mode).

Owns the SQL, the connection, transactions with bounded retry on a busy
database, read snapshots, online backup and restore, and the in-memory vector
index per namespace (derived from the ``vectors`` table and reloaded when
another process changed the namespace). It does not validate user input (the
facade did) or rank anything.

Reliability (issue 7, docs/reliability.md): a write is one ``BEGIN IMMEDIATE``
transaction, retried with jittered backoff while another process holds the
write lock; a read runs on one snapshot, so a batch written by another process
is seen entirely or not at all; SQLite's "disk is full" and "read-only" errors
become a ``StoreError`` that says so, after the transaction rolled back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.clock import from_iso, to_iso
from engramdb.errors import IntegrityError, NotFoundError, SchemaError, StoreError
from engramdb.model import Engram, NamespaceStats, Version
from engramdb.store.base import (
    Candidate,
    Capability,
    Catalog,
    EngramRecord,
    Store,
    VersionRecord,
)
from engramdb.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from engramdb.store.vectors import VectorIndex, dequantize, quantize

__all__ = ["SqliteStore"]

DB_FILENAME = "engram.db"
# Orphans and partial writes that a crash must never leave (tests/reliability).
_ORPHAN_CHECKS = {
    "memories without a vector": "SELECT COUNT(*) FROM engrams e "
    "LEFT JOIN vectors v ON v.engram_rowid = e.rowid WHERE v.engram_rowid IS NULL",
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
    "vectors whose size does not match their dims": "SELECT COUNT(*) FROM vectors "
    "WHERE length(data) != dims",
}
_ENGRAM_COLUMNS = (
    "rowid, id, namespace, kind, session, speaker, text, metadata, "
    "occurred_at, recorded_at, valid_from, version"
)
_BUSY_TIMEOUT_MS = 5000
_BUSY_RETRIES = 8  # on top of busy_timeout: bounded, with jittered backoff (issue 7)


def namespace_token(namespace: str) -> str:
    """The single FTS token that marks a namespace's rows inside the shared index."""
    return "ns" + hashlib.sha256(namespace.encode()).hexdigest()[:24]


def _fts_query(namespace: str, terms: Sequence[str]) -> str:
    # Terms are quoted, so FTS5 operators and punctuation in them are inert.
    # NUL is dropped: FTS5's query parser stops at it and reports "unterminated
    # string" (conformance check_special_characters_inert).
    quoted = " OR ".join(
        '"' + term.replace("\x00", "").replace('"', '""') + '"' for term in terms
    )
    return f'ns : "{namespace_token(namespace)}" AND {{text keys}} : ({quoted})'


class _NamespaceVectors:
    """The loaded vector index of one namespace and the generation it reflects."""

    def __init__(self, index: VectorIndex, generation: int) -> None:
        self.index = index
        self.generation = generation
        self.catalog: Catalog | None = None  # built on demand, dropped by any write


class SqliteStore(Store):
    """A store in one SQLite database file (or ``":memory:"``)."""

    capabilities = frozenset({Capability.ANN, Capability.CONCURRENT_PROCESSES, Capability.BACKUP})

    def __init__(
        self,
        path: str | Path,
        *,
        ann_threshold: int = 20_000,
        dims: int = 384,
        read_only: bool = False,
    ) -> None:
        """Open (creating unless ``read_only``) the store at ``path``.

        ``read_only=True`` opens an existing file with ``mode=ro`` and
        ``query_only``: every write raises ``StoreError`` ("the store is
        read-only") and nothing on disk is created, migrated or changed.
        """
        self.read_only = read_only
        self.path = self._resolve_existing(path) if read_only else self._resolve(path)
        self.ann_threshold = ann_threshold
        self.dims = dims
        self._lock = threading.RLock()
        self._vectors: dict[str, _NamespaceVectors] = {}
        self._closed = False
        try:
            if read_only:
                uri = Path(self.path).resolve().as_uri() + "?mode=ro"
                self._conn = sqlite3.connect(
                    uri, uri=True, isolation_level=None, check_same_thread=False, timeout=5.0
                )
            else:
                self._conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=5.0
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store at {self.path}: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._configure()
            if read_only:
                self._check_schema()
            else:
                self._migrate()
        except sqlite3.Error as exc:
            # e.g. "file is not a database": a typed error, not a raw sqlite3 one,
            # and no connection left open behind it
            self._conn.close()
            raise StoreError(f"cannot open store at {self.path}: {exc}") from exc
        except StoreError:
            self._conn.close()
            raise

    @staticmethod
    def _resolve(path: str | Path) -> str:
        if str(path) == ":memory:":
            return ":memory:"
        p = Path(path)
        if p.suffix in {".db", ".sqlite", ".sqlite3"} or p.is_file():
            p.parent.mkdir(parents=True, exist_ok=True)
            return str(p)
        p.mkdir(parents=True, exist_ok=True)
        return str(p / DB_FILENAME)

    @staticmethod
    def _resolve_existing(path: str | Path) -> str:
        p = Path(path)
        if str(path) == ":memory:":
            raise StoreError("a read-only store needs a file; ':memory:' is always empty")
        if p.is_dir():
            p = p / DB_FILENAME
        if not p.is_file():
            raise StoreError(f"cannot open store at {p} read-only: no such file")
        return str(p)

    def _configure(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if self.read_only:
            conn.execute("PRAGMA query_only = ON")
            return
        if self.path != ":memory:":
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"could not switch {self.path} to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")

    def _check_schema(self) -> None:
        """A read-only store cannot migrate: its schema must be this version's."""
        with self._read() as conn:
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

    def _migrate(self) -> None:
        with self._tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        if current > SCHEMA_VERSION:
            raise SchemaError(
                f"store schema version {current} is newer than this engramdb supports "
                f"({SCHEMA_VERSION}); upgrade engramdb"
            )
        for number in range(current + 1, SCHEMA_VERSION + 1):
            with self._tx() as conn:
                # re-check inside the write lock: another process may have migrated
                done = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
                if done >= number:
                    continue
                for statement in _split_sql(MIGRATIONS[number - 1]):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE), retried while the database is busy.

        busy_timeout already waits up to 5 s for the write lock; on top of that
        BEGIN is retried ``_BUSY_RETRIES`` times with jittered exponential
        backoff, so a burst of writers from several processes queues instead of
        failing (tests/reliability/test_concurrency.py). The wait is bounded:
        after it the caller gets a ``StoreError``, never a raw sqlite3 error.
        """
        with self._lock:
            self._check_open()
            if self.read_only:
                raise StoreError(
                    f"cannot write: the store is read-only (opened read-only: {self.path})"
                )
            for attempt in range(_BUSY_RETRIES + 1):
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc) or attempt == _BUSY_RETRIES:
                        raise _failure("starting a write transaction", exc) from exc
                    _backoff(attempt)
            try:
                yield self._conn
            except BaseException:
                self._rollback()
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _failure("commit", exc) from exc

    def _rollback(self) -> None:
        # SQLite rolls a transaction back by itself after SQLITE_FULL, SQLITE_IOERR
        # and the like, and a second ROLLBACK would raise and hide the error that
        # matters; a failing ROLLBACK likewise must not replace the original error.
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Reads on one snapshot: every statement inside sees the same committed state.

        Without it each statement would see the latest commit, so a search
        could find a batch that another process wrote through one index and
        miss it through the next. Taking the snapshot is retried while the
        database is busy (a reader can meet SQLITE_BUSY while another
        connection recovers the WAL after a crash). Nested reads share the
        outer snapshot.
        """
        with self._lock:
            self._check_open()
            if self._conn.in_transaction:
                try:
                    yield self._conn
                except sqlite3.Error as exc:
                    raise _failure("read", exc) from exc
                return
            self._begin_read()
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise _failure("read", exc) from exc
            finally:
                self._rollback()  # a read-only transaction: nothing to commit

    def _begin_read(self) -> None:
        for attempt in range(_BUSY_RETRIES + 1):
            try:
                self._conn.execute("BEGIN")
                # a deferred BEGIN takes its snapshot at the first read: take it now
                self._conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                return
            except sqlite3.OperationalError as exc:
                self._rollback()
                if not _is_busy(exc) or attempt == _BUSY_RETRIES:
                    raise _failure("read", exc) from exc
                _backoff(attempt)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def _bump(self, conn: sqlite3.Connection, namespace: str) -> int:
        # A namespace's first generation is random, not 1: forget_namespace deletes
        # the row, and a restart at 1 would match what another SqliteStore on this
        # file loaded before the erasure, so it would keep serving the erased
        # vectors (tests/store/test_sqlite.py, refilled-after-forget).
        conn.execute(
            "INSERT INTO namespace_state (namespace, generation) "
            "VALUES (?, (random() & 4611686018427387903) + 1) "
            "ON CONFLICT (namespace) DO UPDATE SET generation = generation + 1",
            (namespace,),
        )
        return int(
            conn.execute(
                "SELECT generation FROM namespace_state WHERE namespace = ?", (namespace,)
            ).fetchone()[0]
        )

    # -- writes ---------------------------------------------------------------

    def insert(self, records: Sequence[EngramRecord]) -> None:
        if not records:
            return
        try:
            with self._tx() as conn:
                added: dict[str, list[tuple[int, npt.NDArray[np.float32]]]] = {}
                for record in records:
                    rowid = self._insert_row(conn, record, version=1, valid_from=record.recorded_at)
                    conn.execute(
                        "INSERT INTO versions (engram_rowid, version, text, speaker, metadata, "
                        "occurred_at, valid_from, valid_to) VALUES (?, 1, ?, ?, ?, ?, ?, NULL)",
                        (
                            rowid,
                            record.text,
                            record.speaker,
                            _dump(record.metadata),
                            to_iso(record.occurred_at),
                            to_iso(record.recorded_at),
                        ),
                    )
                    added.setdefault(record.namespace, []).append((rowid, record.vector))
                generations = {ns: self._bump(conn, ns) for ns in added}
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"insert refused by the store: {exc}") from exc
        except sqlite3.Error as exc:
            raise _failure("insert", exc) from exc
        for namespace, rows in added.items():
            self._index_added(namespace, rows, generations[namespace])

    def _insert_row(
        self, conn: sqlite3.Connection, record: EngramRecord, *, version: int, valid_from: datetime
    ) -> int:
        seq = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM engrams WHERE namespace = ? AND session IS ?",
            (record.namespace, record.session),
        ).fetchone()[0]
        cursor = conn.execute(
            "INSERT INTO engrams (id, namespace, kind, session, seq, speaker, text, keys, "
            "metadata, occurred_at, recorded_at, valid_from, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.namespace,
                record.kind,
                record.session,
                seq,
                record.speaker,
                record.text,
                record.keys,
                _dump(record.metadata),
                to_iso(record.occurred_at),
                to_iso(record.recorded_at),
                to_iso(valid_from),
                version,
            ),
        )
        rowid = int(cursor.lastrowid or 0)
        self._write_vector(conn, rowid, record.vector, record.model_id)
        conn.execute(
            "INSERT INTO engram_fts (rowid, ns, text, keys) VALUES (?, ?, ?, ?)",
            (rowid, namespace_token(record.namespace), record.text, record.keys),
        )
        return rowid

    @staticmethod
    def _write_vector(
        conn: sqlite3.Connection, rowid: int, vector: npt.NDArray[np.float32], model_id: str
    ) -> None:
        data, scale = quantize(np.asarray(vector, dtype=np.float32))
        conn.execute(
            "INSERT OR REPLACE INTO vectors (engram_rowid, model_id, dims, scale, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (rowid, model_id, len(vector), scale, data),
        )

    def update(
        self,
        namespace: str,
        engram_id: str,
        *,
        text: str,
        speaker: str | None,
        metadata: Mapping[str, Any],
        occurred_at: datetime,
        vector: npt.NDArray[np.float32],
        model_id: str,
        keys: str,
        now: datetime,
    ) -> Engram:
        try:
            with self._tx() as conn:
                row = conn.execute(
                    "SELECT rowid, version FROM engrams WHERE namespace = ? AND id = ?",
                    (namespace, engram_id),
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
                rowid, version = int(row["rowid"]), int(row["version"]) + 1
                conn.execute(
                    "UPDATE versions SET valid_to = ? WHERE engram_rowid = ? AND valid_to IS NULL",
                    (to_iso(now), rowid),
                )
                conn.execute(
                    "INSERT INTO versions (engram_rowid, version, text, speaker, metadata, "
                    "occurred_at, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    (rowid, version, text, speaker, _dump(metadata), to_iso(occurred_at), to_iso(now)),
                )
                conn.execute(
                    "UPDATE engrams SET text = ?, speaker = ?, metadata = ?, occurred_at = ?, "
                    "keys = ?, valid_from = ?, version = ? WHERE rowid = ?",
                    (text, speaker, _dump(metadata), to_iso(occurred_at), keys, to_iso(now),
                     version, rowid),
                )
                self._write_vector(conn, rowid, vector, model_id)
                conn.execute("DELETE FROM engram_fts WHERE rowid = ?", (rowid,))
                conn.execute(
                    "INSERT INTO engram_fts (rowid, ns, text, keys) VALUES (?, ?, ?, ?)",
                    (rowid, namespace_token(namespace), text, keys),
                )
                generation = self._bump(conn, namespace)
                updated = _engram(conn.execute(
                    f"SELECT {_ENGRAM_COLUMNS} FROM engrams WHERE rowid = ?", (rowid,)
                ).fetchone())
        except sqlite3.Error as exc:
            raise _failure("update", exc) from exc
        self._index_added(namespace, [(rowid, vector)], generation)
        return updated

    def delete(self, namespace: str, engram_id: str) -> None:
        try:
            with self._tx() as conn:
                row = conn.execute(
                    "SELECT rowid FROM engrams WHERE namespace = ? AND id = ?",
                    (namespace, engram_id),
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
                rowid = int(row["rowid"])
                conn.execute("DELETE FROM engram_fts WHERE rowid = ?", (rowid,))
                conn.execute("DELETE FROM engrams WHERE rowid = ?", (rowid,))
                generation = self._bump(conn, namespace)
        except sqlite3.Error as exc:
            raise _failure("delete", exc) from exc
        # Under the lock: remove() moves rows, which a search in another thread
        # (check_same_thread=False) must not see half-done.
        with self._lock:
            loaded = self._vectors.get(namespace)
            if loaded is not None:
                loaded.index.remove([rowid])
                loaded.catalog = None
                if loaded.generation == generation - 1:
                    loaded.generation = generation

    def forget_namespace(self, namespace: str) -> int:
        try:
            with self._tx() as conn:
                rowids = [
                    int(r[0])
                    for r in conn.execute(
                        "SELECT rowid FROM engrams WHERE namespace = ?", (namespace,)
                    )
                ]
                conn.executemany(
                    "DELETE FROM engram_fts WHERE rowid = ?", [(r,) for r in rowids]
                )
                conn.execute("DELETE FROM engrams WHERE namespace = ?", (namespace,))
                conn.execute("DELETE FROM namespace_state WHERE namespace = ?", (namespace,))
        except sqlite3.Error as exc:
            raise _failure("forget_namespace", exc) from exc
        self._vectors.pop(namespace, None)
        return len(rowids)

    def restore(self, record: EngramRecord, versions: Sequence[VersionRecord]) -> None:
        if not versions:
            raise StoreError("restore needs at least one version")
        current = versions[-1]
        try:
            with self._tx() as conn:
                rowid = self._insert_row(
                    conn, record, version=current.version, valid_from=current.valid_from
                )
                conn.executemany(
                    "INSERT INTO versions (engram_rowid, version, text, speaker, metadata, "
                    "occurred_at, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            rowid,
                            v.version,
                            v.text,
                            v.speaker,
                            _dump(v.metadata),
                            to_iso(v.occurred_at),
                            to_iso(v.valid_from),
                            None if v.valid_to is None else to_iso(v.valid_to),
                        )
                        for v in versions
                    ],
                )
                generation = self._bump(conn, record.namespace)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"restore refused by the store: {exc}") from exc
        except sqlite3.Error as exc:
            raise _failure("restore", exc) from exc
        self._index_added(record.namespace, [(rowid, record.vector)], generation)

    def restore_many(
        self, items: Sequence[tuple[EngramRecord, Sequence[VersionRecord]]]
    ) -> None:
        if not items:
            return
        if any(not versions for _, versions in items):
            raise StoreError("restore needs at least one version per memory")
        try:
            with self._tx() as conn:
                added: dict[str, list[tuple[int, npt.NDArray[np.float32]]]] = {}
                for record, versions in items:
                    current = versions[-1]
                    rowid = self._insert_row(
                        conn, record, version=current.version, valid_from=current.valid_from
                    )
                    conn.executemany(
                        "INSERT INTO versions (engram_rowid, version, text, speaker, metadata, "
                        "occurred_at, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                rowid,
                                v.version,
                                v.text,
                                v.speaker,
                                _dump(v.metadata),
                                to_iso(v.occurred_at),
                                to_iso(v.valid_from),
                                None if v.valid_to is None else to_iso(v.valid_to),
                            )
                            for v in versions
                        ],
                    )
                    added.setdefault(record.namespace, []).append((rowid, record.vector))
                generations = {ns: self._bump(conn, ns) for ns in added}
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"restore refused by the store: {exc}") from exc
        except sqlite3.Error as exc:
            raise _failure("restore", exc) from exc
        for namespace, rows in added.items():
            self._index_added(namespace, rows, generations[namespace])

    # -- reads ----------------------------------------------------------------

    def get_many(self, namespace: str, ids: Sequence[str]) -> dict[str, Engram]:
        if not ids:
            return {}
        found: dict[str, Engram] = {}
        with self._read() as conn:
            for chunk in _chunks(list(ids), 500):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {_ENGRAM_COLUMNS} FROM engrams "  # noqa: S608 - only placeholders
                    f"WHERE namespace = ? AND id IN ({marks})",
                    (namespace, *chunk),
                ):
                    found[row["id"]] = _engram(row)
        return found

    def history(self, namespace: str, engram_id: str) -> list[Version]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT v.* FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid "
                "WHERE e.namespace = ? AND e.id = ? ORDER BY v.version",
                (namespace, engram_id),
            ).fetchall()
        return [
            Version(
                engram_id=engram_id,
                version=int(r["version"]),
                text=r["text"],
                speaker=r["speaker"],
                metadata=json.loads(r["metadata"]),
                occurred_at=from_iso(r["occurred_at"]),
                valid_from=from_iso(r["valid_from"]),
                valid_to=None if r["valid_to"] is None else from_iso(r["valid_to"]),
            )
            for r in rows
        ]

    def neighbours(
        self, namespace: str, engram_id: str, before: int, after: int
    ) -> list[Engram]:
        with self._read() as conn:
            row = conn.execute(
                "SELECT session, seq FROM engrams WHERE namespace = ? AND id = ?",
                (namespace, engram_id),
            ).fetchone()
            if row is None or row["session"] is None:
                return []
            rows = conn.execute(
                f"SELECT {_ENGRAM_COLUMNS} FROM engrams WHERE namespace = ? AND session = ? "
                "AND seq BETWEEN ? AND ? AND id != ? ORDER BY seq",
                (namespace, row["session"], row["seq"] - before, row["seq"] + after, engram_id),
            ).fetchall()
        return [_engram(r) for r in rows]

    def lexical_search(
        self, namespace: str, terms: Sequence[str], limit: int
    ) -> list[Candidate]:
        if not terms or limit <= 0:
            return []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT e.id, bm25(engram_fts, 0.0, 1.0, 0.6) AS rank FROM engram_fts "
                "JOIN engrams e ON e.rowid = engram_fts.rowid "
                "WHERE engram_fts MATCH ? ORDER BY rank LIMIT ?",
                (_fts_query(namespace, terms), limit),
            ).fetchall()
        return [Candidate(r["id"], -float(r["rank"])) for r in rows]

    def vector_search(
        self, namespace: str, vector: npt.NDArray[np.float32], limit: int
    ) -> list[Candidate]:
        # One snapshot for the index and the ids, and the lock because a write in
        # another thread may mutate the index.
        with self._read():
            found = self._namespace_index(namespace).search(vector, limit)
            if not found:
                return []
            ids = self._ids_of([key for key, _ in found])
        return [Candidate(ids[key], score) for key, score in found if key in ids]

    def vectors(self, namespace: str, ids: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(ids), self.dims), dtype=np.float32)
        # index.vector() is a view of a row that a delete may move: under the lock
        # (which _read holds), on the snapshot the rowids came from
        with self._read():
            rowids = self._rowids_of(namespace, ids)
            index = self._namespace_index(namespace)
            for i, engram_id in enumerate(ids):
                key = rowids.get(engram_id)
                vector = None if key is None else index.vector(key)
                if vector is not None:
                    out[i] = vector
        return out

    def catalog(self, namespace: str) -> Catalog:
        with self._read():  # the index and the rows from one snapshot
            index = self._namespace_index(namespace)
            loaded = self._vectors[namespace]
            if loaded.catalog is not None:
                return loaded.catalog
            with self._read() as conn:
                rows = conn.execute(
                    "SELECT rowid, id, session, seq, speaker, occurred_at FROM engrams "
                    "WHERE namespace = ? ORDER BY rowid",
                    (namespace,),
                ).fetchall()
            codes: dict[str, int] = {}
            catalog = Catalog(
                ids=tuple(r["id"] for r in rows),
                session=np.array(
                    [-1 if r["session"] is None else codes.setdefault(r["session"], len(codes))
                     for r in rows],
                    dtype=np.int64,
                ),
                seq=np.array([r["seq"] for r in rows], dtype=np.int64),
                speakers=tuple(r["speaker"] for r in rows),
                occurred_at=np.array(
                    [from_iso(r["occurred_at"]).timestamp() for r in rows], dtype=np.float64
                ),
                vectors=index.matrix([int(r["rowid"]) for r in rows]),
            )
            loaded.catalog = catalog
            return catalog

    def iter_engrams(self, namespace: str | None = None) -> Iterator[Engram]:
        last = 0
        while True:
            with self._read() as conn:
                if namespace is None:
                    rows = conn.execute(
                        f"SELECT {_ENGRAM_COLUMNS} FROM engrams WHERE rowid > ? "
                        "ORDER BY rowid LIMIT 1000",
                        (last,),
                    ).fetchall()
                else:
                    rows = conn.execute(
                        f"SELECT {_ENGRAM_COLUMNS} FROM engrams WHERE namespace = ? AND rowid > ? "
                        "ORDER BY rowid LIMIT 1000",
                        (namespace, last),
                    ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _engram(row)
            last = int(rows[-1]["rowid"])

    def namespaces(self) -> list[str]:
        with self._read() as conn:
            return [r[0] for r in conn.execute(
                "SELECT DISTINCT namespace FROM engrams ORDER BY namespace"
            )]

    def stats(self, namespace: str) -> NamespaceStats:
        with self._read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) AS n, COUNT(DISTINCT session) AS s, MIN(occurred_at) AS lo, "
                "MAX(occurred_at) AS hi FROM engrams WHERE namespace = ?",
                (namespace,),
            ).fetchone()
            versions = conn.execute(
                "SELECT COUNT(*) FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid "
                "WHERE e.namespace = ?",
                (namespace,),
            ).fetchone()[0]
        return NamespaceStats(
            namespace=namespace,
            engrams=int(row["n"]),
            versions=int(versions),
            sessions=int(row["s"]),
            first_occurred_at=None if row["lo"] is None else from_iso(row["lo"]),
            last_occurred_at=None if row["hi"] is None else from_iso(row["hi"]),
        )

    def model_ids(self) -> set[str]:
        with self._read() as conn:
            return {r[0] for r in conn.execute("SELECT DISTINCT model_id FROM vectors")}

    # -- maintenance ------------------------------------------------------------

    def reindex(self, namespace: str | None = None) -> int:
        try:
            with self._tx() as conn:
                if namespace is None:
                    conn.execute("DELETE FROM engram_fts")
                    rows = conn.execute("SELECT rowid, namespace, text, keys FROM engrams")
                else:
                    conn.execute(
                        "DELETE FROM engram_fts WHERE rowid IN "
                        "(SELECT rowid FROM engrams WHERE namespace = ?)",
                        (namespace,),
                    )
                    rows = conn.execute(
                        "SELECT rowid, namespace, text, keys FROM engrams WHERE namespace = ?",
                        (namespace,),
                    )
                # DELETE removes index entries by re-tokenising FTS5's stored copy of
                # each row, so an index that no longer matches that copy (the damage
                # check() reports as "lexical index: ...") keeps stray entries;
                # 'rebuild' resets the index from the rows that remain.
                conn.execute("INSERT INTO engram_fts (engram_fts) VALUES ('rebuild')")
                count = 0
                for row in rows.fetchall():
                    conn.execute(
                        "INSERT INTO engram_fts (rowid, ns, text, keys) VALUES (?, ?, ?, ?)",
                        (row[0], namespace_token(row[1]), row[2], row[3]),
                    )
                    count += 1
                conn.execute("INSERT INTO engram_fts (engram_fts) VALUES ('optimize')")
        except sqlite3.Error as exc:
            raise _failure("reindex", exc) from exc
        if namespace is None:
            self._vectors.clear()
        else:
            self._vectors.pop(namespace, None)
        return count

    def check(self) -> list[str]:
        """Integrity, orphans and index-vs-table consistency (``engram check``).

        Reads run on one snapshot, so writers in other processes cause no false
        alarms. FTS5's own index check is a write statement to SQLite: it runs in
        a short write transaction of its own, and is skipped on a read-only store.
        """
        problems: list[str] = []
        with self._read() as conn:
            result = conn.execute("PRAGMA integrity_check").fetchall()
            if [r[0] for r in result] != ["ok"]:
                problems.extend(f"integrity: {r[0]}" for r in result)
            violations = conn.execute("PRAGMA foreign_key_check").fetchall()
            if violations:
                problems.append(f"foreign key violations: {len(violations)}")
            for label, sql in _ORPHAN_CHECKS.items():
                count = int(conn.execute(sql).fetchone()[0])
                if count:
                    problems.append(f"{label}: {count}")
            problems.extend(self._index_problems(conn))
        if not self.read_only:
            try:
                with self._tx() as conn:
                    conn.execute(
                        "INSERT INTO engram_fts (engram_fts, rank) VALUES ('integrity-check', 0)"
                    )
            except sqlite3.DatabaseError as exc:
                problems.append(f"lexical index: {exc}")
            except StoreError as exc:
                problems.append(f"lexical index: {exc.__cause__ or exc}")
        return problems

    def _index_problems(self, conn: sqlite3.Connection) -> list[str]:
        """Per namespace: memories vs lexical rows, stored vectors, the loaded index."""
        problems: list[str] = []
        memories = dict(
            conn.execute("SELECT namespace, COUNT(*) FROM engrams GROUP BY namespace").fetchall()
        )
        lexical = dict(conn.execute("SELECT ns, COUNT(*) FROM engram_fts GROUP BY ns").fetchall())
        vectors = dict(
            conn.execute(
                "SELECT e.namespace, COUNT(*) FROM vectors v "
                "JOIN engrams e ON e.rowid = v.engram_rowid GROUP BY e.namespace"
            ).fetchall()
        )
        counted = dict(conn.execute("SELECT namespace, generation FROM namespace_state").fetchall())
        for namespace, count in sorted(memories.items()):
            rows = lexical.pop(namespace_token(namespace), 0)
            if rows != count:
                problems.append(
                    f"namespace {namespace!r}: {count} memories but {rows} lexical index rows"
                )
            if vectors.get(namespace, 0) != count:
                problems.append(
                    f"namespace {namespace!r}: {count} memories but "
                    f"{vectors.get(namespace, 0)} stored vectors"
                )
            if namespace not in counted:
                problems.append(f"namespace {namespace!r}: no change counter (generation)")
            loaded = self._vectors.get(namespace)
            if loaded is not None and loaded.generation == counted.get(namespace):
                if len(loaded.index) != count:
                    problems.append(
                        f"namespace {namespace!r}: the loaded vector index holds "
                        f"{len(loaded.index)} vectors, the table {count} memories"
                    )
        stray = sum(lexical.values())
        if stray:
            problems.append(f"lexical index rows of no namespace with memories: {stray}")
        return problems

    def backup(self, target_path: str | Path) -> Path:
        """Write a consistent copy of the whole store to ``target_path`` while it is in use.

        SQLite's online backup API copies every page in one step on one read
        snapshot, so writers in other processes go on (WAL readers do not block
        them) and the copy holds exactly the transactions committed before it
        began. The copy is written beside the target, switched to a single-file
        journal, checked with ``PRAGMA integrity_check``, synced, then renamed
        over the target: a crash or a failed check never leaves half a backup.
        """
        target = Path(target_path)
        if target.is_dir():
            raise StoreError(f"backup target {target} is a directory; name a file")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        try:
            copy = sqlite3.connect(partial, isolation_level=None)
            try:
                with self._lock:
                    self._check_open()
                    self._conn.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")
                result = [r[0] for r in copy.execute("PRAGMA integrity_check").fetchall()]
            finally:
                copy.close()
            if result != ["ok"]:
                raise IntegrityError(f"the backup failed its integrity check: {result[:5]}")
            _fsync(partial)
            partial.replace(target)
            _fsync(target.parent)
        except sqlite3.Error as exc:
            raise _failure("backup", exc) from exc
        except OSError as exc:
            raise StoreError(f"backup to {target} failed: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)
        return target

    def restore_backup(self, source_path: str | Path) -> int:
        """Replace this store's whole content with the backup at ``source_path``.

        The backup is first copied to a scratch file beside this store, migrated
        and checked there (``check()``), so a damaged backup is refused before
        anything here changes. Then the backup API writes it into this store
        through its own connection, in one transaction: other processes that
        have the store open see the old content or the new, never a mix, and
        their in-memory indexes reload (every namespace's change counter is set
        anew). Returns the number of memories restored.
        """
        source = Path(source_path)
        if not source.is_file():
            raise StoreError(f"no backup file at {source}")
        if self.path == ":memory:":
            scratch_dir = Path.cwd()
        else:
            scratch_dir = Path(self.path).parent
        scratch = scratch_dir / f".{Path(self.path).name}.restore-{os.getpid()}"
        try:
            _copy_database(source, scratch)
            verified = SqliteStore(scratch, ann_threshold=self.ann_threshold, dims=self.dims)
            try:
                problems = verified.check()
                if problems:
                    raise IntegrityError(
                        f"the backup {source} failed its checks, nothing was restored: "
                        + "; ".join(problems[:5])
                    )
                count = sum(verified.stats(ns).engrams for ns in verified.namespaces())
                with self._lock:
                    self._check_open()
                    if self.read_only:
                        raise StoreError("cannot restore: the store is read-only")
                    verified._conn.backup(self._conn)
                    with self._tx() as conn:
                        conn.execute(
                            "UPDATE namespace_state SET generation = "
                            "(random() & 4611686018427387903) + 1"
                        )
                    self._vectors.clear()
            finally:
                verified.close()
        except sqlite3.Error as exc:
            raise _failure("restore from backup", exc) from exc
        except OSError as exc:
            raise StoreError(f"restore from {source} failed: {exc}") from exc
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        return count

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._vectors.clear()
            self._conn.close()

    # -- the in-memory vector index -------------------------------------------

    def _generation(self, namespace: str) -> int:
        with self._read() as conn:
            row = conn.execute(
                "SELECT generation FROM namespace_state WHERE namespace = ?", (namespace,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def _namespace_index(self, namespace: str) -> VectorIndex:
        with self._lock:
            generation = self._generation(namespace)
            loaded = self._vectors.get(namespace)
            if loaded is not None and loaded.generation == generation:
                return loaded.index
            index = VectorIndex(self.dims, self.ann_threshold)
            with self._read() as conn:
                rows = conn.execute(
                    "SELECT v.engram_rowid, v.scale, v.data FROM vectors v "
                    "JOIN engrams e ON e.rowid = v.engram_rowid WHERE e.namespace = ? "
                    "ORDER BY v.engram_rowid",
                    (namespace,),
                ).fetchall()
            if rows:
                keys = [int(r[0]) for r in rows]
                matrix = np.stack([dequantize(r[2], float(r[1])) for r in rows])
                index.add(keys, matrix)
            self._vectors[namespace] = _NamespaceVectors(index, generation)
            return index

    def _index_added(
        self, namespace: str, rows: list[tuple[int, npt.NDArray[np.float32]]], generation: int
    ) -> None:
        """Apply our own committed write to a loaded index, if it was current before it."""
        with self._lock:
            loaded = self._vectors.get(namespace)
            if loaded is None:
                return
            if loaded.generation != generation - 1:  # someone else wrote in between
                self._vectors.pop(namespace, None)
                return
            keys = [rowid for rowid, _ in rows]
            # the index holds what is stored: the dequantised vector
            matrix = np.stack([dequantize(*quantize(np.asarray(v, np.float32))) for _, v in rows])
            loaded.index.add(keys, matrix)
            loaded.generation = generation
            loaded.catalog = None

    def _ids_of(self, rowids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        with self._read() as conn:
            for chunk in _chunks(list(rowids), 500):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT rowid, id FROM engrams WHERE rowid IN ({marks})",  # noqa: S608
                    chunk,
                ):
                    out[int(row[0])] = row[1]
        return out

    def _rowids_of(self, namespace: str, ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        with self._read() as conn:
            for chunk in _chunks(list(ids), 500):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT id, rowid FROM engrams WHERE namespace = ? AND id IN ({marks})",  # noqa: S608
                    (namespace, *chunk),
                ):
                    out[row[0]] = int(row[1])
        return out


def _engram(row: sqlite3.Row) -> Engram:
    return Engram(
        id=row["id"],
        namespace=row["namespace"],
        text=row["text"],
        occurred_at=from_iso(row["occurred_at"]),
        recorded_at=from_iso(row["recorded_at"]),
        valid_from=from_iso(row["valid_from"]),
        session=row["session"],
        speaker=row["speaker"],
        metadata=json.loads(row["metadata"]),
        kind=row["kind"],
        version=int(row["version"]),
    )


def _dump(metadata: Mapping[str, Any]) -> str:
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _is_busy(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = str(exc).lower()
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in message or (
        "busy" in message
    )


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))  # noqa: S311


def _failure(action: str, exc: sqlite3.Error) -> StoreError:
    """A StoreError that says in plain words why ``action`` failed (issue 7).

    The transaction has rolled back by then, so the message can promise that
    nothing was written.
    """
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = str(exc).lower()
    if name.startswith("SQLITE_FULL") or "disk is full" in message:
        return StoreError(
            f"{action} failed: the disk is full ({exc}); nothing was written, "
            "the store is unchanged and still readable"
        )
    if name.startswith("SQLITE_READONLY") or "readonly" in message or "read-only" in message:
        return StoreError(
            f"{action} failed: the store is read-only ({exc}); nothing was written"
        )
    if _is_busy(exc):
        return StoreError(
            f"{action} failed: the store stayed busy (another process held its lock "
            f"for too long): {exc}"
        )
    return StoreError(f"{action} failed: {exc}")


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_database(source: Path, target: Path) -> None:
    """Copy a database file with the backup API (consistent even if it is in use)."""
    target.unlink(missing_ok=True)
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


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
