"""The pinned profile in a SqliteStore: the ``profile_entries`` table (migration 19).

One row per version of an entry (docs/profile.md): pinning a key again closes
the current row's ``valid_to`` and adds the next version; unpinning closes it;
nothing is updated otherwise or deleted but by ``forget_namespace``. A row is
found by ``tag``, its key as a keyed token in an encrypted namespace (the key
itself in a plaintext one), so the key and the text are sealed like a
memory's text (associated data ``profile.key:`` / ``profile.text:`` with the
namespace, tag and version: a value moved to another row does not open).
``ProfileTable`` is ``SqliteStore``'s share of the ``Store`` methods; which
version ``pin`` writes is ``store.pinning.next_pin``'s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from engramdb.clock import from_iso, to_iso
from engramdb.errors import DecryptionError, InvalidInputError
from engramdb.model import ProfileEntry
from engramdb.security.crypto import Cipher
from engramdb.store.pinning import next_pin

if TYPE_CHECKING:
    from engramdb.store.sqlite.database import Database
    from engramdb.store.sqlite.sealing import DataKeys

__all__ = ["ProfileTable", "forget", "read", "seal", "unopenable"]

_COLUMNS = "tag, version, key, text, source_id, valid_from, valid_to"


def _aad(column: str, namespace: str, tag: str, version: int) -> str:
    return f"profile.{column}:{namespace}:{tag}:{version}"


def read(conn: sqlite3.Connection, cipher: Cipher, namespace: str) -> list[ProfileEntry]:
    """Every version of the namespace's entries, by key, then version."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM profile_entries WHERE namespace = ?", (namespace,)
    ).fetchall()
    entries = [
        ProfileEntry(
            key=cipher.open(key, _aad("key", namespace, tag, version)),
            text=cipher.open(text, _aad("text", namespace, tag, version)),
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
    conn.execute(
        f"INSERT INTO profile_entries (namespace, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            namespace,
            tag,
            entry.version,
            cipher.seal(entry.key, _aad("key", namespace, tag, entry.version)),
            cipher.seal(entry.text, _aad("text", namespace, tag, entry.version)),
            entry.source_id,
            to_iso(entry.valid_from),
            None if entry.valid_to is None else to_iso(entry.valid_to),
        ),
    )


def _close(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, key: str, at: datetime
) -> None:
    conn.execute(
        "UPDATE profile_entries SET valid_to = ? "
        "WHERE namespace = ? AND tag = ? AND valid_to IS NULL",
        (to_iso(at), namespace, cipher.tag(key)),
    )


def forget(conn: sqlite3.Connection, namespace: str) -> None:
    conn.execute("DELETE FROM profile_entries WHERE namespace = ?", (namespace,))


def seal(conn: sqlite3.Connection, cipher_of: Callable[[str], Cipher]) -> None:
    """Seal every plain row (``seal_store``, inside its transaction)."""
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
                cipher.seal(key, _aad("key", namespace, tag, version)),
                cipher.seal(text, _aad("text", namespace, tag, version)),
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
                cipher.open(value, _aad(column, namespace, tag, version))
            except DecryptionError:
                failed += 1
    return failed


class ProfileTable:
    """The ``Store`` methods of the pinned profile, for ``SqliteStore``."""

    _db: Database
    _keys: DataKeys

    def profile(self, namespace: str) -> list[ProfileEntry]:
        with self._db.read() as conn:
            return read(conn, self._keys.cipher(conn, namespace), namespace)

    def profiled(self) -> list[str]:
        with self._db.read() as conn:
            found = conn.execute("SELECT DISTINCT namespace FROM profile_entries ORDER BY 1")
            return [str(row[0]) for row in found]

    def pin(
        self,
        namespace: str,
        key: str,
        text: str,
        source_id: str | None,
        now: datetime,
        admit: Callable[[list[ProfileEntry]], None],
    ) -> ProfileEntry:
        with self._db.write("pin") as conn:
            cipher = self._keys.cipher(conn, namespace, create=True)
            history = read(conn, cipher, namespace)
            current = {e.key: e for e in history if e.valid_to is None}
            entry = next_pin(history, key, text, source_id, now)
            if entry is None:
                return current[key]
            admit(sorted({**current, key: entry}.values(), key=lambda e: e.key))
            _close(conn, cipher, namespace, key, now)
            _insert(conn, cipher, namespace, entry)
            return entry

    def unpin(self, namespace: str, key: str, now: datetime) -> ProfileEntry | None:
        with self._db.write("unpin") as conn:
            cipher = self._keys.cipher(conn, namespace)
            history = read(conn, cipher, namespace)
            current = next((e for e in history if e.key == key and e.valid_to is None), None)
            if current is None:
                return None
            if now < current.valid_from:
                raise InvalidInputError(
                    f"now is before profile entry {key!r} was pinned; versions must not overlap"
                )
            _close(conn, cipher, namespace, key, now)
            return replace(current, valid_to=now)

    def restore_profile(self, namespace: str, entries: Sequence[ProfileEntry]) -> None:
        if not entries:
            return
        with self._db.write("restore_profile") as conn:
            cipher = self._keys.cipher(conn, namespace, create=True)
            held = {(e.key, e.version) for e in read(conn, cipher, namespace)}
            for entry in entries:
                if (entry.key, entry.version) in held:
                    raise InvalidInputError(
                        f"profile entry {entry.key!r} version {entry.version} is in "
                        f"namespace {namespace!r} already"
                    )
                held.add((entry.key, entry.version))
                _insert(conn, cipher, namespace, entry)
