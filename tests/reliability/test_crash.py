"""Crash safety: SIGKILL a writer at random moments; nothing acknowledged is lost.

The writer processes embed with ``HashEmbedder`` (``engramdb.testing.fakes``),
a fast deterministic stand-in for the model: the test exercises the store's
transactions, and the fake keeps 50 kill cycles well under a minute.
``bench/crash.py`` runs the same harness for 1,000 cycles.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

from engramdb.config import EncryptionKey
from engramdb.security.crypto import generate_key
from engramdb.testing.crash import CrashReport, Model, _audit, _Totals, read_log, run_crash_cycles
from engramdb.testing.fakes import HashEmbedder


def test_no_acknowledged_write_is_lost_across_50_kills(tmp_path: Path) -> None:
    report = run_crash_cycles(tmp_path, 50, seed=7)
    assert report.problems == ()
    assert report.ok
    assert report.cycles == 50
    assert report.lost == 0
    assert report.acknowledged > 100  # the kills landed while it was writing
    assert report.early_kills > 0  # and some while it was opening the store


def _one_cycle_store(tmp_path: Path) -> tuple[Path, Model, CrashReport]:
    # a second of writing: enough for some memories even on a loaded machine
    report = run_crash_cycles(tmp_path, 1, seed=3, max_run_s=1.0, early_kill_fraction=0.0)
    assert report.ok, report.problems
    store = tmp_path / "store" / "engram.db"
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT id, namespace, text, version FROM engrams").fetchall()
    assert rows, "the writer wrote nothing before the kill"
    return store, {r[0]: (r[1], r[2], r[3]) for r in rows}, report


def test_the_audit_reports_a_lost_acknowledged_write(tmp_path: Path) -> None:
    # The harness must be able to fail: drop one acknowledged memory behind its back.
    store, model, _ = _one_cycle_store(tmp_path)
    victim = sorted(model)[0]
    with sqlite3.connect(store) as conn:
        conn.execute("PRAGMA foreign_keys = ON")  # versions and vector go with it
        conn.execute(
            "DELETE FROM engram_fts WHERE rowid = (SELECT rowid FROM engrams WHERE id = ?)",
            (victim,),
        )
        conn.execute("DELETE FROM engrams WHERE id = ?", (victim,))
    totals = _Totals()
    problem = _audit(
        store.parent, dict(model), [], None, totals, random.Random(0), 4, HashEmbedder()
    )
    assert problem is not None
    assert victim in problem
    assert totals.lost == 1


def test_the_audit_reports_a_partial_write(tmp_path: Path) -> None:
    store, model, _ = _one_cycle_store(tmp_path)
    with sqlite3.connect(store) as conn:  # a memory left without its vector
        conn.execute("DELETE FROM vectors WHERE engram_rowid = (SELECT MIN(rowid) FROM engrams)")
    problem = _audit(
        store.parent, dict(model), [], None, _Totals(), random.Random(0), 4, HashEmbedder()
    )
    assert problem is not None
    assert "without a vector" in problem


def test_an_in_flight_batch_counts_only_when_whole(tmp_path: Path) -> None:
    store, model, _ = _one_cycle_store(tmp_path)
    ns = next(iter(model.values()))[0]
    intent = {"op": "add_many", "ns": ns, "texts": ["tnewx1 river", "tnewx2 meadow"]}
    with sqlite3.connect(store) as conn:  # half of the batch, as a torn write would leave
        conn.execute(
            "UPDATE engrams SET text = 'tnewx1 river' WHERE rowid = "
            "(SELECT MIN(rowid) FROM engrams)"
        )
    problem = _audit(
        store.parent, dict(model), [], intent, _Totals(), random.Random(0), 4, HashEmbedder()
    )
    assert problem is not None


def test_read_log_ignores_a_torn_last_line_and_finds_the_write_in_flight(tmp_path: Path) -> None:
    log = tmp_path / "acks.log"
    add = {"op": "add", "ns": "a", "texts": ["x"]}
    log.write_text(
        f"I 1 {json.dumps(add)}\nA 1 {json.dumps({'ids': ['e1']})}\n"
        f'I 2 {json.dumps({"op": "delete", "ns": "a", "id": "e1"})}\nA 2 {{"tor'
    )
    done, in_flight = read_log(log)
    assert done == [(add, {"ids": ["e1"]})]
    assert in_flight == {"op": "delete", "ns": "a", "id": "e1"}


def test_an_encrypted_store_survives_kills_too(tmp_path: Path) -> None:
    # A torn sealed write would surface as a DecryptionError in the audit
    report = run_crash_cycles(tmp_path, 15, seed=11, key=EncryptionKey.from_text(generate_key()))
    assert report.problems == ()
    assert report.lost == 0
    assert report.acknowledged > 20


def test_deferred_embedding_loses_nothing_and_every_vector_arrives(tmp_path: Path) -> None:
    # writers leave vectors to the background embedder (docs/write-path.md); kills land
    # during its catch-up, and the run ends with one more open that finishes it
    report = run_crash_cycles(tmp_path, 20, seed=11, max_run_s=0.5, deferred=True)
    assert report.problems == ()
    assert report.ok
    assert report.lost == 0
    assert report.acknowledged > 10  # the kills landed while it was writing
    assert report.memories > 0  # and the last audit found each of them by its vector
