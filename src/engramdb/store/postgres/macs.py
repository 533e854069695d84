"""The MAC of each memory's row in an encrypted PostgresStore (docs/security.md).

A memory's sealed values (text, keys, metadata, speaker, emotion) authenticate
themselves; its clear columns (``FIELDS``: identity, namespace, kind, session and
its order, times, version, expiry) carry, in ``engrams.mac`` (migration 12), a
keyed digest of the row as stored, under the namespace's cipher
(``Cipher.checksum``: keyed BLAKE2b under a key derived from its data key), over
the encoding the SQLite store's row checksums use (``store.digest``). Sealed
values enter as their ciphertext, so nothing is decrypted to check a row. A
plaintext store writes none (its column stays NULL).

Every writer of a covered column writes the MAC of the row as it then is
(``seal``), a change to an existing row after checking it as it was
(``verify``), so a write never launders an altered row; every read of a memory
checks it (``verify_row``, from ``rows.engram``), ``check()`` counts the rows
that do not match (``mismatched``), and the rows an encrypted store held before
the column existed get theirs at its first open with the key (``fill_pending``).
The dynamic state beside them in the row (stability, recalls, ...), which every
search rewrites, is not covered.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from engramdb.errors import DecryptionError
from engramdb.security.crypto import Cipher
from engramdb.store.digest import encoded
from engramdb.store.postgres.database import Connection

__all__ = ["FIELDS", "fill_pending", "mismatched", "of_engram", "seal", "verify", "verify_row"]

#: The columns of a memory's row its MAC covers, in digest order.
FIELDS = (
    "rowid",
    "id",
    "namespace",
    "kind",
    "session",
    "seq",
    "speaker",
    "text",
    "keys",
    "metadata",
    "occurred_at",
    "recorded_at",
    "valid_from",
    "version",
    "expires_at",
)
_SQL = ", ".join(FIELDS)
_EXAMPLES = 3  # rows named per problem; the rest are counted

CipherOf = Callable[[str], Cipher]  # ``store.postgres.rows.CipherOf``


def of_engram(cipher: Cipher, values: Sequence[Any]) -> bytes:
    """The MAC of a memory's row, given its ``FIELDS`` as stored."""
    return cipher.checksum(encoded(b"engrams", values))


def _matches(stored: object, cipher: Cipher, values: Sequence[Any]) -> bool:
    if isinstance(stored, memoryview):
        stored = bytes(stored)
    if not isinstance(stored, bytes):
        return False  # none written
    return hmac.compare_digest(stored, of_engram(cipher, values))


def verify_row(cipher: Cipher, values: Sequence[Any], stored: object) -> None:
    """Raise ``DecryptionError`` unless the row (its ``FIELDS``) matches its MAC; a
    plaintext namespace's row carries none and passes."""
    if cipher.encrypted and not _matches(stored, cipher, values):
        raise DecryptionError(
            f"memory {values[1]!r} (row {values[0]}): its row does not authenticate "
            "(altered in the database); run `engram check`"
        )


def verify(conn: Connection, cipher_of: CipherOf, rowids: Iterable[int]) -> None:
    """Raise unless each of the memories' rows is as written (before a change)."""
    for row in conn.execute(
        f"SELECT {_SQL}, mac FROM engrams WHERE rowid = ANY(%s)", (list(rowids),)
    ).fetchall():
        verify_row(cipher_of(row[2]), row[:-1], row[-1])


def seal(conn: Connection, cipher_of: CipherOf, rowids: Iterable[int] | None = None) -> None:
    """Write the MAC of each of the memories' rows (``None``: of every row) as it is."""
    sql = f"SELECT {_SQL} FROM engrams"
    found = (
        conn.execute(sql)
        if rowids is None
        else conn.execute(sql + " WHERE rowid = ANY(%s)", (list(rowids),))
    )
    updates = []
    for row in found.fetchall():
        cipher = cipher_of(row[2])
        if cipher.encrypted:
            updates.append((of_engram(cipher, row), row[0]))
    if updates:
        with conn.cursor() as cur:
            cur.executemany("UPDATE engrams SET mac = %s WHERE rowid = %s", updates)


def mismatched(conn: Connection, cipher_of: CipherOf) -> list[str]:
    """The rows of an encrypted store's memories whose MAC is missing or does not
    match them, as one line (``check()``; empty when all match)."""
    bad = []
    for row in conn.execute(f"SELECT {_SQL}, mac FROM engrams ORDER BY rowid"):
        try:
            cipher = cipher_of(row[2])
            if cipher.encrypted and not _matches(row[-1], cipher, row[:-1]):
                bad.append(str(row[0]))
        except DecryptionError:  # no data key for the namespace the row names
            bad.append(str(row[0]))
    if not bad:
        return []
    if len(bad) == 1:
        return [f"engrams: 1 row does not authenticate (row {bad[0]})"]
    named = ", ".join(bad[:_EXAMPLES])
    more = f" and {len(bad) - _EXAMPLES} more" if len(bad) > _EXAMPLES else ""
    return [f"engrams: {len(bad)} rows do not authenticate (rows {named}{more})"]


def fill_pending(conn: Connection, cipher_of: CipherOf) -> None:
    """Write the MAC of every memory's row if the store held rows before the column
    existed (``macs_pending``, set by migration 12, taken once by the first open
    with the key)."""
    if conn.execute("DELETE FROM macs_pending RETURNING id").fetchone() is not None:
        seal(conn, cipher_of)
