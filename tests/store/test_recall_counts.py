"""Recalls written back by several processes to one SQLite file are all counted
(``DynamicsUpdate.recalled``; docs/scaling.md): two ``SqliteStore`` objects on one
file stand for two processes that read a memory's count before either wrote."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engramdb.clock import from_iso
from engramdb.store.base import DynamicsUpdate
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import make_record

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _stored(path: Path, engram_id: str) -> tuple[int, datetime, float]:
    with closing(sqlite3.connect(path)) as conn:
        recalls, last, stability = conn.execute(
            "SELECT recalls, last_recalled_at, stability_days FROM dynamics "
            "JOIN engrams ON engrams.rowid = dynamics.engram_rowid WHERE engrams.id = ?",
            (engram_id,),
        ).fetchone()
    return recalls, from_iso(last), stability


def test_two_processes_recalling_one_memory_both_count(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    record = make_record("ns", "the lantern festival by the river")
    with closing(SqliteStore(path)) as first, closing(SqliteStore(path)) as second:
        first.insert([record])
        # each saw 0 recalls and writes 1 as its count, having recalled it once
        later, earlier = T0 + timedelta(days=2), T0 + timedelta(days=1)
        first.set_dynamics("ns", [DynamicsUpdate(record.id, 12.0, None, later, 1, recalled=1)])
        second.set_dynamics("ns", [DynamicsUpdate(record.id, 9.0, None, earlier, 1, recalled=1)])
    recalls, last, stability = _stored(path, record.id)
    assert recalls == 2
    assert last == later  # the later recall, though written first
    assert stability == 12.0  # the larger stability


def test_an_update_that_is_not_a_recall_writes_its_values(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    record = make_record("ns", "a quiet morning")
    with closing(SqliteStore(path)) as store:
        store.insert([record])
        store.set_dynamics("ns", [DynamicsUpdate(record.id, 20.0, None, T0, 3, recalled=3)])
        store.set_dynamics("ns", [DynamicsUpdate(record.id, 5.0, None, None, 7)])  # an import
    assert _stored(path, record.id) == (7, T0, 5.0)
