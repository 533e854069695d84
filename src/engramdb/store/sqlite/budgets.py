"""Namespace budgets in a SqliteStore: the ``budgets`` table (docs/dynamics.md).

One row per namespace with a budget: its bounds on active memories and their
text bytes, a NULL bound being none. Each row carries the checksum of its
columns under the namespace's cipher (``checksums.NAMESPACE_TABLES``): written
with it, checked when it is read, so a damaged bound raises instead of
deciding silently what is put aside. What a budget does with the bounds is
``engramdb.dynamics``'; the usage they are held to is ``dynamics.usage``.
"""

from __future__ import annotations

import sqlite3

from engramdb.security.crypto import Cipher
from engramdb.store.sqlite import checksums

__all__ = ["read", "write"]

_TABLE = next(t for t in checksums.NAMESPACE_TABLES if t.name == "budgets")


def read(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str
) -> tuple[int | None, int | None] | None:
    """The namespace's bounds, or None without a budget; a row that does not match its
    checksum raises (``IntegrityError``, or ``DecryptionError`` in an encrypted store)."""
    row = conn.execute(
        "SELECT namespace, max_memories, max_bytes, checksum FROM budgets WHERE namespace = ?",
        (namespace,),
    ).fetchone()
    if row is None:
        return None
    checksums.verify_namespaced(row, cipher, _TABLE, f"the budget of namespace {namespace!r}")
    return row[1], row[2]


def write(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    max_memories: int | None,
    max_bytes: int | None,
) -> None:
    """Store the namespace's bounds with their checksum (every column is written anew,
    so a damaged row is replaced, never vouched for); both None removes them."""
    if max_memories is None and max_bytes is None:
        conn.execute("DELETE FROM budgets WHERE namespace = ?", (namespace,))
        return
    row = (namespace, max_memories, max_bytes)
    conn.execute(
        "INSERT INTO budgets (namespace, max_memories, max_bytes, checksum) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (namespace) DO UPDATE SET "
        "max_memories = excluded.max_memories, max_bytes = excluded.max_bytes, "
        "checksum = excluded.checksum",
        (*row, checksums.of_row(cipher, _TABLE, row)),
    )
