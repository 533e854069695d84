"""Erasure on a disk that is really full (docs/reliability.md, "A full disk").

A delete writes before it frees (the pages it changes go to the ``-wal``
first), so on a full disk an erasure used to fail like any write: exactly when
a user may need one. The store keeps a reserve beside it for that. These tests
put a store on a small tmpfs, fill the file system to the last byte with
another file, and then erase: through the library and through the CLI, which
also appends to the audit log. They need root (to mount the tmpfs) and are
skipped without it; ``tests/reliability/test_faults.py`` simulates a full disk
with ``max_page_count`` everywhere.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engramdb import Memory, NotFoundError, Settings, StoreError
from engramdb.cli import app
from engramdb.security import audit, store_files, where_found
from engramdb.store.sqlite import lexical
from engramdb.testing.fakes import HashEmbedder

DISK_BYTES = 6 * 1024 * 1024
CANARY = "Quorvexil"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of ``DISK_BYTES`` mounted at a folder of ``tmp_path``."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill_up(disk: Path) -> Path:
    """Write a file until the file system has no byte left; the file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (64 * 1024, 512):  # big blocks, then the last small ones
            while True:
                try:
                    os.write(fd, bytes(size))
                except OSError:
                    break
    finally:
        os.close(fd)
    assert os.statvfs(disk).f_bavail == 0
    return filler


def _store(disk: Path) -> tuple[Path, list[str]]:
    """A store of about 1.5 MB in two namespaces; the ids in namespace "a"."""
    root = disk / "store"
    with Memory(settings=Settings(path=str(root)), embedder=HashEmbedder()) as mem:
        added = mem.add_many(
            [{"text": f"{CANARY} memory {i} " + "word " * 80} for i in range(300)], namespace="a"
        )
        mem.add_many([{"text": f"other memory {i}"} for i in range(100)], namespace="b")
    return root, [e.id for e in added]


def test_delete_and_forget_succeed_on_a_full_disk(disk: Path) -> None:
    root, ids = _store(disk)
    assert (root / "engram.db-reserve").stat().st_size > 0  # made when the store opened
    filler = _fill_up(disk)
    with Memory(settings=Settings(path=str(root)), embedder=HashEmbedder()) as mem:
        with pytest.raises(StoreError, match="the disk is full"):
            mem.add("does not fit " + "word " * 2000, namespace="a")
        mem.delete(ids[0], namespace="a")  # erasure: it uses the reserve
        with pytest.raises(NotFoundError):
            mem.get(ids[0], namespace="a")
        assert mem.forget_namespace("a") == 299
        assert mem.namespaces() == ["b"]
        assert mem.check() == []
    filler.unlink()  # once there is room, the erased text is gone from every file
    with Memory(settings=Settings(path=str(root)), embedder=HashEmbedder()) as mem:
        assert mem.check() == []
        assert mem.stats(namespace="b").engrams == 100
    assert where_found(store_files(root), [CANARY]) == []


def test_engram_delete_and_forget_namespace_succeed_on_a_full_disk(disk: Path) -> None:
    root, ids = _store(disk)
    audit.record(str(root), "add", "a", count=300)  # the log exists, as after a server ran
    _fill_up(disk)
    runner = CliRunner()
    deleted = runner.invoke(app, ["--store", str(root), "delete", ids[0], "-n", "a"])
    assert deleted.exit_code == 0, deleted.output
    forgot = runner.invoke(app, ["--store", str(root), "forget-namespace", "a", "--yes"])
    assert forgot.exit_code == 0, forgot.output
    actions = [e.action for e in audit.SqliteAuditLog(str(root / "audit.db")).entries()]
    assert actions[-2:] == ["delete", "forget_namespace"]  # both erasures were audited


def _leave_free(disk: Path, filler: Path, room: int) -> None:
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    assert free >= room
    with filler.open("ab") as out:
        out.write(bytes(free - room))


def test_the_merge_after_an_erasure_never_takes_the_room_its_checkpoint_needs(
    disk: Path,
) -> None:
    """Merging the lexical index writes its pages twice to the -wal, then grows the
    database at the checkpoint. With room for the first and not the second, the merge
    used to commit and leave a -wal no checkpoint could empty: the store, and the audit
    log opened after it, had no room left (``engram delete`` then failed on the log)."""
    root, _ = _store(disk)
    filler = _fill_up(disk)
    with Memory(settings=Settings(path=str(root)), embedder=HashEmbedder()) as mem:
        (root / "engram.db-reserve").unlink()
        index = lexical.stored_bytes(mem.store._conn)  # type: ignore[attr-defined]
        _leave_free(disk, filler, index * 22 // 10)
        mem.store._scrubber.scrub()  # type: ignore[attr-defined]
        assert mem.store._scrubber.owed  # type: ignore[attr-defined]
        assert (root / "engram.db-wal").stat().st_size == 0
    assert not (root / "engram.db-wal").exists()
    audit.record(str(root), "delete", "a")  # the room is still there for the log


def test_an_erasure_that_finds_no_room_says_what_to_do(disk: Path) -> None:
    root, _ = _store(disk)
    with Memory(settings=Settings(path=str(root)), embedder=HashEmbedder()) as mem:
        (root / "engram.db-reserve").unlink()  # as when the disk was full when it opened
        _fill_up(disk)
        with pytest.raises(StoreError, match="free some space on the disk and try again"):
            mem.forget_namespace("a")
        assert mem.stats(namespace="a").engrams == 300  # nothing half-erased
