"""The pinned profile in a SqliteStore: the ``profile_entries`` table (migration 19).

One row per version of an entry (docs/profile.md): pinning a key again closes
the current row's ``valid_to`` and adds the next version; unpinning closes it;
nothing is updated otherwise or deleted but by ``forget_namespace``. A row is
found by ``tag``, its key as a keyed token in an encrypted namespace (the key
itself in a plaintext one), so the key and the text are sealed like a
memory's text (associated data ``profile.key:`` / ``profile.text:`` with the
namespace, tag and version: a value moved to another row does not open).
Each row carries the checksum of its columns (``checksums.NAMESPACE_TABLES``),
written with it, written again when its ``valid_to`` closes, and checked when it
is read: a damaged row raises, never reads back altered. ``ProfileTable`` is
``SqliteStore``'s share of the ``Store`` methods; what ``pin``, ``unpin`` and
``restore_profile`` write is ``store.pinning``'s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from engramdb.clock import from_iso, to_iso
from engramdb.errors import DecryptionError
from engramdb.model import ProfileEntry
from engramdb.security.crypto import Cipher
from engramdb.store import pinning
from engramdb.store.codec import profile_aad
from engramdb.store.sqlite import checksums

if TYPE_CHECKING:
    from engramdb.store.sqlite.database import Database
    from engramdb.store.sqlite.sealing import DataKeys

__all__ = ["ProfileTable", "forget", "read", "seal", "unopenable"]

_TABLE = next(t for t in checksums.NAMESPACE_TABLES if t.name == "profile_entries")
_FIELDS = ", ".join(_TABLE.fields)  # namespace, tag, version, key, text, source, validity


def read(conn: sqlite3.Connection, cipher: Cipher, namespace: str) -> list[ProfileEntry]:
    """Every version of the namespace's entries, by key, then version; a row that does
    not match its checksum raises (``IntegrityError``, or ``DecryptionError`` in an
    encrypted store), naming its version and tag (the key in a plaintext store)."""
    found = conn.execute(
        f"SELECT {_FIELDS}, checksum FROM profile_entries WHERE namespace = ?", (namespace,)
    ).fetchall()
    for row in found:
        checksums.verify_namespaced(
            row,
            cipher,
            _TABLE,
            f"profile entry {row[1]!r} version {row[2]} of namespace {namespace!r}",
        )
    rows = [tuple(row[1:-1]) for row in found]
    entries = [
        ProfileEntry(
            key=cipher.open(key, profile_aad("key", namespace, tag, version)),
            text=cipher.open(text, profile_aad("text", namespace, tag, version)),
            version=int(version),
            valid_from=from_iso(valid_from),
            valid_to=None if valid_to is None else from_iso(valid_to),
            source_id=source_id,
        )
        for tag, version, key, text, source_id, valid_from, valid_to in rows
    ]
    return sorted(entries, key=lambda e: (e.key, e.version))


def _insert(conn: sqlite3.Connection, cipher: Cipher, namespace: str, entry: ProfileEntry) -> None:
    tag = cipher.tag(entry.key)
    row = (
        namespace,
        tag,
        entry.version,
        cipher.seal(entry.key, profile_aad("key", namespace, tag, entry.version)),
        cipher.seal(entry.text, profile_aad("text", namespace, tag, entry.version)),
        entry.source_id,
        to_iso(entry.valid_from),
        None if entry.valid_to is None else to_iso(entry.valid_to),
    )
    conn.execute(
        f"INSERT INTO profile_entries ({_FIELDS}, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*row, checksums.of_row(cipher, _TABLE, row)),
    )


def _close(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, key: str, at: datetime
) -> None:
    """Close the entry's pinned version at ``at``, with the checksum of the row as it
    then is (the callers read, and so checked, the namespace's rows just before)."""
    current = conn.execute(
        f"SELECT {_FIELDS} FROM profile_entries "
        "WHERE namespace = ? AND tag = ? AND valid_to IS NULL",
        (namespace, cipher.tag(key)),
    ).fetchall()
    for row in current:
        closed = (*tuple(row)[:-1], to_iso(at))
        conn.execute(
            "UPDATE profile_entries SET valid_to = ?, checksum = ? "
            "WHERE namespace = ? AND tag = ? AND version = ?",
            (closed[-1], checksums.of_row(cipher, _TABLE, closed), *closed[:3]),
        )


def forget(conn: sqlite3.Connection, namespace: str) -> None:
    conn.execute("DELETE FROM profile_entries WHERE namespace = ?", (namespace,))


def seal(conn: sqlite3.Connection, cipher_of: Callable[[str], Cipher]) -> None:
    """Seal every plain row (``seal_store``, inside its transaction, which checked the
    rows' checksums before and writes them anew after)."""
    for namespace, key, version, text in conn.execute(
        "SELECT namespace, key, version, text FROM profile_entries"
    ).fetchall():
        cipher = cipher_of(namespace)
        tag = cipher.tag(key)
        conn.execute(
            "UPDATE profile_entries SET tag = ?, key = ?, text = ? "
            "WHERE namespace = ? AND tag = ? AND version = ?",
            (
                tag,
                cipher.seal(key, profile_aad("key", namespace, tag, version)),
                cipher.seal(text, profile_aad("text", namespace, tag, version)),
                namespace,
                key,
                version,
            ),
        )


def unopenable(conn: sqlite3.Connection, cipher_of: Callable[[str], Cipher]) -> int:
    """How many sealed values of the table fail to open."""
    failed = 0
    for namespace, tag, version, key, text in conn.execute(
        "SELECT namespace, tag, version, key, text FROM profile_entries"
    ):
        cipher = cipher_of(namespace)
        for column, value in (("key", key), ("text", text)):
            try:
                cipher.open(value, profile_aad(column, namespace, tag, version))
            except DecryptionError:
                failed += 1
    return failed


class ProfileTable(pinning.ProfileTable[sqlite3.Connection]):
    """``store.pinning``'s profile methods over this store's ``profile_entries``."""

    _db: Database
    _keys: DataKeys

    def _transactions(self) -> tuple[Database, DataKeys]:
        return self._db, self._keys

    def _profile_rows(
        self, conn: sqlite3.Connection, cipher: Cipher, namespace: str
    ) -> list[ProfileEntry]:
        return read(conn, cipher, namespace)

    def _close_pinned(
        self, conn: sqlite3.Connection, cipher: Cipher, namespace: str, key: str, at: datetime
    ) -> None:
        _close(conn, cipher, namespace, key, at)

    def _insert_pinned(
        self, conn: sqlite3.Connection, cipher: Cipher, namespace: str, entry: ProfileEntry
    ) -> None:
        _insert(conn, cipher, namespace, entry)
