"""The change mark of a namespace (store.postgres.changes, docs/scaling.md): it moves
once per namespace a transaction writes, however many statements and rows the
transaction has, and every committed write still moves it."""

from __future__ import annotations

import psycopg
from psycopg import sql

from engramdb.store.postgres import PostgresStore
from engramdb.store.postgres.changes import changes_of
from engramdb.testing.conformance import make_record


def _taken(url: str, schema: str) -> int:
    """The last value the mark's sequence gave."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT last_value FROM {}.namespace_change").format(sql.Identifier(schema))
        ).fetchone()
    assert row is not None
    return int(row[0])


def _mark(url: str, schema: str, namespace: str) -> tuple[int, ...] | None:
    with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
        return changes_of(conn, namespace)


def test_a_batch_moves_the_mark_once_and_every_commit_moves_it(
    store: PostgresStore, postgres_url: str, schema: str
) -> None:
    store.insert([make_record("u", "first")])
    cached = store.catalog("u")
    mark = _mark(postgres_url, schema, "u")
    taken = _taken(postgres_url, schema)
    # one INSERT a memory, 1,000 statements: one new value
    store.insert([make_record("u", f"note {i}") for i in range(1_000)])
    assert _taken(postgres_url, schema) == taken + 1
    moved = _mark(postgres_url, schema, "u")
    assert moved is not None
    assert moved != mark
    again = store.catalog("u")
    assert again is not cached
    assert len(again.ids) == 1_001
    # two namespaces in one transaction: one value each
    store.insert([make_record(ns, f"{ns} {i}") for i in range(3) for ns in ("u", "v")])
    assert _taken(postgres_url, schema) == taken + 3
    assert _mark(postgres_url, schema, "u") not in (mark, moved)
    # the next transaction, a delete, moves it again
    first = again.ids[0]
    store.delete("u", first)
    assert _taken(postgres_url, schema) == taken + 4
    assert first not in store.catalog("u").ids
