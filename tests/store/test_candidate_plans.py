"""The reads of a two-stage search (docs/recall.md) use SQLite's indexes: none of
them scans the namespace (its ``(namespace, rowid)`` index) or the table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import T0, make_record


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    records = [
        make_record("ns", f"turn {i}", session=f"s{i // 10}", occurred_at=T0 + timedelta(hours=i))
        for i in range(60)
    ]
    opened.insert([*records, make_record("other", "elsewhere")])
    yield opened
    opened.close()


def plans(store: SqliteStore, read: Callable[[SqliteStore], object]) -> list[str]:
    """The query plan of every SELECT that ``read`` runs."""
    statements: list[str] = []
    conn: sqlite3.Connection = store._conn
    conn.set_trace_callback(statements.append)
    try:
        read(store)
    finally:
        conn.set_trace_callback(None)
    details = []
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT"):
            details += [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert details, "no query ran"
    return details


# A long list of ids: with a few, SQLite takes the id index whatever the query says.
IDS = [f"{i:032x}" for i in range(400)]
READS: dict[str, Callable[[SqliteStore], object]] = {
    "get_many": lambda s: s.get_many("ns", IDS),
    "catalog_of": lambda s: s.catalog_of("ns", IDS),
    "around": lambda s: s.around("ns", IDS, 3),
    "occurred_between": lambda s: s.occurred_between("ns", T0, T0 + timedelta(days=1), 5),
    "links_of": lambda s: s.links_of("ns", IDS),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_candidate_reads_never_scan_the_namespace(store: SqliteStore, name: str) -> None:
    found = plans(store, READS[name])
    scans = [d for d in found if "engrams_namespace" in d or d.startswith("SCAN e")]
    assert scans == [], f"{name} scans: {scans}"
