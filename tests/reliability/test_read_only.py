"""Stores that cannot be written (docs/reliability.md, "Read-only stores").

Tests run as root, where file permissions do not stop SQLite's writes, so a
connection that refuses writes is made with ``PRAGMA query_only`` (the
SQLITE_READONLY a 0444 file or a read-only mount gives another user); a file
that nobody may write is one without write bits.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from engramdb import Memory
from engramdb.testing.fakes import HashEmbedder


def _store(path: Path) -> None:
    with Memory(str(path), embedder=HashEmbedder()) as mem:
        mem.add_many([{"text": f"kept memory {i}"} for i in range(10)], namespace="ns")


def test_read_only_open_of_a_file_nobody_may_write_creates_nothing(tmp_path: Path) -> None:
    _store(tmp_path / "store")
    db = tmp_path / "store" / "engram.db"
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    before = sorted(p.name for p in db.parent.iterdir())
    assert "engram.db-wal" not in before
    os.chmod(db, 0o444)
    with Memory(str(tmp_path / "store"), embedder=HashEmbedder(), read_only=True) as mem:
        assert mem.search("kept memory", namespace="ns", limit=3)
        assert mem.check() == []
    assert sorted(p.name for p in db.parent.iterdir()) == before  # no -wal, no -shm
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_check_on_a_store_that_refuses_writes_reports_no_false_problem(tmp_path: Path) -> None:
    _store(tmp_path / "store")
    with Memory(str(tmp_path / "store"), embedder=HashEmbedder()) as mem:
        mem.store._conn.execute("PRAGMA query_only = ON")  # type: ignore[attr-defined]
        assert mem.check() == []


def test_close_after_a_search_on_a_store_that_refuses_writes_does_not_raise(
    tmp_path: Path,
) -> None:
    _store(tmp_path / "store")
    mem = Memory(str(tmp_path / "store"), embedder=HashEmbedder())
    mem.store._conn.execute("PRAGMA query_only = ON")  # type: ignore[attr-defined]
    assert mem.search("kept memory", namespace="ns", limit=3)
    mem.close()  # the reinforcement it could not write is dropped, not raised


def test_read_only_open_on_a_read_only_mount_reads_and_creates_nothing(tmp_path: Path) -> None:
    """A real read-only file system (a tmpfs remounted ``ro``; needs root): the open
    used to fail there, as SQLite could make no -shm."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        _store(mount / "store")
        before = sorted(p.name for p in (mount / "store").iterdir())
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        with Memory(str(mount / "store"), embedder=HashEmbedder(), read_only=True) as mem:
            assert mem.search("kept memory", namespace="ns", limit=3)
            assert mem.check() == []
        assert sorted(p.name for p in (mount / "store").iterdir()) == before
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
