"""A search of a PostgreSQL namespace larger than the pool reads only its candidates
(docs/recall.md, "two-stage search"): never the namespace's catalog, whose read is
seconds at 100,000 memories (BENCHMARKS.md, "Scale on PostgreSQL") and which a
write by another process makes stale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from engramdb import Memory, Settings
from engramdb.config import EncryptionKey
from engramdb.embed import Embedder
from engramdb.security.crypto import generate_key
from engramdb.store.base import Catalog
from engramdb.store.postgres import PostgresStore

from .conftest import located

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SMALL = Settings(recall_pool=8, recall_exhaustive=8)
#: An encrypted store whose vectors pgvector reads (``encrypt_vectors=False``): sealed
#: vectors are searched in process, from the catalog's (docs/postgres.md).
SEALED = replace(SMALL, encryption=EncryptionKey.from_text(generate_key()), encrypt_vectors=False)


@pytest.fixture
def url(postgres_url: str, schema: str) -> str:
    return located(postgres_url, schema)


@pytest.fixture
def catalogs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The namespaces of every whole-catalog read of a PostgresStore from now on."""
    read: list[str] = []
    whole: Callable[[PostgresStore, str], Catalog] = PostgresStore.catalog

    def counted(self: PostgresStore, namespace: str) -> Catalog:
        read.append(namespace)
        return whole(self, namespace)

    monkeypatch.setattr(PostgresStore, "catalog", counted)
    return read


def _filled(mem: Memory) -> None:
    """Forty memories of "big" over four sessions and two weeks, a consolidation (facts
    and their links), and two memories of "small"."""
    topics = ("my dog Pastel", "the garden", "a trip to Lisbon", "work at the bakery")
    for i in range(40):
        mem.add(
            f"Day {i}: I talked about {topics[i % 4]}.", namespace="big", speaker="Maya",
            session=f"s{i // 10}", occurred_at=NOW - timedelta(hours=8 * (40 - i)),
        )  # fmt: skip
    mem.add("I live in Boston.", namespace="big", speaker="Maya", session="s9")
    mem.add("I moved to Denver.", namespace="big", speaker="Maya", session="s9")
    mem.consolidate(namespace="big")
    mem.add("A small namespace.", namespace="small")
    mem.add("Ranked whole.", namespace="small")


@pytest.mark.parametrize("settings", [SMALL, SEALED], ids=["plain", "encrypted"])
def test_a_search_above_the_pool_never_reads_the_catalog(
    url: str, embedder: Embedder, catalogs: list[str], settings: Settings
) -> None:
    with Memory(url, settings=settings, embedder=embedder) as writer:
        _filled(writer)
    catalogs.clear()
    with Memory(url, settings=settings, embedder=embedder) as mem:  # the first search after open
        hits = mem.search("What is Maya's dog called?", namespace="big", neighbours=1)
        assert hits, "the search found nothing"
        assert "Pastel" in hits[0].engram.text
        mem.search("Where did Maya go yesterday?", namespace="big", context="s3")
        mem.search("Where does Maya live?", namespace="big", kinds=("episode", "fact"))
        mem.set_budget(namespace="big", max_memories=1_000)  # each add checks it
        with Memory(url, settings=settings, embedder=embedder) as other:
            other.add("Pastel learned a new trick.", namespace="big", session="s3")
        after = mem.search("What trick did Pastel learn?", namespace="big")
        assert "trick" in after[0].engram.text, "the other writer's memory was not found"
        bundle = mem.context("Where does Maya live?", namespace="big", session="s9")
        assert "Denver" in bundle.render()
        assert mem.mood(namespace="big").memories > 0
        mem.fade(namespace="big")
        assert mem.store.stats("big").engrams > 43  # with facts and summaries
        assert catalogs == [], "a search above the pool read the whole catalog"
        mem.search("small", namespace="small")  # ranked whole: the counter counts
        assert catalogs == ["small"]
