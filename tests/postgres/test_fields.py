"""Filters as SQL on PostgreSQL (store.postgres.fields): a listing's page and
``matching`` keep exactly the memories ``Filter.matches`` keeps, on values where
SQL and Python could part (numbers of every kind, lists, nested lists, strings
in code-point order), and say where Python still checks.
"""

from __future__ import annotations

from datetime import timedelta

from engramdb.filters import Filter, parse
from engramdb.store.paging import PageQuery
from engramdb.store.postgres import PostgresStore
from engramdb.store.postgres.fields import clause
from engramdb.testing.conformance import T0, make_record

METADATA = [
    {"n": 1},
    {"n": 1.0},
    {"n": True},
    {"n": "1"},
    {"n": [1, 2]},
    {"n": [[1]]},
    {"n": {"n": 1}},
    {"n": 2**53},
    {"n": 2**60},
    {"n": float(2**60)},
    {"n": 10**400},
    {"n": 0.1},
    {"n": -3.5},
    {"tags": ["work", "home"]},
    {"tags": "work"},
    {"tags": ["Work", ["home"]]},
    {"word": "é"},
    {"word": "z"},
    {"word": "Zebra"},
    {"word": ["a", "ä"]},
    {"word": "\U0001f600"},
    {"k-with space": "x"},
    {},
]

#: (where, whether SQL alone decides it)
FILTERS: list[tuple[dict[str, object], bool]] = [
    ({"metadata.n": 1}, True),
    ({"metadata.n": 1.0}, True),
    ({"metadata.n": True}, True),
    ({"metadata.n": "1"}, True),
    ({"metadata.n": {"$ne": 1}}, True),
    ({"metadata.n": {"$in": [2, 0.1, -3.5]}}, True),
    ({"metadata.n": {"$nin": [1, True]}}, True),
    ({"metadata.n": 2**53}, True),
    ({"metadata.n": 2**60}, False),
    ({"metadata.n": float(2**60)}, False),
    ({"metadata.n": {"$gt": 0.5}}, False),
    ({"metadata.n": {"$lte": 2**60}}, False),
    ({"metadata.tags": "work"}, True),
    ({"metadata.tags": "home"}, True),
    ({"metadata.tags": {"$nin": ["home"]}}, True),
    ({"metadata.word": {"$gt": "e"}}, True),
    ({"metadata.word": {"$gte": "a", "$lt": "z"}}, True),
    ({"metadata.word": {"$lt": "Z"}}, True),
    ({"metadata.n": {"$gt": "0"}}, True),
    ({"metadata.k-with space": "x"}, True),
    ({"speaker": "Ann"}, True),
    ({"speaker": {"$ne": "Ann"}}, True),
    ({"speaker": {"$gt": "B"}}, True),
    ({"session": {"$in": ["s0", "s2"]}, "metadata.tags": "work"}, True),
    ({"session": {"$nin": ["s1"]}}, True),
    ({"speaker": {"$lt": "Bo"}, "metadata.n": {"$gte": 1}}, False),
]


def test_filters_in_sql_keep_what_the_reference_keeps(store: PostgresStore) -> None:
    records = [
        make_record(
            "ns", f"note {i}", session=(f"s{i % 3}" if i % 4 else None),
            speaker=("Ann", "Bo", "Ćy", None)[i % 4], metadata=metadata,
            occurred_at=T0 + timedelta(hours=i),
        )
        for i, metadata in enumerate(METADATA)
    ]  # fmt: skip
    store.insert(records)
    stored = list(store.iter_engrams("ns"))
    for spec, exact in FILTERS:
        where = parse(spec)
        assert clause(where, encrypted=False).exact is exact, spec
        assert not clause(where, encrypted=True).exact, "sealed values: Python decides"
        expected = [
            e.id
            for e in stored
            if where.matches(
                speaker=e.speaker,
                session=e.session,
                metadata=e.metadata,
                occurred_at=e.occurred_at,
            )
        ]
        assert store.matching("ns", where) == expected, spec
        assert store.matching("ns", where, limit=2) == expected[:2], spec
        for descending in (False, True):
            listed: list[str] = []
            after = None
            while True:  # pages of 2, to cross page boundaries
                query = PageQuery("ns", "occurred_at", descending, 2, where=where, after=after)
                page = store.page(query)
                listed += [k.engram.id for k in page]
                if len(page) < 2:
                    break
                after = page[-1].key
            assert listed == (expected[::-1] if descending else expected), spec


def test_an_empty_filter_is_exact_everywhere() -> None:
    assert clause(Filter(), encrypted=False) == clause(Filter(), encrypted=True)
    assert clause(Filter(), encrypted=True).exact
