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
from engramdb.store.postgres import macs

if TYPE_CHECKING:
    from engramdb.store.postgres.database import Connection, Database
    from engramdb.store.postgres.sealed import DataKeys

__all__ = ["ProfileTable", "seal"]

_COLUMNS = "key, text, version, valid_from, valid_to, source_id, sealed_key"
_COVERED = ", ".join(macs.PROFILE.fields)  # what its MAC covers, in digest order


def _read(conn: Connection, cipher: Cipher, namespace: str) -> list[ProfileEntry]:
    """The namespace's entries, every version; ``DecryptionError`` when an encrypted
    namespace's row does not match its MAC (``macs.PROFILE``)."""
    found = conn.execute(
        f"SELECT {_COLUMNS}, mac FROM profile_entries WHERE namespace = %s ORDER BY key, version",
        (namespace,),
    ).fetchall()
    if not cipher.encrypted:
        return [ProfileEntry(*row[:-2]) for row in found]
    entries = []
    for tag, text, version, valid_from, valid_to, source_id, sealed_key, mac in found:
        covered = (namespace, tag, version, text, valid_from, valid_to, source_id, sealed_key)
        macs.verify_owned_row(cipher, macs.PROFILE, covered, mac)
        entries.append(
            ProfileEntry(
                cipher.open(sealed_key, profile_aad("key", namespace, tag, version)),
                cipher.open(text, profile_aad("text", namespace, tag, version)),
                version,
                valid_from,
                valid_to,
                source_id,
            )
        )
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
    text = cipher.seal(entry.text, profile_aad("text", namespace, tag, entry.version))
    covered = (
        namespace, tag, entry.version, text, entry.valid_from, entry.valid_to, entry.source_id,
        sealed_key,
    )  # fmt: skip
    conn.execute(
        f"INSERT INTO profile_entries ({_COVERED}, mac) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (*covered, macs.of_owned(cipher, macs.PROFILE, covered)),
    )


def _close(conn: Connection, cipher: Cipher, namespace: str, key: str, at: datetime) -> None:
    """Close the pinned version of ``key`` (its rows were checked by ``_read`` in this
    transaction) and write its MAC again."""
    closed = conn.execute(
        "UPDATE profile_entries SET valid_to = %s "
        f"WHERE namespace = %s AND key = %s AND valid_to IS NULL RETURNING {_COVERED}",
        (at, namespace, cipher.tag(key)),
    ).fetchall()
    for row in closed:
        mac = macs.of_owned(cipher, macs.PROFILE, row)
        if mac is not None:
            conn.execute(
                "UPDATE profile_entries SET mac = %s "
                "WHERE namespace = %s AND key = %s AND version = %s",
                (mac, row[0], row[1], row[2]),
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
