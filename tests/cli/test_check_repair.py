"""``engram check --repair [--from BACKUP]`` on damaged copies (docs/reliability.md, "Repair").

The repair rebuilds what is derived (the lexical index, SQLite's indexes, the
vector change log and the saved vector indexes) and checks again; when
problems are left, or the store does not open at all, it restores the backup
named by ``--from``. Each test damages a real store on disk the way the damage
suite does (tests/store/test_damage.py) and runs the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from engramdb import EncryptionKey, Memory, Settings
from engramdb.embed import Embedder
from engramdb.security import audit
from engramdb.security.crypto import generate_key
from engramdb.store.sqlite.annfile import path_of

from .support import Invoke

DB = "engram.db"


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> Path:
    root = tmp_path / "store"
    with Memory(settings=Settings(path=str(root)), embedder=embedder) as mem:
        mem.add_many([{"text": f"Maya's note number {i}"} for i in range(40)], namespace="u")
        mem.add_many([{"text": f"Tom plays chess on day {i}"} for i in range(10)], namespace="t")
    return root


def _sql(root: Path, *statements: str) -> None:
    conn = sqlite3.connect(root / DB, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def _zero_page_of(root: Path, name: str) -> None:
    """Zero the first page of the table or index ``name`` of the store at ``root``
    (a folder or a database file), found with SQLite's dbstat."""
    db = root / DB if root.is_dir() else root
    conn = sqlite3.connect(db)
    try:
        page = conn.execute("SELECT MIN(pageno) FROM dbstat WHERE name = ?", (name,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    with db.open("r+b") as f:
        f.seek((page - 1) * size)
        f.write(bytes(size))


def _count(root: Path, embedder: Embedder) -> int:
    with Memory(settings=Settings(path=str(root)), embedder=embedder) as mem:
        assert mem.check() == []
        return sum(mem.stats(namespace=ns).engrams for ns in mem.namespaces())


def test_without_damage_the_repair_changes_nothing(invoke: Invoke, store: Path) -> None:
    result = invoke("check", "--repair")
    assert (result.exit_code, result.stdout.strip()) == (0, "ok")
    assert json.loads(invoke("--json", "check", "--repair").stdout) == {
        "ok": True,
        "problems": [],
        "repaired": [],
        "left": [],
    }


def test_a_lost_lexical_index_row_is_rebuilt(
    invoke: Invoke, store: Path, embedder: Embedder
) -> None:
    _sql(store, "DELETE FROM engram_fts WHERE rowid = (SELECT MIN(rowid) FROM engram_fts)")
    assert invoke("check").exit_code == 1
    result = invoke("check", "--repair")
    assert result.exit_code == 0, result.output
    assert "problem: memories missing from the lexical index: 1" in result.stdout
    assert "repaired: rebuilt the derived indexes of 50 memories" in result.stdout
    assert result.stdout.strip().endswith("ok")
    assert invoke("check").exit_code == 0
    assert _count(store, embedder) == 50


@pytest.mark.parametrize(
    "derived",
    [
        "engrams_namespace",  # the store does not even open
        "sqlite_autoindex_engrams_1",
        "engrams_session",
        "engram_fts_data",
        "engram_fts_idx",
        "vector_changes",
    ],
)
def test_a_zeroed_page_of_anything_derived_is_repaired_without_a_backup(
    invoke: Invoke, store: Path, embedder: Embedder, derived: str
) -> None:
    _zero_page_of(store, derived)
    assert invoke("check").exit_code in (1, 4)  # reported, or the store does not open
    result = invoke("--json", "check", "--repair")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ok"] is True
    assert out["problems"]
    assert out["left"] == []
    assert _count(store, embedder) == 50  # every memory is still there
    assert invoke("search", "chess", "-n", "t").exit_code == 0


def test_a_damaged_saved_vector_index_is_rebuilt(tmp_path: Path, invoke: Invoke) -> None:
    root = tmp_path / "store"
    settings = Settings(path=str(root), ann_threshold=20)
    from engramdb.testing.fakes import HashEmbedder

    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        mem.add_many([{"text": f"note {i}"} for i in range(30)], namespace="u")
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        mem.store.vector_search("u", HashEmbedder().embed(["note"])[0], 3)  # saved at close
    saved = path_of(str(root / DB), "u")
    saved.write_bytes(saved.read_bytes()[:100])
    result = invoke("check", "--repair")
    assert result.exit_code == 0, result.output
    assert "saved vector index" in result.stdout
    assert not saved.exists()  # derived: made again when a search next needs it


def test_damage_to_the_memories_needs_a_backup(
    invoke: Invoke, store: Path, tmp_path: Path, embedder: Embedder
) -> None:
    assert invoke("backup", str(tmp_path / "nightly.db")).exit_code == 0
    _zero_page_of(store, "versions")
    result = invoke("check", "--repair")
    assert result.exit_code == 1
    assert "left:" in result.stdout
    assert "restore a backup with --from BACKUP" in result.stdout
    result = invoke("check", "--repair", "--from", str(tmp_path / "nightly.db"))
    assert result.exit_code == 0, result.output
    assert "repaired: restored 50 memories from" in result.stdout
    assert _count(store, embedder) == 50
    log = audit.SqliteAuditLog(str(store / "audit.db"))
    try:
        assert [e.action for e in log.entries()] == ["restore"]
    finally:
        log.close()


def test_a_store_that_does_not_open_is_set_aside_and_restored(
    invoke: Invoke, store: Path, tmp_path: Path, embedder: Embedder
) -> None:
    assert invoke("backup", str(tmp_path / "nightly.db")).exit_code == 0
    os.truncate(store / DB, 4096)
    assert invoke("check").exit_code == 4  # does not open: a typed error, exit 4
    without = invoke("check", "--repair")
    assert without.exit_code == 1
    assert "problem: the store does not open" in without.stdout
    result = invoke("check", "--repair", "--from", str(tmp_path / "nightly.db"))
    assert result.exit_code == 0, result.output
    (aside,) = store.glob(f"{DB}.damaged-*")
    assert (aside / DB).stat().st_size == 4096  # kept as it was, for whoever investigates
    assert f"repaired: moved the damaged files to {aside}" in result.stdout
    assert _count(store, embedder) == 50


def test_a_store_whose_wal_is_lost_is_restored_from_the_backup(
    invoke: Invoke, store: Path, tmp_path: Path, embedder: Embedder
) -> None:
    assert invoke("backup", str(tmp_path / "nightly.db")).exit_code == 0
    live_root = tmp_path / "live"
    shutil.copytree(store, live_root)
    live = Memory(settings=Settings(path=str(live_root)), embedder=embedder)
    try:
        live.store._conn.execute("PRAGMA wal_autocheckpoint = 0")  # type: ignore[attr-defined]
        live.add("written after the backup", namespace="u")
        for name in (DB, f"{DB}-shm"):  # as a careless copy of a live store leaves it
            shutil.copy(live_root / name, store / name)
    finally:
        live.close()
    refused = invoke("check")
    assert refused.exit_code == 4
    assert "engram.db-wal is missing" in refused.output
    result = invoke("check", "--repair", "--from", str(tmp_path / "nightly.db"))
    assert result.exit_code == 0, result.output
    assert _count(store, embedder) == 50


def test_from_needs_repair(invoke: Invoke, store: Path, tmp_path: Path) -> None:
    assert invoke("backup", str(tmp_path / "nightly.db")).exit_code == 0
    result = invoke("check", "--from", str(tmp_path / "nightly.db"))
    assert result.exit_code == 2
    assert "--from needs --repair" in result.output


def test_a_damaged_backup_is_refused_and_nothing_changes(
    invoke: Invoke, store: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "nightly.db"
    assert invoke("backup", str(backup)).exit_code == 0
    _zero_page_of(backup, "engrams")
    _zero_page_of(store, "versions")
    before = (store / DB).read_bytes()
    result = invoke("check", "--repair", "--from", str(backup))
    assert result.exit_code == 4
    assert "failed its checks, nothing was restored" in result.output
    assert not list(store.glob(f"{DB}.damaged-*"))
    assert invoke("check").exit_code == 1  # still the same damage, still reported
    assert len((store / DB).read_bytes()) == len(before)


def test_a_wrong_key_is_not_damage_and_moves_nothing(tmp_path: Path, invoke: Invoke) -> None:
    from engramdb.testing.fakes import HashEmbedder

    root = tmp_path / "store"
    key = EncryptionKey.from_text(generate_key())
    with Memory(settings=Settings(path=str(root), encryption=key), embedder=HashEmbedder()) as m:
        m.add("sealed", namespace="u")
        m.backup(tmp_path / "nightly.db")
    os.environ["ENGRAMDB_MASTER_KEY"] = generate_key()
    try:
        result = invoke("check", "--repair", "--from", str(tmp_path / "nightly.db"))
    finally:
        del os.environ["ENGRAMDB_MASTER_KEY"]
    assert result.exit_code == 6  # DecryptionError: the key, not the store
    assert not list(root.glob(f"{DB}.damaged-*"))


def test_check_reports_a_damaged_audit_log_and_key_file(invoke: Invoke, store: Path) -> None:
    audit.record(str(store), "add", "u", count=1)
    assert invoke("keys", "create", "--name", "app", "--access", "admin").exit_code == 0
    (store / "audit.db").write_bytes(b"")
    result = invoke("check")
    assert result.exit_code == 1
    assert "audit file" in result.stdout
    assert "is empty (0 bytes)" in result.stdout
