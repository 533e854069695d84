"""Recovery: online backup and restore, check, reindex, lossless export/import.

Stores are filled with ``HashEmbedder`` (a deterministic stand-in for the
model) except where search results are compared (reindex), which uses the
real packaged model from ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engramdb import FixedClock, IntegrityError, InvalidInputError, Memory
from engramdb.cli import app
from engramdb.embed import Embedder
from engramdb.testing.fakes import HashEmbedder

SAMPLE = Path(__file__).parents[2] / "src" / "engramdb" / "cli" / "sample_conversation.jsonl"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _memory(location: str | Path, **options: Any) -> Memory:
    return Memory(str(location), embedder=HashEmbedder(), **options)


def _filled(location: str | Path, n: int = 30) -> Memory:
    mem = _memory(location, clock=FixedClock(T0))
    engrams = mem.add_many(
        [{"text": f"memory number {i}", "session": "s1", "metadata": {"i": i}} for i in range(n)],
        namespace="alpha",
    )
    mem.add("a memory in another namespace", namespace="beta", speaker="Ana")
    mem.update(
        engrams[0].id,
        namespace="alpha",
        text="memory number zero, revised",
        now=T0 + timedelta(days=1),
    )
    mem.delete(engrams[1].id, namespace="alpha")
    return mem


def _everything(mem: Memory) -> list[dict[str, Any]]:
    return list(mem.export())


# -- backup and restore ------------------------------------------------------------


def test_backup_and_restore_give_back_every_memory_with_its_history(tmp_path: Path) -> None:
    with _filled(tmp_path / "live") as mem:
        written = mem.backup(tmp_path / "backup.db")
        before = _everything(mem)
    assert written == tmp_path / "backup.db"
    with _memory(tmp_path / "fresh") as fresh:
        assert fresh.restore_backup(written) == len(before)
        assert _everything(fresh) == before
        assert fresh.check() == []
        assert fresh.search("memory number", namespace="alpha", limit=3)


def test_a_backup_is_a_single_self_contained_file(tmp_path: Path) -> None:
    with _filled(tmp_path / "live") as mem:
        mem.backup(tmp_path / "backup.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.db", "live"]
    with sqlite3.connect(tmp_path / "backup.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with _memory(tmp_path / "backup.db", read_only=True) as copy:
        assert copy.stats(namespace="alpha").engrams == 29
        assert copy.check() == []


def test_backup_while_another_connection_writes_holds_whole_batches(tmp_path: Path) -> None:
    location = tmp_path / "live"
    _memory(location).close()
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with _memory(location) as writer:
                n = 0
                while not stop.is_set() or n < 5:
                    writer.add_many([{"text": f"batch {n} item {i}"} for i in range(10)])
                    n += 1
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        with _memory(location) as mem:
            for k in range(5):
                target = tmp_path / f"backup-{k}.db"
                mem.backup(target)
                with _memory(target, read_only=True) as copy:
                    assert copy.check() == []
                    assert copy.stats().engrams % 10 == 0
    finally:
        stop.set()
        thread.join()
    assert errors == []


def test_restore_refuses_a_store_that_holds_memories_unless_forced(tmp_path: Path) -> None:
    with _filled(tmp_path / "live") as mem:
        mem.backup(tmp_path / "backup.db")
        expected = _everything(mem)
    with _memory(tmp_path / "other") as other:
        other.add("something already here")
        with pytest.raises(InvalidInputError, match="not empty"):
            other.restore_backup(tmp_path / "backup.db")
        assert other.stats().engrams == 1
        other.restore_backup(tmp_path / "backup.db", force=True)
        assert _everything(other) == expected


def test_restore_refuses_a_damaged_backup_and_changes_nothing(tmp_path: Path) -> None:
    with _filled(tmp_path / "live") as mem:
        mem.backup(tmp_path / "backup.db")
    with sqlite3.connect(tmp_path / "backup.db") as conn:
        conn.execute("DELETE FROM vectors WHERE engram_rowid = (SELECT MIN(rowid) FROM engrams)")
    with _memory(tmp_path / "fresh") as fresh:
        with pytest.raises(IntegrityError, match="without a vector"):
            fresh.restore_backup(tmp_path / "backup.db")
        assert fresh.namespaces() == []
        assert fresh.check() == []
    # no scratch copy left; beside the store only its room for erasure (docs/reliability.md)
    assert sorted(p.name for p in (tmp_path / "fresh").iterdir()) == [
        "engram.db",
        "engram.db-reserve",
    ]


def test_a_process_with_the_store_open_sees_the_restored_content(tmp_path: Path) -> None:
    with _filled(tmp_path / "source") as source:
        source.backup(tmp_path / "backup.db")
        wanted = source.search("memory number 7", namespace="alpha", limit=1)[0].engram.id
    with _memory(tmp_path / "live") as restorer, _memory(tmp_path / "live") as reader:
        old = reader.add("memory number 7 of the old content", namespace="alpha")
        assert reader.search("memory number 7", namespace="alpha", limit=1)[0].engram.id == old.id
        restorer.restore_backup(tmp_path / "backup.db", force=True)
        # the reader's in-memory vector index must not serve the old content
        assert reader.search("memory number 7", namespace="alpha", limit=1)[0].engram.id == wanted
        assert not reader.store.vectors("alpha", [old.id]).any()


def test_cli_backup_and_restore(tmp_path: Path) -> None:
    runner = CliRunner()
    _filled(tmp_path / "live").close()
    backup = tmp_path / "nightly.db"

    def engram(store: Path, *args: str) -> Any:
        return runner.invoke(app, ["--store", str(store), "--json", *args])

    result = engram(tmp_path / "live", "backup", str(backup))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["backup"] == str(backup)
    again = engram(tmp_path / "live", "backup", str(backup))
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert engram(tmp_path / "live", "backup", str(backup), "--force").exit_code == 0

    restored = engram(tmp_path / "copy", "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout) == {"restored": 30, "backup": str(backup)}
    refused = engram(tmp_path / "copy", "restore", str(backup))
    assert refused.exit_code == 2
    assert "not empty" in refused.stderr
    assert engram(tmp_path / "copy", "restore", str(backup), "--force").exit_code == 0
    assert json.loads(engram(tmp_path / "copy", "check").stdout) == {"ok": True, "problems": []}

    with sqlite3.connect(backup) as conn:
        conn.execute("DELETE FROM engram_fts")
    damaged = engram(tmp_path / "third", "restore", str(backup))
    assert damaged.exit_code == 4
    assert "missing from the lexical index" in damaged.stderr


# -- reindex ------------------------------------------------------------------------


def test_reindex_gives_the_same_search_results_as_before(
    tmp_path: Path, embedder: Embedder
) -> None:
    items = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    for item in items:
        item["occurred_at"] = datetime.fromisoformat(item["occurred_at"].replace("Z", "+00:00"))
    queries = [
        "What is the name of Maya's dog?",
        "Where did Maya move?",
        "cello lessons",
        "health scare at the hospital",
        "new job",
    ]
    now = datetime(2024, 8, 17, 9, 30, tzinfo=timezone.utc)
    with Memory(str(tmp_path / "store"), embedder=embedder) as mem:
        mem.add_many(items, namespace="demo")

        def results() -> list[list[tuple[str, float]]]:
            return [
                [
                    (h.engram.id, round(h.score, 6))
                    # reinforce=False: a recall strengthens its hits (docs/dynamics.md), which
                    # would change the scores this test compares
                    for h in mem.search(q, namespace="demo", limit=10, now=now, reinforce=False)
                ]
                for q in queries
            ]

        before = results()
        assert mem.reindex() == len(items)
        assert results() == before
        mem.store._conn.execute("DELETE FROM engram_fts")  # lose the lexical index entirely
        assert mem.check() != []
        assert mem.reindex(namespace="demo") == len(items)
        assert mem.check() == []
        assert results() == before
    with Memory(str(tmp_path / "store"), embedder=embedder) as reopened:  # a cold vector index
        assert [
            [
                (h.engram.id, round(h.score, 6))
                for h in reopened.search(q, namespace="demo", limit=10, now=now, reinforce=False)
            ]
            for q in queries
        ] == before


# -- export and import ----------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60
).filter(lambda t: t.strip() != "")
_label = st.none() | st.from_regex(r"[A-Za-z][A-Za-z0-9 _-]{0,15}", fullmatch=True)
# What the library stores: no NUL and no lone surrogate anywhere (docs/limits.md).
_stored = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_metadata = st.dictionaries(
    st.text(alphabet=_stored, min_size=1, max_size=8),
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(alphabet=_stored, max_size=12),
    max_size=3,
)
_operation = st.one_of(
    st.tuples(st.just("add"), _text, _label, _label, _metadata, st.integers(0, 10_000)),
    st.tuples(st.just("update"), st.integers(0, 50), _text, _metadata),
    st.tuples(st.just("delete"), st.integers(0, 50)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    operations=st.lists(_operation, min_size=1, max_size=25),
    namespaces=st.lists(st.sampled_from(["n1", "n2", "n3"]), min_size=25, max_size=25),
)
def test_export_then_import_is_lossless_history_included(
    operations: list[tuple[Any, ...]], namespaces: list[str]
) -> None:
    clock = FixedClock(T0)
    with _memory(":memory:", clock=clock) as source, _memory(":memory:") as target:
        live: list[tuple[str, str]] = []
        for step, (op, *args) in enumerate(operations):
            clock.advance(timedelta(minutes=1))
            if op == "add":
                text, session, speaker, metadata, minutes = args
                engram = source.add(
                    text,
                    namespace=namespaces[step],
                    session=session,
                    speaker=speaker,
                    metadata=metadata,
                    occurred_at=T0 + timedelta(minutes=minutes),
                )
                if not engram.repeated:  # the same experience again is one memory
                    live.append((engram.id, engram.namespace))
            elif live and op == "update":
                index, text, metadata = args
                engram_id, ns = live[index % len(live)]
                source.update(engram_id, namespace=ns, text=text, metadata=metadata)
            elif live and op == "delete":
                engram_id, ns = live.pop(args[0] % len(live))
                source.delete(engram_id, namespace=ns)
        exported = list(source.export())
        # through JSON, as `engram export` / `engram import` carry it
        records = [json.loads(json.dumps(r, ensure_ascii=False)) for r in exported]
        assert target.import_records(records, batch_size=4) == len(exported)
        assert list(target.export()) == exported
        for engram_id, ns in live:
            assert target.history(engram_id, namespace=ns) == source.history(
                engram_id, namespace=ns
            )
            assert target.get(engram_id, namespace=ns) == source.get(engram_id, namespace=ns)
        assert target.check() == []


class _CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed(self, texts: Any) -> Any:
        self.calls += 1
        return super().embed(texts)


def test_import_records_embeds_and_writes_in_batches(tmp_path: Path) -> None:
    with _memory(":memory:") as source:
        for start in range(0, 600, 100):
            source.add_many([{"text": f"record {i}"} for i in range(start, start + 100)])
        exported = list(source.export())
    counting = _CountingEmbedder()
    with Memory(":memory:", embedder=counting) as target:
        assert target.import_records(exported, batch_size=256, embed="now") == 600
        assert counting.calls == 3  # 256 + 256 + 88, not 600 calls
        assert list(target.export()) == exported
    # by default the vectors follow (docs/write-path.md): the same store once they arrive
    with Memory(":memory:", embedder=_CountingEmbedder()) as target:
        assert target.import_records(exported, batch_size=256) == 600
        target.flush()
        assert target.stats().pending_vectors == 0
        assert list(target.export()) == exported


def test_import_records_writes_each_batch_whole_or_not_at_all(tmp_path: Path) -> None:
    with _memory(":memory:") as source:
        source.add_many([{"text": f"record {i}"} for i in range(10)])
        exported = list(source.export())
    with _memory(":memory:") as target:
        target.import_records(exported[7:8])  # record 7 is already there
        with pytest.raises(InvalidInputError, match="already exists"):
            target.import_records(exported, batch_size=5)
        # the first batch (0-4) went in; the second (5-9, holding 7) did not
        assert sorted(e.text for e in target.store.iter_engrams()) == sorted(
            ["record 7", *(f"record {i}" for i in range(5))]
        )
        with pytest.raises(InvalidInputError, match="record 1"):
            target.import_records([exported[9], {"id": "x"}])
        assert target.stats().engrams == 6
