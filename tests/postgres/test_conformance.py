"""The shared store conformance suite against PostgresStore (docs/postgres.md).

Each store a check makes is a new PostgreSQL schema of the test database,
dropped after the test. ``NOT_YET`` lists the checks PostgresStore does not
pass yet, each with the reason: they run as strict expected failures, so one
that starts passing fails here until it leaves the list.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from engramdb.config import EncryptionKey
from engramdb.security.crypto import generate_key
from engramdb.store.base import Store
from engramdb.store.postgres import PostgresStore
from engramdb.testing.conformance import (
    ALL_CHECKS,
    StoreFactory,
    check_ann_search,
    check_nearest_scores_match_vector_search,
)

#: Checks PostgresStore does not pass yet, and why.
NOT_YET: dict[str, str] = {}


#: The checks of dense search above ``ann_threshold``, run again through the graph.
THROUGH_THE_GRAPH = (check_ann_search, check_nearest_scores_match_vector_search)


def _factory(url: str, key: EncryptionKey | None = None) -> Iterator[StoreFactory]:
    """A new schema for each store a check makes; all dropped afterwards. With
    ``graph_only_url`` every search above ``ann_threshold`` goes through the HNSW
    graph: at these sizes PostgreSQL would read the namespace's vectors instead
    (docs/postgres.md, "Exact, then HNSW"). With ``key`` each store is encrypted,
    vectors included: dense search runs in process, never in pgvector."""
    prefix = f"conformance_{uuid.uuid4().hex[:12]}"
    counter = itertools.count()
    made: list[str] = []

    def make(*, ann_threshold: int = 20_000) -> Store:
        schema = f"{prefix}_{next(counter)}"
        made.append(schema)
        return PostgresStore(url, schema=schema, ann_threshold=ann_threshold, encryption=key)

    yield make
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in made:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["plain", "encrypted"])
def factory(request: pytest.FixtureRequest, postgres_url: str) -> Iterator[StoreFactory]:
    key = EncryptionKey.from_text(generate_key()) if request.param == "encrypted" else None
    yield from _factory(postgres_url, key)


@pytest.fixture
def indexed_factory(graph_only_url: str) -> Iterator[StoreFactory]:
    yield from _factory(graph_only_url)


def _marked(check: Callable[[StoreFactory], None]) -> object:
    reason = NOT_YET.get(check.__name__)
    if reason is None:
        return check
    return pytest.param(check, marks=pytest.mark.xfail(reason=reason, strict=True))


def test_not_yet_names_only_checks_of_the_suite() -> None:
    assert set(NOT_YET) <= {check.__name__ for check in ALL_CHECKS}


@pytest.mark.parametrize(
    "check", [_marked(check) for check in ALL_CHECKS], ids=lambda check: check.__name__
)
def test_postgres_store_conforms(
    check: Callable[[StoreFactory], None], factory: StoreFactory
) -> None:
    check(factory)


@pytest.mark.parametrize("check", THROUGH_THE_GRAPH, ids=lambda check: check.__name__)
def test_postgres_store_conforms_through_the_graph(
    check: Callable[[StoreFactory], None], indexed_factory: StoreFactory
) -> None:
    check(indexed_factory)
