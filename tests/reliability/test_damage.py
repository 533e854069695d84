"""Damaged store files: opening refuses them, ``check()`` reports what it finds.

A damaged file must end in a clear typed error or a reported problem, never in
a store that silently looks new or empty, and never in a ``check()`` that
raises instead of listing the damage (docs/reliability.md, "Damage").
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engramdb.cli import app
from engramdb.errors import IntegrityError
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import make_record


def _filled(path: Path) -> None:
    store = SqliteStore(path)
    try:
        store.insert([make_record("a", f"apple {i}") for i in range(3)])
        store.insert([make_record("b", "banana")])
    finally:
        store.close()


@pytest.mark.parametrize("read_only", [False, True])
def test_a_zero_length_store_file_is_refused_as_damaged(tmp_path: Path, read_only: bool) -> None:
    db = tmp_path / "engram.db"
    db.write_bytes(b"")
    with pytest.raises(IntegrityError, match="empty"):
        SqliteStore(db, read_only=read_only)
    assert db.stat().st_size == 0  # left as it was, for whoever investigates
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engram.db"]


def test_engram_check_on_a_zero_length_store_exits_4_with_one_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "engram.db").write_bytes(b"")
    result = CliRunner().invoke(app, ["--store", str(store), "check"])
    assert result.exit_code == 4
    assert "empty" in result.output
    assert "Traceback" not in result.output


def test_a_new_store_is_created_whole_and_leaves_no_scratch_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "new" / "engram.db")
    store.close()
    assert (tmp_path / "new" / "engram.db").stat().st_size > 0
    # beside it only the room kept for erasure (docs/reliability.md, "A full disk")
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "engram.db",
        "engram.db-reserve",
    ]
    SqliteStore(tmp_path / "new" / "engram.db").close()  # and it opens again


def _flip_namespace_to_invalid_utf8(path: Path) -> None:
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("UPDATE engrams SET namespace = CAST(x'62ff' AS TEXT) WHERE namespace = 'b'")
    conn.close()


def test_check_reports_text_that_is_not_utf8_instead_of_raising(tmp_path: Path) -> None:
    db = tmp_path / "engram.db"
    _filled(db)
    _flip_namespace_to_invalid_utf8(db)
    store = SqliteStore(db)
    try:
        problems = store.check()
    finally:
        store.close()
    assert any("engrams" in p and "namespace" in p and "UTF-8" in p for p in problems), problems


def test_engram_check_on_text_that_is_not_utf8_exits_1_listing_it(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _filled(store / "engram.db")
    _flip_namespace_to_invalid_utf8(store / "engram.db")
    result = CliRunner().invoke(app, ["--store", str(store), "check"])
    assert result.exit_code == 1, result.output
    assert "UTF-8" in result.output
