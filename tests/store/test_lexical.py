"""The SQLite store's lexical search (store/sqlite/lexical.py; docs/recall.md, "Lexical
seeds"): rare words weigh, and a common word costs no more as the namespace grows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from engramdb.config import EncryptionKey
from engramdb.security.crypto import PLAIN, generate_key
from engramdb.store.sqlite import SqliteStore
from engramdb.store.sqlite.lexical import COMMON, search
from engramdb.testing.conformance import EMBEDDER, make_record

# One vector for every filler record: the tests read the lexical index only, and
# embedding thousands of texts would be most of their time.
_VECTOR = EMBEDDER.embed(["filler"])[0]


def fill(store: SqliteStore, namespace: str, text: str, count: int) -> list[str]:
    """``count`` memories of ``text`` numbered (each its own row); their ids, oldest first."""
    records = [make_record(namespace, f"{text} number{i}", vector=_VECTOR) for i in range(count)]
    store.insert(records)
    return [r.id for r in records]


def ids(store: SqliteStore, namespace: str, terms: list[str], limit: int = 50) -> list[str]:
    return [c.id for c in store.lexical_search(namespace, terms, limit)]


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    opened = SqliteStore(":memory:")
    yield opened
    opened.close()


def test_the_memories_sharing_most_words_with_the_query_come_first(store: SqliteStore) -> None:
    calm = fill(store, "ns", "the harbour was calm", COMMON + 50)
    rare = make_record("ns", "a zanzibarite heron")
    both = make_record("ns", "a zanzibarite heron by the harbour")
    store.insert([rare, both])
    found = ids(store, "ns", ["harbour", "zanzibarite", "heron"], limit=5)
    assert found[:2] == [both.id, rare.id]
    # then, as under BM25, those holding only the common word: the newest of them
    assert found[2:] == calm[::-1][:3]


def test_an_old_memory_holding_the_rarest_words_and_a_common_one_comes_first(
    store: SqliteStore,
) -> None:
    rare = make_record("ns", "a zanzibarite heron")
    both = make_record("ns", "a zanzibarite heron by the harbour")
    store.insert([rare, both])
    fill(store, "ns", "the harbour was calm", COMMON + 50)  # newer: they fill its newest rows
    found = ids(store, "ns", ["harbour", "zanzibarite", "heron"], limit=5)
    assert found[:2] == [both.id, rare.id]


def test_a_query_of_common_words_finds_the_memories_holding_them_all(
    store: SqliteStore,
) -> None:
    together = fill(store, "ns", "a bright morning along the harbour", 5)
    fill(store, "ns", "walked along the harbour", COMMON + 10)
    fill(store, "ns", "a bright morning", COMMON + 10)
    found = ids(store, "ns", ["harbour", "bright", "morning"], limit=50)
    assert sorted(found[:5]) == sorted(together)


def test_a_common_word_alone_returns_the_newest_memories_holding_it(store: SqliteStore) -> None:
    written = fill(store, "ns", "the harbour was calm", COMMON + 20)
    assert ids(store, "ns", ["harbour"], limit=7) == written[::-1][:7]


def test_another_namespace_holding_the_word_does_not_crowd_out_this_one(
    store: SqliteStore,
) -> None:
    fill(store, "crowd", "a zanzibarite heron", 700)  # rare in the index
    fill(store, "other", "the harbour was calm", COMMON + 20)  # common in the index
    mine = make_record("ns", "a zanzibarite heron by the harbour")
    store.insert([mine])
    assert ids(store, "ns", ["zanzibarite"], limit=1) == [mine.id]
    assert ids(store, "ns", ["harbour"], limit=1) == [mine.id]
    assert ids(store, "ns", ["heron", "harbour"], limit=3) == [mine.id]


def test_an_encrypted_store_weighs_its_blind_tokens_the_same_way() -> None:
    sealed = SqliteStore(":memory:", encryption=EncryptionKey.from_text(generate_key()))
    try:
        fill(sealed, "ns", "the harbour was calm", COMMON + 20)
        rare = make_record("ns", "a zanzibarite heron by the harbour")
        sealed.insert([rare])
        assert ids(sealed, "ns", ["harbour", "zanzibarite"], limit=5)[0] == rare.id
        assert len(ids(sealed, "ns", ["harbour"], limit=30)) == 30
    finally:
        sealed.close()


def steps(path: Path, terms: list[str]) -> int:
    """SQLite's virtual machine steps for one search: they grow with the rows it reads."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row  # as the store's own connections read rows
    count = 0

    def counted() -> int:
        nonlocal count
        count += 1
        return 0

    conn.set_progress_handler(counted, 1)
    try:
        assert search(conn, PLAIN, "ns", terms, 10)
    finally:
        conn.close()
    return count


def test_a_search_reads_no_more_of_a_common_word_as_the_namespace_grows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(str(path))
    try:
        fill(store, "ns", "the harbour was calm", 2 * COMMON)
        store.insert([make_record("ns", "a zanzibarite heron by the harbour")])
        before = {
            "common": steps(path, ["harbour"]),
            "mixed": steps(path, ["harbour", "zanzibarite"]),
        }
        fill(store, "ns", "the harbour was calm", 4 * COMMON)
        after = {
            "common": steps(path, ["harbour"]),
            "mixed": steps(path, ["harbour", "zanzibarite"]),
        }
    finally:
        store.close()
    for kind, steps_before in before.items():
        assert after[kind] < 1.1 * steps_before, f"a {kind} query read more of a larger namespace"
