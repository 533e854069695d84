"""The reads of a two-stage search (docs/recall.md) use SQLite's indexes: none of
them scans the namespace (its ``(namespace, rowid)`` index) or the table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from engramdb.filters import Filter
from engramdb.recall.candidates import FEW, gather
from engramdb.recall.features import Query
from engramdb.store.base import Link
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import EMBEDDER, T0, make_record


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    records = [
        make_record("ns", f"turn {i}", session=f"s{i // 10}", occurred_at=T0 + timedelta(hours=i))
        for i in range(60)
    ]
    opened.insert([*records, make_record("other", "elsewhere")])
    # a link, so that ``links_of`` reads provenance (a store without any reads none)
    opened.restore_consolidation("ns", [], [Link(records[1].id, records[0].id, "duplicate")], {})
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


def test_a_broad_filter_is_counted_not_sorted(store: SqliteStore) -> None:
    """A filtered search asks whether few enough memories pass to search them all
    (``recall.candidates``): a count that stops at its limit. Reading the first of
    them in insertion order instead sorted every memory that passes an event-time
    bound (most of a million for ``as_of``) at each search."""
    size = 3  # FEW pools of 3 are fewer than the 60 that pass
    broad = Filter(occurred_before=T0 + timedelta(days=30))  # all 60 pass
    assert store.count_matching("ns", broad, FEW * size + 1) == FEW * size + 1 < 60
    query = Query.parse("turn 7", EMBEDDER.embed(["turn 7"])[0], T0 + timedelta(days=5))
    found = plans(store, lambda s: gather(s, "ns", query, size, within=broad))
    sorts = [d for d in found if "TEMP B-TREE FOR ORDER BY" in d]
    assert sorts == [], f"a filtered gather sorts: {sorts}"


def test_count_matching_counts_up_to_its_limit(store: SqliteStore) -> None:
    day = Filter(occurred_before=T0 + timedelta(hours=10))  # turns 0-9
    assert [store.count_matching("ns", day, k) for k in (0, 3, 10, 11, 100)] == [0, 3, 10, 10, 10]
    assert store.count_matching("ns", Filter(occurred_after=T0 + timedelta(days=99)), 5) == 0
    assert store.count_matching("nobody", day, 5) == 0


def test_a_store_never_consolidated_looks_up_no_links() -> None:
    """Provenance links come from consolidation: in a store that holds none, a search
    does not look each candidate up for them (a lookup of every id of the pool)."""
    opened = SqliteStore(":memory:")
    records = [make_record("ns", f"turn {i}") for i in range(5)]
    opened.insert(records)
    statements: list[str] = []
    opened._conn.set_trace_callback(statements.append)
    try:
        assert opened.links_of("ns", [r.id for r in records]) == []
    finally:
        opened._conn.set_trace_callback(None)
        opened.close()
    assert [s for s in statements if "engrams" in s] == []
