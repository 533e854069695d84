"""The defaults ``Store`` gives a backend for the reads of a two-stage search
(docs/recall.md) meet the same conformance checks as SqliteStore's indexed ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import pytest

from engramdb.store.base import Catalog, Link, Store
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import (
    StoreFactory,
    check_around_reads_session_turns,
    check_catalog_of_matches_catalog,
    check_links_of_reads_either_end,
    check_occurred_between_is_a_time_window,
)


class _Defaults(SqliteStore):
    """A SqliteStore that answers the candidate reads with ``Store``'s defaults."""

    def count(self, namespace: str, limit: int) -> int:
        return Store.count(self, namespace, limit)

    def catalog_of(self, namespace: str, ids: Sequence[str]) -> Catalog:
        return Store.catalog_of(self, namespace, ids)

    def around(self, namespace: str, ids: Sequence[str], span: int) -> list[str]:
        return Store.around(self, namespace, ids, span)

    def occurred_between(
        self, namespace: str, start: datetime, end: datetime, limit: int
    ) -> list[str]:
        return Store.occurred_between(self, namespace, start, end, limit)

    def links_of(self, namespace: str, ids: Sequence[str]) -> list[Link]:
        return Store.links_of(self, namespace, ids)


@pytest.mark.parametrize(
    "check",
    [
        check_catalog_of_matches_catalog,
        check_around_reads_session_turns,
        check_occurred_between_is_a_time_window,
        check_links_of_reads_either_end,
    ],
    ids=lambda check: check.__name__,
)
def test_store_defaults_conform(check: Callable[[StoreFactory], None]) -> None:
    def make(*, ann_threshold: int = 20_000) -> Store:
        return _Defaults(":memory:", ann_threshold=ann_threshold)

    check(make)
