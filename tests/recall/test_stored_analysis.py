"""What a search reads of each memory is kept beside it (docs/recall.md, "What a search
reads"): ranking from stored analyses is ranking from analysing at search time, on real
SQLite stores, plaintext and encrypted, with the hash embedder."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from engramdb import Memory
from engramdb.config import EncryptionKey, Settings
from engramdb.recall.engine import Recaller, SearchRequest
from engramdb.recall.features import NamespaceView, Query, signals
from engramdb.recall.lexical import TIME_WORDS, analyze, stored_analysis
from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key
from engramdb.store.base import EngramRecord
from engramdb.store.sqlite import SqliteStore
from engramdb.store.sqlite.schema import MIGRATIONS
from engramdb.testing.conformance import EMBEDDER, make_record
from engramdb.testing.fakes import HashEmbedder

NOW = datetime(2024, 3, 15, tzinfo=timezone.utc)
START = NOW - timedelta(days=90)
SAID = [
    "Did you go to the support group yesterday?",
    "Yes, the support group was great, I met Zoë there.",
    "We ate pastéis de nata in Óbidos last weekend!",
    "Ok.",
    "?",
    "My sister moved to København in March 2021.",
    "The guitar lesson is on Tuesday, the guitar teacher is strict.",
    "I love my dog Nala; Nala loves the river.",
    "Where did Ana put the ﬁsh ﬁle?",
    "Straße and ŁÓDŹ: far away places.",
]
QUERIES = [
    "when did we eat pasteis in obidos",
    "what did Ana say about the guitar teacher?",
    "support group",
    "Kobenhavn sister",
    "Nala",
]


def records(namespace: str = "ns", count: int = 60) -> list[EngramRecord]:
    """Turns in sessions of six (every seventh outside one), two speakers, index keys
    naming the speaker and a date, as the facade writes them."""
    rng = random.Random(3)
    out = []
    for i in range(count):
        speaker = ("Ana", "Zoë Ruiz", None)[i % 3]
        text = SAID[i % len(SAID)] if i < len(SAID) else " ".join(rng.sample(SAID, 2))
        at = START + timedelta(days=i // 6, minutes=i)
        keys = " ".join(filter(None, [speaker, at.strftime("%d %B %Y %A")]))
        session = None if i % 7 == 6 else f"s{i // 6}"
        out.append(
            make_record(
                namespace, text, session=session, speaker=speaker, occurred_at=at, keys=keys
            )
        )
    return out


@pytest.fixture(params=["plain", "encrypted"])
def key(request: pytest.FixtureRequest) -> EncryptionKey | None:
    return EncryptionKey.from_text(generate_key()) if request.param == "encrypted" else None


Stores = tuple[SqliteStore, SqliteStore, list[EngramRecord]]


@pytest.fixture
def stores(key: EncryptionKey | None) -> Iterator[Stores]:
    """The same memories in a store that keeps analyses and in one that keeps none."""
    kept = SqliteStore(":memory:", encryption=key, analyser=stored_analysis)
    none = SqliteStore(":memory:", encryption=key)
    written = records()
    kept.insert(written)
    none.insert(written)
    yield kept, none, written
    kept.close()
    none.close()


def query(text: str) -> Query:
    return Query.parse(text, EMBEDDER.embed([text])[0], NOW)


def pool_signals(recaller: Recaller, ids: list[str], q: Query) -> tuple[NamespaceView, dict]:
    view = recaller._pool_view("ns", ids)
    return view, signals(q, view, (view.catalog.vectors @ q.vector).astype(np.float64))


def test_signals_read_from_stored_analyses_are_those_analysed_at_search(stores: Stores) -> None:
    kept, none, written = stores
    ids = [r.id for r in written]
    from_store = Recaller(kept, EMBEDDER, pool=25, exhaustive_up_to=0)
    analysed = Recaller(none, EMBEDDER, pool=25, exhaustive_up_to=0)
    rng = random.Random(5)
    for text in QUERIES:
        pool = rng.sample(ids, 30)
        view, read = pool_signals(from_store, pool, query(text))
        _, made = pool_signals(analysed, pool, query(text))
        assert all(a is not None for a in view.catalog.analyses), "no analysis was read"
        assert read.keys() == made.keys()
        for name, values in made.items():
            assert np.array_equal(read[name], values), f"{name} differs for {text!r}"
        request = SearchRequest(text, "ns", 10, NOW)
        hits = [(h.engram.id, h.score) for h in from_store.search(request)]
        assert hits == [(h.engram.id, h.score) for h in analysed.search(request)]
    assert len(from_store._pooled_documents["ns"]) == 0, "a stored analysis was analysed again"
    assert len(analysed._pooled_documents["ns"]) > 0


def test_the_index_counts_each_term_as_analyze_finds_it(stores: Stores) -> None:
    kept, _, written = stores
    view = Recaller(kept, EMBEDDER)._pool_view("ns", [r.id for r in written])
    index = view.lexical
    term_of = {i: t for t, i in index.cache.vocabulary.items()}
    found: list[Counter[str]] = [Counter() for _ in view.catalog.ids]
    for k, term in enumerate(index.present):
        start, end = index.pointer[k], index.pointer[k + 1]
        for row, count in zip(index.rows[start:end], index.counts[start:end], strict=True):
            found[row][term_of[int(term)]] += int(count)
    documents = view.catalog.documents
    assert found == [Counter(analyze(d)) for d in documents]
    assert list(index.lengths) == [len(analyze(d)) for d in documents]
    assert list(view.is_question) == [float("?" in d) for d in documents]
    assert list(view.time_mention) == [float(bool(TIME_WORDS.search(d))) for d in documents]


def test_the_pool_view_of_every_memory_is_the_exhaustive_view(stores: Stores) -> None:
    kept, _, written = stores
    recaller = Recaller(kept, EMBEDDER)
    exhaustive = recaller.view("ns")
    pooled = recaller._pool_view("ns", [r.id for r in reversed(written)])
    full, part = exhaustive.catalog, pooled.catalog
    assert part.ids == full.ids
    assert part.documents == full.documents
    assert part.analyses == full.analyses
    assert part.speakers == full.speakers
    for name in ("session", "seq", "occurred_at"):
        assert np.array_equal(getattr(part, name), getattr(full, name)), name
    for name in ("is_question", "time_mention", "length", "prev", "next", "speaker_names"):
        assert np.array_equal(getattr(pooled, name), getattr(exhaustive, name)), name
    assert pooled.known_speakers == exhaustive.known_speakers == {"ana", "zoe"}
    assert pooled.row_of == exhaustive.row_of
    assert exhaustive.dynamics is not None
    for name in ("stability_days", "importance", "last_used_at", "recalls", "sizes"):
        assert np.array_equal(getattr(pooled.dynamics, name), getattr(exhaustive.dynamics, name))
    for text in QUERIES:
        q = query(text)
        one = signals(q, pooled, (part.vectors @ q.vector).astype(np.float64))
        other = signals(q, exhaustive, (full.vectors @ q.vector).astype(np.float64))
        for name, values in other.items():  # vectors: dequantised the same way, or nearly
            assert np.allclose(one[name], values, atol=1e-5), f"{name} differs for {text!r}"
        for name in ("lexical", "lexical_window", "coverage", "session_bm25", "time_mention"):
            assert np.array_equal(one[name], other[name]), name


def test_the_flags_and_terms_kept_are_those_of_the_text_and_keys(key: EncryptionKey | None) -> None:
    with closing(SqliteStore(":memory:", encryption=key, analyser=stored_analysis)) as store:
        written = records()
        store.insert(written)
        catalog = store.catalog_of("ns", [r.id for r in written])
        by_id = {r.id: r for r in written}
        for engram_id, document, kept in zip(
            catalog.ids, catalog.documents, catalog.analyses, strict=True
        ):
            record = by_id[engram_id]
            assert document == f"{record.text} {record.keys}".strip()
            assert kept == stored_analysis(document)
        question = next(r for r in written if r.text == "?")
        assert store.catalog_of("ns", [question.id]).analyses[0].startswith("a1:1")  # type: ignore[union-attr]


def _column(store: SqliteStore, engram_id: str) -> object:
    return store._conn.execute(
        "SELECT analysis FROM engrams WHERE id = ?", (engram_id,)
    ).fetchone()[0]


def test_a_new_version_is_searched_by_its_new_words(tmp_path: Path) -> None:
    settings = Settings(recall_pool=1, recall_exhaustive=1)  # two memories: two stages
    with Memory(str(tmp_path / "s"), settings=settings, embedder=HashEmbedder()) as mem:
        old = mem.add("the lighthouse keeper waved", speaker="Ana")
        mem.add("a quiet evening at home")
        mem.update(old.id, text="a violin recital on Sunday")
        store = mem.store
        catalog = store.catalog_of("default", [old.id])
        assert catalog.documents[0].startswith("a violin recital on Sunday")
        assert catalog.analyses == (stored_analysis(catalog.documents[0]),)
        for word, found in (("violin", True), ("lighthouse", False)):
            view, features = mem._recall().score(SearchRequest(word, "default", 5, NOW))
            assert len(view.catalog) <= 2
            row = view.row_of.get(old.id)
            assert bool(row is not None and features["lexical"][row] > 0) is found, word


def test_a_text_written_without_a_new_analysis_voids_the_kept_one() -> None:
    with closing(SqliteStore(":memory:", analyser=stored_analysis)) as store:
        first, second, third = (make_record("ns", t) for t in ("one cat", "two dogs", "a hen"))
        store.insert([first, second, third])
        conn = store._conn
        conn.execute("UPDATE engrams SET text = 'a zebra' WHERE id = ?", (first.id,))
        conn.execute("UPDATE engrams SET metadata = '{\"a\":1}' WHERE id = ?", (second.id,))
        conn.execute(
            "UPDATE engrams SET text = 'an owl', analysis = ? WHERE id = ?",
            (stored_analysis("an owl"), third.id),
        )
        assert _column(store, first.id) is None, "the analysis of the old text was kept"
        assert _column(store, second.id) == stored_analysis("two dogs")
        assert _column(store, third.id) == stored_analysis("an owl")


@pytest.mark.parametrize("kept", ["a0:11 bogus words here", "nonsense", "a1:2 bogus", ""])
def test_an_analysis_of_another_version_is_analysed_afresh(kept: str) -> None:
    written = records(count=12)
    with (
        closing(SqliteStore(":memory:", analyser=stored_analysis)) as store,
        closing(SqliteStore(":memory:")) as plain,
    ):
        store.insert(written)
        plain.insert(written)
        store._conn.execute("UPDATE engrams SET analysis = ?", (kept,))
        ids = [r.id for r in written]
        q = query("Did the support group meet yesterday?")
        view, read = pool_signals(Recaller(store, EMBEDDER), ids, q)
        _, made = pool_signals(Recaller(plain, EMBEDDER), ids, q)
        for name, values in made.items():
            assert np.array_equal(read[name], values), name
        assert view.is_question.sum() > 0


def _written_before_analyses(path: Path) -> list[EngramRecord]:
    """A store as an engramdb from before migration 10 wrote it: its schema up to 9
    and two memories with their versions, vectors and dynamics, no analysis column."""
    before = next(n for n, sql in enumerate(MIGRATIONS, 1) if "ADD COLUMN analysis" in sql)
    written = [make_record("ns", "the lighthouse keeper waved?"), make_record("ns", "a hen")]
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, migration in enumerate(MIGRATIONS[: before - 1], 1):
            conn.executescript(migration)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        for rowid, r in enumerate(written, 1):
            at = r.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            conn.execute(
                "INSERT INTO engrams (rowid, id, namespace, kind, seq, text, keys, metadata, "
                "occurred_at, recorded_at, valid_from, version) "
                "VALUES (?, ?, 'ns', 'episode', 1, ?, '', '{}', ?, ?, ?, 1)",
                (rowid, r.id, r.text, at, at, at),
            )
            conn.execute(
                "INSERT INTO dynamics (engram_rowid, stability_days, importance) "
                "VALUES (?, 12.0, 0.5)",
                (rowid,),
            )
    return written


def test_a_store_written_before_analyses_were_kept_searches_then_reindex_fills_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    written = _written_before_analyses(path)
    with closing(SqliteStore(path, analyser=stored_analysis)) as store:  # migrates
        ids = [r.id for r in written]
        assert store.catalog_of("ns", ids).analyses == (None, None)
        recaller = Recaller(store, EMBEDDER)
        view, features = pool_signals(recaller, ids, query("lighthouse"))
        assert list(view.is_question) == [1.0, 0.0]
        assert features["lexical"][0] > 0
        assert store.reindex("ns") == 2
        catalog = store.catalog_of("ns", ids)
        assert catalog.analyses == tuple(stored_analysis(d) for d in catalog.documents)
        refilled, again = pool_signals(recaller, ids, query("lighthouse"))
        for name, values in features.items():
            assert np.array_equal(again[name], values), name
        assert list(refilled.is_question) == [1.0, 0.0]


def test_an_encrypted_store_keeps_no_analysed_term_in_the_clear(tmp_path: Path) -> None:
    said = "Maya Zorbaxqy adopted a dog at Plumtrazzle Labs."
    stems = [t for t in analyze(said) if len(t) > 6]
    assert stems == ["zorbaxqi", "plumtrazzl"]  # not the words themselves: stemmed
    for name, key in (("plain", None), ("sealed", EncryptionKey.from_text(generate_key()))):
        settings = Settings(encryption=key)
        with Memory(str(tmp_path / name), settings=settings, embedder=HashEmbedder()) as mem:
            added = mem.add(said)
            assert isinstance(mem.store, SqliteStore)
            stored = _column(mem.store, added.id)
            assert isinstance(stored, bytes if key else str)
            assert mem.search("zorbaxqy plumtrazzle")[0].engram.id == added.id
    assert where_found(store_files(tmp_path / "plain"), stems), "the check cannot fail"
    assert where_found(store_files(tmp_path / "sealed"), stems) == []


def test_sealing_a_plaintext_store_seals_the_kept_analyses(tmp_path: Path) -> None:
    said = "Maya Zorbaxqy adopted a dog at Plumtrazzle Labs."
    key = EncryptionKey.from_text(generate_key())
    with Memory(str(tmp_path / "s"), embedder=HashEmbedder()) as mem:
        added = mem.add(said)
        store = mem.store
        assert isinstance(store, SqliteStore)
        store.encrypt(key)
        assert isinstance(_column(store, added.id), bytes)
        assert store.check() == []
        catalog = store.catalog_of("default", [added.id])
        assert catalog.analyses == (stored_analysis(catalog.documents[0]),)
    assert where_found(store_files(tmp_path / "s"), ["zorbaxqi", "plumtrazzl"]) == []


def test_what_consolidation_writes_is_kept_analysed() -> None:
    turns = [
        ("Maya", "I moved to Lisbon last month and I love it."),
        ("Tom", "What do you do there?"),
        ("Maya", "I work at Plumtrazzle Labs as a nurse."),
        ("Maya", "We adopted a dog named Nala."),
    ]
    with Memory(":memory:", embedder=HashEmbedder()) as mem:
        mem.add_many(
            [{"text": text, "speaker": who, "session": "s1"} for who, text in turns],
        )
        mem.consolidate()
        store = mem.store
        ids = [r[0] for r in store._conn.execute("SELECT id FROM engrams WHERE kind != 'episode'")]
        assert ids, "consolidation derived nothing"
        catalog = store.catalog_of("default", ids)
        assert catalog.analyses == tuple(stored_analysis(d) for d in catalog.documents)
