"""The pinned profile in a PostgresStore: the ``profile_entries`` table (migration 6).

One row per version of an entry (docs/profile.md), as in the SQLite store
(``store/sqlite/profile.py``): pinning a key again closes the current row's
``valid_to`` and adds the next version; unpinning closes it. A pin or unpin
first takes a transaction lock on the namespace's profile, so two writers of
one namespace's profile take turns and the limits hold across processes.
``ProfileTable`` is ``PostgresStore``'s share of the ``Store`` methods; what
``pin``, ``unpin`` and ``restore_profile`` write is ``store.pinning``'s. In an
encrypted store an entry is content (docs/profile.md): its text is sealed, and
its key is sealed in ``sealed_key`` with a keyed tag of it in ``key``, as in the
SQLite store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from engramdb.model import ProfileEntry
from engramdb.security.crypto import Cipher
from engramdb.store import pinning
from engramdb.store.codec import profile_aad

if TYPE_CHECKING:
    from engramdb.store.postgres.database import Connection, Database
    from engramdb.store.postgres.sealed import DataKeys

__all__ = ["ProfileTable", "seal"]

_COLUMNS = "key, text, version, valid_from, valid_to, source_id, sealed_key"


def _read(conn: Connection, cipher: Cipher, namespace: str) -> list[ProfileEntry]:
    found = conn.execute(
        f"SELECT {_COLUMNS} FROM profile_entries WHERE namespace = %s ORDER BY key, version",
        (namespace,),
    )
    if not cipher.encrypted:
        return [ProfileEntry(*row[:-1]) for row in found]
    entries = [
        ProfileEntry(
            cipher.open(sealed_key, profile_aad("key", namespace, tag, version)),
            cipher.open(text, profile_aad("text", namespace, tag, version)),
            version,
            valid_from,
            valid_to,
            source_id,
        )
        for tag, text, version, valid_from, valid_to, source_id, sealed_key in found
    ]
    return sorted(entries, key=lambda e: (e.key, e.version))


def _lock(conn: Connection, schema: str, namespace: str) -> None:
    key = f"{schema}\nprofile\n{namespace}"
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


def _insert(conn: Connection, cipher: Cipher, namespace: str, entry: ProfileEntry) -> None:
    tag = cipher.tag(entry.key)  # the key itself in a plaintext store
    sealed_key = (
        cipher.seal(entry.key, profile_aad("key", namespace, tag, entry.version))
        if cipher.encrypted
        else None
    )
    conn.execute(
        f"INSERT INTO profile_entries (namespace, {_COLUMNS}) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            namespace,
            tag,
            cipher.seal(entry.text, profile_aad("text", namespace, tag, entry.version)),
            entry.version,
            entry.valid_from,
            entry.valid_to,
            entry.source_id,
            sealed_key,
        ),
    )


def _close(conn: Connection, cipher: Cipher, namespace: str, key: str, at: datetime) -> None:
    conn.execute(
        "UPDATE profile_entries SET valid_to = %s "
        "WHERE namespace = %s AND key = %s AND valid_to IS NULL",
        (at, namespace, cipher.tag(key)),
    )


def seal(conn: Connection, cipher_of: Callable[[str], Cipher]) -> None:
    """Seal every plain entry in place (a store encrypted in place)."""
    for namespace, key, version, text in conn.execute(
        "SELECT namespace, key, version, text FROM profile_entries"
    ).fetchall():
        cipher = cipher_of(namespace)
        tag = cipher.tag(key)
        conn.execute(
            "UPDATE profile_entries SET key = %s, sealed_key = %s, text = %s "
            "WHERE namespace = %s AND key = %s AND version = %s",
            (
                tag,
                cipher.seal(key, profile_aad("key", namespace, tag, version)),
                cipher.seal(text, profile_aad("text", namespace, tag, version)),
                namespace,
                key,
                version,
            ),
        )


class ProfileTable(pinning.ProfileTable["Connection"]):
    """``store.pinning``'s profile methods over this store's ``profile_entries``."""

    _db: Database
    _keys: DataKeys

    def _transactions(self) -> tuple[Database, DataKeys]:
        return self._db, self._keys

    def _profile_rows(self, conn: Connection, cipher: Cipher, namespace: str) -> list[ProfileEntry]:
        return _read(conn, cipher, namespace)

    def _close_pinned(
        self, conn: Connection, cipher: Cipher, namespace: str, key: str, at: datetime
    ) -> None:
        _close(conn, cipher, namespace, key, at)

    def _insert_pinned(
        self, conn: Connection, cipher: Cipher, namespace: str, entry: ProfileEntry
    ) -> None:
        _insert(conn, cipher, namespace, entry)

    def _lock_profile(self, conn: Connection, namespace: str) -> None:
        _lock(conn, self._db.schema, namespace)
