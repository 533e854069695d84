"""The conditions of a filter (docs/filters.md) as SQL on a PostgresStore's rows.

This store has no table of filterable values (SQLite's ``fields``): speaker and
session are columns, and metadata is canonical JSON text (``rows``), read as
``jsonb`` where a condition names one of its keys. In a namespace without
encryption a condition becomes SQL that keeps the same rows as
``Filter.matches`` (the reference semantics) where the two agree exactly:

- speaker and session, every operator: equality on the column, a missing value
  passing ``$ne`` / ``$nin``; ordering in code-point order (``COLLATE "C"``, as
  Python compares strings), a bound that is not a string never passing;
- a metadata key's equality (``$eq`` / ``$in``, and their negations) by
  containment: the key holds the value, or a list holding it as an element
  (``{"k": v}`` or ``{"k": [v]}``; a nested list or an object never matches,
  as in ``Filter.matches``). A number is compared as PostgreSQL's ``numeric``,
  which agrees with ``filters.equality_key`` (``1`` is ``1.0``, never ``true``
  or ``"1"``) for numbers up to 2**53 either way; a larger one is left to
  ``Filter.matches``;
- a metadata key's ordering against a string: any string element in code-point
  order. Ordering against a number is left to ``Filter.matches`` (Python
  compares floats; ``numeric`` is exact, and the two part past 2**53).

What is left over, and every condition of an encrypted namespace (its values
are sealed; ordering there is refused before a query), is checked by
``Filter.matches`` on the rows SQL returns, which are then a superset of the
answer: ``Clause.exact`` says whether that check can be skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engramdb.filters import Condition, Filter, Scalar
from engramdb.security.crypto import Cipher
from engramdb.store.postgres import rows
from engramdb.store.postgres.database import Connection

__all__ = ["Clause", "clause", "matching"]

_EXACT = 2**53
_ORDER_SQL = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
#: a metadata key's value as a list of its elements (a scalar as a list of one)
_ELEMENTS = (
    "jsonb_array_elements(CASE WHEN jsonb_typeof(metadata::jsonb -> %s) = 'array' "
    "THEN metadata::jsonb -> %s ELSE jsonb_build_array(metadata::jsonb -> %s) END)"
)


@dataclass(frozen=True, slots=True)
class Clause:
    """SQL conditions on an ``engrams`` row (joined by AND; none: every row), their
    parameters, and whether they keep exactly the rows ``Filter.matches`` keeps."""

    sql: tuple[str, ...]
    params: tuple[Any, ...]
    exact: bool


def clause(where: Filter, encrypted: bool) -> Clause:
    """The conditions of ``where`` on speaker, session and metadata (not event time)."""
    if encrypted:
        return Clause((), (), not where.conditions)
    parts: list[str] = []
    params: list[Any] = []
    exact = True
    for condition in where.conditions:
        found = _condition(condition)
        if found is None:
            exact = False
            continue
        sql, values = found
        parts.append(sql)
        params += values
    return Clause(tuple(parts), tuple(params), exact)


def matching(
    conn: Connection,
    cipher: Cipher,
    namespace: str,
    where: Filter,
    ids: Sequence[str] | None,
    limit: int | None,
) -> list[str]:
    """Ids of the namespace's memories passing ``where`` (among ``ids`` when given), in
    insertion order, at most ``limit``: one query, whose rows ``Filter.matches`` checks
    too where the SQL is not exact (then without the limit in SQL)."""
    if limit is not None and limit <= 0:
        return []
    matched = clause(where, cipher.encrypted)
    sql = ["namespace = %s"]
    params: list[Any] = [namespace]
    if where.occurred_after is not None:
        sql.append("occurred_at >= %s")
        params.append(where.occurred_after)
    if where.occurred_before is not None:
        sql.append("occurred_at < %s")
        params.append(where.occurred_before)
    if where.unexpired_at is not None:  # docs/expiry.md
        sql.append("(expires_at IS NULL OR expires_at > %s)")
        params.append(where.unexpired_at)
    if ids is not None:
        sql.append("id = ANY(%s)")
        params.append(list(dict.fromkeys(ids)))
    sql += matched.sql
    params += matched.params
    columns = "rowid, id" if matched.exact else rows.ENGRAM_COLUMNS
    query = f"SELECT {columns} FROM engrams WHERE {' AND '.join(sql)} ORDER BY rowid"
    if matched.exact and limit is not None:
        query += f" LIMIT {int(limit)}"
    found = conn.execute(query, params).fetchall()
    if matched.exact:
        return [str(row[1]) for row in found]
    out: list[str] = []
    for row in found:
        engram = rows.engram(row, lambda _: cipher)
        if where.matches(
            speaker=engram.speaker,
            session=engram.session,
            metadata=engram.metadata,
            occurred_at=engram.occurred_at,
            expires_at=engram.expires_at,
        ):
            out.append(engram.id)
            if limit is not None and len(out) >= limit:
                break
    return out


def _condition(c: Condition) -> tuple[str, list[Any]] | None:
    """The exact SQL of one condition, or None where ``Filter.matches`` must decide."""
    if c.field in ("speaker", "session"):
        column = c.field  # one of two names, never the caller's text
        if c.ordering:
            bound = c.values[0]
            if not isinstance(bound, str):
                return "false", []
            return f'{column} COLLATE "C" {_ORDER_SQL[c.op]} %s', [bound]
        texts = [v for v in c.values if isinstance(v, str)]
        if c.negated:
            return f"({column} IS NULL OR NOT ({column} = ANY(%s)))", [texts]
        return f"{column} = ANY(%s)", [texts]
    key = c.field[len("metadata.") :]
    if c.ordering:
        bound = c.values[0]
        if not isinstance(bound, str):
            return None
        return (
            f"EXISTS (SELECT 1 FROM {_ELEMENTS} AS x(v) WHERE jsonb_typeof(x.v) = 'string' "
            f"AND (x.v #>> '{{}}') COLLATE \"C\" {_ORDER_SQL[c.op]} %s)",
            [key, key, key, bound],
        )
    if not all(_safe(v) for v in c.values):
        return None
    shapes = [json.dumps({key: shape}) for v in c.values for shape in (v, [v])]
    held = "metadata::jsonb @> ANY(%s::jsonb[])"
    return (f"NOT ({held})" if c.negated else held), [shapes]


def _safe(value: Scalar) -> bool:
    """Whether ``numeric`` equality agrees with ``equality_key`` for this value."""
    if isinstance(value, bool | str):
        return True
    return abs(value) <= _EXACT
