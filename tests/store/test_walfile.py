"""A ``-wal`` without its ``-shm`` is read as SQLite recovers it (store/sqlite/walfile.py).

The check refuses such a ``-wal`` exactly when SQLite would change the database with
it: cut at every frame boundary and inside frames, or with a bit flipped in a frame,
the verdict agrees with what SQLite itself applies when it opens the pair.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from engramdb.errors import IntegrityError
from engramdb.store.sqlite import walfile

PAGE = 4096
HEADER, FRAME = 32, 24 + PAGE


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database and the -wal of five commits it lacks (no -shm kept)."""
    root = tmp_path_factory.mktemp("walfile")
    db = root / "x.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (n INTEGER, body TEXT)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    for n in range(5):
        conn.execute("INSERT INTO t VALUES (?, ?)", (n, "x" * 3000 * (n + 1)))
    kept = (root / "x.db-wal").read_bytes()
    shutil.copy(db, root / "base.db")  # the database file as the -wal found it
    conn.close()  # the last connection: checkpoints into x.db, deletes its -wal
    (root / "wal").write_bytes(kept)
    return root


def _content(db: Path) -> str:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        rows = conn.execute("SELECT n, length(body) FROM t ORDER BY n").fetchall()
    finally:
        conn.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _case(pair: Path, where: Path, wal: bytes) -> tuple[bool, bool]:
    """(whether the check refuses, whether SQLite changes the database) for ``wal``
    beside a copy of the database as it was."""
    where.mkdir()
    shutil.copy(pair / "base.db", where / "x.db")
    alone = _content(where / "x.db")  # no -wal yet: the file alone
    (where / "x.db-wal").write_bytes(wal)
    try:
        walfile.check_beside(str(where / "x.db"))
        refused = False
    except IntegrityError:
        refused = True
    return refused, _content(where / "x.db") != alone


def test_the_check_refuses_a_wal_exactly_when_sqlite_would_apply_it(
    pair: Path, tmp_path: Path
) -> None:
    wal = (pair / "wal").read_bytes()
    frames = (len(wal) - HEADER) // FRAME
    assert frames > 5
    cuts = [0, HEADER, *(HEADER + k * FRAME for k in range(1, frames + 1))]
    cuts += [HEADER + k * FRAME + 100 for k in range(frames)]  # inside a frame
    verdicts = {}
    for n, cut in enumerate(sorted(set(cuts))):
        verdicts[f"cut at {cut}"] = _case(pair, tmp_path / f"cut-{n}", wal[:cut])
    for k in range(frames):  # one bit of a frame's page: its checksum fails from there
        at = HEADER + k * FRAME + 24 + PAGE // 2
        flipped = wal[:at] + bytes([wal[at] ^ 1]) + wal[at + 1 :]
        verdicts[f"frame {k} flipped"] = _case(pair, tmp_path / f"flip-{k}", flipped)
    disagree = {name: v for name, v in verdicts.items() if v[0] != v[1]}
    assert not disagree, disagree
    assert any(refused for refused, _ in verdicts.values())
    assert not all(refused for refused, _ in verdicts.values())


def test_a_wal_already_in_its_database_is_not_refused(pair: Path) -> None:
    wal = pair / "x.db-wal"
    wal.write_bytes((pair / "wal").read_bytes())
    try:
        walfile.check_beside(str(pair / "x.db"))  # x.db holds every commit of it
    finally:
        wal.unlink()
