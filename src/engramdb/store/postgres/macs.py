"""The MAC of each memory's row in an encrypted PostgresStore (docs/security.md).

A memory's sealed values (text, keys, metadata, speaker, emotion) authenticate
themselves; its clear columns (``FIELDS``: identity, namespace, kind, session and
its order, times, version, expiry) and those of each of its versions
(``VERSION_FIELDS``: number, times) carry, in ``engrams.mac`` and ``versions.mac``
(migration 12), a keyed digest of the row as stored, under the namespace's cipher
(``Cipher.checksum``: keyed BLAKE2b under a key derived from its data key), over
the encoding the SQLite store's row checksums use (``store.digest``). Sealed
values enter as their ciphertext, so nothing is decrypted to check a row. A
plaintext store writes none (its column stays NULL).

Every writer of a covered column writes the MAC of the row as it then is
(``seal``, ``seal_versions``), a change to an existing memory after checking its
rows as they were (``verify``), so a write never launders an altered row; every
read of a memory or its history checks them (``verify_row``, from ``rows.engram``;
``verify_version``, from ``rows.history``), ``check()`` counts the rows
that do not match (``mismatched``), and the rows an encrypted store held before
the column existed get theirs at its first open with the key (``fill_pending``).
The dynamic state beside them in the row (stability, recalls, ...), which every
search rewrites, is not covered.

The rows that belong to a memory in consolidation's tables (``OWNED``: its fact,
and the provenance links to the memories it came from) carry one in their ``mac``
(migration 14) over every column (``OwnedTable.fields``, as the SQLite store's row
checksums of the same tables), under the cipher of the namespace of the memory
they belong to (``OwnedTable.owner``): a fact's validity, status, supersession and
lookup, a link's ends and relation, which recall and erasure act on; and so does
each version of a pinned profile entry (``PROFILE``, migration 16), under its
namespace's cipher: when it was pinned and unpinned says what ``context`` pins. An insert
writes it with the row (``of_owned``); a change checks the rows first
(``verify_owned``) and writes theirs again after (``seal_owned``); every read of
facts and links checks them (``verify_owned_row``), and ``check()`` counts those
that do not match. The rows an encrypted store held before get theirs at its
first open with the key (``macs_pending_tables`` names the tables that wait).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engramdb.errors import DecryptionError
from engramdb.security.crypto import Cipher
from engramdb.store.digest import encoded
from engramdb.store.postgres.database import Connection

__all__ = [
    "FACTS",
    "FIELDS",
    "LINKS",
    "OWNED",
    "PROFILE",
    "VERSION_FIELDS",
    "OwnedTable",
    "fill_pending",
    "mismatched",
    "of_engram",
    "of_owned",
    "of_version",
    "seal",
    "seal_owned",
    "seal_versions",
    "verify",
    "verify_owned",
    "verify_owned_row",
    "verify_row",
    "verify_version",
]

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
#: The columns of a version's row its MAC covers, in digest order.
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


@dataclass(frozen=True, slots=True)
class OwnedTable:
    """A table whose rows belong to one memory each, or to one namespace: its ``key``
    columns, the ``fields`` its MAC covers (every column but the MAC, in digest
    order) and ``owner``, the column holding the row of the memory whose namespace
    keys it (None: the row's own ``namespace``, its first field)."""

    name: str
    key: tuple[str, ...]
    fields: tuple[str, ...]
    owner: str | None


#: A fact's row: what it says (sealed), its validity, supersession and lookup.
FACTS = OwnedTable(
    "facts",
    ("engram_rowid",),
    (
        "engram_rowid",
        "namespace",
        "subject",
        "attribute",
        "value",
        "valid_from",
        "valid_to",
        "recorded_at",
        "invalidated_at",
        "status",
        "superseded_by",
        "lookup",
    ),
    "engram_rowid",
)
#: A provenance link: which memory a derived memory came from, and how.
LINKS = OwnedTable(
    "provenance",
    ("derived_rowid", "source_rowid"),
    ("derived_rowid", "source_rowid", "relation"),
    "derived_rowid",
)
#: A version of a pinned profile entry (docs/profile.md): its key's tag, its version,
#: its sealed text and key, and when it was pinned and unpinned, which say what
#: ``context`` pins.
PROFILE = OwnedTable(
    "profile_entries",
    ("namespace", "key", "version"),
    ("namespace", "key", "version", "text", "valid_from", "valid_to", "source_id", "sealed_key"),
    None,
)
OWNED = (FACTS, LINKS, PROFILE)
_SQL = ", ".join(FIELDS)
_VERSION_SQL = ", ".join(f"v.{c}" for c in VERSION_FIELDS)
_VERSIONS = (
    f"SELECT e.namespace, e.id, {_VERSION_SQL}, v.mac FROM versions v "
    "JOIN engrams e ON e.rowid = v.engram_rowid"
)
_EXAMPLES = 3  # rows named per problem; the rest are counted

CipherOf = Callable[[str], Cipher]  # ``store.postgres.rows.CipherOf``


def of_engram(cipher: Cipher, values: Sequence[Any]) -> bytes:
    """The MAC of a memory's row, given its ``FIELDS`` as stored."""
    return cipher.checksum(encoded(b"engrams", values))


def of_version(cipher: Cipher, values: Sequence[Any]) -> bytes:
    """The MAC of a version's row, given its ``VERSION_FIELDS`` as stored."""
    return cipher.checksum(encoded(b"versions", values))


def of_owned(cipher: Cipher, table: OwnedTable, values: Sequence[Any]) -> bytes | None:
    """The MAC of a row of ``table``, given its ``fields`` as stored (None in a
    plaintext namespace, which writes none)."""
    if not cipher.encrypted:
        return None
    return cipher.checksum(encoded(table.name.encode(), values))


def _matches(
    stored: object, cipher: Cipher, values: Sequence[Any], table: bytes = b"engrams"
) -> bool:
    if isinstance(stored, memoryview):
        stored = bytes(stored)
    if not isinstance(stored, bytes):
        return False  # none written
    return hmac.compare_digest(stored, cipher.checksum(encoded(table, values)))


def _refused(what: str) -> DecryptionError:
    return DecryptionError(
        f"{what}: its row does not authenticate (altered in the database); run `engram check`"
    )


def verify_row(cipher: Cipher, values: Sequence[Any], stored: object) -> None:
    """Raise ``DecryptionError`` unless the row (its ``FIELDS``) matches its MAC; a
    plaintext namespace's row carries none and passes."""
    if cipher.encrypted and not _matches(stored, cipher, values):
        raise _refused(f"memory {values[1]!r} (row {values[0]})")


def verify_version(cipher: Cipher, engram_id: str, values: Sequence[Any], stored: object) -> None:
    """``verify_row`` for a version's row (its ``VERSION_FIELDS``)."""
    if cipher.encrypted and not _matches(stored, cipher, values, b"versions"):
        raise _refused(f"version {values[1]} of memory {engram_id!r}")


def verify_owned_row(
    cipher: Cipher, table: OwnedTable, values: Sequence[Any], stored: object
) -> None:
    """``verify_row`` for a row of ``table`` (its ``fields``)."""
    if cipher.encrypted and not _matches(stored, cipher, values, table.name.encode()):
        key = "/".join(str(values[table.fields.index(c)]) for c in table.key)
        raise _refused(f"{table.name} row {key}")


def _owned(table: OwnedTable, where: str = "") -> str:
    """Each row of ``table`` with the namespace of the memory it belongs to, its
    ``fields`` and its MAC."""
    fields = ", ".join(f"t.{c}" for c in table.fields)
    if table.owner is None:
        return f"SELECT t.namespace, {fields}, t.mac FROM {table.name} t{where}"
    return (
        f"SELECT e.namespace, {fields}, t.mac FROM {table.name} t "
        f"JOIN engrams e ON e.rowid = t.{table.owner}{where}"
    )


def verify_owned(
    conn: Connection, cipher_of: CipherOf, table: OwnedTable, owners: Iterable[int]
) -> None:
    """Raise unless each row of ``table`` that belongs to the memories ``owners`` is as
    written (before a change)."""
    found = conn.execute(_owned(table, f" WHERE t.{table.owner} = ANY(%s)"), (list(owners),))
    for row in found.fetchall():
        verify_owned_row(cipher_of(row[0]), table, row[1:-1], row[-1])


def seal_owned(
    conn: Connection, cipher_of: CipherOf, table: OwnedTable, owners: Iterable[int] | None = None
) -> None:
    """Write the MAC of each row of ``table`` that belongs to the memories ``owners``
    (``None``: of every row) as it is."""
    found = (
        conn.execute(_owned(table))
        if owners is None
        else conn.execute(_owned(table, f" WHERE t.{table.owner} = ANY(%s)"), (list(owners),))
    )
    updates = []
    for row in found.fetchall():
        mac = of_owned(cipher_of(row[0]), table, row[1:-1])
        if mac is not None:
            values = dict(zip(table.fields, row[1:-1], strict=True))
            updates.append((mac, *(values[c] for c in table.key)))
    if updates:
        keyed = " AND ".join(f"{c} = %s" for c in table.key)
        with conn.cursor() as cur:
            cur.executemany(f"UPDATE {table.name} SET mac = %s WHERE {keyed}", updates)


def verify(conn: Connection, cipher_of: CipherOf, rowids: Iterable[int]) -> None:
    """Raise unless each of the memories' rows, and each of their versions' rows, is as
    written (before a change)."""
    rowids = list(rowids)
    for row in conn.execute(
        f"SELECT {_SQL}, mac FROM engrams WHERE rowid = ANY(%s)", (rowids,)
    ).fetchall():
        verify_row(cipher_of(row[2]), row[:-1], row[-1])
    for row in conn.execute(f"{_VERSIONS} WHERE v.engram_rowid = ANY(%s)", (rowids,)).fetchall():
        verify_version(cipher_of(row[0]), row[1], row[2:-1], row[-1])


def seal_versions(
    conn: Connection, cipher_of: CipherOf, rowids: Iterable[int] | None = None
) -> None:
    """Write the MAC of each version's row of the memories (``None``: of every memory)."""
    found = (
        conn.execute(_VERSIONS)
        if rowids is None
        else conn.execute(f"{_VERSIONS} WHERE v.engram_rowid = ANY(%s)", (list(rowids),))
    )
    updates = []
    for row in found.fetchall():
        cipher = cipher_of(row[0])
        if cipher.encrypted:
            updates.append((of_version(cipher, row[2:-1]), row[2], row[3]))
    if updates:
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE versions SET mac = %s WHERE engram_rowid = %s AND version = %s", updates
            )


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
    bad: list[str] = []
    for row in conn.execute(f"SELECT {_SQL}, mac FROM engrams ORDER BY rowid"):
        try:
            cipher = cipher_of(row[2])
            if cipher.encrypted and not _matches(row[-1], cipher, row[:-1]):
                bad.append(str(row[0]))
        except DecryptionError:  # no data key for the namespace the row names
            bad.append(str(row[0]))
    bad_versions: list[str] = []
    for row in conn.execute(f"{_VERSIONS} ORDER BY v.engram_rowid, v.version"):
        try:
            cipher = cipher_of(row[0])
            if cipher.encrypted and not _matches(row[-1], cipher, row[2:-1], b"versions"):
                bad_versions.append(f"{row[2]}/{row[3]}")
        except DecryptionError:
            bad_versions.append(f"{row[2]}/{row[3]}")
    owned: list[str] = []
    for table in OWNED:
        bad_rows: list[str] = []
        order = ", ".join(f"t.{c}" for c in table.key)
        for row in conn.execute(f"{_owned(table)} ORDER BY {order}"):
            values = row[1:-1]
            try:
                cipher = cipher_of(row[0])
                if cipher.encrypted and not _matches(row[-1], cipher, values, table.name.encode()):
                    raise DecryptionError(table.name)
            except DecryptionError:
                keyed = dict(zip(table.fields, values, strict=True))
                bad_rows.append("/".join(str(keyed[c]) for c in table.key))
        owned += _said(table.name, bad_rows)
    return _said("engrams", bad) + _said("versions", bad_versions) + owned


def _said(table: str, bad: list[str]) -> list[str]:
    if not bad:
        return []
    if len(bad) == 1:
        return [f"{table}: 1 row does not authenticate (row {bad[0]})"]
    named = ", ".join(bad[:_EXAMPLES])
    more = f" and {len(bad) - _EXAMPLES} more" if len(bad) > _EXAMPLES else ""
    return [f"{table}: {len(bad)} rows do not authenticate (rows {named}{more})"]


def fill_pending(conn: Connection, cipher_of: CipherOf) -> None:
    """Write the MAC of every memory's row if the store held rows before the column
    existed (``macs_pending``, set by migration 12, taken once by the first open
    with the key), and of every row of the ``OWNED`` tables that
    ``macs_pending_tables`` names (migration 14)."""
    if conn.execute("DELETE FROM macs_pending RETURNING id").fetchone() is not None:
        seal(conn, cipher_of)
        seal_versions(conn, cipher_of)
    waiting = {str(n) for (n,) in conn.execute("DELETE FROM macs_pending_tables RETURNING name")}
    for table in OWNED:
        if table.name in waiting:
            seal_owned(conn, cipher_of, table)
