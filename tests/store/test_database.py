"""The SQLite database helper: every statement's sqlite3 error becomes one StoreError.

``Database.write`` and ``Database.read`` are the one place where a raw
``sqlite3`` error is translated (docs/reliability.md); these tests provoke the
errors with real SQL on a real file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engramdb.errors import StoreError
from engramdb.store.sqlite.database import PAGE_CACHE_KIB, Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    opened = Database(tmp_path / "engram.db", read_only=False, prepare=lambda db: None)
    with opened.transaction() as conn:
        conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES ('a')")
    yield opened
    opened.close()


def _rows(db: Database) -> list[str]:
    with db.read() as conn:
        return [r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")]


def _insert(db: Database, action: str, ids: list[str], *, refusable: bool = False) -> None:
    with db.write(action, refusable=refusable) as conn:
        for engram_id in ids:
            conn.execute("INSERT INTO t VALUES (?)", (engram_id,))


def test_a_refusable_write_says_the_store_refused_it_and_writes_nothing(db: Database) -> None:
    match = r"^insert refused by the store: UNIQUE"
    with pytest.raises(StoreError, match=match) as caught:
        _insert(db, "insert", ["b", "a"], refusable=True)
    assert type(caught.value.__cause__).__name__ == "IntegrityError"
    assert _rows(db) == ["a"], "the failed transaction was not rolled back"


def test_any_other_write_failure_names_the_action(db: Database) -> None:
    with pytest.raises(StoreError, match=r"^update failed: UNIQUE"):
        _insert(db, "update", ["a"])
    with pytest.raises(StoreError, match=r"^update failed: no such table"):
        _delete_missing(db)
    assert _rows(db) == ["a"]


def _delete_missing(db: Database) -> None:
    with db.write("update") as conn:
        conn.execute("DELETE FROM missing")


def test_a_failed_read_is_a_store_error(db: Database) -> None:
    with pytest.raises(StoreError, match=r"^read failed: no such table"), db.read() as conn:
        conn.execute("SELECT * FROM missing")
    assert _rows(db) == ["a"], "the connection is left unusable after a failed read"


def test_a_closed_database_refuses_reads_and_writes(db: Database) -> None:
    db.close()
    db.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"), db.read():
        pass
    with pytest.raises(StoreError, match="closed"), db.write("insert"):
        pass


def test_a_read_only_database_refuses_to_write(db: Database) -> None:
    reader = Database(db.path, read_only=True, prepare=lambda db: None)
    try:
        with pytest.raises(StoreError, match="read-only"), reader.write("insert"):
            pass
    finally:
        reader.close()


def test_the_page_cache_is_bounded_at_its_documented_size(db: Database) -> None:
    # docs/limits.md, "Caches": SQLite keeps up to PAGE_CACHE_KIB of pages per store
    with db.read() as conn:
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -PAGE_CACHE_KIB
    assert "64 MiB per open store" in (Path(__file__).parents[2] / "docs/limits.md").read_text()
