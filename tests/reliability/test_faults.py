"""Disk full and read-only stores (docs/reliability.md): a write fails with a clear StoreError,
the store stays consistent and readable, and works again once the cause is gone.

Tests run as root, where file permissions do not stop writes, so the faults are
made by SQLite itself: ``PRAGMA max_page_count`` caps the file (SQLITE_FULL, as a
full disk gives), and ``mode=ro`` / ``PRAGMA query_only`` refuse writes
(SQLITE_READONLY, as a read-only file system gives). Stores embed with
``HashEmbedder``, a deterministic stand-in for the model.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engramdb import Memory, NotFoundError, StoreError
from engramdb.cli import app
from engramdb.testing.fakes import HashEmbedder


def _store(path: Path) -> Memory:
    mem = Memory(str(path), embedder=HashEmbedder())
    mem.add_many([{"text": f"kept memory {i}"} for i in range(20)], namespace="ns")
    return mem


def _fill_the_disk(mem: Memory) -> None:
    conn = mem.store._conn  # type: ignore[attr-defined]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_write_on_a_full_disk_fails_clearly_and_leaves_the_store_sound(tmp_path: Path) -> None:
    with _store(tmp_path / "store") as mem:
        first = mem.store.iter_engrams("ns").__next__()
        _fill_the_disk(mem)
        big = [{"text": f"does not fit {i} " + "word " * 400} for i in range(50)]
        with pytest.raises(StoreError, match="the disk is full"):
            mem.add_many(big, namespace="ns")

        def revise_until_full() -> None:
            for i in range(200):  # an update writes a version and index rows
                mem.update(first.id, namespace="ns", text=f"revision {i} " + "word " * 300)

        with pytest.raises(StoreError, match="the disk is full"):
            revise_until_full()
        # nothing half-written, and reads still work on the same Memory
        assert mem.check() == []
        assert mem.stats(namespace="ns").engrams == 20
        assert all("does not fit" not in e.text for e in mem.store.iter_engrams("ns"))
        hits = mem.search("kept memory 3", namespace="ns", limit=20)
        assert {h.engram.text for h in hits} <= {f"kept memory {i}" for i in range(20)} | {
            e.text for e in mem.store.iter_engrams("ns")
        }
        # room again: writes work
        mem.store._conn.execute("PRAGMA max_page_count = 1073741823")  # type: ignore[attr-defined]
        mem.add_many(big[:5], namespace="ns")
        assert mem.check() == []
    with Memory(str(tmp_path / "store"), embedder=HashEmbedder()) as reopened:
        assert reopened.check() == []
        assert reopened.stats(namespace="ns").engrams == 25


def test_a_store_opened_read_only_refuses_writes_and_serves_reads(tmp_path: Path) -> None:
    _store(tmp_path / "store").close()
    db = tmp_path / "store" / "engram.db"
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    with Memory(str(tmp_path / "store"), embedder=HashEmbedder(), read_only=True) as mem:
        some = next(mem.store.iter_engrams("ns"))
        for write in (
            lambda: mem.add("not written", namespace="ns"),
            lambda: mem.update(some.id, namespace="ns", text="not written"),
            lambda: mem.delete(some.id, namespace="ns"),
            lambda: mem.forget_namespace("ns"),
            lambda: mem.reindex(),
        ):
            with pytest.raises(StoreError, match="read-only"):
                write()
        assert mem.get(some.id, namespace="ns") == some
        assert mem.search("kept memory", namespace="ns", limit=5)
        assert len(list(mem.export())) == 20
        assert mem.check() == []
        mem.backup(tmp_path / "copy.db")  # a read-only store can still be backed up
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_a_store_that_turns_read_only_under_a_running_process(tmp_path: Path) -> None:
    with _store(tmp_path / "store") as mem:
        mem.store._conn.execute("PRAGMA query_only = ON")  # type: ignore[attr-defined]
        with pytest.raises(StoreError, match="the store is read-only"):
            mem.add("not written", namespace="ns")
        assert mem.stats(namespace="ns").engrams == 20
        assert mem.search("kept memory", namespace="ns", limit=3)
        mem.store._conn.execute("PRAGMA query_only = OFF")  # type: ignore[attr-defined]
        mem.add("written again", namespace="ns")
        assert mem.check() == []


@pytest.mark.parametrize("name", ["absent", "absent.db"])
def test_read_only_needs_an_existing_store(tmp_path: Path, name: str) -> None:
    absent = tmp_path / name
    with pytest.raises(NotFoundError, match=re.escape(f"no store at {absent}: no such file")):
        Memory(str(absent), embedder=HashEmbedder(), read_only=True)
    assert not absent.exists()
    (tmp_path / "folder").mkdir()
    with pytest.raises(NotFoundError, match=r"folder: no engram\.db in it"):
        Memory(str(tmp_path / "folder"), embedder=HashEmbedder(), read_only=True)
    assert list((tmp_path / "folder").iterdir()) == []


def test_cli_reports_a_full_disk_as_a_store_error(tmp_path: Path) -> None:
    from engramdb.cli import state

    _store(tmp_path / "store").close()

    def full(self: state.State) -> Memory:
        mem = Memory(settings=self.settings, embedder=HashEmbedder())
        _fill_the_disk(mem)
        return mem

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state.State, "memory", full)
        result = CliRunner().invoke(app, ["--store", str(tmp_path / "store"), "add", "x " * 15_000])
    assert result.exit_code == 4
    assert "the disk is full" in result.stderr
