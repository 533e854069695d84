"""SqliteStore: the embedded default backend (one SQLite file in WAL mode).

Owns the SQL, the connection, transactions with bounded retry on a busy
database, read snapshots, online backup and restore, and the in-memory vector
index per namespace (derived from the ``vectors`` table and reloaded when
another process changed the namespace). It does not validate user input (the
facade did) or rank anything.

Reliability (docs/reliability.md): a write is one ``BEGIN IMMEDIATE``
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
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engramdb.clock import from_iso, to_iso
from engramdb.config import EncryptionKey
from engramdb.errors import (
    DecryptionError,
    IntegrityError,
    NotFoundError,
    StoreError,
)
from engramdb.model import (
    DEFAULT_IMPORTANCE,
    DEFAULT_STABILITY_DAYS,
    Engram,
    Fact,
    NamespaceStats,
    Version,
)
from engramdb.security.crypto import OVERHEAD, Cipher, check_source
from engramdb.store.base import (
    Candidate,
    Capability,
    Catalog,
    ConsolidationBatch,
    DerivedUpdate,
    Dynamics,
    DynamicsUpdate,
    EngramRecord,
    FactRow,
    Link,
    Store,
    VersionRecord,
)
from engramdb.store.files import private_file
from engramdb.store.sqlite.database import (
    DB_FILENAME,
    Database,
    database_path,
    existing_database,
    failure,
    failures,
    is_busy,
)
from engramdb.store.sqlite.sealing import DataKeys
from engramdb.store.vectors import VectorIndex, dequantize, quantize

__all__ = ["DB_FILENAME", "SqliteStore", "database_path", "existing_database"]

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
}
# sealed vectors carry the cipher's overhead
_VECTOR_SIZE_CHECK = "SELECT COUNT(*) FROM vectors WHERE length(data) != dims + ?"
_ENGRAM_COLUMNS = (
    "rowid, id, namespace, kind, session, speaker, text, metadata, "
    "occurred_at, recorded_at, valid_from, version"
)
# A memory's dynamics (docs/dynamics.md) as one JSON array, appended to the columns of a
# query over ``engrams`` (unaliased); ``_engram`` reads it when present.
# (One scalar subquery per column, not json_array: SQLite's JSON prints REALs with
# 15 significant digits, and a stored float must come back exactly.)
_DYNAMICS_FIELDS = (
    "stability_days",
    "importance",
    "valence",
    "arousal",
    "emotion",
    "recalls",
    "last_recalled_at",
    "dormant",
)
_DYNAMICS_COLUMN = "".join(
    f", (SELECT d.{name} FROM dynamics d WHERE d.engram_rowid = engrams.rowid) AS d_{name}"
    for name in _DYNAMICS_FIELDS
)
_VACUUM_FREE_SHARE = 0.25  # forget_namespace reclaims space above this share of free pages


def namespace_token(namespace: str) -> str:
    """The single FTS token that marks a namespace's rows inside the shared index."""
    return "ns" + hashlib.sha256(namespace.encode()).hexdigest()[:24]


def _fts_query(namespace: str, terms: Sequence[str]) -> str:
    # Terms are quoted, so FTS5 operators and punctuation in them are inert.
    # NUL is dropped: FTS5's query parser stops at it and reports "unterminated
    # string" (conformance check_special_characters_inert).
    quoted = " OR ".join('"' + term.replace("\x00", "").replace('"', '""') + '"' for term in terms)
    return f'ns : "{namespace_token(namespace)}" AND {{text keys}} : ({quoted})'


class _NamespaceVectors:
    """The loaded vector index of one namespace and the generation it reflects."""

    def __init__(self, index: VectorIndex, generation: int) -> None:
        self.index = index
        self.generation = generation
        self.catalog: Catalog | None = None  # built on demand, dropped by any write...
        # ...but new memories this store inserted extend it instead: their rowids
        # wait in ``appended``; ``rowids`` and ``codes`` (session -> code) are the
        # catalog's own, to extend it in the same order and coding.
        self.appended: list[int] = []
        self.rowids: list[int] = []
        self.codes: dict[str, int] = {}


class SqliteStore(Store):
    """A store in one SQLite database file (or ``":memory:"``)."""

    capabilities = frozenset(
        {
            Capability.ANN,
            Capability.CONCURRENT_PROCESSES,
            Capability.BACKUP,
            Capability.ENCRYPTION,
        }
    )

    def __init__(
        self,
        path: str | Path,
        *,
        ann_threshold: int = 20_000,
        dims: int = 384,
        read_only: bool = False,
        encryption: EncryptionKey | None = None,
        encrypt_vectors: bool = True,
    ) -> None:
        """Open (creating unless ``read_only``) the store at ``path``.

        ``read_only=True`` opens an existing file with ``mode=ro`` and
        ``query_only``: every write raises ``StoreError`` ("the store is
        read-only") and nothing on disk is created, migrated or changed; a
        missing store is a ``NotFoundError`` naming ``path``. A store created
        here is owner-only: a 0600 database in 0700 folders (docs/security.md).

        ``encryption`` (docs/security.md): a new, empty store opened with a key is
        created encrypted (its vectors too unless ``encrypt_vectors`` is
        False); an encrypted store opens only with its key
        (``DecryptionError`` otherwise), and a plaintext store refuses a key.
        """
        if encryption is not None:
            check_source(encryption)  # a malformed key creates nothing
        self.ann_threshold = ann_threshold
        self.dims = dims
        self._vectors: dict[str, _NamespaceVectors] = {}
        self._keys = DataKeys(encryption, encrypt_vectors=encrypt_vectors)
        self._fts_dirty = False  # an erasure's FTS optimize is still owed (see _scrub)
        self._db = Database(path, read_only=read_only, prepare=self._open_encryption)
        self.read_only = read_only
        self.path = self._db.path
        self._lock = self._db.lock
        self._conn = self._db.conn
        self._read = self._db.read

    def _migrate(self) -> None:
        """Run the schema migrations this file has not had (none on an open store)."""
        self._db.migrate()

    def _open_encryption(self, db: Database) -> None:
        """Check the master key of an encrypted store, or make a new store encrypted."""
        with db.read() as conn:
            recorded = DataKeys.recorded(conn)
        if recorded is None and self._keys.source is not None and not db.read_only:
            with db.transaction() as conn:
                recorded = DataKeys.recorded(conn)  # another process may have just done it
                empty = conn.execute("SELECT 1 FROM engrams LIMIT 1").fetchone() is None
                if recorded is None and empty:
                    self._keys.initialise(conn, datetime.now().astimezone())
                    return
        self._keys.attach(recorded, db.path)

    @property
    def encrypted(self) -> bool:
        """Whether this store seals what it writes (docs/security.md)."""
        return self._keys.encrypted

    def rotate_master_key(self, new: EncryptionKey) -> int:
        """Re-wrap every namespace's data key under the master key ``new``.

        One transaction; content is not re-encrypted. Other processes that have
        the store open keep reading and writing the namespaces they know, but
        refuse to make a new namespace's key until they reopen with ``new``.
        Returns the number of data keys re-wrapped.
        """
        with self._db.write("master key rotation") as conn:
            return self._keys.rotate(conn, new, datetime.now().astimezone())

    def encrypt(self, key: EncryptionKey, *, encrypt_vectors: bool = True) -> int:
        """Encrypt this plaintext store in place under the master key ``key``.

        One transaction seals every value (memories, history, facts, emotions,
        and vectors unless ``encrypt_vectors`` is False) and rebuilds the
        lexical index as a blind one; then the file is VACUUMed and the WAL
        truncated, so no plaintext is left in free pages. Returns the number of
        memories sealed. Other processes that have the store open must reopen
        it with the key: until then they refuse to write and fail to read.
        """
        check_source(key)
        if self._keys.encrypted:
            raise StoreError("the store is already encrypted (rotate its master key instead)")
        keys = DataKeys(key, encrypt_vectors=encrypt_vectors)
        with self._db.write("encryption in place") as conn:
            if DataKeys.recorded(conn) is not None:
                raise StoreError("the store was encrypted by another process; reopen it")
            keys.initialise(conn, datetime.now().astimezone())
            count = _seal_in_place(conn, keys)
        self._keys = keys
        self._vectors.clear()
        if self.path != ":memory:":
            with self._lock:
                try:
                    self._conn.execute("VACUUM")
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.Error as exc:
                    raise StoreError(
                        f"the store is encrypted, but compacting it failed ({exc}): plaintext "
                        "may remain in free pages until 'VACUUM' succeeds (retry with no "
                        "other process using the store)"
                    ) from exc
        return count

    def _cipher(self, conn: sqlite3.Connection, namespace: str, *, create: bool = False) -> Cipher:
        return self._keys.cipher(conn, namespace, create=create)

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

    def insert(self, records: Sequence[EngramRecord]) -> list[Engram]:
        if not records:
            return []
        with self._db.write("insert", refusable=True) as conn:
            added: dict[str, list[tuple[int, npt.NDArray[np.float32]]]] = {}
            cipher_of = self._keys.ciphers(conn, create=True)
            for record in records:
                cipher = cipher_of(record.namespace)
                rowid = self._insert_row(
                    conn, cipher, record, version=1, valid_from=record.recorded_at
                )
                self._insert_first_version(conn, cipher, rowid, record)
                added.setdefault(record.namespace, []).append((rowid, record.vector))
            generations = {ns: self._bump(conn, ns) for ns in added}
        for namespace, rows in added.items():
            self._index_added(namespace, rows, generations[namespace], appended=True)
        return [record.written() for record in records]

    def _insert_first_version(
        self, conn: sqlite3.Connection, cipher: Cipher, rowid: int, record: EngramRecord
    ) -> None:
        self._insert_version(
            conn,
            cipher,
            rowid,
            record.id,
            VersionRecord(
                version=1,
                text=record.text,
                speaker=record.speaker,
                metadata=record.metadata,
                occurred_at=record.occurred_at,
                valid_from=record.recorded_at,
                valid_to=None,
            ),
        )

    @staticmethod
    def _insert_version(
        conn: sqlite3.Connection, cipher: Cipher, rowid: int, engram_id: str, v: VersionRecord
    ) -> None:
        aad = f"{engram_id}:{v.version}"
        conn.execute(
            "INSERT INTO versions (engram_rowid, version, text, speaker, metadata, "
            "occurred_at, valid_from, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rowid,
                v.version,
                cipher.seal(v.text, f"versions.text:{aad}"),
                _seal_optional(cipher, v.speaker, f"versions.speaker:{aad}"),
                cipher.seal(_dump(v.metadata), f"versions.metadata:{aad}"),
                to_iso(v.occurred_at),
                to_iso(v.valid_from),
                None if v.valid_to is None else to_iso(v.valid_to),
            ),
        )

    def _insert_row(
        self,
        conn: sqlite3.Connection,
        cipher: Cipher,
        record: EngramRecord,
        *,
        version: int,
        valid_from: datetime,
    ) -> int:
        eid = record.id
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
                _seal_optional(cipher, record.speaker, f"engrams.speaker:{eid}"),
                cipher.seal(record.text, f"engrams.text:{eid}"),
                cipher.seal(record.keys, f"engrams.keys:{eid}"),
                cipher.seal(_dump(record.metadata), f"engrams.metadata:{eid}"),
                to_iso(record.occurred_at),
                to_iso(record.recorded_at),
                to_iso(valid_from),
                version,
            ),
        )
        rowid = int(cursor.lastrowid or 0)
        conn.execute(
            "INSERT INTO dynamics (engram_rowid, stability_days, importance, valence, arousal, "
            "emotion) VALUES (?, ?, ?, ?, ?, ?)",
            (
                rowid,
                record.stability_days,
                record.importance,
                *_seal_emotion(cipher, eid, record.valence, record.arousal, record.emotion),
            ),
        )
        self._write_vector(conn, cipher, rowid, eid, record.vector, record.model_id)
        self._index_text(conn, cipher, rowid, record.namespace, record.text, record.keys)
        return rowid

    def _write_vector(
        self,
        conn: sqlite3.Connection,
        cipher: Cipher,
        rowid: int,
        engram_id: str,
        vector: npt.NDArray[np.float32],
        model_id: str,
    ) -> None:
        data, scale = quantize(np.asarray(vector, dtype=np.float32))
        if self._keys.vectors_sealed:
            data = cipher.seal_bytes(data, f"vectors:{engram_id}")
        conn.execute(
            "INSERT OR REPLACE INTO vectors (engram_rowid, model_id, dims, scale, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (rowid, model_id, len(vector), scale, data),
        )

    @staticmethod
    def _index_text(
        conn: sqlite3.Connection,
        cipher: Cipher,
        rowid: int,
        namespace: str,
        text: str,
        keys: str,
        *,
        replace: bool = False,
    ) -> None:
        """Write the memory's lexical index row: its words, or their blind tokens."""
        if replace:
            conn.execute("DELETE FROM engram_fts WHERE rowid = ?", (rowid,))
        conn.execute(
            "INSERT INTO engram_fts (rowid, ns, text, keys) VALUES (?, ?, ?, ?)",
            (rowid, namespace_token(namespace), cipher.blind(text), cipher.blind(keys)),
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
        with self._db.write("update") as conn:
            row = conn.execute(
                "SELECT rowid, version FROM engrams WHERE namespace = ? AND id = ?",
                (namespace, engram_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
            rowid, version = int(row["rowid"]), int(row["version"]) + 1
            cipher = self._cipher(conn, namespace, create=True)
            conn.execute(
                "UPDATE versions SET valid_to = ? WHERE engram_rowid = ? AND valid_to IS NULL",
                (to_iso(now), rowid),
            )
            self._insert_version(
                conn,
                cipher,
                rowid,
                engram_id,
                VersionRecord(version, text, speaker, metadata, occurred_at, now, None),
            )
            eid = engram_id
            conn.execute(
                "UPDATE engrams SET text = ?, speaker = ?, metadata = ?, occurred_at = ?, "
                "keys = ?, valid_from = ?, version = ? WHERE rowid = ?",
                (
                    cipher.seal(text, f"engrams.text:{eid}"),
                    _seal_optional(cipher, speaker, f"engrams.speaker:{eid}"),
                    cipher.seal(_dump(metadata), f"engrams.metadata:{eid}"),
                    to_iso(occurred_at),
                    cipher.seal(keys, f"engrams.keys:{eid}"),
                    to_iso(now),
                    version,
                    rowid,
                ),
            )
            self._write_vector(conn, cipher, rowid, eid, vector, model_id)
            self._index_text(conn, cipher, rowid, namespace, text, keys, replace=True)
            generation = self._bump(conn, namespace)
            updated = _engram(
                conn.execute(
                    f"SELECT {_ENGRAM_COLUMNS}{_DYNAMICS_COLUMN} FROM engrams WHERE rowid = ?",
                    (rowid,),
                ).fetchone(),
                cipher,
            )
        self._index_added(namespace, [(rowid, vector)], generation)
        return updated

    def delete(self, namespace: str, engram_id: str) -> None:
        with self._db.write("delete") as conn:
            row = conn.execute(
                "SELECT rowid FROM engrams WHERE namespace = ? AND id = ?",
                (namespace, engram_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
            doomed = _with_orphaned_derived(conn, int(row["rowid"]))
            conn.executemany("DELETE FROM engram_fts WHERE rowid = ?", [(r,) for r in doomed])
            conn.executemany("DELETE FROM engrams WHERE rowid = ?", [(r,) for r in doomed])
            generation = self._bump(conn, namespace)
        self._keys.forget_opened(namespace)
        self._scrub(optimize_fts=True)
        # Under the lock: remove() moves rows, which a search in another thread
        # (check_same_thread=False) must not see half-done.
        with self._lock:
            loaded = self._vectors.get(namespace)
            if loaded is not None:
                loaded.index.remove(doomed)
                loaded.catalog = None
                if loaded.generation == generation - 1:
                    loaded.generation = generation

    def forget_namespace(self, namespace: str) -> int:
        with self._db.write("forget_namespace") as conn:
            rowids = [
                int(r[0])
                for r in conn.execute("SELECT rowid FROM engrams WHERE namespace = ?", (namespace,))
            ]
            conn.executemany("DELETE FROM engram_fts WHERE rowid = ?", [(r,) for r in rowids])
            conn.execute("DELETE FROM engrams WHERE namespace = ?", (namespace,))
            conn.execute("DELETE FROM namespace_state WHERE namespace = ?", (namespace,))
            conn.execute("DELETE FROM consolidation_state WHERE namespace = ?", (namespace,))
            conn.execute("DELETE FROM budgets WHERE namespace = ?", (namespace,))
            self._keys.forget(conn, namespace)  # its data key goes with it
        self._vectors.pop(namespace, None)
        self._scrub(optimize_fts=True, vacuum=True)
        return len(rowids)

    def _scrub(self, *, optimize_fts: bool, vacuum: bool = False) -> None:
        """Push erased bytes out of the FTS segments and the WAL file (docs/security.md).

        The delete is already committed, so this never fails it: a concurrent
        reader can keep the WAL from being truncated (SQLITE_BUSY, or a
        checkpoint that reports itself blocked); ``close`` tries again.
        FTS5 keeps deleted tokens in its segments until they are merged:
        ``optimize`` rewrites them into one segment without the erased rows
        (after a single delete too: a few ms at 2k memories, ~70 ms at 30k;
        SQLite 3.40 has no FTS5 secure-delete). If a writer in another process
        blocks it, ``close`` tries again.
        ``vacuum``: when more than a quarter of the file is free pages (zeroed
        by secure_delete), VACUUM gives the space back to the file system.
        """
        if self.path == ":memory:":
            return
        try:
            with self._lock:
                if optimize_fts:
                    self._fts_dirty = True
                    self._conn.execute("INSERT INTO engram_fts(engram_fts) VALUES ('optimize')")
                    self._fts_dirty = False
                if vacuum:
                    free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
                    pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
                    if pages and free / pages > _VACUUM_FREE_SHARE:
                        self._conn.execute("VACUUM")
                self._db.checkpoint()  # no busy wait: the delete is already done
        except sqlite3.Error as exc:
            if not is_busy(exc):
                raise failure("checkpoint after erasure", exc) from exc

    def restore(self, record: EngramRecord, versions: Sequence[VersionRecord]) -> None:
        self.restore_many([(record, versions)])

    def restore_many(self, items: Sequence[tuple[EngramRecord, Sequence[VersionRecord]]]) -> None:
        if not items:
            return
        if any(not versions for _, versions in items):
            raise StoreError("restore needs at least one version per memory")
        with self._db.write("restore", refusable=True) as conn:
            added: dict[str, list[tuple[int, npt.NDArray[np.float32]]]] = {}
            cipher_of = self._keys.ciphers(conn, create=True)
            for record, versions in items:
                current = versions[-1]
                cipher = cipher_of(record.namespace)
                rowid = self._insert_row(
                    conn, cipher, record, version=current.version, valid_from=current.valid_from
                )
                for v in versions:
                    self._insert_version(conn, cipher, rowid, record.id, v)
                added.setdefault(record.namespace, []).append((rowid, record.vector))
            generations = {ns: self._bump(conn, ns) for ns in added}
        for namespace, rows in added.items():
            self._index_added(namespace, rows, generations[namespace])

    # -- reads ----------------------------------------------------------------

    def get_many(self, namespace: str, ids: Sequence[str]) -> dict[str, Engram]:
        if not ids:
            return {}
        found: dict[str, Engram] = {}
        with self._read() as conn:
            cipher = self._cipher(conn, namespace)
            for chunk in _chunks(list(ids), 500):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {_ENGRAM_COLUMNS}{_DYNAMICS_COLUMN} FROM engrams "
                    f"WHERE namespace = ? AND id IN ({marks})",
                    (namespace, *chunk),
                ):
                    found[row["id"]] = _engram(row, cipher)
        return found

    def history(self, namespace: str, engram_id: str) -> list[Version]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT v.* FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid "
                "WHERE e.namespace = ? AND e.id = ? ORDER BY v.version",
                (namespace, engram_id),
            ).fetchall()
            cipher = self._cipher(conn, namespace)
        return [
            Version(
                engram_id=engram_id,
                version=int(r["version"]),
                text=cipher.open(r["text"], f"versions.text:{engram_id}:{r['version']}"),
                speaker=_open_optional(
                    cipher, r["speaker"], f"versions.speaker:{engram_id}:{r['version']}"
                ),
                metadata=json.loads(
                    cipher.open(r["metadata"], f"versions.metadata:{engram_id}:{r['version']}")
                ),
                occurred_at=from_iso(r["occurred_at"]),
                valid_from=from_iso(r["valid_from"]),
                valid_to=None if r["valid_to"] is None else from_iso(r["valid_to"]),
            )
            for r in rows
        ]

    def neighbours(self, namespace: str, engram_id: str, before: int, after: int) -> list[Engram]:
        with self._read() as conn:
            row = conn.execute(
                "SELECT session, seq FROM engrams WHERE namespace = ? AND id = ?",
                (namespace, engram_id),
            ).fetchone()
            if row is None or row["session"] is None:
                return []
            rows = conn.execute(
                f"SELECT {_ENGRAM_COLUMNS}{_DYNAMICS_COLUMN} FROM engrams "
                "WHERE namespace = ? AND session = ? "
                "AND seq BETWEEN ? AND ? AND id != ? ORDER BY seq",
                (namespace, row["session"], row["seq"] - before, row["seq"] + after, engram_id),
            ).fetchall()
            cipher = self._cipher(conn, namespace)
        return [_engram(r, cipher) for r in rows]

    def session_tail(self, namespace: str, session: str, limit: int) -> list[Engram]:
        if limit <= 0:
            return []
        with self._read() as conn:  # the (namespace, session, seq) index serves it
            rows = conn.execute(
                f"SELECT {_ENGRAM_COLUMNS}{_DYNAMICS_COLUMN} FROM engrams "
                "WHERE namespace = ? AND session = ? AND kind = 'episode' "
                "ORDER BY seq DESC LIMIT ?",
                (namespace, session, limit),
            ).fetchall()
            cipher = self._cipher(conn, namespace)
        return [_engram(r, cipher) for r in reversed(rows)]

    def lexical_search(self, namespace: str, terms: Sequence[str], limit: int) -> list[Candidate]:
        if not terms or limit <= 0:
            return []
        with self._read() as conn:
            terms = self._cipher(conn, namespace).blind_terms(list(terms))
            if not terms:
                return []
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
        """The namespace's catalog: cached, extended after this store's own inserts
        (an agent adds a turn, then searches: only the new rows are read), rebuilt
        from the table after anything else changed it."""
        with self._read():  # the index and the rows from one snapshot
            index = self._namespace_index(namespace)
            loaded = self._vectors[namespace]
            if loaded.catalog is not None and not loaded.appended:
                return loaded.catalog
            columns = (
                "SELECT rowid, id, kind, session, seq, speaker, occurred_at, text, keys"
                f"{_DYNAMICS_COLUMN} FROM engrams WHERE namespace = ?"
            )
            with self._read() as conn:
                cipher = self._cipher(conn, namespace)
                last = loaded.rowids[-1] if loaded.rowids else 0  # rowids are in order
                if loaded.catalog is not None and min(loaded.appended) > last:
                    wanted = sorted(loaded.appended)
                    rows = []
                    for chunk in _chunks(wanted, 500):
                        marks = ",".join("?" * len(chunk))
                        rows += conn.execute(
                            f"{columns} AND rowid IN ({marks}) ORDER BY rowid", (namespace, *chunk)
                        ).fetchall()
                    if len(rows) == len(wanted):
                        part = self._catalog_of(rows, index, cipher, loaded.codes)
                        loaded.catalog = loaded.catalog.extended(part)
                        loaded.rowids += wanted
                        loaded.appended = []
                        return loaded.catalog
                rows = conn.execute(f"{columns} ORDER BY rowid", (namespace,)).fetchall()
            loaded.codes = {}
            loaded.catalog = self._catalog_of(rows, index, cipher, loaded.codes)
            loaded.rowids = [int(r["rowid"]) for r in rows]
            loaded.appended = []
            return loaded.catalog

    @staticmethod
    def _catalog_of(
        rows: Sequence[sqlite3.Row], index: VectorIndex, cipher: Cipher, codes: dict[str, int]
    ) -> Catalog:
        """A catalog of ``rows`` (in rowid order); new sessions get the next codes."""
        texts = [cipher.open(r["text"], f"engrams.text:{r['id']}") for r in rows]
        keys = [cipher.open(r["keys"], f"engrams.keys:{r['id']}") for r in rows]
        return Catalog(
            ids=tuple(r["id"] for r in rows),
            documents=tuple(f"{t} {k}".strip() for t, k in zip(texts, keys, strict=True)),
            session=np.array(
                [
                    -1 if r["session"] is None else codes.setdefault(r["session"], len(codes))
                    for r in rows
                ],
                dtype=np.int64,
            ),
            seq=np.array([r["seq"] for r in rows], dtype=np.int64),
            speakers=tuple(
                _open_optional(cipher, r["speaker"], f"engrams.speaker:{r['id']}") for r in rows
            ),
            occurred_at=np.array(
                [from_iso(r["occurred_at"]).timestamp() for r in rows], dtype=np.float64
            ),
            vectors=index.matrix([int(r["rowid"]) for r in rows]),
            kinds=tuple(r["kind"] for r in rows),
            dynamics=_dynamics(rows, texts, cipher),
        )

    def iter_engrams(self, namespace: str | None = None) -> Iterator[Engram]:
        last = 0
        while True:
            with self._read() as conn:
                if namespace is None:
                    rows = conn.execute(
                        f"SELECT {_ENGRAM_COLUMNS}{_DYNAMICS_COLUMN} FROM engrams WHERE rowid > ? "
                        "ORDER BY rowid LIMIT 1000",
                        (last,),
                    ).fetchall()
                else:
                    rows = conn.execute(
                        f"SELECT {_ENGRAM_COLUMNS}{_DYNAMICS_COLUMN} FROM engrams "
                        "WHERE namespace = ? AND rowid > ? "
                        "ORDER BY rowid LIMIT 1000",
                        (namespace, last),
                    ).fetchall()
                cipher_of = self._keys.ciphers(conn)
                engrams = [_engram(row, cipher_of(row["namespace"])) for row in rows]
            if not rows:
                return
            yield from engrams
            last = int(rows[-1]["rowid"])

    def namespaces(self) -> list[str]:
        with self._read() as conn:
            return [
                r[0]
                for r in conn.execute("SELECT DISTINCT namespace FROM engrams ORDER BY namespace")
            ]

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

    # -- memory dynamics (docs/dynamics.md) ------------------------------------------------

    def set_dynamics(self, namespace: str, updates: Sequence[DynamicsUpdate]) -> int:
        if not updates:
            return 0
        with self._db.write("set_dynamics") as conn:
            rowids = self._rowids_of(namespace, [u.id for u in updates])
            applied: list[DynamicsUpdate] = []
            for u in updates:
                rowid = rowids.get(u.id)
                if rowid is None:  # deleted since the recall was queued
                    continue
                conn.execute(
                    "INSERT OR IGNORE INTO dynamics (engram_rowid, stability_days, "
                    "importance) VALUES (?, ?, ?)",
                    (rowid, DEFAULT_STABILITY_DAYS, DEFAULT_IMPORTANCE),
                )
                conn.execute(
                    "UPDATE dynamics SET stability_days = COALESCE(?, stability_days), "
                    "importance = COALESCE(?, importance), "
                    "last_recalled_at = COALESCE(?, last_recalled_at), "
                    "recalls = COALESCE(?, recalls), dormant = COALESCE(?, dormant) "
                    "WHERE engram_rowid = ?",
                    (
                        u.stability_days,
                        u.importance,
                        None if u.last_recalled_at is None else to_iso(u.last_recalled_at),
                        u.recalls,
                        None if u.dormant is None else int(u.dormant),
                        rowid,
                    ),
                )
                applied.append(u)
        # Patch our cached catalog instead of dropping it: its content is unchanged,
        # so the recaller keeps its lexical index (a flush must not cost a rebuild).
        # Another process sees the new state at its next catalog rebuild.
        with self._lock:
            loaded = self._vectors.get(namespace)
            if loaded is not None and loaded.catalog is not None:
                loaded.catalog = _patched(loaded.catalog, applied)
        return len(applied)

    def budget(self, namespace: str) -> tuple[int | None, int | None] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT max_memories, max_bytes FROM budgets WHERE namespace = ?", (namespace,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def set_budget(self, namespace: str, max_memories: int | None, max_bytes: int | None) -> None:
        with self._db.write("set_budget") as conn:
            if max_memories is None and max_bytes is None:
                conn.execute("DELETE FROM budgets WHERE namespace = ?", (namespace,))
            else:
                conn.execute(
                    "INSERT INTO budgets (namespace, max_memories, max_bytes) "
                    "VALUES (?, ?, ?) ON CONFLICT (namespace) DO UPDATE SET "
                    "max_memories = excluded.max_memories, max_bytes = excluded.max_bytes",
                    (namespace, max_memories, max_bytes),
                )

    # -- consolidation (docs/consolidation.md) --------------------------------------------------

    def pending_episodes(self, namespace: str, limit: int) -> list[Engram]:
        columns = ", ".join(f"e.{c}" for c in _ENGRAM_COLUMNS.split(", "))
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM engrams e "
                "LEFT JOIN consolidated c ON c.engram_rowid = e.rowid "
                "WHERE e.namespace = ? AND e.kind = 'episode' "
                "AND (c.engram_rowid IS NULL OR c.version < e.version) "
                "ORDER BY e.rowid LIMIT ?",
                (namespace, limit),
            ).fetchall()
            cipher = self._cipher(conn, namespace)
        return [_engram(r, cipher) for r in rows]

    def pending_count(self, namespace: str) -> int:
        with self._read() as conn:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM engrams e "
                    "LEFT JOIN consolidated c ON c.engram_rowid = e.rowid "
                    "WHERE e.namespace = ? AND e.kind = 'episode' "
                    "AND (c.engram_rowid IS NULL OR c.version < e.version)",
                    (namespace,),
                ).fetchone()[0]
            )

    def apply_consolidation(self, batch: ConsolidationBatch) -> bool:
        namespace = batch.namespace
        added: list[tuple[int, npt.NDArray[np.float32]]] = []
        with self._db.write("consolidation", refusable=True) as conn:
            if not self._episodes_unconsumed(conn, namespace, batch.episodes):
                return False
            cipher = self._cipher(conn, namespace, create=True)
            for record in batch.inserts:
                rowid = self._insert_row(
                    conn, cipher, record, version=1, valid_from=record.recorded_at
                )
                self._insert_first_version(conn, cipher, rowid, record)
                added.append((rowid, record.vector))
            named = {eid for eid, _ in batch.episodes}
            named.update(f.engram_id for f in batch.facts)
            named.update(c.engram_id for c in batch.changes)
            named.update(u.engram_id for u in batch.updates)
            for link in batch.links:
                named.update((link.derived_id, link.source_id))
            rowids = self._rowids_of(namespace, sorted(named))
            missing = named - rowids.keys()
            if missing:
                raise StoreError(
                    f"consolidation names memories not in {namespace!r}: {sorted(missing)[:3]}"
                )
            now = to_iso(batch.now)
            conn.executemany(
                _INSERT_FACT,
                [
                    _fact_row(cipher, rowids[f.engram_id], _as_fact(f, namespace, batch.now))
                    for f in batch.facts
                ],
            )
            conn.executemany(
                "UPDATE facts SET valid_to = ?, status = ?, superseded_by = ?, "
                "invalidated_at = ? WHERE engram_rowid = ?",
                [
                    (
                        None if c.valid_to is None else to_iso(c.valid_to),
                        c.status,
                        c.superseded_by,
                        now,
                        rowids[c.engram_id],
                    )
                    for c in batch.changes
                ],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO provenance (derived_rowid, source_rowid, relation) "
                "VALUES (?, ?, ?)",
                [(rowids[k.derived_id], rowids[k.source_id], k.relation) for k in batch.links],
            )
            for update in batch.updates:
                self._write_derived_version(
                    conn, cipher, rowids[update.engram_id], update, batch.now
                )
                added.append((rowids[update.engram_id], update.vector))
            conn.executemany(
                "INSERT INTO consolidated (engram_rowid, version) VALUES (?, ?) "
                "ON CONFLICT (engram_rowid) DO UPDATE SET version = excluded.version",
                [(rowids[eid], version) for eid, version in batch.episodes],
            )
            conn.execute(
                "INSERT INTO consolidation_state (namespace, runs, episodes, updated_at) "
                "VALUES (?, 1, ?, ?) ON CONFLICT (namespace) DO UPDATE SET "
                "runs = runs + 1, episodes = episodes + excluded.episodes, "
                "updated_at = excluded.updated_at",
                (namespace, len(batch.episodes), now),
            )
            generation = self._bump(conn, namespace)
        if added:
            self._index_added(namespace, added, generation)
        else:
            with self._lock:
                loaded = self._vectors.get(namespace)
                if loaded is not None and loaded.generation == generation - 1:
                    loaded.generation = generation
                    loaded.catalog = None  # fact validity changed: rankings must see it
        return True

    def _episodes_unconsumed(
        self, conn: sqlite3.Connection, namespace: str, episodes: Sequence[tuple[str, int]]
    ) -> bool:
        """True when every episode still exists at its version and is not yet consumed."""
        for engram_id, version in episodes:
            row = conn.execute(
                "SELECT e.version, c.version FROM engrams e "
                "LEFT JOIN consolidated c ON c.engram_rowid = e.rowid "
                "WHERE e.namespace = ? AND e.id = ?",
                (namespace, engram_id),
            ).fetchone()
            if row is None or int(row[0]) != version:
                return False  # deleted or updated since it was read: plan again
            if row[1] is not None and int(row[1]) >= version:
                return False
        return True

    def _write_derived_version(
        self,
        conn: sqlite3.Connection,
        cipher: Cipher,
        rowid: int,
        update: DerivedUpdate,
        now: datetime,
    ) -> None:
        row = conn.execute(
            "SELECT id, namespace, version, speaker, valid_from FROM engrams WHERE rowid = ?",
            (rowid,),
        ).fetchone()
        eid, version = row["id"], int(row["version"]) + 1
        speaker = _open_optional(cipher, row["speaker"], f"engrams.speaker:{eid}")
        at = max(now, from_iso(row["valid_from"]))  # versions never overlap
        conn.execute(
            "UPDATE versions SET valid_to = ? WHERE engram_rowid = ? AND valid_to IS NULL",
            (to_iso(at), rowid),
        )
        self._insert_version(
            conn,
            cipher,
            rowid,
            eid,
            VersionRecord(
                version, update.text, speaker, update.metadata, update.occurred_at, at, None
            ),
        )
        conn.execute(
            "UPDATE engrams SET text = ?, metadata = ?, occurred_at = ?, keys = ?, "
            "valid_from = ?, version = ? WHERE rowid = ?",
            (
                cipher.seal(update.text, f"engrams.text:{eid}"),
                cipher.seal(_dump(update.metadata), f"engrams.metadata:{eid}"),
                to_iso(update.occurred_at),
                cipher.seal(update.keys, f"engrams.keys:{eid}"),
                to_iso(at),
                version,
                rowid,
            ),
        )
        self._write_vector(conn, cipher, rowid, eid, update.vector, update.model_id)
        self._index_text(
            conn, cipher, rowid, row["namespace"], update.text, update.keys, replace=True
        )

    def facts(
        self, namespace: str, *, subject: str | None = None, attribute: str | None = None
    ) -> list[Fact]:
        # Subject and attribute may be sealed (docs/security.md): filtered and ordered here,
        # after opening, not in SQL. A namespace holds facts by the thousand at most.
        with self._read() as conn:
            rows = conn.execute(
                "SELECT f.*, e.id AS engram_id, e.text AS text FROM facts f "
                "JOIN engrams e ON e.rowid = f.engram_rowid WHERE f.namespace = ?",
                (namespace,),
            ).fetchall()
            cipher = self._cipher(conn, namespace)
            sources: dict[int, list[str]] = {}
            for link in conn.execute(
                "SELECT p.derived_rowid, s.id FROM provenance p "
                "JOIN engrams s ON s.rowid = p.source_rowid "
                "JOIN facts f ON f.engram_rowid = p.derived_rowid "
                "WHERE f.namespace = ? ORDER BY p.derived_rowid, p.source_rowid",
                (namespace,),
            ):
                sources.setdefault(int(link[0]), []).append(link[1])
        opened = []
        for r in rows:
            eid = r["engram_id"]
            fact_subject = cipher.open(r["subject"], f"facts.subject:{eid}")
            fact_attribute = cipher.open(r["attribute"], f"facts.attribute:{eid}")
            if (subject is not None and fact_subject != subject) or (
                attribute is not None and fact_attribute != attribute
            ):
                continue
            order = (fact_subject, fact_attribute, r["valid_from"], int(r["engram_rowid"]))
            opened.append((order, r))
        opened.sort(key=lambda item: item[0])
        return [
            Fact(
                engram_id=r["engram_id"],
                namespace=namespace,
                subject=subject_,
                attribute=attribute_,
                value=cipher.open(r["value"], f"facts.value:{r['engram_id']}"),
                text=cipher.open(r["text"], f"engrams.text:{r['engram_id']}"),
                valid_from=from_iso(r["valid_from"]),
                valid_to=None if r["valid_to"] is None else from_iso(r["valid_to"]),
                recorded_at=from_iso(r["recorded_at"]),
                invalidated_at=None
                if r["invalidated_at"] is None
                else from_iso(r["invalidated_at"]),
                status=r["status"],
                superseded_by=r["superseded_by"],
                sources=tuple(sources.get(int(r["engram_rowid"]), ())),
            )
            for (subject_, attribute_, _, _), r in opened
        ]

    def links(self, namespace: str) -> list[Link]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT d.id, s.id, p.relation FROM provenance p "
                "JOIN engrams d ON d.rowid = p.derived_rowid "
                "JOIN engrams s ON s.rowid = p.source_rowid "
                "WHERE d.namespace = ? ORDER BY p.derived_rowid, p.source_rowid",
                (namespace,),
            ).fetchall()
        return [Link(r[0], r[1], r[2]) for r in rows]

    def consumed(self, namespace: str) -> dict[str, int]:
        with self._read() as conn:
            return {
                r[0]: int(r[1])
                for r in conn.execute(
                    "SELECT e.id, c.version FROM consolidated c "
                    "JOIN engrams e ON e.rowid = c.engram_rowid WHERE e.namespace = ?",
                    (namespace,),
                )
            }

    def restore_consolidation(
        self,
        namespace: str,
        facts: Sequence[Fact],
        links: Sequence[Link],
        consumed: Mapping[str, int],
    ) -> None:
        named = {f.engram_id for f in facts} | set(consumed)
        for link in links:
            named.update((link.derived_id, link.source_id))
        if not named:
            return
        with self._db.write("restoring consolidation", refusable=True) as conn:
            rowids = self._rowids_of(namespace, sorted(named))
            missing = named - rowids.keys()
            if missing:
                raise StoreError(
                    f"cannot restore consolidation: memories not in {namespace!r}: "
                    f"{sorted(missing)[:3]}"
                )
            cipher = self._cipher(conn, namespace, create=True)
            conn.executemany(
                _INSERT_FACT, [_fact_row(cipher, rowids[f.engram_id], f) for f in facts]
            )
            conn.executemany(
                "INSERT OR IGNORE INTO provenance (derived_rowid, source_rowid, relation) "
                "VALUES (?, ?, ?)",
                [(rowids[k.derived_id], rowids[k.source_id], k.relation) for k in links],
            )
            conn.executemany(
                "INSERT INTO consolidated (engram_rowid, version) VALUES (?, ?) "
                "ON CONFLICT (engram_rowid) DO UPDATE SET version = excluded.version",
                [(rowids[eid], version) for eid, version in consumed.items()],
            )
            generation = self._bump(conn, namespace)
        with self._lock:  # fact validity changed: rankings must see it
            loaded = self._vectors.get(namespace)
            if loaded is not None and loaded.generation == generation - 1:
                loaded.generation = generation
                loaded.catalog = None

    # -- maintenance ------------------------------------------------------------

    def reindex(self, namespace: str | None = None) -> int:
        with self._db.write("reindex") as conn:
            if namespace is None:
                conn.execute("DELETE FROM engram_fts")
                rows = conn.execute("SELECT rowid, id, namespace, text, keys FROM engrams")
            else:
                conn.execute(
                    "DELETE FROM engram_fts WHERE rowid IN "
                    "(SELECT rowid FROM engrams WHERE namespace = ?)",
                    (namespace,),
                )
                rows = conn.execute(
                    "SELECT rowid, id, namespace, text, keys FROM engrams WHERE namespace = ?",
                    (namespace,),
                )
            cipher_of = self._keys.ciphers(conn)
            count = _refill_lexical(
                conn,
                (
                    (
                        rowid,
                        ns,
                        cipher_of(ns).open(text, f"engrams.text:{eid}"),
                        cipher_of(ns).open(keys, f"engrams.keys:{eid}"),
                    )
                    for rowid, eid, ns, text, keys in rows.fetchall()
                ),
                cipher_of,
            )
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
            overhead = OVERHEAD if self._keys.vectors_sealed else 0
            count = int(conn.execute(_VECTOR_SIZE_CHECK, (overhead,)).fetchone()[0])
            if count:
                problems.append(f"vectors whose size does not match their dims: {count}")
            problems.extend(self._index_problems(conn))
            if self._keys.encrypted:
                problems.extend(self._sealing_problems(conn))
        if not self.read_only:
            try:
                with self._db.write("lexical index check") as conn:
                    conn.execute(
                        "INSERT INTO engram_fts (engram_fts, rank) VALUES ('integrity-check', 0)"
                    )
            except StoreError as exc:
                problems.append(f"lexical index: {exc.__cause__ or exc}")
        return problems

    def _sealing_problems(self, conn: sqlite3.Connection) -> list[str]:
        """Every sealed value of an encrypted store opens (a flipped bit anywhere shows)."""
        failed: dict[str, int] = {}
        cipher_of = self._keys.ciphers(conn)
        columns = ("text", "keys", "metadata", "speaker")
        for table, sql in (
            ("engrams", "SELECT namespace, id, '', text, keys, metadata, speaker FROM engrams"),
            (
                "versions",
                "SELECT e.namespace, e.id, ':' || v.version, v.text, NULL, v.metadata, v.speaker "
                "FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid",
            ),
        ):
            for ns, eid, tail, *values in conn.execute(sql):
                cipher = cipher_of(ns)
                for column, value in zip(columns, values, strict=True):
                    if value is None and column in ("keys", "speaker"):
                        continue
                    try:
                        cipher.open(value, f"{table}.{column}:{eid}{tail}")
                    except DecryptionError:
                        failed[table] = failed.get(table, 0) + 1
        for row in conn.execute(
            "SELECT e.namespace, e.id, f.subject, f.attribute, f.value FROM facts f "
            "JOIN engrams e ON e.rowid = f.engram_rowid"
        ):
            cipher = cipher_of(row[0])
            for column, value in zip(("subject", "attribute", "value"), row[2:], strict=True):
                try:
                    cipher.open(value, f"facts.{column}:{row[1]}")
                except DecryptionError:
                    failed["facts"] = failed.get("facts", 0) + 1
        for row in conn.execute(
            "SELECT e.namespace, e.id, v.data, d.emotion FROM engrams e "
            "LEFT JOIN vectors v ON v.engram_rowid = e.rowid "
            "LEFT JOIN dynamics d ON d.engram_rowid = e.rowid"
        ):
            cipher = cipher_of(row[0])
            checks = [("dynamics", row[3], f"dynamics.emotion:{row[1]}")]
            if self._keys.vectors_sealed:
                checks.append(("vectors", row[2], f"vectors:{row[1]}"))
            for table, value, aad in checks:
                if value is None:
                    continue
                try:
                    cipher.open_bytes(value, aad)
                except DecryptionError:
                    failed[table] = failed.get(table, 0) + 1
        return [f"{table}: {n} values fail to decrypt" for table, n in sorted(failed.items())]

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
            current = loaded is not None and loaded.generation == counted.get(namespace)
            if loaded is not None and current and len(loaded.index) != count:
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
        partial = target.with_name(f".{target.name}.partial")
        try:
            with failures("backup"):
                partial.unlink(missing_ok=True)
                # a backup holds every memory: owner-only, like the store (docs/security.md)
                private_file(partial)
                copy = sqlite3.connect(partial, isolation_level=None)
                try:
                    with self._lock:
                        self._db.check_open()
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
        scratch_dir = Path.cwd() if self.path == ":memory:" else Path(self.path).parent
        scratch = scratch_dir / f".{Path(self.path).name}.restore-{os.getpid()}"
        try:
            with failures("restore from backup"):
                _copy_database(source, scratch)
                # the backup must open with this store's key (and be encrypted iff it is)
                verified = SqliteStore(
                    scratch,
                    ann_threshold=self.ann_threshold,
                    dims=self.dims,
                    encryption=self._keys.source,
                )
                try:
                    problems = verified.check()
                    if problems:
                        raise IntegrityError(
                            f"the backup {source} failed its checks, nothing was restored: "
                            + "; ".join(problems[:5])
                        )
                    count = sum(verified.stats(ns).engrams for ns in verified.namespaces())
                    with self._lock:
                        self._db.check_open()
                        if self.read_only:
                            raise StoreError("cannot restore: the store is read-only")
                        verified._conn.backup(self._conn)
                        with self._db.transaction() as conn:
                            conn.execute(
                                "UPDATE namespace_state SET generation = "
                                "(random() & 4611686018427387903) + 1"
                            )
                            # the backup's own encryption record and data keys now apply
                            self._keys.attach(DataKeys.recorded(conn), self.path)
                        self._vectors.clear()
                finally:
                    verified.close()
        except OSError as exc:
            raise StoreError(f"restore from {source} failed: {exc}") from exc
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        return count

    def close(self) -> None:
        with self._lock:
            if self._db.closed:
                return
            self._vectors.clear()
            if self._fts_dirty and not self.read_only and not self._db.in_memory:
                # the retry of an erasure's FTS optimize (and, in Database.close, the
                # checkpoint) that another process blocked (docs/security.md)
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("INSERT INTO engram_fts(engram_fts) VALUES ('optimize')")
            self._db.close()

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
                    "SELECT v.engram_rowid, v.scale, v.data, e.id FROM vectors v "
                    "JOIN engrams e ON e.rowid = v.engram_rowid WHERE e.namespace = ? "
                    "ORDER BY v.engram_rowid",
                    (namespace,),
                ).fetchall()
                sealed = self._keys.vectors_sealed
                cipher = self._cipher(conn, namespace) if sealed and rows else None
                data = (
                    [r[2] for r in rows]
                    if cipher is None
                    else [cipher.open_bytes(r[2], f"vectors:{r[3]}") for r in rows]
                )
                wrong = next(
                    (r[3] for d, r in zip(data, rows, strict=True) if len(d) != self.dims), None
                )
                if wrong is not None:
                    if not self._keys.encrypted and DataKeys.recorded(conn) is not None:
                        raise DecryptionError(
                            "the store was encrypted since it was opened: reopen it with its "
                            "master key"
                        )
                    raise IntegrityError(
                        f"the stored vector of memory {wrong} does not have {self.dims} "
                        "dimensions ('engram check' lists the damage)"
                    )
            if rows:
                keys = [int(r[0]) for r in rows]
                matrix = np.stack(
                    [dequantize(d, float(r[1])) for d, r in zip(data, rows, strict=True)]
                )
                index.add(keys, matrix)
            self._vectors[namespace] = _NamespaceVectors(index, generation)
            return index

    def _index_added(
        self,
        namespace: str,
        rows: list[tuple[int, npt.NDArray[np.float32]]],
        generation: int,
        *,
        appended: bool = False,
    ) -> None:
        """Apply our own committed write to a loaded index, if it was current before it.

        ``appended``: the rows are new memories (not changed ones), so a built
        catalog is extended with them at its next read instead of rebuilt.
        """
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
            if appended and loaded.catalog is not None:
                loaded.appended += keys
            else:
                loaded.catalog = None

    def _ids_of(self, rowids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        with self._read() as conn:
            for chunk in _chunks(list(rowids), 500):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT rowid, id FROM engrams WHERE rowid IN ({marks})",
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
                    f"SELECT id, rowid FROM engrams WHERE namespace = ? AND id IN ({marks})",
                    (namespace, *chunk),
                ):
                    out[row[0]] = int(row[1])
        return out


def _with_orphaned_derived(conn: sqlite3.Connection, rowid: int) -> list[int]:
    """``rowid`` and every derived memory (fact, summary) that would be left with no
    source once it is gone, transitively (docs/consolidation.md; erasure builds on it).

    Episodes are never taken along: a "duplicate" link between two episodes
    records a likeness, not a derivation. A summary is taken along as soon as
    any one of its sources goes, even if others remain: it is extractive, so it
    may quote the erased turn verbatim (and its history may too). It is not
    rebuilt here; the next consolidation that touches the session writes a
    fresh one from the turns that remain (docs/security.md).
    """
    doomed = [rowid]
    gone = {rowid}
    frontier = [rowid]
    while frontier:
        marks = ",".join("?" * len(frontier))
        derived = {
            int(r[0]): str(r[1])
            for r in conn.execute(
                f"SELECT DISTINCT p.derived_rowid, d.kind FROM provenance p "
                f"JOIN engrams d ON d.rowid = p.derived_rowid "
                f"WHERE p.source_rowid IN ({marks}) AND d.kind != 'episode'",
                frontier,
            )
        }
        frontier = []
        for candidate, kind in derived.items():
            if candidate in gone:
                continue
            sources = {
                int(r[0])
                for r in conn.execute(
                    "SELECT source_rowid FROM provenance WHERE derived_rowid = ?", (candidate,)
                )
            }
            if sources <= gone or kind == "summary":
                gone.add(candidate)
                doomed.append(candidate)
                frontier.append(candidate)
    return doomed


_INSERT_FACT = (
    "INSERT INTO facts (engram_rowid, namespace, subject, attribute, value, valid_from, "
    "valid_to, recorded_at, invalidated_at, status, superseded_by) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _as_fact(row: FactRow, namespace: str, at: datetime) -> Fact:
    """A consolidation batch's fact row as a ``Fact`` recorded ``at`` (and closed
    then, when it arrives with its validity already ended)."""
    return Fact(
        engram_id=row.engram_id,
        namespace=namespace,
        subject=row.subject,
        attribute=row.attribute,
        value=row.value,
        text="",
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        recorded_at=at,
        invalidated_at=None if row.valid_to is None else at,
        status=row.status,
        superseded_by=row.superseded_by,
    )


def _fact_row(cipher: Cipher, rowid: int, f: Fact) -> tuple[Any, ...]:
    """The parameters of ``_INSERT_FACT`` for ``f``: subject, attribute and value sealed."""
    return (
        rowid,
        f.namespace,
        cipher.seal(f.subject, f"facts.subject:{f.engram_id}"),
        cipher.seal(f.attribute, f"facts.attribute:{f.engram_id}"),
        cipher.seal(f.value, f"facts.value:{f.engram_id}"),
        to_iso(f.valid_from),
        None if f.valid_to is None else to_iso(f.valid_to),
        to_iso(f.recorded_at),
        None if f.invalidated_at is None else to_iso(f.invalidated_at),
        f.status,
        f.superseded_by,
    )


def _seal_in_place(conn: sqlite3.Connection, keys: DataKeys) -> int:
    """Seal every value of a plaintext store with ``keys`` (inside the caller's
    transaction) and rebuild the lexical index blind; the number of memories."""
    cipher = keys.ciphers(conn, create=True)
    rows = conn.execute(
        "SELECT rowid, id, namespace, text, keys, metadata, speaker FROM engrams"
    ).fetchall()
    for rowid, eid, ns, text, index_keys, metadata, speaker in rows:
        c = cipher(ns)
        conn.execute(
            "UPDATE engrams SET text = ?, keys = ?, metadata = ?, speaker = ? WHERE rowid = ?",
            (
                c.seal(text, f"engrams.text:{eid}"),
                c.seal(index_keys, f"engrams.keys:{eid}"),
                c.seal(metadata, f"engrams.metadata:{eid}"),
                _seal_optional(c, speaker, f"engrams.speaker:{eid}"),
                rowid,
            ),
        )
    for rowid, version, eid, ns, text, speaker, metadata in conn.execute(
        "SELECT v.engram_rowid, v.version, e.id, e.namespace, v.text, v.speaker, v.metadata "
        "FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid"
    ).fetchall():
        c, aad = cipher(ns), f"{eid}:{version}"
        conn.execute(
            "UPDATE versions SET text = ?, speaker = ?, metadata = ? "
            "WHERE engram_rowid = ? AND version = ?",
            (
                c.seal(text, f"versions.text:{aad}"),
                _seal_optional(c, speaker, f"versions.speaker:{aad}"),
                c.seal(metadata, f"versions.metadata:{aad}"),
                rowid,
                version,
            ),
        )
    for rowid, eid, ns, subject, attribute, value in conn.execute(
        "SELECT f.engram_rowid, e.id, e.namespace, f.subject, f.attribute, f.value "
        "FROM facts f JOIN engrams e ON e.rowid = f.engram_rowid"
    ).fetchall():
        c = cipher(ns)
        conn.execute(
            "UPDATE facts SET subject = ?, attribute = ?, value = ? WHERE engram_rowid = ?",
            (
                c.seal(subject, f"facts.subject:{eid}"),
                c.seal(attribute, f"facts.attribute:{eid}"),
                c.seal(value, f"facts.value:{eid}"),
                rowid,
            ),
        )
    for rowid, eid, ns, valence, arousal, emotion in conn.execute(
        "SELECT d.engram_rowid, e.id, e.namespace, d.valence, d.arousal, d.emotion "
        "FROM dynamics d JOIN engrams e ON e.rowid = d.engram_rowid"
    ).fetchall():
        conn.execute(
            "UPDATE dynamics SET valence = ?, arousal = ?, emotion = ? WHERE engram_rowid = ?",
            (*_seal_emotion(cipher(ns), eid, float(valence), float(arousal), emotion), rowid),
        )
    if keys.vectors_sealed:
        for rowid, eid, ns, data in conn.execute(
            "SELECT v.engram_rowid, e.id, e.namespace, v.data "
            "FROM vectors v JOIN engrams e ON e.rowid = v.engram_rowid"
        ).fetchall():
            conn.execute(
                "UPDATE vectors SET data = ? WHERE engram_rowid = ?",
                (cipher(ns).seal_bytes(bytes(data), f"vectors:{eid}"), rowid),
            )
    conn.execute("DELETE FROM engram_fts")
    _refill_lexical(conn, ((r[0], r[2], r[3], r[4]) for r in rows), cipher)
    return len(rows)


def _refill_lexical(
    conn: sqlite3.Connection,
    rows: Iterable[tuple[int, str, str, str]],
    cipher_of: Callable[[str], Cipher],
) -> int:
    """Index ``rows`` (rowid, namespace, text, keys; plaintext) after their FTS rows
    were deleted, then merge the segments; the number of rows indexed.

    DELETE removes index entries by re-tokenising FTS5's stored copy of each
    row, so an index that no longer matches that copy (the damage ``check()``
    reports as "lexical index: ...") keeps stray entries; 'rebuild' first
    resets the index from the rows that remain.
    """
    conn.execute("INSERT INTO engram_fts (engram_fts) VALUES ('rebuild')")
    count = 0
    for rowid, namespace, text, keys in rows:
        SqliteStore._index_text(conn, cipher_of(namespace), rowid, namespace, text, keys)
        count += 1
    conn.execute("INSERT INTO engram_fts (engram_fts) VALUES ('optimize')")
    return count


def _seal_optional(cipher: Cipher, value: str | None, aad: str) -> str | bytes | None:
    return None if value is None else cipher.seal(value, aad)


def _open_optional(cipher: Cipher, value: object, aad: str) -> str | None:
    return None if value is None else cipher.open(value, aad)


def _seal_emotion(
    cipher: Cipher, engram_id: str, valence: float, arousal: float, emotion: str
) -> tuple[float, float, str | bytes]:
    """(valence, arousal, emotion) as stored: in an encrypted store, all three
    sealed in the emotion column (how someone felt is personal) and zeros beside."""
    if not cipher.encrypted:
        return valence, arousal, emotion
    # "valence|arousal|label": floats by repr (exact), the label last (it may hold "|")
    sealed = cipher.seal(f"{valence!r}|{arousal!r}|{emotion}", f"dynamics.emotion:{engram_id}")
    return 0.0, 0.0, sealed


def _dynamics_of(row: sqlite3.Row, cipher: Cipher) -> list[Any]:
    """The row's dynamics as a list (stability, importance, valence, arousal, emotion,
    recalls, last recalled, dormant); the defaults where the memory has none."""
    present = "d_stability_days" in row.keys()  # noqa: SIM118 (sqlite3.Row)
    if not present or row["d_stability_days"] is None:
        return [DEFAULT_STABILITY_DAYS, DEFAULT_IMPORTANCE, 0.0, 0.0, "neutral", 0, None, 0]
    values = [row[f"d_{name}"] for name in _DYNAMICS_FIELDS]
    if cipher.encrypted:
        valence, arousal, emotion = cipher.open(values[4], f"dynamics.emotion:{row['id']}").split(
            "|", 2
        )
        values[2:5] = float(valence), float(arousal), emotion
    return values


def _dynamics(rows: Sequence[sqlite3.Row], texts: Sequence[str], cipher: Cipher) -> Dynamics:
    values = [_dynamics_of(r, cipher) for r in rows]
    occurred = [from_iso(r["occurred_at"]).timestamp() for r in rows]
    last_used = [
        max(at, from_iso(v[6]).timestamp()) if v[6] is not None else at
        for v, at in zip(values, occurred, strict=True)
    ]
    return Dynamics(
        stability_days=np.array([float(v[0]) for v in values], dtype=np.float64),
        importance=np.array([float(v[1]) for v in values], dtype=np.float64),
        valence=np.array([float(v[2]) for v in values], dtype=np.float64),
        arousal=np.array([float(v[3]) for v in values], dtype=np.float64),
        emotions=tuple(str(v[4]) for v in values),
        last_used_at=np.array(last_used, dtype=np.float64),
        recalls=np.array([int(v[5]) for v in values], dtype=np.int64),
        dormant=np.array([bool(v[7]) for v in values], dtype=np.bool_),
        sizes=np.array([len(t.encode("utf-8")) for t in texts], dtype=np.int64),
    )


def _patched(catalog: Catalog, updates: Sequence[DynamicsUpdate]) -> Catalog:
    """The catalog with ``updates`` applied to copies of its dynamics arrays."""
    if catalog.dynamics is None or not updates:
        return catalog
    d = catalog.dynamics
    row_of = {engram_id: i for i, engram_id in enumerate(catalog.ids)}
    stability, importance = d.stability_days.copy(), d.importance.copy()
    last_used, recalls, dormant = d.last_used_at.copy(), d.recalls.copy(), d.dormant.copy()
    for u in updates:
        row = row_of.get(u.id)
        if row is None:
            continue
        if u.stability_days is not None:
            stability[row] = u.stability_days
        if u.importance is not None:
            importance[row] = u.importance
        if u.last_recalled_at is not None:
            last_used[row] = max(catalog.occurred_at[row], u.last_recalled_at.timestamp())
        if u.recalls is not None:
            recalls[row] = u.recalls
        if u.dormant is not None:
            dormant[row] = u.dormant
    return replace(
        catalog,
        dynamics=replace(
            d,
            stability_days=stability,
            importance=importance,
            last_used_at=last_used,
            recalls=recalls,
            dormant=dormant,
        ),
    )


def _engram(row: sqlite3.Row, cipher: Cipher) -> Engram:
    dynamics = _dynamics_of(row, cipher)
    eid = row["id"]
    return Engram(
        id=eid,
        namespace=row["namespace"],
        text=cipher.open(row["text"], f"engrams.text:{eid}"),
        occurred_at=from_iso(row["occurred_at"]),
        recorded_at=from_iso(row["recorded_at"]),
        valid_from=from_iso(row["valid_from"]),
        session=row["session"],
        speaker=_open_optional(cipher, row["speaker"], f"engrams.speaker:{eid}"),
        metadata=json.loads(cipher.open(row["metadata"], f"engrams.metadata:{eid}")),
        kind=row["kind"],
        version=int(row["version"]),
        stability_days=float(dynamics[0]),
        importance=float(dynamics[1]),
        valence=float(dynamics[2]),
        arousal=float(dynamics[3]),
        emotion=str(dynamics[4]),
        recalls=int(dynamics[5]),
        last_recalled_at=None if dynamics[6] is None else from_iso(dynamics[6]),
        dormant=bool(dynamics[7]),
    )


def _dump(metadata: Mapping[str, Any]) -> str:
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


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
