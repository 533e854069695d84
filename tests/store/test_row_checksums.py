"""Each memory's row and version's row carries a checksum (docs/reliability.md, "Row checksums").

A row altered on disk, even into another well-formed value through SQLite itself, is
refused when it is read (``IntegrityError`` in a plaintext store, ``DecryptionError``
in an encrypted one, naming the memory), named by ``check()``, and never laundered by
a write. A store written before the checksums existed opens, gets them, and checks
clean. The damage suite (``tests/store/test_damage.py``) flips a bit in every column.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engramdb import EncryptionKey, FixedClock, Memory, Settings
from engramdb.errors import DecryptionError, IntegrityError, StoreError
from engramdb.security.crypto import PLAIN, generate_key
from engramdb.store.sqlite import SqliteStore, checksums, database
from engramdb.store.sqlite.database import Database
from engramdb.store.sqlite.schema import MIGRATIONS
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
KEY = EncryptionKey.from_text(generate_key())
DB = "engram.db"


def _memory(root: Path, key: EncryptionKey | None) -> Memory:
    return Memory(  # no background embedder: a memory written without its vector keeps waiting
        settings=Settings(path=str(root), encryption=key, background_embedder=False),
        embedder=HashEmbedder(),
        clock=FixedClock(T0),
    )


def _fill(root: Path, key: EncryptionKey | None) -> list[str]:
    clock = FixedClock(T0)
    settings = Settings(path=str(root), encryption=key)
    with Memory(settings=settings, embedder=HashEmbedder(), clock=clock) as mem:
        ids = [
            mem.add(f"note {i} about the river", session="s1", speaker="Maya").id for i in range(4)
        ]
        clock.advance(timedelta(minutes=1))
        mem.update(ids[0], text="note 0 about the lantern")
    return ids


def _alter(root: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(root / DB, isolation_level=None)  # as someone with the file would
    try:
        conn.execute(sql, args)
    finally:
        conn.close()


@pytest.fixture(params=["plain", "encrypted"])
def key(request: pytest.FixtureRequest) -> EncryptionKey | None:
    return KEY if request.param == "encrypted" else None


def _refusal(key: EncryptionKey | None) -> type[StoreError]:
    return DecryptionError if key is not None else IntegrityError


def test_a_read_of_an_altered_row_raises_naming_the_memory(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    ids = _fill(tmp_path, key)
    _alter(
        tmp_path,
        "UPDATE engrams SET recorded_at = '2024' || substr(recorded_at, 5) WHERE id = ?",
        ids[1],
    )
    with _memory(tmp_path, key) as mem:
        with pytest.raises(_refusal(key), match=ids[1]):
            mem.get(ids[1])
        assert mem.get(ids[2]).text == "note 2 about the river"  # the others read
        assert any("engrams: 1 row does not match its checksum" in p for p in mem.check())


def test_the_history_of_an_altered_older_version_raises(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    ids = _fill(tmp_path, key)
    _alter(
        tmp_path,
        "UPDATE versions SET occurred_at = '2024' || substr(occurred_at, 5) "
        "WHERE version = 1 AND engram_rowid = (SELECT rowid FROM engrams WHERE id = ?)",
        ids[0],
    )
    with _memory(tmp_path, key) as mem:
        with pytest.raises(_refusal(key), match=f"version 1 of memory '{ids[0]}'"):
            mem.history(ids[0])
        assert any("versions: 1 row does not match" in p for p in mem.check())


def test_an_update_of_an_altered_row_is_refused_not_laundered(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    ids = _fill(tmp_path, key)
    _alter(tmp_path, "UPDATE engrams SET session = 's2' WHERE id = ?", ids[1])
    with _memory(tmp_path, key) as mem:
        with pytest.raises(_refusal(key), match=ids[1]):
            mem.update(ids[1], text="note 1 rewritten")
        mem.reindex()  # rewrites each memory's analysis, not the damaged one's checksum
        assert any("engrams: 1 row does not match" in p for p in mem.check())
        assert [v.version for v in mem.history(ids[2])] == [1]


def test_a_row_given_an_unkeyed_checksum_does_not_authenticate_in_an_encrypted_store(
    tmp_path: Path,
) -> None:
    """Whoever alters a row without the data key cannot make a checksum that matches."""
    ids = _fill(tmp_path, KEY)
    conn = sqlite3.connect(tmp_path / DB, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        fields = ", ".join(checksums.ENGRAM_FIELDS)
        row = conn.execute(f"SELECT {fields} FROM engrams WHERE id = ?", (ids[1],)).fetchone()
        values = ["s2" if c == "session" else row[c] for c in checksums.ENGRAM_FIELDS]
        conn.execute(
            "UPDATE engrams SET session = 's2', checksum = ? WHERE id = ?",
            (checksums.of_engram(PLAIN, values), ids[1]),
        )
    finally:
        conn.close()
    with _memory(tmp_path, KEY) as mem, pytest.raises(DecryptionError, match="authenticate"):
        mem.get(ids[1])


def test_a_store_encrypted_in_place_keeps_its_rows_checked(tmp_path: Path) -> None:
    ids = _fill(tmp_path, None)
    with _memory(tmp_path, None) as mem:
        mem.encrypt(KEY)
    with _memory(tmp_path, KEY) as mem:
        assert mem.check() == []
    _alter(tmp_path, "UPDATE engrams SET session = 's2' WHERE id = ?", ids[1])
    with _memory(tmp_path, KEY) as mem, pytest.raises(DecryptionError, match=ids[1]):
        mem.get(ids[1])


def test_a_damaged_store_is_not_encrypted_in_place(tmp_path: Path) -> None:
    ids = _fill(tmp_path, None)
    _alter(tmp_path, "UPDATE engrams SET session = 's2' WHERE id = ?", ids[1])
    with _memory(tmp_path, None) as mem:
        with pytest.raises(IntegrityError, match="nothing was encrypted"):
            mem.encrypt(KEY)
        assert not mem.encrypted


def _before_checksums(source: Path, target: Path, marker: str = "checksums_pending") -> None:
    """``source``'s rows in a file made by the migrations before the checksums' (the
    migration that makes ``marker``): what engramdb wrote until then (the rows are the
    same, less their checksum)."""
    number = next(i for i, sql in enumerate(MIGRATIONS) if f"CREATE TABLE {marker}" in sql)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(database, "SCHEMA_VERSION", number)
        Database(target, read_only=False, prepare=lambda _: None).close()
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("ATTACH DATABASE ? AS source", (str(source),))
        triggers = conn.execute(
            "SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger'"
        ).fetchall()
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'engram_fts%' "
                "AND name != 'schema_version'"
            )
        ]
        conn.execute("BEGIN")
        for name, _ in triggers:  # what they keep is copied with the rest
            conn.execute(f"DROP TRIGGER main.{name}")
        for table in tables:
            columns = ", ".join(str(r[1]) for r in conn.execute(f"PRAGMA main.table_info({table})"))
            conn.execute(f"DELETE FROM main.{table}")
            conn.execute(
                f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM source.{table}"
            )
        conn.execute(
            "INSERT INTO main.engram_fts (rowid, ns, text, keys) "
            "SELECT rowid, ns, text, keys FROM source.engram_fts"
        )
        for _, sql in triggers:
            conn.execute(sql)
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_a_store_from_before_the_checksums_opens_gets_them_and_checks_clean(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    ids = _fill(tmp_path / "new", key)
    with _memory(tmp_path / "new", key) as mem:
        expected = list(mem.export())
    old = tmp_path / "old"
    old.mkdir()
    _before_checksums(tmp_path / "new" / DB, old / DB)
    conn = sqlite3.connect(old / DB)
    try:  # it is the older format
        assert "checksum" not in {r[1] for r in conn.execute("PRAGMA table_info(engrams)")}
    finally:
        conn.close()
    with _memory(old, key) as mem:
        assert mem.check() == []
        assert list(mem.export()) == expected
    conn = sqlite3.connect(old / DB)
    try:
        assert conn.execute("SELECT COUNT(*) FROM checksums_pending").fetchone()[0] == 0
        assert conn.execute(
            "SELECT (SELECT COUNT(*) FROM engrams WHERE checksum IS NULL) "
            "+ (SELECT COUNT(*) FROM versions WHERE checksum IS NULL)"
        ).fetchone() == (0,)
    finally:
        conn.close()
    _alter(old, "UPDATE engrams SET session = 's2' WHERE id = ?", ids[1])
    with _memory(old, key) as mem:
        assert any("engrams: 1 row does not match" in p for p in mem.check())


def test_a_row_whose_checksum_is_gone_is_reported(tmp_path: Path) -> None:
    ids = _fill(tmp_path, None)
    _alter(tmp_path, "UPDATE engrams SET checksum = NULL WHERE id = ?", ids[3])
    with _memory(tmp_path, None) as mem:
        assert any("engrams: 1 row does not match" in p for p in mem.check())
        with pytest.raises(IntegrityError, match=ids[3]):
            mem.get(ids[3])


# -- the rows that belong to a memory: dynamics, vector, fact, links, mark --------


def _owned_rows(root: Path) -> dict[str, tuple[int, int]]:
    """Per table of ``checksums.ROW_TABLES`` and ``NAMESPACE_TABLES``: its rows and
    those with a checksum."""
    conn = sqlite3.connect(root / DB)
    try:
        return {
            t.name: conn.execute(f"SELECT COUNT(*), COUNT(checksum) FROM {t.name}").fetchone()
            for t in (*checksums.ROW_TABLES, *checksums.NAMESPACE_TABLES)
        }
    finally:
        conn.close()


def _consolidated(root: Path, key: EncryptionKey | None) -> None:
    """``_fill``, then what writes the other tables: a fact, links, marks, recalls."""
    _fill(root, key)
    with _memory(root, key) as mem:
        mem.add("Maya moved to Lisbon in 2021.", speaker="Maya")
        mem.consolidate()
        assert mem.search("river")  # its reinforcement is written at close


def _taught(root: Path, key: EncryptionKey | None) -> None:
    """``_consolidated``, then what writes the rest: a memory whose vector follows,
    a judgement (its search and the weights learned from it), a pinned entry pinned
    again (its first version closed) and one unpinned."""
    _consolidated(root, key)
    clock = FixedClock(T0 + timedelta(hours=1))
    settings = Settings(path=str(root), encryption=key, background_embedder=False)
    with Memory(settings=settings, embedder=HashEmbedder(), clock=clock) as mem:
        hits = mem.search("river")
        mem.feedback(hits[0], 1.0)
        mem.feedback(hits[-1], -1.0)
        mem.pin("home", "Maya lives in Lisbon")
        mem.pin("pet", "a cat called Miso")
        clock.advance(timedelta(minutes=1))
        mem.pin("home", "Maya lives in Porto")
        mem.unpin("pet")
        mem.set_budget(max_memories=100)
        mem.set_budget(namespace="planned", max_bytes=10_000)  # a namespace with no memory
        mem.add("the vector of this one follows", embed="later")


def test_every_write_keeps_the_checksums_of_a_memorys_other_rows(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    _taught(tmp_path, key)
    counts = _owned_rows(tmp_path)
    assert all(rows > 0 and checked == rows for rows, checked in counts.values()), counts
    with _memory(tmp_path, key) as mem:
        assert mem.check() == []


def test_a_write_over_an_altered_dynamics_row_does_not_launder_it(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    _consolidated(tmp_path, key)
    _alter(tmp_path, "UPDATE dynamics SET importance = importance / 2")
    with _memory(tmp_path, key) as mem:
        assert mem.search("river")  # reinforces the altered rows, without an error
    with _memory(tmp_path, key) as mem:
        assert any(p.startswith("dynamics: ") for p in mem.check()), mem.check()


def test_a_store_from_before_the_other_rows_checksums_gets_them_and_checks_clean(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    _consolidated(tmp_path / "new", key)
    with _memory(tmp_path / "new", key) as mem:
        expected = list(mem.export())
    old = tmp_path / "old"
    old.mkdir()
    _before_checksums(tmp_path / "new" / DB, old / DB, "row_checksums_pending")
    conn = sqlite3.connect(old / DB)
    try:  # it is the older format
        assert "checksum" not in {r[1] for r in conn.execute("PRAGMA table_info(dynamics)")}
    finally:
        conn.close()
    with _memory(old, key) as mem:
        assert mem.check() == []
        assert list(mem.export()) == expected
    counts = _owned_rows(old)
    assert all(checked == rows for rows, checked in counts.values()), counts


# -- the rows that belong to a namespace: what it learned, its pinned profile ------

#: name -> an alteration of a row, well-formed, and the read that must refuse it
NAMESPACE_ALTERATIONS = {
    "a judgement's time": (
        "UPDATE learned SET recorded_at = '2024' || substr(recorded_at, 5) "
        "WHERE kind = 'feedback' AND key = (SELECT MIN(key) FROM learned WHERE kind = 'feedback')",
        "learned",
    ),
    "the learned weights' time": (
        "UPDATE learned SET recorded_at = '2024' || substr(recorded_at, 5) WHERE kind = 'weights'",
        "learned",
    ),
    "a pinned entry reopened": (
        "UPDATE profile_entries SET valid_to = NULL "
        "WHERE version = 1 AND tag = (SELECT MIN(tag) FROM profile_entries)",
        "profile_entries",
    ),
    "a budget's bound": (
        "UPDATE budgets SET max_memories = max_memories * 10 WHERE namespace = 'default'",
        "budgets",
    ),
    "a pinned entry's source": (
        "UPDATE profile_entries SET source_id = '0123456789abcdef0123456789abcdef' "
        "WHERE version = 2",
        "profile_entries",
    ),
}


@pytest.mark.parametrize("alteration", sorted(NAMESPACE_ALTERATIONS))
def test_an_altered_row_of_what_a_namespace_learned_or_pinned_is_reported_and_refused(
    tmp_path: Path, key: EncryptionKey | None, alteration: str
) -> None:
    _taught(tmp_path, key)
    sql, table = NAMESPACE_ALTERATIONS[alteration]
    _alter(tmp_path, sql)
    with _memory(tmp_path, key) as mem:
        assert any(p.startswith(f"{table}: 1 row does not match") for p in mem.check())
        reads = {
            "learned": mem.weights,
            "profile_entries": lambda: mem.profile(history=True),
            "budgets": mem.budget,
        }
        with pytest.raises(_refusal(key), match="'default'"):
            reads[table]()


def test_a_plaintext_judgement_turned_around_is_refused_not_learned_from(tmp_path: Path) -> None:
    _taught(tmp_path, None)
    _alter(
        tmp_path,
        "UPDATE learned SET value = replace(value, '\"reward\": 1.0', '\"reward\": -1.0') "
        "WHERE kind = 'feedback'",
    )
    with _memory(tmp_path, None) as mem:
        with pytest.raises(IntegrityError, match="learned feedback"):
            mem.weights()
        assert any(p.startswith("learned: 1 row does not match") for p in mem.check())
        mem.reset_weights()  # the way out without a backup: the feedback goes
        assert mem.check() == []


def test_a_changed_wait_for_a_vector_is_reported(tmp_path: Path, key: EncryptionKey | None) -> None:
    _taught(tmp_path, key)
    _alter(tmp_path, "UPDATE vectors_pending SET importance_given = 1 - importance_given")
    store = SqliteStore(tmp_path, encryption=key)  # no Memory: nothing embeds the memory
    try:
        assert any(p.startswith("vectors_pending: 1 row does not match") for p in store.check())
    finally:
        store.close()


def test_a_store_from_before_the_namespace_rows_checksums_gets_them_and_checks_clean(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    _taught(tmp_path / "new", key)
    with _memory(tmp_path / "new", key) as mem:
        expected = list(mem.export())
    old = tmp_path / "old"
    old.mkdir()
    _before_checksums(tmp_path / "new" / DB, old / DB, "checksums_pending_tables")
    conn = sqlite3.connect(old / DB)
    try:  # it is the older format
        assert "checksum" not in {r[1] for r in conn.execute("PRAGMA table_info(learned)")}
    finally:
        conn.close()
    with _memory(old, key) as mem:
        assert mem.check() == []
        assert list(mem.export()) == expected
        assert mem.budget(namespace="planned").max_bytes == 10_000
    counts = _owned_rows(old)
    assert all(rows > 0 and checked == rows for rows, checked in counts.values()), counts


def test_a_damaged_budget_refuses_an_add_before_it_is_written(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    _fill(tmp_path, key)
    with _memory(tmp_path, key) as mem:
        mem.set_budget(max_memories=100)
    _alter(tmp_path, "UPDATE budgets SET max_memories = 1")
    with _memory(tmp_path, key) as mem:
        before = len(list(mem.export()))
        with pytest.raises(_refusal(key), match="budget of namespace 'default'"):
            mem.add("a note about the harbour")
        assert len(list(mem.export())) == before  # nothing was written
        mem.set_budget(max_memories=100)  # written anew: the way out without a backup
        assert mem.add("a note about the harbour").text == "a note about the harbour"
        assert mem.check() == []
