"""A page of a listing on a PostgresStore (docs/scopes.md, "Listing"): keyset pagination.

One query reads the namespace's rows in the listing's order from the key of
the previous page's last memory on, by the indexes ``(namespace, occurred_at,
rowid)`` and ``(namespace, recorded_at, rowid)`` (migration 5): the row value
``(time, rowid) > (%s, %s)`` is a range of the index, whatever page it is.
Event-time bounds and kinds are SQL conditions, and so are the conditions of
``where`` on speaker, session and metadata (``fields.clause``: columns and
``jsonb`` containment), exactly where the SQL keeps the rows ``Filter.matches``
(the reference semantics) keeps. What SQL cannot decide exactly (metadata
numbers past 2**53, ordering against a number, every condition of an encrypted
namespace, whose values are sealed) is checked by ``Filter.matches`` on the
rows SQL returns, read in order in batches until the page is full (in an
encrypted namespace, on the opened values). A filter that few rows pass reads
further for a page, never from the start.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engramdb.filters import Filter
from engramdb.security.crypto import Cipher
from engramdb.store.paging import Keyed, PageQuery
from engramdb.store.postgres import fields, rows
from engramdb.store.postgres.database import Connection

__all__ = ["page"]

_BATCH = 1_000  # rows read per query while a filter on fields fills a page


def page(conn: Connection, query: PageQuery, cipher: Cipher) -> list[Keyed]:
    """Up to ``query.limit`` memories after ``query.after``, in order, with their keys."""
    matched = fields.clause(query.where or Filter(), cipher.encrypted)
    checked = not matched.exact  # Filter.matches decides what SQL could not
    found: list[Keyed] = []
    while len(found) < query.limit:
        size = _BATCH if checked else query.limit - len(found)
        batch = _read(conn, query, size, cipher, matched)
        kept = [k for k in batch if not checked or query.passes(k.engram)]
        found += kept[: query.limit - len(found)]
        if len(batch) < size:
            break
        query = replace(query, after=batch[-1].key)
    return found


def _read(
    conn: Connection, query: PageQuery, size: int, cipher: Cipher, matched: fields.Clause
) -> list[Keyed]:
    column = query.order  # one of paging.ORDERS: a column name, never the caller's text
    sql = f"SELECT {rows.ENGRAM_COLUMNS} FROM engrams WHERE namespace = %s"
    params: list[Any] = [query.namespace]
    if query.kinds is not None:
        sql += " AND kind = ANY(%s)"
        params.append(sorted(query.kinds))
    where = query.where or Filter()
    if where.occurred_after is not None:
        sql += " AND occurred_at >= %s"
        params.append(where.occurred_after)
    if where.occurred_before is not None:
        sql += " AND occurred_at < %s"
        params.append(where.occurred_before)
    if where.unexpired_at is not None:  # docs/expiry.md
        sql += " AND (expires_at IS NULL OR expires_at > %s)"
        params.append(where.unexpired_at)
    for condition in matched.sql:
        sql += f" AND {condition}"
    params += matched.params
    if query.after is not None:
        sql += f" AND ({column}, rowid) {'<' if query.descending else '>'} (%s, %s)"
        params += [query.after[0], query.after[1]]
    way = "DESC" if query.descending else "ASC"
    sql += f" ORDER BY {column} {way}, rowid {way} LIMIT %s"
    out = []
    for row in conn.execute(sql, [*params, size]).fetchall():
        engram = rows.engram(row, lambda _: cipher)
        out.append(Keyed(engram, (getattr(engram, column), int(row[0]))))
    return out
