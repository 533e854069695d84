"""A recaller keeps the views and analysed documents of a bounded number of
namespaces (docs/limits.md, "Caches"); an evicted namespace is rebuilt at its
next search and answers as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from engramdb.recall.engine import CACHED_NAMESPACES, Recaller, SearchRequest
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import EMBEDDER, make_record

NOW = datetime(2024, 3, 15, tzinfo=timezone.utc)
TOPICS = {"ns-a": "violin lessons", "ns-b": "sourdough starter", "ns-c": "marathon training"}


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    for namespace, topic in TOPICS.items():
        opened.insert(
            [
                make_record(namespace, f"we talked about {topic} today"),
                make_record(namespace, "the weather was grey and mild"),
            ]
        )
    yield opened
    opened.close()


def _top(recaller: Recaller, namespace: str) -> str:
    hits = recaller.search(SearchRequest(TOPICS[namespace], namespace, 1, NOW))
    return hits[0].engram.text


def test_views_of_more_namespaces_than_the_bound_are_evicted(store: SqliteStore) -> None:
    recaller = Recaller(store, EMBEDDER, cached_namespaces=2)
    for _ in range(2):  # the second round searches namespaces evicted by the first
        for namespace, topic in TOPICS.items():
            assert topic in _top(recaller, namespace)
            assert len(recaller._views) <= 2  # private: the bound is what is tested
            assert len(recaller._documents) <= 2
    assert set(recaller._views) == {"ns-b", "ns-c"}


def test_pooled_documents_of_more_namespaces_than_the_bound_are_evicted(
    store: SqliteStore,
) -> None:
    recaller = Recaller(store, EMBEDDER, cached_namespaces=2, exhaustive_up_to=0)
    for _ in range(2):
        for namespace, topic in TOPICS.items():
            assert topic in _top(recaller, namespace)
            assert len(recaller._pooled_documents) <= 2


def test_the_default_bound_is_documented() -> None:
    from pathlib import Path

    limits = (Path(__file__).resolve().parents[2] / "docs" / "limits.md").read_text("utf-8")
    assert f"{CACHED_NAMESPACES} namespaces" in limits
