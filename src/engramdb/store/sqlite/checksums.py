"""A checksum per row of ``engrams`` and ``versions`` (docs/reliability.md, "Row checksums").

Each memory's row and each of its versions' rows carries, in its ``checksum``
column (its migration in ``schema``), a 16-byte digest of every other column of the row as
stored: ``ENGRAM_FIELDS`` and ``VERSION_FIELDS``, each value with its type and
length, under the table's name. The namespace's cipher makes it
(``Cipher.checksum``): an unkeyed BLAKE2b in a plaintext store, which finds
damage; a keyed BLAKE2b under a key derived from the namespace's data key in
an encrypted one, a MAC that also refuses a row altered on purpose. Sealed
values enter as their ciphertext, so nothing is decrypted to check a row.

The rule for what is covered: every column of the row a read gives back or
acts on (identity, namespace, kind, session and its order, speaker, text,
index keys, metadata, times, version, recall's analysis, and the row number
that links a memory to its versions, vector and dynamics). What changes with
use is in other tables and not covered: dynamics (reinforcement rewrites them
at every search), consolidation's marks, facts' status and the links between
memories; a flip there is only found when it leaves a value out of its form
(``soundness``).

This module owns the digest, its check on read (``verify_engram``,
``verify_version``: ``IntegrityError`` in a plaintext store, ``DecryptionError``
in an encrypted one, naming the memory), writing it again after a change
(``reseal_engram``, ``reseal_version``, after checking the row as it was, so a
write never launders damage), the pass of ``check()`` (``mismatched``) and the
filling in of rows written before the column existed (``fill_pending``, at the
first writable open after the migration).
"""

from __future__ import annotations

import hmac
import sqlite3
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from engramdb.errors import DecryptionError, IntegrityError, StoreError
from engramdb.security.crypto import PLAIN, Cipher

if TYPE_CHECKING:
    from engramdb.store.sqlite.database import Database

__all__ = [
    "ENGRAM_FIELDS",
    "VERSION_FIELDS",
    "fill_pending",
    "mismatched",
    "of_engram",
    "of_version",
    "reseal_engram",
    "reseal_version",
    "rewrite_all",
    "verify_engram",
    "verify_version",
]

#: The columns of a memory's row its checksum covers, in digest order.
ENGRAM_FIELDS = (
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
    "analysis",
)
#: The columns of a version's row its checksum covers, in digest order.
VERSION_FIELDS = (
    "engram_rowid",
    "version",
    "text",
    "speaker",
    "metadata",
    "occurred_at",
    "valid_from",
    "valid_to",
)
_ENGRAM_SQL = ", ".join(ENGRAM_FIELDS)
_VERSION_SQL = ", ".join(f"v.{c}" for c in VERSION_FIELDS)
_EXAMPLES = 3  # rows named per problem; the rest are counted

CipherOf = Callable[[str], Cipher]


def _encoded(table: bytes, values: Iterable[Any]) -> bytes:
    """The row's values with their types and lengths: no two rows encode alike."""
    parts = [table]
    for value in values:
        if value is None:
            parts.append(b"\x00")
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
            parts += (b"\x01%d:" % len(data), data)
        elif isinstance(value, bytes):
            parts += (b"\x02%d:" % len(value), value)
        elif isinstance(value, int):
            parts.append(b"\x03%d;" % value)
        elif isinstance(value, float):
            parts.append(b"\x04" + struct.pack("<d", value))
        else:  # sqlite3 gives back nothing else
            raise TypeError(f"no checksum of a {type(value).__name__}")
    return b"".join(parts)


def of_engram(cipher: Cipher, values: Sequence[Any]) -> bytes:
    """The checksum of a memory's row, given its ``ENGRAM_FIELDS`` as stored."""
    return cipher.checksum(_encoded(b"engrams", values))


def of_version(cipher: Cipher, values: Sequence[Any]) -> bytes:
    """The checksum of a version's row, given its ``VERSION_FIELDS`` as stored."""
    return cipher.checksum(_encoded(b"versions", values))


def _matches(
    stored: object, of: Callable[[Cipher, Sequence[Any]], bytes], cipher: Cipher, values: list[Any]
) -> bool:
    if not isinstance(stored, bytes):
        return False  # none written, or not a checksum's form
    try:
        return hmac.compare_digest(stored, of(cipher, values))
    except DecryptionError:  # no data key for the namespace the row names
        return False


def _damaged(cipher: Cipher, what: str) -> StoreError:
    if cipher.encrypted:
        return DecryptionError(
            f"{what}: its row does not authenticate (altered on disk); run `engram check`"
        )
    return IntegrityError(
        f"{what}: its row does not match its checksum (damaged on disk); run `engram check`"
    )


def verify_engram(row: sqlite3.Row, cipher: Cipher) -> None:
    """Raise unless the memory's row (``ENGRAM_FIELDS`` and ``checksum``) is as written."""
    values = [row[c] for c in ENGRAM_FIELDS]
    if not _matches(row["checksum"], of_engram, cipher, values):
        raise _damaged(cipher, f"memory {row['id']!r} (row {row['rowid']})")


def verify_version(row: sqlite3.Row, cipher: Cipher, engram_id: str) -> None:
    """Raise unless the version's row (``VERSION_FIELDS`` and ``checksum``) is as written."""
    values = [row[c] for c in VERSION_FIELDS]
    if not _matches(row["checksum"], of_version, cipher, values):
        raise _damaged(cipher, f"version {row['version']} of memory {engram_id!r}")


def _engram_row(conn: sqlite3.Connection, rowid: int) -> sqlite3.Row:
    found: sqlite3.Row = conn.execute(
        f"SELECT {_ENGRAM_SQL}, checksum FROM engrams WHERE rowid = ?", (rowid,)
    ).fetchone()
    return found


def reseal_engram(
    conn: sqlite3.Connection, cipher: Cipher, rowid: int, change: Callable[[], object]
) -> None:
    """Check the memory's row, run ``change`` (the statements that write it), and
    write the checksum of the row as it then is (triggers included)."""
    verify_engram(_engram_row(conn, rowid), cipher)
    change()
    row = _engram_row(conn, rowid)
    conn.execute(
        "UPDATE engrams SET checksum = ? WHERE rowid = ?",
        (of_engram(cipher, [row[c] for c in ENGRAM_FIELDS]), rowid),
    )


def reseal_version(
    conn: sqlite3.Connection,
    cipher: Cipher,
    rowid: int,
    engram_id: str,
    version: int,
    change: Callable[[], object],
) -> None:
    """``reseal_engram`` for one version's row."""
    select = (
        f"SELECT {_VERSION_SQL}, v.checksum FROM versions v "
        "WHERE v.engram_rowid = ? AND v.version = ?"
    )
    before = conn.execute(select, (rowid, version)).fetchone()
    if before is not None:
        verify_version(before, cipher, engram_id)
    change()
    row = conn.execute(select, (rowid, version)).fetchone()
    if row is not None:
        conn.execute(
            "UPDATE versions SET checksum = ? WHERE engram_rowid = ? AND version = ?",
            (of_version(cipher, [row[c] for c in VERSION_FIELDS]), rowid, version),
        )


def mismatched(conn: sqlite3.Connection, cipher_of: CipherOf, *, encrypted: bool) -> list[str]:
    """Rows of ``engrams`` and ``versions`` whose checksum is missing or does not
    match them, one line per table (``check()``)."""
    bad: dict[str, list[str]] = {"engrams": [], "versions": []}
    for row in conn.execute(f"SELECT {_ENGRAM_SQL}, checksum FROM engrams"):
        values = [row[c] for c in ENGRAM_FIELDS]
        cipher = cipher_of(row["namespace"])
        if not _matches(row["checksum"], of_engram, cipher, values):
            bad["engrams"].append(str(row["rowid"]))
    # a version whose memory is gone is an orphan (maintenance counts those); in an
    # encrypted store it has no key to check it with
    join = "JOIN" if encrypted else "LEFT JOIN"
    for row in conn.execute(
        f"SELECT e.namespace, {_VERSION_SQL}, v.checksum FROM versions v "
        f"{join} engrams e ON e.rowid = v.engram_rowid"
    ):
        values = [row[c] for c in VERSION_FIELDS]
        cipher = PLAIN if row["namespace"] is None else cipher_of(row["namespace"])
        if not _matches(row["checksum"], of_version, cipher, values):
            bad["versions"].append(f"{row['engram_rowid']}/{row['version']}")
    found = []
    for table, rows in bad.items():
        if rows:
            named = ", ".join(rows[:_EXAMPLES])
            more = f" and {len(rows) - _EXAMPLES} more" if len(rows) > _EXAMPLES else ""
            found.append(
                f"{table}: 1 row does not match its checksum (row {named})"
                if len(rows) == 1
                else f"{table}: {len(rows)} rows do not match their checksum (rows {named}{more})"
            )
    return found


def _fill(conn: sqlite3.Connection, cipher_of: CipherOf, *, every: bool) -> None:
    """Write the checksum of each row that has none (``every``: of each row)."""
    unset = "" if every else " WHERE checksum IS NULL"
    updates = []
    for row in conn.execute(f"SELECT {_ENGRAM_SQL} FROM engrams{unset}").fetchall():
        values = [row[c] for c in ENGRAM_FIELDS]
        try:
            updates.append((of_engram(cipher_of(row["namespace"]), values), row["rowid"]))
        except DecryptionError:
            continue  # no data key: left without one, and check() says so
    conn.executemany("UPDATE engrams SET checksum = ? WHERE rowid = ?", updates)
    unset = "" if every else " WHERE v.checksum IS NULL"
    version_updates = []
    for row in conn.execute(
        f"SELECT e.namespace, {_VERSION_SQL} FROM versions v "
        f"JOIN engrams e ON e.rowid = v.engram_rowid{unset}"
    ).fetchall():
        values = [row[c] for c in VERSION_FIELDS]
        try:
            checksum = of_version(cipher_of(row["namespace"]), values)
        except DecryptionError:
            continue
        version_updates.append((checksum, row["engram_rowid"], row["version"]))
    conn.executemany(
        "UPDATE versions SET checksum = ? WHERE engram_rowid = ? AND version = ?", version_updates
    )


def fill_pending(db: Database, ciphers: Callable[[sqlite3.Connection], CipherOf]) -> None:
    """After the checksums' migration, once: write the checksums of the rows written before it.

    The migration cannot (an encrypted store's keys are not at hand there): it
    leaves a row in ``checksums_pending``, and the first writable open with the
    keys fills every row in and removes it, in one transaction. A row without a
    checksum after that is damage; a read-only open before it (the writable
    open failed between the two) refuses those rows until one writable open.
    """
    with db.read() as conn:
        if conn.execute("SELECT 1 FROM checksums_pending").fetchone() is None:
            return
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM checksums_pending").fetchone() is None:
            return  # another process did it meanwhile
        _fill(conn, ciphers(conn), every=False)
        conn.execute("DELETE FROM checksums_pending")


def rewrite_all(conn: sqlite3.Connection, cipher_of: CipherOf) -> None:
    """Write every row's checksum afresh with ``cipher_of`` (a store sealed in place:
    its rows' stored form and its ciphers changed; their old checksums were checked)."""
    _fill(conn, cipher_of, every=True)
