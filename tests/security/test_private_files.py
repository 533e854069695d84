"""Every file engramdb writes is owner-only (docs/security.md, "Files on disk").

Under the usual umask (022) a file is created 0644 and a folder 0755: anyone
on the machine could read a plaintext store. Each test sets that umask
itself, so the store, its -wal and -shm, keys.db, audit.db, backups, exports
and plots must come out 0600, in 0700 folders where engramdb made them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from engramdb import EncryptionKey, Memory, Settings
from engramdb.cli import app
from engramdb.embed import Embedder
from engramdb.security.audit import SqliteAuditLog, audit_path
from engramdb.security.crypto import generate_key
from engramdb.security.keys import KeyRing, keys_path

OWNER_ONLY = 0o600
OWNER_ONLY_FOLDER = 0o700


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture(params=["plaintext", "encrypted"])
def key(request: pytest.FixtureRequest) -> Iterator[EncryptionKey | None]:
    if request.param == "plaintext":
        yield None
        return
    secret = generate_key()
    with pytest.MonkeyPatch.context() as env:  # for the CLI, which reads the environment
        env.setenv("ENGRAMDB_MASTER_KEY", secret)
        yield EncryptionKey.from_text(secret)


def _memory(path: Path, embedder: Embedder, key: EncryptionKey | None) -> Memory:
    return Memory(str(path), embedder=embedder, settings=Settings(encryption=key))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _modes(folder: Path) -> dict[str, int]:
    return {p.name: _mode(p) for p in sorted(folder.iterdir())}


def _cli(store: Path, *args: str) -> Result:
    result = CliRunner().invoke(app, ["--store", str(store), *args])
    assert result.exit_code == 0, result.output
    return result


def test_a_new_store_its_wal_and_shm_and_its_folders_are_owner_only(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey | None
) -> None:
    before = _mode(tmp_path)
    store = tmp_path / "a" / "b" / "store"
    with _memory(store, embedder, key) as mem:
        mem.add("Maya adopted a greyhound called Vexmortain", namespace="u")
        # while it is open: SQLite made the -wal and -shm with the database's mode
        assert _modes(store) == {
            "engram.db": OWNER_ONLY,
            "engram.db-reserve": OWNER_ONLY,  # room for erasure (docs/reliability.md)
            "engram.db-shm": OWNER_ONLY,
            "engram.db-wal": OWNER_ONLY,
        }
    assert _modes(store) == {"engram.db": OWNER_ONLY, "engram.db-reserve": OWNER_ONLY}
    for folder in (tmp_path / "a", tmp_path / "a" / "b", store):
        assert _mode(folder) == OWNER_ONLY_FOLDER, folder
    assert _mode(tmp_path) == before  # not made by engramdb: left alone


def test_a_store_named_by_its_db_file_is_owner_only(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey | None
) -> None:
    db = tmp_path / "new" / "memories.db"
    with _memory(db, embedder, key) as mem:
        mem.add("Maya adopted a greyhound", namespace="u")
        assert _modes(db.parent) == {
            "memories.db": OWNER_ONLY,
            "memories.db-reserve": OWNER_ONLY,
            "memories.db-shm": OWNER_ONLY,
            "memories.db-wal": OWNER_ONLY,
        }
    assert _mode(db.parent) == OWNER_ONLY_FOLDER


def test_an_existing_folder_keeps_its_mode(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    _memory(folder, embedder, None).close()
    assert _mode(folder) == 0o755
    assert _modes(folder) == {"engram.db": OWNER_ONLY, "engram.db-reserve": OWNER_ONLY}


def test_the_key_and_audit_files_and_their_wal_are_owner_only(
    tmp_path: Path, key: EncryptionKey | None
) -> None:
    store = tmp_path / "fresh" / "store"
    _cli(store, "keys", "create", "--name", "app", "--access", "admin")  # keys.db first
    assert _mode(tmp_path / "fresh") == OWNER_ONLY_FOLDER
    assert _mode(store) == OWNER_ONLY_FOLDER
    _cli(store, "budget", "default", "--max-memories", "5")  # the store, and an audit entry
    assert _modes(store) == {
        "audit.db": OWNER_ONLY,
        "engram.db": OWNER_ONLY,
        "engram.db-reserve": OWNER_ONLY,
        "keys.db": OWNER_ONLY,
    }

    keys = KeyRing(keys_path(str(store)))
    log = SqliteAuditLog(str(audit_path(str(store))))
    try:
        keys.create(name="other", namespaces=["u"], access="read")
        assert _mode(store / "keys.db-wal") == OWNER_ONLY
        assert _mode(store / "keys.db-shm") == OWNER_ONLY
        assert _mode(store / "audit.db-wal") == OWNER_ONLY
        assert _mode(store / "audit.db-shm") == OWNER_ONLY
    finally:
        keys.close()
        log.close()


def test_side_files_of_a_db_file_store_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "made" / "memories.db"
    _cli(db, "keys", "create", "--name", "app", "--access", "admin")
    _cli(db, "budget", "default", "--max-memories", "5")
    assert _modes(db.parent) == {
        "memories.audit.db": OWNER_ONLY,
        "memories.db": OWNER_ONLY,
        "memories.db-reserve": OWNER_ONLY,
        "memories.keys.db": OWNER_ONLY,
    }
    assert _mode(db.parent) == OWNER_ONLY_FOLDER


def test_a_backup_is_owner_only(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey | None
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, key) as mem:
        mem.add("Maya adopted a greyhound", namespace="u")
        written = mem.backup(tmp_path / "backups" / "nightly" / "copy.db")
    assert _mode(written) == OWNER_ONLY
    assert _mode(tmp_path / "backups") == OWNER_ONLY_FOLDER
    assert _mode(tmp_path / "backups" / "nightly") == OWNER_ONLY_FOLDER
    assert _modes(written.parent) == {"copy.db": OWNER_ONLY}  # no partial left

    by_cli = tmp_path / "cli-backup.db"
    _cli(store, "backup", str(by_cli))
    assert _mode(by_cli) == OWNER_ONLY

    # restoring goes through a scratch copy beside the store: none is left, all stay 0600
    target = tmp_path / "restored"
    with _memory(target, embedder, key) as mem:
        assert mem.restore_backup(written) == 1
        assert mem.search("greyhound", namespace="u")
    assert _modes(target) == {"engram.db": OWNER_ONLY, "engram.db-reserve": OWNER_ONLY}


def test_an_export_to_a_file_is_owner_only(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey | None
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, key) as mem:
        mem.add("Maya adopted a greyhound", namespace="u")
    out = tmp_path / "all.jsonl"
    _cli(store, "export", "--out", str(out))
    assert "greyhound" in out.read_text(encoding="utf-8")
    assert _mode(out) == OWNER_ONLY
    assert not (tmp_path / ".all.jsonl.partial").exists()

    elsewhere = tmp_path / "exports" / "all.jsonl"  # a folder it makes is owner-only too
    _cli(store, "export", "--out", str(elsewhere))
    assert _modes(elsewhere.parent) == {"all.jsonl": OWNER_ONLY}
    assert _mode(elsewhere.parent) == OWNER_ONLY_FOLDER


def test_a_plot_of_a_memory_is_owner_only(tmp_path: Path, embedder: Embedder) -> None:
    pytest.importorskip("matplotlib")
    store = tmp_path / "store"
    with _memory(store, embedder, None) as mem:
        engram = mem.add("Maya adopted a greyhound", namespace="u")
    out = tmp_path / "plots" / "curve.png"
    _cli(store, "curve", engram.id, "-n", "u", "--out", str(out))
    assert out.read_bytes().startswith(b"\x89PNG")
    assert _mode(out) == OWNER_ONLY
    assert _mode(out.parent) == OWNER_ONLY_FOLDER
