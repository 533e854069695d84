"""FTS5's levels under repeated erasure (store/sqlite/lexical.py, ``optimize``).

SQLite 3.40's FTS5 puts what 'optimize' merges on a new level above the
highest, once the index outgrows a few pages, and past 2,000 levels it no
longer opens the index: every write then fails with "database disk image is
malformed". engramdb runs 'optimize' after each erasure (docs/security.md), so
a store of a few hundred memories that had erased some 1,000 times broke
(bench/soak.py found it in a 30-minute soak). These tests run the erasures and
check the index still opens, and that ``check()`` names an index an older
engramdb left near the limit.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engramdb.store.sqlite import SqliteStore, lexical
from engramdb.testing.conformance import make_record

WORDS = [f"word{i}" for i in range(300)]


def _filled(path: Path, count: int = 400) -> SqliteStore:
    rng = random.Random(3)
    store = SqliteStore(path)
    store.insert([make_record("ns", " ".join(rng.choices(WORDS, k=25))) for _ in range(count)])
    return store


def _erase(store: SqliteStore, rounds: int) -> None:
    """What a soak does: a memory added, another erased (each erasure merges the index)."""
    rng = random.Random(5)
    for _ in range(rounds):
        record = make_record("ns", " ".join(rng.choices(WORDS, k=25)))
        store.insert([record])
        store.delete("ns", record.id)


@pytest.mark.slow
def test_a_thousand_erasures_leave_the_lexical_index_usable(tmp_path: Path) -> None:
    store = _filled(tmp_path / "engram.db")
    try:
        _erase(store, 1_050)  # two levels an erasure: past FTS5's 2,000 without the rebuild
        assert lexical.levels(store._conn) <= lexical.MAX_LEVELS
        assert store.lexical_search("ns", ["word7"], 5)  # the index still opens
        store.insert([make_record("ns", "still writable")])
        assert store.check() == []
    finally:
        store.close()


def test_check_names_an_index_near_the_levels_fts5_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _filled(tmp_path / "engram.db")
    try:
        monkeypatch.setattr(lexical, "MAX_LEVELS", 10**9)  # an engramdb before the rebuild
        _erase(store, 40)
        grown = lexical.levels(store._conn)
        assert grown > 40
        monkeypatch.setattr(lexical, "MAX_LEVELS", grown - 1)
        assert any("levels" in p for p in store.check())
        store.reindex()
        assert lexical.levels(store._conn) <= 2
        assert store.check() == []
    finally:
        store.close()
