"""Erasure reaches the files: after forget_namespace or delete, no canary byte is left."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engramdb import EncryptionKey, Memory, Settings
from engramdb.cli import app
from engramdb.clock import FixedClock
from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key
from engramdb.store.sqlite.lexical import namespace_token
from engramdb.store.vectors import quantize
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
CANARIES = ("Zorbaxqy", "Quillfenwick", "Plumtrazzle")


def _turns(session: str, canary: str) -> list[dict[str, Any]]:
    said = [
        ("Maya", f"I live in {canary} and I love sushi."),
        ("Tom", "Nice! What do you do these days?"),
        ("Maya", f"I work at {canary}Corp. My partner is Alex."),
        ("Tom", "Sounds like a good life."),
        ("Maya", "We have 2 dogs, which keeps us busy."),
        ("Tom", "I visited Lisbon last spring."),
        ("Maya", "The weather has been lovely lately."),
    ]
    return [
        {"text": t, "speaker": s, "session": session, "occurred_at": T0 + timedelta(minutes=i)}
        for i, (s, t) in enumerate(said)
    ]


def _memory(path: Path) -> Memory:
    return Memory(str(path), embedder=HashEmbedder(), settings=Settings(consolidation_batch=4))


def _filled(path: Path) -> None:
    with _memory(path) as mem:
        for i, canary in enumerate(CANARIES):
            mem.add_many(_turns(f"s{i}", canary), namespace="private")
        mem.add("Tom likes chess.", namespace="other")
        mem.consolidate(namespace="private")
        kinds = {e["kind"] for e in mem.export(namespace="private")}
        assert {"fact", "summary"} <= kinds


def test_forget_namespace_leaves_no_canary_byte_in_any_file(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _filled(store)
    with _memory(store) as mem:  # the pinned profile, every version (docs/profile.md)
        mem.pin("home", "Maya lives in Vexmortain", namespace="private")
        mem.pin("home", "Maya lives in Snorkelbrand", namespace="private")
        mem.pin("name", "Tom", namespace="other")
    pinned = ("Vexmortain", "Snorkelbrand")
    assert where_found(store_files(store), CANARIES)  # the scan does see them first
    assert {word for word in pinned if where_found(store_files(store), [word])} == set(pinned)
    with _memory(store) as mem:
        assert mem.forget_namespace("private") > 0
        assert mem.namespaces() == ["other"]
        assert mem.profile(namespace="private", history=True) == []
        assert [e.text for e in mem.profile(namespace="other")] == ["Tom"]
    files = store_files(store)
    assert files
    assert where_found(files, (*CANARIES, *pinned)) == []


def _rows_of(store: Path, namespace: str) -> dict[str, int]:
    """Rows that still name or belong to ``namespace``, per table, read behind the
    store's back (every table with a namespace column, the lexical index's
    namespace token, and rows of per-memory tables whose memory is gone)."""
    conn = sqlite3.connect(store / "engram.db")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        found: dict[str, int] = {}
        for table in tables:
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info('{table}')")}
            if "namespace" in columns:
                sql = f"SELECT COUNT(*) FROM '{table}' WHERE namespace = ?"
                found[table] = conn.execute(sql, (namespace,)).fetchone()[0]
            elif "engram_rowid" in columns:
                sql = (
                    f"SELECT COUNT(*) FROM '{table}' "
                    "WHERE engram_rowid NOT IN (SELECT rowid FROM engrams)"
                )
                found[table] = conn.execute(sql).fetchone()[0]
        token = namespace_token(namespace)
        fts = "SELECT COUNT(*) FROM engram_fts WHERE ns = ?"
        found["engram_fts"] = conn.execute(fts, (token,)).fetchone()[0]
        return {table: n for table, n in found.items() if n}
    finally:
        conn.close()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "encrypted"])
def test_forget_namespace_leaves_no_row_anywhere(tmp_path: Path, encrypted: bool) -> None:
    store = tmp_path / "store"
    key = EncryptionKey.from_text(generate_key()) if encrypted else None
    settings = Settings(consolidation_batch=4, encryption=key)
    with Memory(str(store), embedder=HashEmbedder(), settings=settings) as mem:
        for i, canary in enumerate(CANARIES):
            mem.add_many(_turns(f"s{i}", canary), namespace="private")
        mem.add("Tom likes chess.", namespace="other")
        mem.pin("home", f"Maya lives in {CANARIES[2]}", namespace="private")
        mem.consolidate(namespace="private")
        wanted = {"engrams", "facts", "engram_fts", "profile_entries"}
        assert set(_rows_of(store, "private")) >= wanted
        mem.forget_namespace("private")
    assert _rows_of(store, "private") == {}
    assert _rows_of(store, "other")  # the other namespace is untouched


def test_deleting_an_episode_takes_its_facts_and_summary_and_their_bytes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _filled(store)
    with _memory(store) as mem:
        episode = next(
            e
            for e in mem.export(namespace="private")
            if e["kind"] == "episode" and "Zorbaxqy " in e["text"]
        )
        derived = [e for e in mem.export(namespace="private") if e["kind"] != "episode"]
        assert any("Zorbaxqy" in e["text"] for e in derived)
        mem.delete(episode["id"], namespace="private")
        left = list(mem.export(namespace="private"))
        assert all("live in Zorbaxqy" not in e["text"] for e in left)
        assert all(e["kind"] != "summary" or e["session"] != "s0" for e in left)
    # The phrase and the episode id are gone from every byte (other memories of
    # this store still say "Zorbaxqy": the next test has a canary of one episode).
    assert where_found(store_files(store), ["live in Zorbaxqy and", episode["id"]]) == []


def test_verify_erasure_command_exits_1_then_0(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _filled(store)
    runner = CliRunner()
    found = runner.invoke(app, ["--store", str(store), "verify-erasure", "Plumtrazzle"])
    assert found.exit_code == 1, found.output
    assert "engram.db" in found.output
    with _memory(store) as mem:
        mem.forget_namespace("private")
    gone = runner.invoke(app, ["--store", str(store), "--json", "verify-erasure", "Plumtrazzle"])
    assert gone.exit_code == 0, gone.output
    assert '"found": false' in gone.output


def test_erasure_reaches_the_process_caches(tmp_path: Path) -> None:
    from engramdb.embed.cache import CachedEmbedder

    cached = CachedEmbedder(HashEmbedder())
    with Memory(str(tmp_path / "s"), embedder=cached) as mem:
        gone = mem.add("Zorbaxqy lives on the hill", namespace="private")
        mem.add("Tom likes chess", namespace="private")
        mem.search("who lives on the hill", namespace="private")
        recaller = mem._recall()
        assert "private" in recaller._documents
        assert len(cached) > 0
        mem.delete(gone.id, namespace="private")
        assert "private" not in recaller._documents
        assert len(cached) == 0
        assert [h.engram.text for h in mem.search("hill", namespace="private")] == [
            "Tom likes chess"
        ]
        mem.forget_namespace("private")
        assert "private" not in recaller._documents


def test_forgetting_most_of_a_store_gives_the_space_back(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with Memory(str(store), embedder=HashEmbedder()) as mem:
        filler = " ".join(f"word{i}" for i in range(150))
        mem.add_many([{"text": f"{i} {filler}"} for i in range(400)], namespace="big")
        mem.add("Tom likes chess.", namespace="small")
    before = (store / "engram.db").stat().st_size
    with Memory(str(store), embedder=HashEmbedder()) as mem:
        mem.forget_namespace("big")
        assert mem.search("chess", namespace="small")[0].engram.text == "Tom likes chess."
    after = (store / "engram.db").stat().st_size
    assert after < before / 4


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "encrypted"])
def test_deleting_the_one_episode_with_a_canary_leaves_no_byte_of_it(
    tmp_path: Path, encrypted: bool
) -> None:
    # The canary is in one episode and what consolidation derives from it; after
    # the delete not even its lower-cased single token is left in the FTS5
    # segments (they are rewritten after every delete).
    store = tmp_path / "store"
    key = EncryptionKey.from_text(generate_key()) if encrypted else None
    settings = Settings(consolidation_batch=4, encryption=key)
    turns = _turns("s0", "Lisbon")
    turns[4] = {**turns[4], "text": "We adopted a dog named Vexmortain last week."}
    with Memory(str(store), embedder=HashEmbedder(), settings=settings) as mem:
        added = mem.add_many(turns, namespace="private")
        mem.consolidate(namespace="private")
        derived = [e for e in mem.export(namespace="private") if e["kind"] != "episode"]
        assert any("Vexmortain" in e["text"] for e in derived)
        mem.reindex()  # one merged FTS5 segment holds every token, the canary's too
        if not encrypted:
            assert where_found(store_files(store), ["vexmortain"])
        mem.delete(added[4].id, namespace="private")
        assert all("Vexmortain" not in e["text"] for e in mem.export(namespace="private"))
    assert where_found(store_files(store), ["vexmortain", added[4].id]) == []
    assert _rows_of(store, "private")  # the rest of the namespace is still there


def _bytes_in(files: list[Path], needle: bytes) -> list[Path]:
    return [f for f in files if needle in f.read_bytes()]


@pytest.mark.parametrize("erase", ["forget_namespace", "delete"])
def test_erasure_reaches_the_saved_vector_index(tmp_path: Path, erase: str) -> None:
    # The saved graph (store/sqlite/annfile.py, store/graph.py) keeps each vector's
    # int8 codes, as the database does: a memory's codes are a canary of their own,
    # found in the index file until the erasure, and then in no file.
    store = tmp_path / "store"
    settings = Settings(consolidation_batch=4, ann_threshold=10)
    with Memory(str(store), embedder=HashEmbedder(), settings=settings) as mem:
        # two sessions: the same turns twice in one would be one experience (repetition.md)
        mem.add_many(_turns("s0", "Lisbon") + _turns("s1", "Lisbon"), namespace="private")
        doomed = mem.add("Quillfenwick tunes a violin in the attic", namespace="private")
        mem.search("dogs", namespace="private")  # builds the graph, saved at close
    with Memory(str(store), embedder=HashEmbedder(), settings=settings) as mem:
        canary = quantize(mem._store.vectors("private", [doomed.id])[0])[0]
        index_files = [f for f in store_files(store) if ".ann-" in f.name]
        assert index_files, "the saved index is among the store's files"
        assert _bytes_in(index_files, canary)
        if erase == "forget_namespace":
            mem.forget_namespace("private")
        else:
            mem.delete(doomed.id, namespace="private")
            assert [f for f in store_files(store) if ".ann-" in f.name] == index_files
    assert _bytes_in(store_files(store), canary) == []


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "encrypted"])
def test_delete_where_leaves_no_canary_byte_and_a_sound_store(
    tmp_path: Path, encrypted: bool
) -> None:
    # One session's turns carry the canary (and facts and a summary derive from them);
    # the filter takes that session: every byte of it goes, the other session stays.
    store = tmp_path / "store"
    key = EncryptionKey.from_text(generate_key()) if encrypted else None
    settings = Settings(consolidation_batch=4, encryption=key, ann_threshold=10)
    with Memory(str(store), embedder=HashEmbedder(), settings=settings) as mem:
        gone = mem.add_many(_turns("s0", "Vexmortain"), namespace="private")
        kept = mem.add_many(_turns("s1", "Lisbon"), namespace="private")
        mem.consolidate(namespace="private")
        mem.search("dogs", namespace="private")  # the saved vector index holds them too
        mem.reindex()
        if not encrypted:
            assert where_found(store_files(store), ["vexmortain"])
        report = mem.delete_where(namespace="private", where={"session": "s0"})
        assert set(report.ids) == {e.id for e in gone}
        assert report.derived  # the facts and the summary of s0
        assert mem.check() == []
        left = list(mem.export(namespace="private"))
        assert {e.id for e in kept} <= {e["id"] for e in left}
        assert all("Vexmortain" not in e["text"] for e in left)
    needles = ["vexmortain", *report.ids, *report.derived]
    assert where_found(store_files(store), needles) == []
    verified = CliRunner().invoke(app, ["--store", str(store), "verify-erasure", "Vexmortain"])
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize("encrypted", [False, True], ids=["plaintext", "encrypted"])
def test_purge_of_expired_memories_leaves_no_canary_byte_and_a_sound_store(
    tmp_path: Path, encrypted: bool
) -> None:
    # One session's turns expire (docs/expiry.md) and carry the canary, with the facts
    # and summary derived from them; the purge after they expired takes every byte of
    # them, as delete_where does, and the session that never expires stays.
    store = tmp_path / "store"
    key = EncryptionKey.from_text(generate_key()) if encrypted else None
    settings = Settings(consolidation_batch=4, encryption=key, ann_threshold=10)
    clock = FixedClock(T0 + timedelta(days=1))
    with Memory(str(store), embedder=HashEmbedder(), settings=settings, clock=clock) as mem:
        expiring = [{**t, "expires_at": T0 + timedelta(days=2)} for t in _turns("s0", "Vexmortain")]
        gone = mem.add_many(expiring, namespace="private")
        kept = mem.add_many(_turns("s1", "Lisbon"), namespace="private")
        mem.add("Tom likes chess.", namespace="other", expires_at=T0 + timedelta(days=3))
        mem.consolidate(namespace="private")
        mem.search("dogs", namespace="private")  # the saved vector index holds them too
        mem.reindex()
        if not encrypted:
            assert where_found(store_files(store), ["vexmortain"])
        clock.advance(timedelta(days=1, hours=1))
        (report,) = mem.purge()
        assert report.namespace == "private"
        assert set(report.ids) == {e.id for e in gone}
        assert report.derived  # the facts and the summary of s0
        assert mem.check() == []
        left = list(mem.export(namespace="private"))
        assert {e.id for e in kept} <= {e["id"] for e in left if "id" in e}
        assert mem.store.namespaces() == ["other", "private"]  # not yet expired there
    needles = ["vexmortain", *report.ids, *report.derived]
    assert where_found(store_files(store), needles) == []
    verified = CliRunner().invoke(app, ["--store", str(store), "verify-erasure", "Vexmortain"])
    assert verified.exit_code == 0, verified.output
