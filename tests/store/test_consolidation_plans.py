"""What consolidation reads of a SqliteStore uses its indexes (docs/consolidation.md,
"At scale"): memories by the id index, facts by id or by their lookup token,
pending episodes above the namespace's ``consumed_to`` mark; nothing scans the
namespace or a table."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from engramdb.store.base import ConsolidationBatch, FactRow, Link
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import T0, make_record

from .test_candidate_plans import IDS, plans


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    records = [make_record("ns", f"turn {i}", session=f"s{i // 10}") for i in range(60)]
    opened.insert([*records, make_record("other", "elsewhere")])
    fact = make_record("ns", "Maya lives in Boston", kind="fact", engram_id="f" * 32)
    assert opened.apply_consolidation(
        ConsolidationBatch(
            namespace="ns",
            episodes=((records[0].id, 1),),
            now=T0,
            inserts=(fact,),
            facts=(FactRow("f" * 32, "Maya", "residence", "Boston", T0, None, "current"),),
            links=(Link("f" * 32, records[0].id, "extracted"),),
        )
    )
    opened.vectors("ns", ["0" * 32])  # the vector index is loaded once, before
    yield opened
    opened.close()


#: Bookkeeping tables of a row or so each (the schema, the vector change log).
SMALL = ("sqlite_master", "sqlite_sequence", "vector_log")


READS: dict[str, Callable[[SqliteStore], object]] = {
    "vectors": lambda s: s.vectors("ns", IDS),
    "facts_of ids": lambda s: s.facts_of("ns", ["f" * 32, *IDS]),
    "facts_of keys": lambda s: s.facts_of("ns", keys=[(f"P{i}", "residence") for i in range(400)]),
    "pending_episodes": lambda s: s.pending_episodes("ns", 10),
    "pending_count": lambda s: s.pending_count("ns"),
    "a refused batch": lambda s: s.apply_consolidation(
        ConsolidationBatch("ns", tuple((i, 1) for i in IDS), T0)
    ),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_consolidation_reads_never_scan_the_namespace(store: SqliteStore, name: str) -> None:
    found = plans(store, READS[name])
    scans = [
        d
        for d in found
        if (d.startswith("SCAN") and d.split()[1] not in SMALL)
        or ("engrams_namespace" in d and "rowid>?" not in d)
    ]
    assert scans == [], f"{name} scans: {scans}"
