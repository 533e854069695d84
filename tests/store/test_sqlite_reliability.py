"""SqliteStore's reliability machinery: check() findings, read snapshots, read-only opening.

The end-to-end proofs (kills, concurrent processes, backups, faults) are in
``tests/reliability``; this module provokes each ``check()`` finding with SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engramdb.errors import SchemaError, StoreError
from engramdb.store.sqlite import SqliteStore
from engramdb.store.sqlite.lexical import namespace_token
from engramdb.store.sqlite.schema import SCHEMA_VERSION
from engramdb.testing.conformance import make_record


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "engram.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db_path)
    opened.insert([make_record("a", f"apple {i}") for i in range(3)])
    opened.insert([make_record("b", "banana")])
    yield opened
    opened.close()


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)  # foreign keys off: damage is possible


def test_check_reports_a_version_without_its_memory(store: SqliteStore, db_path: Path) -> None:
    with _raw(db_path) as conn:
        conn.execute(
            "INSERT INTO versions (engram_rowid, version, text, metadata, occurred_at, "
            "valid_from) VALUES (999, 1, 'orphan', '{}', '2024-01-01', '2024-01-01')"
        )
    problems = store.check()
    assert "versions without a memory: 1" in problems
    assert "foreign key violations: 1" in problems


def test_check_reports_two_current_versions(store: SqliteStore, db_path: Path) -> None:
    with _raw(db_path) as conn:
        conn.execute(
            "INSERT INTO versions (engram_rowid, version, text, metadata, occurred_at, "
            "valid_from) SELECT rowid, 2, text, '{}', occurred_at, valid_from FROM engrams "
            "WHERE namespace = 'b'"
        )
    assert "memories with more than one current version: 1" in store.check()


def test_check_reports_lexical_rows_filed_under_another_namespace(
    store: SqliteStore, db_path: Path
) -> None:
    with _raw(db_path) as conn:
        rowid = conn.execute("SELECT rowid FROM engrams WHERE namespace = 'b'").fetchone()[0]
        conn.execute("DELETE FROM engram_fts WHERE rowid = ?", (rowid,))
        conn.execute(
            "INSERT INTO engram_fts (rowid, ns, text, keys) VALUES (?, ?, 'banana', '')",
            (rowid, namespace_token("a")),
        )
    problems = store.check()
    assert "namespace 'a': 3 memories but 4 lexical index rows" in problems
    assert "namespace 'b': 1 memories but 0 lexical index rows" in problems
    store.reindex()
    assert store.check() == []


def test_check_reports_a_loaded_vector_index_out_of_step(store: SqliteStore) -> None:
    record = make_record("a", "apple 0")
    store.vector_search("a", record.vector, 1)  # load the namespace's index
    store._vectors["a"].index.remove([next(iter(store._vectors["a"].index._position))])
    assert any("loaded vector index holds 2 vectors" in p for p in store.check())
    store.reindex("a")
    assert store.check() == []


def test_check_reports_a_vector_of_the_wrong_size(store: SqliteStore, db_path: Path) -> None:
    with _raw(db_path) as conn:
        conn.execute(
            "UPDATE vectors SET data = x'0102' WHERE engram_rowid = "
            "(SELECT MIN(rowid) FROM engrams)"
        )
    assert "vectors whose size does not match their dims: 1" in store.check()


def test_check_on_a_busy_store_gives_no_false_alarm(store: SqliteStore, db_path: Path) -> None:
    other = SqliteStore(db_path)
    with store._read():  # a snapshot held while another connection writes
        other.insert([make_record("a", "written meanwhile")])
    assert store.check() == []
    other.close()


def test_reads_inside_one_snapshot_do_not_see_a_concurrent_commit(
    store: SqliteStore, db_path: Path
) -> None:
    other = SqliteStore(db_path)
    with store._read():
        before = store.stats("a").engrams
        other.insert([make_record("a", "apple new")])
        assert store.stats("a").engrams == before  # nested reads share the snapshot
        assert len(store.catalog("a")) == before
    assert store.stats("a").engrams == before + 1
    other.close()


def test_read_only_store_refuses_writes_with_a_clear_error(
    store: SqliteStore, db_path: Path
) -> None:
    reader = SqliteStore(db_path, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        reader.insert([make_record("a", "refused")])
    with pytest.raises(StoreError, match="read-only"):
        reader.restore_backup(db_path)
    vector = np.asarray(make_record("a", "apple 1").vector)
    assert reader.vector_search("a", vector, 1)
    assert reader.check() == []
    reader.close()


def test_read_only_store_needs_the_current_schema(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    SqliteStore(old).close()
    with _raw(old) as conn:
        conn.execute("DELETE FROM schema_version WHERE version = ?", (SCHEMA_VERSION,))
    with pytest.raises(SchemaError, match="open it writable once"):
        SqliteStore(old, read_only=True)
    foreign = tmp_path / "foreign.db"
    with _raw(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(SchemaError, match="not an engramdb store"):
        SqliteStore(foreign, read_only=True)


def test_backup_refuses_a_directory_target(store: SqliteStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory"):
        store.backup(tmp_path)
    assert not list(tmp_path.glob(".*partial"))
