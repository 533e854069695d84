"""Two-stage recall (docs/recall.md): candidates from the store's indexes, then the
ranker over them, on real SQLite stores with the hash embedder."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from engramdb import Memory
from engramdb.clock import FixedClock
from engramdb.config import EncryptionKey, Settings
from engramdb.recall.candidates import gather
from engramdb.recall.engine import Recaller, SearchRequest
from engramdb.recall.features import Query
from engramdb.recall.followup import Turn
from engramdb.security.crypto import generate_key
from engramdb.store.base import DynamicsUpdate, EngramRecord, Store
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import EMBEDDER, make_record

NOW = datetime(2024, 3, 15, tzinfo=timezone.utc)
START = NOW - timedelta(days=400)
WORDS = [
    f"{a}{b}"
    for a in ("bal", "cor", "dem", "fin", "gar", "hol", "jur", "kel", "lom", "mar")
    for b in ("ada", "ebo", "ira", "oku", "uny", "ped", "sar", "tol", "vex", "wim")
]


def haystack(namespace: str, count: int, seed: int = 7) -> list[EngramRecord]:
    """``count`` turns of made-up words in sessions of 12, a day apart per session."""
    rng = random.Random(seed)
    return [
        make_record(
            namespace,
            " ".join(rng.sample(WORDS, 6)),
            session=f"s{i // 12}",
            speaker=("Ana", "Ben")[i % 2],
            occurred_at=START + timedelta(days=i // 12),
        )
        for i in range(count)
    ]


def unrelated_vector(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(EMBEDDER.dims).astype(np.float32)
    return vector / np.linalg.norm(vector)


def two_stage(store: Store, pool: int) -> Recaller:
    return Recaller(store, EMBEDDER, pool=pool, exhaustive_up_to=0)


def request(query: str, limit: int = 10, **options: object) -> SearchRequest:
    return SearchRequest(query, "ns", limit, NOW, **options)  # type: ignore[arg-type]


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    yield opened
    opened.close()


def test_a_pool_covering_the_namespace_ranks_as_the_exhaustive_search(store: SqliteStore) -> None:
    store.insert(haystack("ns", 90))
    query = " ".join(WORDS[3:6])
    exhaustive = Recaller(store, EMBEDDER).search(request(query))
    pooled = two_stage(store, 1_000).search(request(query))
    assert [h.engram.id for h in pooled] == [h.engram.id for h in exhaustive]
    assert [h.score for h in pooled] == pytest.approx([h.score for h in exhaustive])


def test_the_default_pool_keeps_a_small_namespace_exhaustive(store: SqliteStore) -> None:
    store.insert(haystack("ns", 40))
    recaller = Recaller(store, EMBEDDER, pool=40)
    view, _ = recaller.score(request(WORDS[0]))
    assert view is recaller.view("ns"), "a namespace the pool holds is ranked from its view"
    store.insert(haystack("ns", 1, seed=8))
    view, _ = recaller.score(request(WORDS[0]))
    assert len(view.catalog) <= 40, "one memory over the pool is ranked from its candidates"


def findable_one_way(namespace: str) -> tuple[EngramRecord, EngramRecord, str]:
    """A memory only BM25 finds (its words, an unrelated vector) and one only the
    vector index finds (no shared word, the query's own vector), and the query."""
    query = "where did the quokka zanzibarite go"
    lexical = make_record(namespace, "a zanzibarite quokka fell asleep", vector=unrelated_vector(1))
    dense = make_record(namespace, "nothing in common here", vector=EMBEDDER.embed([query])[0])
    return lexical, dense, query


def test_a_small_pool_finds_what_only_one_index_finds(store: SqliteStore) -> None:
    lexical, dense, query = findable_one_way("ns")
    records = haystack("ns", 3_000)
    store.insert([*records[:1_000], lexical, *records[1_000:2_000], dense, *records[2_000:]])
    recaller = two_stage(store, 60)
    view, _ = recaller.score(request(query))
    assert len(view.catalog) <= 60
    found = [h.engram.id for h in recaller.search(request(query))]
    assert lexical.id in found, "the memory only the full-text index finds was lost"
    assert dense.id in found, "the memory only the vector index finds was lost"


def test_an_encrypted_store_finds_candidates_through_its_blind_index() -> None:
    sealed = SqliteStore(":memory:", encryption=EncryptionKey.from_text(generate_key()))
    try:
        lexical, dense, query = findable_one_way("ns")
        sealed.insert([*haystack("ns", 600), lexical, dense])
        found = [h.engram.id for h in two_stage(sealed, 30).search(request(query))]
        assert lexical.id in found, "the blind index gave no lexical candidate"
        assert dense.id in found
    finally:
        sealed.close()


def test_a_time_window_brings_its_memories_into_the_pool(store: SqliteStore) -> None:
    then = make_record(
        "ns", "unrelated words entirely", occurred_at=NOW - timedelta(days=9),
        vector=unrelated_vector(2),
    )  # fmt: skip
    store.insert([*haystack("ns", 500), then])
    text = "what did we do last week"
    query = Query.parse(text, EMBEDDER.embed([text])[0], NOW)
    assert then.id in gather(store, "ns", query, 40)
    plain = Query.parse("what did we do", EMBEDDER.embed(["what did we do"])[0], NOW)
    assert then.id not in gather(store, "ns", plain, 40), "found without its time window"


def test_session_turns_around_a_seed_join_the_pool(store: SqliteStore) -> None:
    records = haystack("ns", 600)
    store.insert(records)
    target = records[305]  # mid-session (sessions of 12)
    query = Query.parse(target.text, EMBEDDER.embed([target.text])[0], NOW)
    pool = gather(store, "ns", query, 80)
    assert len(pool) <= 80
    assert records[304].id in pool
    assert records[306].id in pool, "the reply after the best match is not a candidate"


def test_filters_hold_on_the_two_stage_path(store: SqliteStore) -> None:
    query = "the zanzibarite quokka"
    match = {
        name: make_record("ns", f"{query} {name}", occurred_at=NOW - timedelta(days=days))
        for name, days in (("dormant", 5), ("joyful", 6), ("late", 1), ("plain", 7))
    }
    match["joyful"] = replace(match["joyful"], emotion="joy")
    fact = make_record("ns", f"{query} fact", kind="fact", occurred_at=NOW - timedelta(days=8))
    store.insert([*haystack("ns", 400), *match.values(), fact])
    store.set_dynamics("ns", [DynamicsUpdate(match["dormant"].id, dormant=True)])
    recaller = two_stage(store, 40)

    def found(**options: object) -> set[str]:
        return {h.engram.id for h in recaller.search(request(query, **options))}

    everything = found(include_dormant=True)
    assert {m.id for m in match.values()} <= everything
    assert match["dormant"].id not in found(), "a dormant memory came back"
    assert fact.id not in everything, "a fact came back where episodes were asked for"
    assert found(kinds=frozenset({"fact"})) == {fact.id}
    assert found(emotions=frozenset({"joy"})) == {match["joyful"].id}
    as_of = found(as_of=NOW - timedelta(days=3), include_dormant=True)
    assert match["late"].id not in as_of, "a memory of a later event came back for as_of"
    assert match["plain"].id in as_of


def test_the_pool_is_a_setting() -> None:
    assert Settings.from_env({"ENGRAMDB_RECALL_POOL": "700"}).recall_pool == 700
    with pytest.raises(ValueError, match="recall_pool"):
        Settings(recall_pool=0)
    assert Settings.from_env({"ENGRAMDB_RECALL_EXHAUSTIVE": "0"}).recall_exhaustive == 0
    with pytest.raises(ValueError, match="recall_exhaustive"):
        Settings(recall_exhaustive=-1)


def test_a_namespace_larger_than_the_pool_is_still_ranked_whole_up_to_the_bound() -> None:
    # docs/recall.md: 500 candidates above 1,000 memories; up to 1,000, the whole namespace
    defaults = Settings()
    assert (defaults.recall_pool, defaults.recall_exhaustive) == (500, 1_000)
    with Memory(":memory:", embedder=EMBEDDER, clock=FixedClock(NOW)) as mem:
        mem.add_many([{"text": r.text} for r in haystack("ns", 600)], namespace="ns")
        mem.search("lighthouse", namespace="ns", reinforce=False)
        whole = mem._recall()._views.get("ns")  # the kept view of the whole namespace
        assert whole is not None
        assert len(whole.catalog) == 600
    small = Settings(recall_pool=100, recall_exhaustive=100)
    with Memory(":memory:", embedder=EMBEDDER, settings=small, clock=FixedClock(NOW)) as mem:
        mem.add_many([{"text": r.text} for r in haystack("ns", 600)], namespace="ns")
        mem.search("lighthouse", namespace="ns", reinforce=False)
        assert mem._recall()._views.get("ns") is None  # two stages: no whole view kept


def test_two_stage_searches_and_their_recalls_never_load_the_whole_catalog(
    tmp_path: Path,
) -> None:
    settings = Settings(path=str(tmp_path / "store"), recall_pool=30, recall_exhaustive=30)
    with Memory(settings=settings, embedder=EMBEDDER, clock=FixedClock(NOW)) as mem:
        mem.add_many(
            [{"text": r.text, "session": r.session} for r in haystack("ns", 200)], namespace="ns"
        )
        for word in WORDS[:70]:  # recalls are written every 64 hits, and at flush
            assert mem.search(word, namespace="ns", limit=1)
        assert mem.flush() > 0
        store = mem.store
        assert isinstance(store, SqliteStore)
        assert all(loaded.catalog is None for loaded in store._vectors.values()), (
            "the namespace's whole catalog was loaded"
        )


def test_a_context_brings_its_topic_into_the_pool(store: SqliteStore) -> None:
    target = make_record("ns", "a zanzibarite quokka fell asleep", session="far")
    store.insert([*haystack("ns", 600), target])
    said = (Turn(text="tell me about the zanzibarite quokka", speaker="Ana"),)
    recaller = two_stage(store, 40)
    plain, _ = recaller.score(request("what happened then?"))
    assert target.id not in plain.catalog.ids
    pooled, features = recaller.score(request("what happened then?", context=said))
    assert target.id in pooled.catalog.ids, "the conversation's topic is not a candidate"
    assert features["context_dense"].max() > 0
