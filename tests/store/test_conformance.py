"""Run the shared store conformance suite against every way SqliteStore opens."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from engramdb.store.base import Store
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import ALL_CHECKS, StoreFactory


@pytest.fixture(params=["memory", "file"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    counter = itertools.count()

    def make(*, ann_threshold: int = 20_000) -> Store:
        where = ":memory:" if request.param == "memory" else tmp_path / f"s{next(counter)}.db"
        return SqliteStore(where, ann_threshold=ann_threshold)

    return make


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_sqlite_store_conforms(
    check: Callable[[StoreFactory], None], factory: StoreFactory
) -> None:
    check(factory)
