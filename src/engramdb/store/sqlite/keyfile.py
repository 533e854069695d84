"""SqliteKeyStore: the server's API-key table, in its own SQLite file.

It owns the SQL of the ``api_keys`` table and nothing else: minting secrets,
hashing and checking them, and what a scope means live in
``engramdb.security.keys``. Rows hold a salted hash, never a secret.

Why a file of its own (``keys.db`` beside the store) and not a table in the
store: keys are server credentials, not memories, so export, import,
``forget_namespace``, ``check`` and the store's numbered migrations never see
them; the file is created readable by its owner only (0600). A PostgreSQL
store keeps its keys in a table of its schema instead, shared by every server
on the database (``store.postgres.sidetables``).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from engramdb.clock import from_iso, to_iso
from engramdb.store.side import KeyRecord
from engramdb.store.sqlite.sidefile import SideFile

__all__ = ["KeyRecord", "SqliteKeyStore"]

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    salt       BLOB NOT NULL,
    digest     BLOB NOT NULL,
    namespaces TEXT NOT NULL,
    access     TEXT NOT NULL CHECK (access IN ('read', 'write', 'admin')),
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""
_SELECT = "SELECT id, name, salt, digest, namespaces, access, created_at, revoked_at FROM api_keys"


class SqliteKeyStore(SideFile):
    """The ``api_keys`` table in one SQLite file (or ``":memory:"``); thread-safe."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, label="key file", schema=_SCHEMA, version=_SCHEMA_VERSION)

    def insert(self, record: KeyRecord) -> None:
        with self._locked() as conn:
            conn.execute(
                "INSERT INTO api_keys (id, name, salt, digest, namespaces, access, "
                "created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.name,
                    record.salt,
                    record.digest,
                    json.dumps(list(record.namespaces)),
                    record.access,
                    to_iso(record.created_at),
                    None if record.revoked_at is None else to_iso(record.revoked_at),
                ),
            )

    def get(self, key_id: str) -> KeyRecord | None:
        with self._locked() as conn:
            row = conn.execute(_SELECT + " WHERE id = ?", (key_id,)).fetchone()
        with self._decoding():
            return None if row is None else _record(row)

    def all(self) -> list[KeyRecord]:
        with self._locked() as conn:
            rows = conn.execute(_SELECT + " ORDER BY created_at, id").fetchall()
        with self._decoding():
            return [_record(row) for row in rows]

    def _row_problems(self) -> list[str]:
        self.all()
        return []

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Mark a key revoked (the first time stays); False when there is no such key."""
        with self._locked() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                (to_iso(at), key_id),
            )
        return cursor.rowcount > 0


_ACCESS = ("read", "write", "admin")


def _record(row: Any) -> KeyRecord:
    key_id, name, salt, digest, namespaces, access, created_at, revoked_at = row
    if access not in _ACCESS:  # a flipped bit: never read as some other level
        raise ValueError(f"key {key_id!r}: access {access!r} is not one of {', '.join(_ACCESS)}")
    patterns = json.loads(str(namespaces))
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ValueError(f"key {key_id!r}: its namespaces are not a list of patterns")
    return KeyRecord(
        id=str(key_id),
        name=str(name),
        salt=bytes(salt),
        digest=bytes(digest),
        namespaces=tuple(patterns),
        access=str(access),
        created_at=from_iso(str(created_at)),
        revoked_at=None if revoked_at is None else from_iso(str(revoked_at)),
    )
