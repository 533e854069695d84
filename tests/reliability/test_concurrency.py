"""Concurrency (docs/reliability.md): processes and threads writing and searching one SQLite store.

Workers embed with ``HashEmbedder`` (``engramdb.testing.fakes``), a fast
deterministic stand-in: the load is on the store's locking and transactions,
not on the embedding model. The workload lives in
``engramdb.testing.concurrency``, shared with ``bench/concurrency.py``.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from engramdb import Memory, StoreError
from engramdb.store.sqlite import database as sqlite_store
from engramdb.testing.concurrency import run_load, watch_batches, write_batches
from engramdb.testing.fakes import HashEmbedder


@pytest.mark.parametrize(
    ("processes", "threads", "share_memory"),
    [(4, 1, False), (1, 4, False), (1, 4, True), (3, 2, False)],
    ids=["4-processes", "4-threads-own-connections", "4-threads-one-memory", "3x2"],
)
def test_concurrent_writers_and_searchers_lose_no_writes(
    tmp_path: Path, processes: int, threads: int, share_memory: bool
) -> None:
    report = run_load(
        tmp_path / "store", processes=processes, threads=threads, operations=40,
        share_memory=share_memory,
    )  # fmt: skip
    # any "database is locked" escaping the store would have been raised above
    assert report.problems == ()
    assert report.lost == 0
    assert report.unexplained == 0
    assert report.wrong_version == 0
    assert report.found == report.expected > 0
    assert report.searches > 0


def test_readers_in_other_processes_see_whole_batches_only(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    Memory(store, embedder=HashEmbedder()).close()
    batches, size = 30, 10
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        reader = pool.submit(watch_batches, store, batches, size)
        writer = pool.submit(write_batches, store, batches, size)
        here = watch_batches(store, batches, size)  # a reader in this process too
        assert writer.result() == batches * size
        seen, violations = reader.result()
    assert violations == []
    assert here[1] == []
    assert max(seen, here[0]) > 2  # the readers watched the batches arrive


def test_a_writer_waits_for_a_held_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    with Memory(str(path), embedder=HashEmbedder()) as mem:
        blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, blocker.execute, args=("COMMIT",))
        release.start()
        engram = mem.add("written once the lock is free")  # waits, does not fail
        release.join()
        blocker.close()
        assert mem.get(engram.id).text == "written once the lock is free"


def test_a_lock_held_past_the_bound_is_a_clear_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(sqlite_store, "_BUSY_RETRIES", 2)
    path = tmp_path / "engram.db"
    with Memory(str(path), embedder=HashEmbedder()) as mem:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="busy"):
                mem.add("never written")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert mem.stats().engrams == 0
        assert mem.check() == []
