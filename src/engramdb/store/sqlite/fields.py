"""Search filters on a SqliteStore (docs/filters.md): the ``fields`` table and its SQL.

Each memory's filterable values (``filters.entries``: speaker, session, each
top-level metadata value or list element) are rows of ``fields``, written with
the memory and gone with it (cascade). A plaintext store keeps the field's
name, the value's equality key and, for ordering, the number or the string;
an encrypted one keeps keyed tokens of the name and of the key only, so
equality filters work and nothing readable is stored (ordering operators are
refused before a query is made). A filter becomes one SQL condition on
``e.rowid`` (the ``engrams`` row): every condition an indexed lookup in
``fields``, event time a range on ``engrams.occurred_at``.

Namespaces written before ``fields`` existed are listed in ``fields_pending``
and filled, from their rows, the first time a filter reads them (``fill``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from engramdb.clock import to_iso
from engramdb.errors import InvalidInputError
from engramdb.filters import Condition, Filter, entries, equality_key
from engramdb.security.crypto import Cipher
from engramdb.store.codec import open_optional

__all__ = ["clause", "count_matching", "fill", "forget", "pending", "rows_matching", "write"]

_CHUNK = 500  # ids per statement, well under SQLite's limit on parameters
_ORDER_SQL = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def write(
    conn: sqlite3.Connection,
    cipher: Cipher,
    rowid: int,
    namespace: str,
    speaker: str | None,
    session: str | None,
    metadata: Mapping[str, Any],
    *,
    replace: bool = False,
) -> None:
    """Index one memory's filterable values (``replace``: its earlier ones go first)."""
    if replace:
        conn.execute("DELETE FROM fields WHERE engram_rowid = ?", (rowid,))
    found = entries(speaker, session, metadata)
    if not found:
        return
    sealed = cipher.encrypted
    conn.executemany(
        "INSERT INTO fields (namespace, field, key, number, text, engram_rowid) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                namespace,
                _field(cipher, e.field),
                _key(cipher, e.field, e.key),
                None if sealed else e.number,
                None if sealed else e.text,
                rowid,
            )
            for e in found
        ],
    )


def pending(conn: sqlite3.Connection, namespace: str) -> bool:
    """Whether the namespace's rows predate ``fields`` and are not indexed yet."""
    return (
        conn.execute("SELECT 1 FROM fields_pending WHERE namespace = ?", (namespace,)).fetchone()
        is not None
    )


def fill(conn: sqlite3.Connection, cipher: Cipher, namespace: str) -> int:
    """Index every memory of a pending namespace, inside the caller's write; how many."""
    done = 0
    for rowid, eid, speaker, session, metadata in conn.execute(
        "SELECT rowid, id, speaker, session, metadata FROM engrams WHERE namespace = ?",
        (namespace,),
    ).fetchall():
        opened = json.loads(cipher.open(metadata, f"engrams.metadata:{eid}"))
        speaker = open_optional(cipher, speaker, f"engrams.speaker:{eid}")
        write(conn, cipher, int(rowid), namespace, speaker, session, opened, replace=True)
        done += 1
    conn.execute("DELETE FROM fields_pending WHERE namespace = ?", (namespace,))
    return done


def forget(conn: sqlite3.Connection, namespace: str) -> None:
    """Drop what is left of a forgotten namespace here (its rows went by cascade)."""
    conn.execute("DELETE FROM fields WHERE namespace = ?", (namespace,))
    conn.execute("DELETE FROM fields_pending WHERE namespace = ?", (namespace,))


def clause(cipher: Cipher, namespace: str, where: Filter, row: str = "e") -> tuple[str, list[Any]]:
    """The SQL condition (on ``{row}.rowid`` and ``{row}.occurred_at``) that keeps the
    memories of the namespace passing ``where``, and its parameters; ``("1", [])`` for
    an empty filter."""
    if where.ordering and cipher.encrypted:
        raise InvalidInputError(
            "ordering operators ($gt, $gte, $lt, $lte) cannot filter an encrypted namespace: "
            "its values are stored as keyed tokens that only compare equal"
        )
    parts: list[str] = []
    params: list[Any] = []
    if where.occurred_after is not None:
        parts.append(f"{row}.occurred_at >= ?")
        params.append(to_iso(where.occurred_after))
    if where.occurred_before is not None:
        parts.append(f"{row}.occurred_at < ?")
        params.append(to_iso(where.occurred_before))
    if where.unexpired_at is not None:  # docs/expiry.md
        parts.append(f"({row}.expires_at IS NULL OR {row}.expires_at > ?)")
        params.append(to_iso(where.unexpired_at))
    for condition in where.conditions:
        sql, values = _condition(cipher, namespace, condition)
        parts.append(f"{row}.rowid {'NOT IN' if condition.negated else 'IN'} ({sql})")
        params += values
    return (" AND ".join(parts) or "1"), params


def _condition(cipher: Cipher, namespace: str, c: Condition) -> tuple[str, list[Any]]:
    """The rowids whose field holds a value the condition names (for ``$ne`` / ``$nin``:
    the rowids to leave out)."""
    head = "SELECT engram_rowid FROM fields WHERE namespace = ? AND field = ? AND "
    params: list[Any] = [namespace, _field(cipher, c.field)]
    if not c.ordering:
        keys = [_key(cipher, c.field, equality_key(v)) for v in c.values]
        return head + f"key IN ({','.join('?' * len(keys))})", params + keys
    bound = c.values[0]
    column = "text" if isinstance(bound, str) else "number"
    value = bound if isinstance(bound, str) else float(bound)
    return head + f"{column} {_ORDER_SQL[c.op]} ?", [*params, value]


def _field(cipher: Cipher, name: str) -> str:
    return cipher.tag("field\x00" + name) if cipher.encrypted else name


def _key(cipher: Cipher, field: str, key: str) -> str:
    return cipher.tag("key\x00" + field + "\x00" + key) if cipher.encrypted else key


def rows_matching(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    where: Filter,
    ids: Sequence[str] | None,
    limit: int | None,
) -> list[str]:
    """Ids of the namespace's memories passing ``where`` (among ``ids`` when given), in
    rowid order, at most ``limit``."""
    if ids is not None:
        found = sorted(_passing(conn, cipher, namespace, where, "id", list(dict.fromkeys(ids))))
        out = [engram_id for _, engram_id in found]
        return out if limit is None else out[: max(limit, 0)]
    sql, params = clause(cipher, namespace, where)
    query = f"SELECT e.id FROM engrams e WHERE e.namespace = ? AND {sql} ORDER BY e.rowid"
    if limit is not None:
        query += f" LIMIT {max(int(limit), 0)}"
    return [r[0] for r in conn.execute(query, [namespace, *params])]


def keyed_matching(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, where: Filter
) -> list[tuple[int, str]]:
    """Row and id of every memory of the namespace passing ``where``, in rowid order."""
    sql, params = clause(cipher, namespace, where)
    query = f"SELECT e.rowid, e.id FROM engrams e WHERE e.namespace = ? AND {sql} ORDER BY e.rowid"
    return [(int(r[0]), str(r[1])) for r in conn.execute(query, [namespace, *params])]


def passing_rows(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, where: Filter, rowids: Sequence[int]
) -> dict[int, str]:
    """Row -> id of the ``rowids`` of the namespace that pass ``where``."""
    return dict(_passing(conn, cipher, namespace, where, "rowid", rowids))


def _passing(
    conn: sqlite3.Connection,
    cipher: Cipher,
    namespace: str,
    where: Filter,
    by: Literal["rowid", "id"],
    keys: Sequence[int] | Sequence[str],
) -> Iterator[tuple[int, str]]:
    """Row and id of each of ``keys`` (rowids or ids, as ``by`` says) of the namespace
    that passes ``where``: a statement a chunk, each checking the filter by row."""
    sql, params = clause(cipher, namespace, where)
    for start in range(0, len(keys), _CHUNK):
        chunk = list(keys[start : start + _CHUNK])
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT e.rowid, e.id FROM engrams e WHERE e.{by} IN ({marks}) "
            f"AND +e.namespace = ? AND {sql}",
            [*chunk, namespace, *params],
        ):
            yield int(row[0]), str(row[1])


def count_matching(
    conn: sqlite3.Connection, cipher: Cipher, namespace: str, where: Filter, limit: int
) -> int:
    """How many of the namespace's memories pass ``where``, up to ``limit``. Unordered,
    so SQLite stops after ``limit`` rows of whichever index serves the filter (an
    event-time bound: ``engrams_occurred``); ``rows_matching`` with a limit sorts
    every memory that passes by rowid first."""
    sql, params = clause(cipher, namespace, where)
    inner = f"SELECT 1 FROM engrams e WHERE e.namespace = ? AND {sql} LIMIT ?"
    found = conn.execute(f"SELECT COUNT(*) FROM ({inner})", [namespace, *params, max(limit, 0)])
    return int(found.fetchone()[0])
