"""SQLite-specific behaviour of SqliteStore: pragmas, schema, corruption, two processes.

What every backend must do lives in ``engramdb.testing.conformance``; this
module covers what needs SQL to observe or provoke.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engramdb.errors import SchemaError, StoreError
from engramdb.store.base import EngramRecord
from engramdb.store.sqlite import SqliteStore
from engramdb.store.sqlite.schema import SCHEMA_VERSION
from engramdb.testing.conformance import make_record


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "engram.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db_path)
    yield opened
    opened.close()


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _schema_rows(path: Path) -> list[tuple[int, ...]]:
    with _raw(path) as conn:
        return conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()


def test_file_store_runs_in_wal_mode_with_foreign_keys_and_busy_timeout(
    store: SqliteStore, db_path: Path
) -> None:
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with _raw(db_path) as other:  # WAL is a property of the file, seen by any connection
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_directory_location_holds_one_database_file(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "data").close()
    assert (tmp_path / "data" / "engram.db").is_file()


def test_schema_version_table_records_each_migration_once(
    store: SqliteStore, db_path: Path
) -> None:
    assert _schema_rows(db_path) == [(n,) for n in range(1, SCHEMA_VERSION + 1)]


def test_migrations_are_idempotent(db_path: Path) -> None:
    first = SqliteStore(db_path)
    record = make_record("ns", "kept across opens")
    first.insert([record])
    before = _schema_rows(db_path)
    first._migrate()  # running the migrations again changes nothing
    second = SqliteStore(db_path)  # neither does opening the file again
    assert _schema_rows(db_path) == before
    assert second.get("ns", record.id) is not None
    assert second.check() == []
    first.close()
    second.close()


def test_newer_schema_version_raises_schema_error(db_path: Path) -> None:
    SqliteStore(db_path).close()
    with _raw(db_path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaError, match="newer"):
        SqliteStore(db_path)


def test_check_reports_a_memory_missing_from_the_lexical_index(
    store: SqliteStore, db_path: Path
) -> None:
    record = make_record("ns", "findable words")
    store.insert([record])
    with _raw(db_path) as conn:
        conn.execute("DELETE FROM engram_fts")
    problems = store.check()
    assert any("missing from the lexical index" in p for p in problems), problems
    assert store.reindex() == 1
    assert store.check() == []
    assert [c.id for c in store.lexical_search("ns", ["findable"], 5)] == [record.id]


def test_check_reports_lexical_rows_without_a_memory(store: SqliteStore, db_path: Path) -> None:
    store.insert([make_record("ns", "one memory")])
    with _raw(db_path) as conn:
        conn.execute("INSERT INTO engram_fts (rowid, ns, text, keys) VALUES (999, 'x', 'y', '')")
    assert any("without a memory" in p for p in store.check())
    store.reindex()
    assert store.check() == []


def test_check_reports_a_tampered_lexical_index(store: SqliteStore, db_path: Path) -> None:
    store.insert([make_record("ns", "original words in the index")])
    with _raw(db_path) as conn:  # change the indexed text behind FTS5's back
        conn.execute("UPDATE engram_fts_content SET c1 = 'tampered content'")
    assert any(p.startswith("lexical index") for p in store.check())
    store.reindex()
    assert store.check() == []


def test_check_reports_a_memory_without_a_vector(store: SqliteStore, db_path: Path) -> None:
    store.insert([make_record("ns", "vector goes missing")])
    with _raw(db_path) as conn:
        conn.execute("DELETE FROM vectors")
    assert any("without a vector" in p for p in store.check())


def test_second_store_on_the_same_file_sees_new_writes_in_vector_search(db_path: Path) -> None:
    writer, reader = SqliteStore(db_path), SqliteStore(db_path)
    first, second = make_record("ns", "first thing"), make_record("ns", "second thing")
    writer.insert([first])
    assert [c.id for c in reader.vector_search("ns", first.vector, 5)] == [first.id]
    writer.insert([second])  # the reader's loaded index is now one generation behind
    assert reader.vector_search("ns", second.vector, 1)[0].id == second.id
    writer.delete("ns", second.id)
    assert second.id not in [c.id for c in reader.vector_search("ns", second.vector, 5)]
    writer.close()
    reader.close()


def test_second_store_sees_a_namespace_refilled_after_forget(db_path: Path) -> None:
    # Generations must not restart after forget_namespace: a reader that loaded
    # generation 1 before the erasure would otherwise keep its stale index.
    # (SQLite reuses the freed rowid, so only the score shows a stale vector.)
    writer, reader = SqliteStore(db_path), SqliteStore(db_path)
    old, new = make_record("ns", "old memory"), make_record("ns", "entirely different")
    writer.insert([old])
    assert [c.id for c in reader.vector_search("ns", old.vector, 5)] == [old.id]
    assert writer.forget_namespace("ns") == 1
    writer.insert([new])
    (hit,) = reader.vector_search("ns", new.vector, 5)
    assert hit.id == new.id
    assert hit.score > 0.999, "the reader kept the erased vector"
    writer.close()
    reader.close()


def test_failed_insert_rolls_back_the_lexical_index_too(store: SqliteStore) -> None:
    record = make_record("ns", "unique walrus")
    with pytest.raises(StoreError):
        store.insert([record, make_record("ns", "walrus again", engram_id=record.id)])
    assert store.lexical_search("ns", ["walrus"], 5) == []
    assert store.check() == []


def test_memory_store_is_private_to_its_instance() -> None:
    one, two = SqliteStore(":memory:"), SqliteStore(":memory:")
    one.insert([make_record("ns", "only in one")])
    assert two.stats("ns").engrams == 0
    one.close()
    two.close()


def test_unopenable_location_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-db.db").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StoreError):
        SqliteStore(tmp_path / "not-a-db.db")


def test_threads_may_search_while_another_writes(db_path: Path) -> None:
    # One store shared by threads (check_same_thread=False): a search must never
    # see the in-memory index half-way through a delete, which moves the last row
    # into the hole it leaves.
    rng = np.random.default_rng(3)

    def unit_record(text: str) -> EngramRecord:
        vector = rng.standard_normal(384).astype(np.float32)
        return make_record("ns", text, vector=vector / np.linalg.norm(vector))

    store = SqliteStore(db_path)
    victims = [unit_record(f"victim {i}") for i in range(61)]
    stable = [unit_record(f"stable {i}") for i in range(100)]
    store.insert([victims[0], *stable])
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for previous, victim in itertools.pairwise(victims):
                store.delete("ns", previous.id)  # a stable row moves into its place
                store.insert([victim])
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                for record in stable[::9]:
                    assert store.vector_search("ns", record.vector, 1)[0].id == record.id
                    assert float(store.vectors("ns", [record.id])[0] @ record.vector) > 0.999
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    store.close()
    assert errors == []
