"""A namespace's usage (active memories, their bytes) is kept by triggers, counted for
stores written before it was kept, and read without a pass over the namespace."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from engramdb.config import EncryptionKey
from engramdb.security.crypto import generate_key
from engramdb.store.base import DynamicsUpdate, Store
from engramdb.store.sqlite import SqliteStore
from engramdb.store.sqlite.schema import MIGRATIONS
from engramdb.testing.conformance import make_record

USAGE = next(n for n, sql in enumerate(MIGRATIONS, 1) if "CREATE TABLE usage" in sql)
# The migrations after usage, undone newest first: the checksums of the rows that
# belong to a memory, repetition's identities, the row checksums, the vector change
# log by namespace
OWNED_ROW_CHECKSUMS = """
    DROP TABLE row_checksums_pending;
    ALTER TABLE dynamics DROP COLUMN checksum;
    ALTER TABLE vectors DROP COLUMN checksum;
    ALTER TABLE facts DROP COLUMN checksum;
    ALTER TABLE provenance DROP COLUMN checksum;
    ALTER TABLE consolidated DROP COLUMN checksum;
"""
IDENTITIES = """
    DROP TABLE identities_pending;
    DROP TABLE identities;
"""
ROW_CHECKSUMS = """
    DROP TABLE checksums_pending;
    ALTER TABLE engrams DROP COLUMN checksum;
    ALTER TABLE versions DROP COLUMN checksum;
"""
LOG_BY_NAMESPACE = """
    DROP TRIGGER engrams_vector_deleted; DROP TRIGGER vectors_inserted;
    DROP TRIGGER vectors_updated; DROP TRIGGER vectors_deleted;
    DROP INDEX vector_changes_namespace;
    ALTER TABLE vector_changes DROP COLUMN namespace;
    ALTER TABLE namespace_state DROP COLUMN saved_to;
    ALTER TABLE namespace_state DROP COLUMN pruned_to;
    CREATE TRIGGER vectors_inserted AFTER INSERT ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid) VALUES (NEW.engram_rowid);
    END;
    CREATE TRIGGER vectors_updated AFTER UPDATE ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid) VALUES (NEW.engram_rowid);
    END;
    CREATE TRIGGER vectors_deleted AFTER DELETE ON vectors BEGIN
        INSERT INTO vector_changes (engram_rowid) VALUES (OLD.engram_rowid);
    END;
"""


def _written_before_usage(path: Path) -> None:
    """Take the store back to the schema before usage was kept, rows and all (the
    migrations after it undone first)."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE validity_pending")  # what older erasures left dangling
        conn.execute("DROP INDEX facts_superseded_by")  # what a fact superseded
        conn.execute("DROP TABLE expiry_ttl")  # expiry (docs/expiry.md)
        conn.execute("DROP INDEX engrams_expiry")
        conn.execute("ALTER TABLE engrams DROP COLUMN expires_at")
        conn.execute("DROP TABLE checksums_pending_tables")  # the namespaces' rows' checksums
        conn.execute("ALTER TABLE budgets DROP COLUMN checksum")
        conn.execute("DROP TABLE profile_entries")  # the pinned profile (docs/profile.md)
        conn.execute("DROP TABLE learned")  # what a namespace learned (docs/learning.md)
        conn.execute("DROP INDEX engrams_recorded")  # listing by ingest time (docs/scopes.md)
        conn.execute("DROP TABLE vectors_pending")  # vectors that follow (docs/write-path.md)
        conn.executescript(
            OWNED_ROW_CHECKSUMS
            + IDENTITIES
            + ROW_CHECKSUMS
            + LOG_BY_NAMESPACE
            + """
            DROP TRIGGER usage_added; DROP TRIGGER usage_changed; DROP TRIGGER usage_deleted;
            DROP TABLE usage; DROP INDEX vectors_model;
            ALTER TABLE dynamics DROP COLUMN size;
            """
        )
        conn.execute("DELETE FROM schema_version WHERE version >= ?", (USAGE,))


def _fill(store: SqliteStore) -> None:
    a = [make_record("a", text) for text in ("one", "twø", "three " * 9, "four")]
    store.insert([*a, make_record("b", "bee")])
    store.set_dynamics("a", [DynamicsUpdate(a[2].id, dormant=True)])


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_store_written_before_usage_was_kept_counts_it(tmp_path: Path, encrypted: bool) -> None:
    path = tmp_path / "s.db"
    key = EncryptionKey.from_text(generate_key()) if encrypted else None
    with closing(SqliteStore(path, encryption=key)) as store:
        _fill(store)
        expected = {ns: store.usage(ns) for ns in ("a", "b")}
    assert expected == {"a": (3, 3 + 4 + 4), "b": (1, 3)}
    _written_before_usage(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] < USAGE
    with closing(SqliteStore(path, encryption=key)) as store:  # migrates
        with sqlite3.connect(path) as conn:
            unknown = conn.execute("SELECT COUNT(*) FROM dynamics WHERE size IS NULL").fetchone()
        # a plaintext store's sizes are counted by the migration, sealed ones at first use
        assert unknown[0] == (5 if encrypted else 0)
        assert {ns: store.usage(ns) for ns in ("a", "b")} == expected
        assert store.usage("a") == Store.usage(store, "a")
        store.insert([make_record("a", "five")])
        assert store.usage("a") == (4, 15)
        assert store.check() == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM dynamics WHERE size IS NULL").fetchone()[0] == 0


def test_a_read_only_store_counts_what_it_cannot_keep(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    key = EncryptionKey.from_text(generate_key())
    with closing(SqliteStore(path, encryption=key)) as store:
        _fill(store)
    _written_before_usage(path)
    SqliteStore(path, encryption=key).close()  # migrated: sealed sizes unknown
    with closing(SqliteStore(path, encryption=key, read_only=True)) as store:
        assert store.usage("a") == (3, 11)
    with sqlite3.connect(path) as conn:  # nothing was written
        assert conn.execute("SELECT COUNT(*) FROM dynamics WHERE size IS NULL").fetchone()[0] == 5


def test_the_stored_models_are_read_by_the_index(tmp_path: Path) -> None:
    with closing(SqliteStore(tmp_path / "s.db")) as store:
        assert store.model_ids() == set()
        store.insert([make_record("a", "one")])
        assert store.model_ids() == {"hash-bow-384"}
        with sqlite3.connect(tmp_path / "s.db") as conn:
            conn.execute("UPDATE vectors SET model_id = 'another'")
        assert store.model_ids() == {"another"}
        store.insert([make_record("a", "two")])
        assert store.model_ids() == {"another", "hash-bow-384"}
        plan = " ".join(
            str(row[3])
            for row in store._conn.execute(
                "EXPLAIN QUERY PLAN SELECT (SELECT MIN(model_id) FROM vectors)"
            )
        )
        assert "vectors_model" in plan
