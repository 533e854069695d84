"""A checksum per row of what a store holds (docs/reliability.md, "Row checksums").

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
that links a memory to its versions, vector and dynamics).

The rows that belong to a memory in other tables (``ROW_TABLES``: its dynamics,
which reinforcement rewrites at every search, its vector, its fact, the links
to the memories it came from, consolidation's mark, its wait for its vector)
carry a checksum of every column too, under the cipher of the namespace of the
memory they belong to.
Their writers do not compute it: temporary triggers of the store's own
connection (``watch``) note each row a transaction inserts or changes, with
the changed row's values as they were, and before the commit ``reseal_touched``
writes the checksum of each row as it now is, except over a row that did not
match it as it was (damage keeps the checksum that tells). A change made by any
other connection (a flipped bit, another tool) gets no new checksum, so
``check()`` finds it; reads do not check these rows (a search reads the dynamics
and vectors of hundreds of candidates).

The rows that belong to a namespace, not to one memory (``NAMESPACE_TABLES``: what
it learned from feedback, its pinned profile, its budget) carry one of every column
too, under the namespace's cipher. Their few writers (``learning``, ``profile``,
``budgets``) write it with the row, and their reads check it
(``verify_namespaced``) as a memory's read does.

This module owns the digest (its encoding is ``store.digest``'s), its check on
read (``verify_engram``,
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engramdb.errors import DecryptionError, IntegrityError, StoreError
from engramdb.security.crypto import PLAIN, Cipher
from engramdb.store.digest import encoded as _encoded
from engramdb.store.sqlite import dynamics

if TYPE_CHECKING:
    from engramdb.store.sqlite.database import Database

__all__ = [
    "ENGRAM_FIELDS",
    "NAMESPACE_TABLES",
    "ROW_TABLES",
    "VERSION_FIELDS",
    "NamespaceTable",
    "RowTable",
    "fill_pending",
    "mismatched",
    "of_engram",
    "of_row",
    "of_version",
    "reseal_engram",
    "reseal_touched",
    "reseal_version",
    "rewrite_all",
    "verify_engram",
    "verify_namespaced",
    "verify_version",
    "watch",
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
    "expires_at",
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


@dataclass(frozen=True, slots=True)
class RowTable:
    """A table of rows that belong to one memory each: its ``key`` columns (one or
    two integers), the ``fields`` its checksum covers (every column but the
    checksum, in digest order) and ``owner``, the key column holding the row
    number of the memory whose namespace keys it."""

    name: str
    key: tuple[str, ...]
    fields: tuple[str, ...]
    owner: str = "engram_rowid"


#: The tables whose rows belong to a memory, each row with its checksum.
ROW_TABLES = (
    RowTable(
        "dynamics",
        ("engram_rowid",),
        ("engram_rowid", *dynamics.FIELDS, "size"),
    ),
    RowTable("vectors", ("engram_rowid",), ("engram_rowid", "model_id", "dims", "scale", "data")),
    RowTable(
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
    ),
    RowTable(
        "provenance",
        ("derived_rowid", "source_rowid"),
        ("derived_rowid", "source_rowid", "relation"),
        owner="derived_rowid",
    ),
    RowTable("consolidated", ("engram_rowid",), ("engram_rowid", "version")),
    RowTable(
        "vectors_pending", ("engram_rowid",), ("engram_rowid", "importance_given", "emotion_given")
    ),
)
_BY_NAME = {t.name: t for t in ROW_TABLES}


@dataclass(frozen=True, slots=True)
class NamespaceTable:
    """A table of rows that belong to a namespace, not to one memory: its ``key``
    columns and the ``fields`` its checksum covers (every column but the checksum,
    in digest order, the ``namespace`` whose cipher makes it first)."""

    name: str
    key: tuple[str, ...]
    fields: tuple[str, ...]


#: The tables whose rows belong to a namespace, each row with its checksum.
NAMESPACE_TABLES = (
    NamespaceTable(
        "learned",
        ("namespace", "kind", "key"),
        ("namespace", "kind", "key", "value", "recorded_at"),
    ),
    NamespaceTable(
        "profile_entries",
        ("namespace", "tag", "version"),
        ("namespace", "tag", "version", "key", "text", "source_id", "valid_from", "valid_to"),
    ),
    NamespaceTable("budgets", ("namespace",), ("namespace", "max_memories", "max_bytes")),
)
_WIDEST = max(len(t.fields) for t in ROW_TABLES)
_ENGRAM_SQL = ", ".join(ENGRAM_FIELDS)
_VERSION_SQL = ", ".join(f"v.{c}" for c in VERSION_FIELDS)
_EXAMPLES = 3  # rows named per problem; the rest are counted

CipherOf = Callable[[str], Cipher]


def of_engram(cipher: Cipher, values: Sequence[Any]) -> bytes:
    """The checksum of a memory's row, given its ``ENGRAM_FIELDS`` as stored. A memory
    that never expires digests as before ``expires_at`` existed (its last field): the
    rows written before keep their checksums (docs/expiry.md)."""
    if len(values) == len(ENGRAM_FIELDS) and values[-1] is None:
        values = values[:-1]
    return cipher.checksum(_encoded(b"engrams", values))


def of_version(cipher: Cipher, values: Sequence[Any]) -> bytes:
    """The checksum of a version's row, given its ``VERSION_FIELDS`` as stored."""
    return cipher.checksum(_encoded(b"versions", values))


def of_row(cipher: Cipher, table: RowTable | NamespaceTable, values: Sequence[Any]) -> bytes:
    """The checksum of a row of ``table``, given its ``fields`` as stored."""
    return cipher.checksum(_encoded(table.name.encode(), values))


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


def verify_namespaced(
    row: sqlite3.Row | Sequence[Any], cipher: Cipher, table: NamespaceTable, what: str
) -> None:
    """Raise unless the row of ``table`` (its ``fields``, then its ``checksum``) is as
    written; ``what`` names it in the error."""
    values = [row[i] for i in range(len(table.fields))]
    if not _matches(row[len(table.fields)], _of(table), cipher, values):
        raise _damaged(cipher, what)


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
    """Rows of ``engrams``, ``versions``, ``ROW_TABLES`` and ``NAMESPACE_TABLES`` whose
    checksum is missing or does not match them, one line per table (``check()``)."""
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
    for owned in ROW_TABLES:
        bad[owned.name] = []
        for row in conn.execute(_owned_rows(owned, join)):
            # an orphan (maintenance counts those) has no namespace to key it
            cipher = PLAIN if row["namespace"] is None else cipher_of(row["namespace"])
            values = [row[c] for c in owned.fields]
            if not _matches(row["checksum"], _of(owned), cipher, values):
                bad[owned.name].append("/".join(str(row[c]) for c in owned.key))
    for kept in NAMESPACE_TABLES:
        bad[kept.name] = []
        for row in conn.execute(f"SELECT {', '.join(kept.fields)}, checksum FROM {kept.name}"):
            values = [row[c] for c in kept.fields]
            if not _matches(row["checksum"], _of(kept), cipher_of(row["namespace"]), values):
                bad[kept.name].append("/".join(str(row[c]) for c in kept.key))
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


def _of(table: RowTable | NamespaceTable) -> Callable[[Cipher, Sequence[Any]], bytes]:
    return lambda cipher, values: of_row(cipher, table, values)


def _owned_rows(table: RowTable, join: str, where: str = "") -> str:
    """Each row of ``table`` with its ``fields``, ``checksum`` and the namespace of the
    memory it belongs to (``join``: JOIN drops orphans, LEFT JOIN keeps them)."""
    fields = ", ".join(f"t.{c}" for c in table.fields)
    return (
        f"SELECT e.namespace, {fields}, t.checksum FROM {table.name} t "
        f"{join} engrams e ON e.rowid = t.{table.owner}{where}"
    )


def _fill(
    conn: sqlite3.Connection,
    cipher_of: CipherOf,
    *,
    every: bool,
    memories: bool = True,
    tables: Iterable[RowTable | NamespaceTable] = (*ROW_TABLES, *NAMESPACE_TABLES),
) -> None:
    """Write the checksum of each row that has none (``every``: of each row), in
    ``tables`` and, with ``memories``, in ``engrams`` and ``versions``."""
    if memories:
        _fill_memories(conn, cipher_of, every=every)
    for table in tables:
        if isinstance(table, NamespaceTable):
            _fill_namespaced(conn, cipher_of, table, every=every)
            continue
        unset = "" if every else " WHERE t.checksum IS NULL"
        row_updates = []
        for row in conn.execute(_owned_rows(table, "JOIN", unset)).fetchall():
            try:
                checksum = of_row(
                    cipher_of(row["namespace"]), table, [row[c] for c in table.fields]
                )
            except DecryptionError:
                continue
            row_updates.append((checksum, *(row[c] for c in table.key)))
        conn.executemany(f"UPDATE {table.name} SET checksum = ? WHERE {_keyed(table)}", row_updates)


def _fill_namespaced(
    conn: sqlite3.Connection, cipher_of: CipherOf, table: NamespaceTable, *, every: bool
) -> None:
    unset = "" if every else " WHERE checksum IS NULL"
    updates = []
    for row in conn.execute(f"SELECT {', '.join(table.fields)} FROM {table.name}{unset}"):
        try:
            checksum = of_row(cipher_of(row["namespace"]), table, [row[c] for c in table.fields])
        except DecryptionError:
            continue  # no data key: left without one, and check() says so
        updates.append((checksum, *(row[c] for c in table.key)))
    conn.executemany(f"UPDATE {table.name} SET checksum = ? WHERE {_keyed(table)}", updates)


def _fill_memories(conn: sqlite3.Connection, cipher_of: CipherOf, *, every: bool) -> None:
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
    The rows of ``ROW_TABLES`` got theirs later, marked in ``row_checksums_pending``
    the same way, and those of the tables named in ``checksums_pending_tables`` later
    still; a store marked for some alone gets only those filled in.
    """
    with db.read() as conn:
        memories, tables = _pending(conn)
        if not (memories or tables):
            return
    with db.transaction() as conn:
        memories, tables = _pending(conn)  # another process may have done it meanwhile
        if memories or tables:
            _fill(conn, ciphers(conn), every=False, memories=memories, tables=tables)
        conn.execute("DELETE FROM checksums_pending")
        conn.execute("DELETE FROM row_checksums_pending")
        conn.execute("DELETE FROM checksums_pending_tables")


def _pending(conn: sqlite3.Connection) -> tuple[bool, list[RowTable | NamespaceTable]]:
    """Whether the checksums of the memories' rows still wait to be filled in, and the
    other tables whose rows do."""
    memories = conn.execute("SELECT 1 FROM checksums_pending").fetchone() is not None
    tables: list[RowTable | NamespaceTable] = []
    if conn.execute("SELECT 1 FROM row_checksums_pending").fetchone() is not None:
        tables += ROW_TABLES
    named = {str(r[0]) for r in conn.execute("SELECT name FROM checksums_pending_tables")}
    tables += [t for t in (*ROW_TABLES, *NAMESPACE_TABLES) if t.name in named and t not in tables]
    return memories, tables


def rewrite_all(conn: sqlite3.Connection, cipher_of: CipherOf) -> None:
    """Write every row's checksum afresh with ``cipher_of`` (a store sealed in place:
    its rows' stored form and its ciphers changed; their old checksums were checked)."""
    _fill(conn, cipher_of, every=True)
    if _watched(conn):  # the rows noted as changed were checked under the old ciphers
        conn.execute("DELETE FROM temp.checksum_touched")


def _keyed(table: RowTable | NamespaceTable, prefix: str = "") -> str:
    return " AND ".join(f"{prefix}{c} = ?" for c in table.key)


def _watched(conn: sqlite3.Connection) -> bool:
    found = conn.execute(
        "SELECT 1 FROM temp.sqlite_master WHERE name = 'checksum_touched'"
    ).fetchone()
    return found is not None


def watch(db: Database, ciphers: Callable[[sqlite3.Connection], CipherOf]) -> None:
    """Keep the checksums of ``ROW_TABLES`` for every write of ``db``'s connection.

    Temporary triggers (this connection's, never in the file) note each row a
    transaction inserts, and each row it changes with its values as they were
    (the first change in the transaction), in ``temp.checksum_touched``; the
    database runs ``reseal_touched`` before each commit.
    """
    conn = db.conn
    columns = ", ".join(f"c{i}" for i in range(_WIDEST))  # no type: values kept as stored
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS checksum_touched (tbl TEXT NOT NULL, "
        "a INTEGER NOT NULL, b INTEGER NOT NULL, fresh INTEGER NOT NULL, checksum, "
        f"{columns}, PRIMARY KEY (tbl, a, b)) WITHOUT ROWID"
    )
    for table in ROW_TABLES:
        second = f".{table.key[1]}" if len(table.key) > 1 else ""
        new_b, old_b = (f"NEW{second}", f"OLD{second}") if second else ("0", "0")
        new = _noted(table, "NEW", new_b, "1")
        slots = "".join(f", c{i}" for i in range(len(table.fields)))
        olds = ", ".join(f"OLD.{c}" for c in table.fields)
        old = _noted(table, "OLD", old_b, f"0, OLD.checksum, {olds}", f", checksum{slots}")
        conn.execute(
            f"CREATE TEMP TRIGGER IF NOT EXISTS checksum_{table.name}_inserted "
            f"AFTER INSERT ON main.{table.name} BEGIN {new} END"
        )
        conn.execute(
            f"CREATE TEMP TRIGGER IF NOT EXISTS checksum_{table.name}_updated "
            f"AFTER UPDATE OF {', '.join(table.fields)} ON main.{table.name} "
            f"BEGIN {old} {new} END"
        )
    db.before_commit = lambda c: reseal_touched(c, ciphers(c))


def _noted(table: RowTable, row: str, b: str, values: str, columns: str = "") -> str:
    """A trigger's statement noting ``row`` (NEW or OLD) of ``table`` once. No OR
    IGNORE: inside a trigger the outer statement's conflict clause (an upsert, an
    INSERT OR REPLACE) would take its place."""
    a = f"{row}.{table.key[0]}"
    return (
        f"INSERT INTO checksum_touched (tbl, a, b, fresh{columns}) "
        f"SELECT '{table.name}', {a}, {b}, {values} WHERE NOT EXISTS (SELECT 1 FROM "
        f"checksum_touched WHERE tbl = '{table.name}' AND a = {a} AND b = {b});"
    )


def reseal_touched(conn: sqlite3.Connection, cipher_of: CipherOf) -> None:
    """Before a commit: write the checksum of each row of ``ROW_TABLES`` the transaction
    inserted or changed, as the row now is; a changed row that did not match its
    checksum as it was keeps that checksum, so a write (a search's reinforcement)
    never launders damage and never fails on it either: ``check()`` still names it."""
    touched = [  # by table: the key's search, not a scan
        noted
        for table in ROW_TABLES
        for noted in conn.execute(
            "SELECT * FROM temp.checksum_touched WHERE tbl = ?", (table.name,)
        ).fetchall()
    ]
    if not touched:
        return
    resealed: dict[RowTable, list[tuple[Any, ...]]] = {}
    for noted in touched:
        table = _BY_NAME[str(noted["tbl"])]
        key = (noted["a"], noted["b"])[: len(table.key)]
        now = conn.execute(_owned_rows(table, "JOIN", f" WHERE {_keyed(table, 't.')}"), key)
        row = now.fetchone()
        if row is None:
            continue  # gone since (with its memory), or an orphan: maintenance counts those
        cipher = cipher_of(row["namespace"])
        if not noted["fresh"]:
            was = [noted[f"c{i}"] for i in range(len(table.fields))]
            if not _matches(noted["checksum"], _of(table), cipher, was):
                continue  # damaged before: it keeps the checksum that tells (check())
        checksum = of_row(cipher, table, [row[c] for c in table.fields])
        resealed.setdefault(table, []).append((checksum, *key))
    for table, updates in resealed.items():
        conn.executemany(f"UPDATE {table.name} SET checksum = ? WHERE {_keyed(table)}", updates)
    conn.execute("DELETE FROM temp.checksum_touched")
