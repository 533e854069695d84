"""The keys of an encrypted SQLite store, and which cipher a namespace gets (docs/security.md).

Owns the ``crypto`` row and the ``namespace_keys`` table (migration 4): turning
encryption on for a new store, checking the master key when a store opens, a
data key per namespace (made inside the transaction that writes the
namespace's first memory, so a rollback leaves none behind), erasing it with
the namespace, and re-wrapping every data key under a new master key. Also
the two passes over every sealed column: sealing a plaintext store in place,
and finding values that no longer open. The store asks it for a cipher per
namespace and seals or opens values with it; what a value's sealed form is
lives in ``engramdb.store.codec``, the cryptography in
``engramdb.security.crypto``.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING

from engramdb.clock import to_iso
from engramdb.config import EncryptionKey
from engramdb.errors import DecryptionError, IntegrityError
from engramdb.security import datakeys
from engramdb.security.crypto import PLAIN
from engramdb.security.datakeys import CACHED_CIPHERS, Recorded
from engramdb.store.codec import seal_emotion, seal_optional, sealed_fact, sealed_version
from engramdb.store.keytable import SqlKeyTable
from engramdb.store.sqlite import checksums, identities, learning, lexical, profile
from engramdb.store.sqlite.consolidation import fact_key

if TYPE_CHECKING:
    from engramdb.store.sqlite.database import Database

__all__ = ["CACHED_CIPHERS", "DataKeys", "seal_store", "unopenable"]


class _SqliteKeys(SqlKeyTable):
    """The ``crypto`` row and ``namespace_keys`` of a SQLite store (a ``KeyTable``)."""

    def stamp(self, now: datetime) -> object:
        return to_iso(now)

    def add_key(self, namespace: str, key_id: bytes, wrapped: bytes) -> tuple[bytes, bytes]:
        # one writer at a time: nobody can have made it since ``key_of`` looked
        self.conn.execute(
            "INSERT INTO namespace_keys (namespace, key_id, wrapped, created_at) "
            "VALUES (?, ?, ?, datetime('now'))",
            (namespace, key_id, wrapped),
        )
        return key_id, wrapped


class DataKeys(datakeys.DataKeys[sqlite3.Connection]):
    """The key hierarchy (``security.datakeys``) over a SQLite store's tables."""

    def __init__(self, source: EncryptionKey | None, *, encrypt_vectors: bool) -> None:
        super().__init__(source, _SqliteKeys, encrypt_vectors=encrypt_vectors)

    def open(self, db: Database) -> None:
        """Check the master key of an encrypted store as it opens, or make a new,
        empty store encrypted when a key was given."""
        with db.read() as conn:
            recorded = self.recorded(conn)
        if recorded is None and self.source is not None and not db.read_only:
            with db.transaction() as conn:
                recorded = self.recorded(conn)  # another process may have just done it
                empty = conn.execute("SELECT 1 FROM engrams LIMIT 1").fetchone() is None
                if recorded is None and empty:
                    self.initialise(conn, datetime.now().astimezone())
                    return
        self.attach(recorded, db.path)

    @staticmethod
    def recorded(conn: sqlite3.Connection) -> Recorded | None:
        """The store's encryption record (also read without an open ``DataKeys``)."""
        return _SqliteKeys(conn).recorded()


def seal_store(conn: sqlite3.Connection, keys: DataKeys) -> int:
    """Seal every value of a plaintext store with ``keys`` (inside the caller's
    transaction) and rebuild the lexical index blind; the number of memories.

    The rows' checksums are checked first (a damaged row is refused, not sealed
    as it is) and written anew after, as MACs under the new data keys."""
    damaged = checksums.mismatched(conn, lambda _: PLAIN, encrypted=False)
    if damaged:
        raise IntegrityError(
            "the store has damaged rows, nothing was encrypted: " + "; ".join(damaged)
        )
    cipher = keys.ciphers(conn, create=True)
    rows = conn.execute(
        "SELECT rowid, id, namespace, text, keys, metadata, speaker, analysis FROM engrams"
    ).fetchall()
    for rowid, eid, ns, text, index_keys, metadata, speaker, analysis in rows:
        c = cipher(ns)
        conn.execute(
            "UPDATE engrams SET text = ?, keys = ?, metadata = ?, speaker = ?, analysis = ? "
            "WHERE rowid = ?",
            (
                c.seal(text, f"engrams.text:{eid}"),
                c.seal(index_keys, f"engrams.keys:{eid}"),
                c.seal(metadata, f"engrams.metadata:{eid}"),
                seal_optional(c, speaker, f"engrams.speaker:{eid}"),
                seal_optional(c, analysis, f"engrams.analysis:{eid}"),
                rowid,
            ),
        )
    # the filter index held plain values: it is rebuilt as keyed tokens when next read
    conn.execute("DELETE FROM fields")
    conn.execute("INSERT OR IGNORE INTO fields_pending SELECT DISTINCT namespace FROM engrams")
    identities.seal(conn, cipher)  # plain digests become keyed tags, keys and counts kept
    learning.seal(conn, cipher)
    profile.seal(conn, cipher)  # pinned entries are content: sealed like a memory's text
    for rowid, version, eid, ns, text, speaker, metadata in conn.execute(
        "SELECT v.engram_rowid, v.version, e.id, e.namespace, v.text, v.speaker, v.metadata "
        "FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid"
    ).fetchall():
        conn.execute(
            "UPDATE versions SET text = ?, speaker = ?, metadata = ? "
            "WHERE engram_rowid = ? AND version = ?",
            (
                *sealed_version(cipher(ns), eid, version, text, speaker, metadata),
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
            "UPDATE facts SET subject = ?, attribute = ?, value = ?, lookup = ? "
            "WHERE engram_rowid = ?",
            (
                *sealed_fact(c, eid, subject, attribute, value),
                c.tag(fact_key(subject, attribute)),  # the keyed token, no longer plain
                rowid,
            ),
        )
    for rowid, eid, ns, valence, arousal, emotion in conn.execute(
        "SELECT d.engram_rowid, e.id, e.namespace, d.valence, d.arousal, d.emotion "
        "FROM dynamics d JOIN engrams e ON e.rowid = d.engram_rowid"
    ).fetchall():
        conn.execute(
            "UPDATE dynamics SET valence = ?, arousal = ?, emotion = ? WHERE engram_rowid = ?",
            (*seal_emotion(cipher(ns), eid, float(valence), float(arousal), emotion), rowid),
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
    lexical.refill(conn, ((r[0], r[2], r[3], r[4]) for r in rows), cipher)
    checksums.rewrite_all(conn, cipher)
    return len(rows)


def unopenable(conn: sqlite3.Connection, keys: DataKeys) -> list[str]:
    """Per table, how many sealed values of an encrypted store fail to open (a
    flipped bit anywhere shows); empty when all open."""
    failed: dict[str, int] = {}
    cipher_of = keys.ciphers(conn)
    columns = ("text", "keys", "metadata", "speaker", "analysis")
    for table, sql in (
        (
            "engrams",
            "SELECT namespace, id, '', text, keys, metadata, speaker, analysis FROM engrams",
        ),
        (
            "versions",
            "SELECT e.namespace, e.id, ':' || v.version, v.text, NULL, v.metadata, v.speaker, "
            "NULL FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid",
        ),
    ):
        for ns, eid, tail, *values in conn.execute(sql):
            cipher = cipher_of(ns)
            for column, value in zip(columns, values, strict=True):
                if value is None and column in ("keys", "speaker", "analysis"):
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
        if keys.vectors_sealed:
            checks.append(("vectors", row[2], f"vectors:{row[1]}"))
        for table, value, aad in checks:
            if value is None:
                continue
            try:
                cipher.open_bytes(value, aad)
            except DecryptionError:
                failed[table] = failed.get(table, 0) + 1
    failed_entries = profile.unopenable(conn, cipher_of)
    if failed_entries:
        failed["profile_entries"] = failed_entries
    return [f"{table}: {n} values fail to decrypt" for table, n in sorted(failed.items())]
