"""What a namespace learned, in a SqliteStore: the ``learned`` table (migration 17).

Owns the SQL of ``Store.learn`` / ``learned`` / ``unlearn`` (docs/learning.md):
one row per item, keyed by namespace, kind and key, its JSON value sealed with
the namespace's cipher (``learned.value:<namespace>:<kind>:<key>`` as the
associated data, so a value moved to another row or namespace does not open).
Each row carries the checksum of its columns (``checksums.NAMESPACE_TABLES``),
written with it and checked when it is read: a damaged row raises, never reads
back altered. ``LearningRows`` gives ``SqliteStore`` the three ``Store`` methods
over them. What the values mean (feedback, searches, ranker weights) is
``engramdb.learn``'s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from engramdb.clock import from_iso, to_iso
from engramdb.security.crypto import Cipher
from engramdb.store.base import Learned
from engramdb.store.codec import learned_aad
from engramdb.store.sqlite import checksums

if TYPE_CHECKING:
    from engramdb.store.sqlite.database import Database
    from engramdb.store.sqlite.sealing import DataKeys

__all__ = ["LearningRows", "forget", "read", "remove", "seal", "write"]


class LearningRows:
    """``Store.learn``, ``learned`` and ``unlearn`` of a ``SqliteStore``, mixed into it:
    each one transaction or one read snapshot of its database."""

    _db: Database
    _keys: DataKeys

    def learn(self, namespace: str, items: Sequence[Learned]) -> None:
        with self._db.write("learn") as conn:
            write(conn, self._keys.cipher(conn, namespace, create=True), namespace, items)

    def learned(self, namespace: str, kind: str) -> list[Learned]:
        with self._db.read() as conn:
            return read(conn, self._keys.cipher(conn, namespace), namespace, kind)

    def unlearn(self, namespace: str, kinds: Sequence[str]) -> int:
        if not kinds:
            return 0
        with self._db.write("unlearn") as conn:
            return remove(conn, namespace, kinds)


_TABLE = next(t for t in checksums.NAMESPACE_TABLES if t.name == "learned")
_FIELDS = ", ".join(_TABLE.fields)


def write(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, items: Sequence[Learned]
) -> None:
    rows = [
        (
            namespace,
            item.kind,
            item.key,
            cipher.seal(item.value, learned_aad(namespace, item.kind, item.key)),
            to_iso(item.recorded_at),
        )
        for item in items
    ]
    conn.executemany(
        f"INSERT OR REPLACE INTO learned ({_FIELDS}, checksum) VALUES (?, ?, ?, ?, ?, ?)",
        [(*row, checksums.of_row(cipher, _TABLE, row)) for row in rows],
    )


def read(conn: sqlite3.Connection, cipher: Cipher, namespace: str, kind: str) -> list[Learned]:
    """The namespace's items of ``kind``, oldest first; a row that does not match its
    checksum raises (``IntegrityError``, or ``DecryptionError`` in an encrypted store)."""
    rows = conn.execute(
        f"SELECT {_FIELDS}, checksum FROM learned WHERE namespace = ? AND kind = ? "
        "ORDER BY recorded_at, key",
        (namespace, kind),
    ).fetchall()
    for row in rows:
        checksums.verify_namespaced(
            row, cipher, _TABLE, f"learned {kind} {row[2]!r} of namespace {namespace!r}"
        )
    return [
        Learned(kind, key, cipher.open(value, learned_aad(namespace, kind, key)), from_iso(at))
        for _, _, key, value, at, _ in rows
    ]


def remove(conn: sqlite3.Connection, namespace: str, kinds: Sequence[str]) -> int:
    marks = ",".join("?" * len(kinds))
    cursor = conn.execute(
        f"DELETE FROM learned WHERE namespace = ? AND kind IN ({marks})",
        (namespace, *kinds),
    )
    return max(cursor.rowcount, 0)


def forget(conn: sqlite3.Connection, namespace: str) -> None:
    """Everything the namespace learned goes with it (erasure, docs/security.md)."""
    conn.execute("DELETE FROM learned WHERE namespace = ?", (namespace,))


def seal(conn: sqlite3.Connection, cipher_of: Callable[[str], Cipher]) -> None:
    """Seal every plaintext value in place (``seal_store``: a store encrypted in place,
    which checked the rows' checksums before and writes them anew after)."""
    for namespace, kind, key, value in conn.execute(
        "SELECT namespace, kind, key, value FROM learned"
    ).fetchall():
        conn.execute(
            "UPDATE learned SET value = ? WHERE namespace = ? AND kind = ? AND key = ?",
            (
                cipher_of(namespace).seal(value, learned_aad(namespace, kind, key)),
                namespace,
                kind,
                key,
            ),
        )
