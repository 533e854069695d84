"""A page of a listing on a SqliteStore (docs/scopes.md, "Listing"): keyset pagination.

One query walks an index of the namespace in the listing's order, from the key
of the previous page's last memory on: ``engrams_occurred`` for event time,
``engrams_recorded`` for ingest time, each ``(namespace, time)`` with the rowid
as SQLite keeps it in every index, so ``(time, rowid)`` is the order and the
row value ``(time, rowid) > (?, ?)`` a range of the index. A filter is the
condition of ``fields.clause`` (an indexed lookup per condition); the page's
memories are then read by id. The stored times are ``clock.to_iso`` text,
which sorts as time sorts, so event and ingest time order an encrypted
namespace too (they are not sealed: docs/security.md).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from engramdb.clock import from_iso, to_iso
from engramdb.security.crypto import Cipher
from engramdb.store.paging import Keyed, PageQuery
from engramdb.store.sqlite import fields, rows

__all__ = ["page"]


def page(conn: sqlite3.Connection, cipher: Cipher, query: PageQuery) -> list[Keyed]:
    """Up to ``query.limit`` memories after ``query.after``, in order, with their keys."""
    column = query.order  # one of paging.ORDERS: a column name, never the caller's text
    sql = f"SELECT e.rowid, e.id, e.{column} FROM engrams e WHERE e.namespace = ?"
    params: list[Any] = [query.namespace]
    if query.kinds is not None:
        kinds = sorted(query.kinds)
        sql += f" AND e.kind IN ({','.join('?' * len(kinds))})"
        params += kinds
    if query.after is not None:
        sql += f" AND (e.{column}, e.rowid) {'<' if query.descending else '>'} (?, ?)"
        params += [to_iso(query.after[0]), query.after[1]]
    if query.where is not None:
        condition, values = fields.clause(cipher, query.namespace, query.where)
        sql += f" AND {condition}"
        params += values
    way = "DESC" if query.descending else "ASC"
    sql += f" ORDER BY e.{column} {way}, e.rowid {way} LIMIT ?"
    found = conn.execute(sql, [*params, max(query.limit, 0)]).fetchall()
    engrams = rows.get_many(conn, cipher, query.namespace, [r[1] for r in found])
    return [
        Keyed(engrams[eid], (from_iso(at), int(rowid)))
        for rowid, eid, at in found
        if eid in engrams
    ]
