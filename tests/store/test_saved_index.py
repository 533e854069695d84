"""The saved vector index (store/sqlite/cache.py, "The saved vector index").

A second SqliteStore on the same file stands for another process: it loads
the saved graph instead of rebuilding, catches up on what was written since,
falls back to a rebuild when the file is damaged or the log has a gap, and
never leaves a vector in the clear in an encrypted store's file. The
``events`` counter of the store's cache says which path was taken (no
timings).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engramdb import EncryptionKey
from engramdb.security import store_files
from engramdb.security.crypto import generate_key
from engramdb.store.base import EngramRecord
from engramdb.store.sqlite import SqliteStore, cache
from engramdb.store.sqlite.annfile import MAGIC, OLDER_MAGIC, path_of, paths
from engramdb.store.vectors import dequantize, quantize
from engramdb.testing.conformance import make_record

THRESHOLD = 40  # small, so that the HNSW graph (the part that is saved) is built


def _records(count: int, namespace: str = "ns", start: int = 0) -> list[EngramRecord]:
    return [
        make_record(namespace, f"memory number {i} about topic {i % 7}")
        for i in range(start, start + count)
    ]


def _store(path: Path, **options: object) -> SqliteStore:
    options.setdefault("ann_threshold", THRESHOLD)
    return SqliteStore(path, **options)  # type: ignore[arg-type]


def _ids(store: SqliteStore, record: EngramRecord, limit: int = 5) -> list[str]:
    return [c.id for c in store.vector_search(record.namespace, record.vector, limit)]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "engram.db"


def _filled(db_path: Path, count: int = 60, **options: object) -> list[EngramRecord]:
    records = _records(count)
    store = _store(db_path, **options)
    store.insert(records)
    store.vector_search("ns", records[0].vector, 1)  # builds the graph, and saves it
    assert store._cache.events["rebuilt"] == 1
    assert store._cache.events["saved"] == 1
    store.close()
    return records


def test_a_second_store_loads_the_saved_index_instead_of_rebuilding(db_path: Path) -> None:
    records = _filled(db_path)
    assert path_of(str(db_path), "ns").is_file()
    stored = [dequantize(*quantize(np.asarray(r.vector, np.float32))) for r in records]
    reader = _store(db_path)
    try:
        for record in records[:10]:
            assert _ids(reader, record, 1) == [record.id]
        # the vectors read back out of the saved graph are the stored ones
        assert np.array_equal(reader.vectors("ns", [r.id for r in records]), np.stack(stored))
        assert reader._cache.events["loaded"] == 1
        assert reader._cache.events["rebuilt"] == 0
    finally:
        reader.close()


def test_after_another_stores_add_only_the_new_rows_are_read(db_path: Path) -> None:
    _filled(db_path)
    writer, reader = _store(db_path), _store(db_path)
    try:
        reader.vector_search("ns", _records(1)[0].vector, 1)  # loaded from the file
        new = _records(3, start=100)
        writer.insert(new)
        for record in new:
            assert _ids(reader, record, 1) == [record.id]
        events = reader._cache.events
        assert (events["loaded"], events["rebuilt"]) == (1, 0)
        assert events["caught_up"] == 1
        assert events["caught_up_rows"] == 3
    finally:
        writer.close()
        reader.close()


def test_a_saved_index_older_than_the_namespace_is_caught_up_on_open(db_path: Path) -> None:
    _filled(db_path)
    writer = _store(db_path)
    writer.insert(new := _records(2, start=200))  # too few to be saved at close
    writer.close()
    reader = _store(db_path)
    try:
        assert _ids(reader, new[1], 1) == [new[1].id]
        events = reader._cache.events
        assert (events["loaded"], events["caught_up_rows"], events["rebuilt"]) == (1, 2, 0)
    finally:
        reader.close()


def test_a_delete_writes_the_saved_index_again_without_the_deleted_vector(
    db_path: Path,
) -> None:
    records = _filled(db_path)
    file = path_of(str(db_path), "ns")
    assert _codes(records[5]) in file.read_bytes()
    writer = _store(db_path)  # its index not loaded: the file is opened for the delete
    writer.delete("ns", records[5].id)
    assert (writer._cache.events["loaded"], writer._cache.events["rebuilt"]) == (1, 0)
    data = file.read_bytes()  # written again, at once
    assert _codes(records[5]) not in data
    assert _codes(records[6]) in data
    writer.close()
    reader = _store(db_path)
    try:
        assert records[5].id not in _ids(reader, records[5], 10)
        assert _ids(reader, records[6], 1) == [records[6].id]
        events = reader._cache.events
        assert (events["loaded"], events["caught_up"], events["rebuilt"]) == (1, 0, 0)
    finally:
        reader.close()


def test_catch_up_applies_another_stores_delete_and_update(db_path: Path) -> None:
    records = _filled(db_path)
    writer, reader = _store(db_path), _store(db_path)
    try:
        assert _ids(reader, records[3], 1) == [records[3].id]
        writer.delete("ns", records[3].id)
        moved = make_record("ns", "something else entirely")
        writer.update(
            "ns",
            records[4].id,
            text=moved.text,
            speaker=None,
            metadata={},
            occurred_at=moved.occurred_at,
            vector=moved.vector,
            model_id=moved.model_id,
            keys="",
            now=moved.recorded_at,
        )
        assert records[3].id not in _ids(reader, records[3], 10)
        assert _ids(reader, moved, 1) == [records[4].id]
        assert reader._cache.events["rebuilt"] == 0
        assert reader._cache.events["caught_up_rows"] == 2
    finally:
        writer.close()
        reader.close()


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "garbage"])
def test_a_damaged_file_is_reported_and_rebuilt_with_correct_results(
    db_path: Path, damage: str
) -> None:
    records = _filled(db_path)
    file = path_of(str(db_path), "ns")
    data = file.read_bytes()
    if damage == "truncated":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        at = len(data) - 1000
        file.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
    elif damage == "empty":
        file.write_bytes(b"")
    else:
        file.write_bytes(b"x" * 50 + b"{}" + b"\x00\x00\x00\x02" + MAGIC)
    store = _store(db_path)
    try:
        assert any("saved vector index" in p for p in store.check())
        for record in records[:10]:
            assert _ids(store, record, 1) == [record.id]
        assert store._cache.events["unusable"] == 1
        assert store._cache.events["rebuilt"] == 1
        assert store.check() == []  # the rebuilt index was saved over the damaged one
    finally:
        store.close()


def test_an_index_older_than_the_pruned_log_is_rebuilt(db_path: Path) -> None:
    _filled(db_path)
    writer, reader = _store(db_path), _store(db_path)
    try:
        reader.vector_search("ns", _records(1)[0].vector, 1)
        writer.insert(new := _records(2, start=300))
        with sqlite3.connect(db_path) as conn:  # the log lost its entries up to the last
            conn.execute("DELETE FROM vector_changes")
            conn.execute("UPDATE vector_log SET pruned_to = (SELECT seq FROM sqlite_sequence)")
        assert _ids(reader, new[1], 1) == [new[1].id]
        assert reader._cache.events["rebuilt"] == 1
    finally:
        writer.close()
        reader.close()


def test_an_index_of_a_forgotten_namespace_is_rebuilt_not_caught_up(db_path: Path) -> None:
    records = _filled(db_path)
    writer, reader = _store(db_path), _store(db_path)
    try:
        assert _ids(reader, records[0], 1) == [records[0].id]
        writer.forget_namespace("ns")  # its log entries are erased with it
        writer.insert(new := _records(45, start=500))
        found = reader.vector_search("ns", records[0].vector, 50)
        assert {c.id for c in found} <= {r.id for r in new}
        assert len(found) == 45
        assert reader._cache.events["rebuilt"] == 1
        assert reader._cache.events["caught_up"] == 0
    finally:
        writer.close()
        reader.close()


def _codes(record: EngramRecord) -> bytes:
    """The int8 codes of the record's vector: what the store and its graph keep."""
    return quantize(np.asarray(record.vector, dtype=np.float32))[0]


def _vector_bytes(records: list[EngramRecord]) -> list[bytes]:
    found = []
    for record in records:
        stored = dequantize(*quantize(np.asarray(record.vector, dtype=np.float32)))
        found += [_codes(record), stored.tobytes()[:64]]
        found.append(np.asarray(record.vector, np.float32).tobytes()[:64])
    return found


def test_an_encrypted_stores_saved_index_holds_no_plaintext_vector(tmp_path: Path) -> None:
    plain, sealed = tmp_path / "plain.db", tmp_path / "sealed.db"
    key = EncryptionKey.from_text(generate_key())
    records = _filled(plain)
    # the same vectors in an encrypted store
    store = _store(sealed, encryption=key)
    store.insert(records)
    store.vector_search("ns", records[0].vector, 1)
    store.close()
    needles = _vector_bytes(records)
    assert any(n in path_of(str(plain), "ns").read_bytes() for n in needles)  # the check sees them
    data = path_of(str(sealed), "ns").read_bytes()
    assert not any(n in data for n in needles)
    assert data.endswith(MAGIC)
    length = int.from_bytes(data[-len(MAGIC) - 4 : -len(MAGIC)], "big")
    header = data[-len(MAGIC) - 4 - length : -len(MAGIC) - 4]
    assert header.startswith(b"{")
    assert b"ns" not in header
    reopened = _store(sealed, encryption=key)
    try:
        assert _ids(reopened, records[7], 1) == [records[7].id]
        assert reopened._cache.events["loaded"] == 1
    finally:
        reopened.close()


def test_encrypting_a_store_in_place_deletes_its_plaintext_saved_index(db_path: Path) -> None:
    records = _filled(db_path)
    store = _store(db_path)
    try:
        store.encrypt(EncryptionKey.from_text(generate_key()))
        assert paths(str(db_path)) == []
        assert _ids(store, records[2], 1) == [records[2].id]
        assert not any(
            n in path_of(str(db_path), "ns").read_bytes() for n in _vector_bytes(records)
        )
    finally:
        store.close()


def test_forget_namespace_and_reindex_delete_the_saved_index(db_path: Path) -> None:
    _filled(db_path)
    file = path_of(str(db_path), "ns")
    assert file in store_files(db_path)  # erasure checks scan it
    store = _store(db_path)
    try:
        store.reindex("ns")
        assert not file.exists()
        store.vector_search("ns", _records(1)[0].vector, 1)  # rebuilt and saved again
        assert file.is_file()
        assert store.forget_namespace("ns") == 60
        assert not file.exists()
    finally:
        store.close()
    assert not file.exists()  # close saved nothing of the erased namespace


def test_a_reader_does_not_save_back_an_index_of_a_forgotten_namespace(db_path: Path) -> None:
    records = _filled(db_path)
    reader, writer = _store(db_path), _store(db_path)
    try:
        reader.vector_search("ns", records[0].vector, 1)
        reader.insert(_records(1000, start=400))  # enough to be saved at close...
        writer.forget_namespace("ns")
    finally:
        reader.close()  # ...unless the namespace changed since: then not
        writer.close()
    assert not path_of(str(db_path), "ns").exists()


def test_catch_up_does_not_read_this_stores_own_writes_again(db_path: Path) -> None:
    _filled(db_path)
    mine, other = _store(db_path), _store(db_path)
    try:
        mine.vector_search("ns", _records(1)[0].vector, 1)
        mine.insert(_records(5, start=600))
        other.insert(theirs := _records(1, start=700))
        assert _ids(mine, theirs[0], 1) == [theirs[0].id]
        assert mine._cache.events["caught_up_rows"] == 1
    finally:
        mine.close()
        other.close()


def test_close_saves_a_graph_with_many_unsaved_changes(db_path: Path) -> None:
    _filled(db_path)
    writer = _store(db_path)
    writer.vector_search("ns", _records(1)[0].vector, 1)
    writer.insert(new := _records(1000, start=2000))
    writer.close()
    reader = _store(db_path)
    try:
        assert _ids(reader, new[-1], 1) == [new[-1].id]
        assert reader._cache.events["loaded"] == 1
        assert reader._cache.events["caught_up"] == 0  # the file was current
    finally:
        reader.close()


def test_a_store_that_only_writes_a_new_namespace_saves_its_index_at_close(
    db_path: Path,
) -> None:
    records = _records(1000)
    writer = _store(db_path)
    writer.vector_search("ns", records[0].vector, 1)  # loaded while the namespace is empty
    writer.insert(records)  # the write that makes the namespace
    writer.close()
    assert path_of(str(db_path), "ns").is_file()
    reader = _store(db_path)
    try:
        assert _ids(reader, records[-1], 1) == [records[-1].id]
        assert reader._cache.events["loaded"] == 1
    finally:
        reader.close()


def test_after_a_restore_an_index_loaded_before_is_rebuilt(db_path: Path, tmp_path: Path) -> None:
    records = _filled(db_path)
    owner, reader = _store(db_path), _store(db_path)
    try:
        backup = owner.backup(tmp_path / "backup.db")
        owner.insert(later := _records(3, start=800))
        assert _ids(reader, later[0], 1) == [later[0].id]  # caught up
        owner.restore_backup(backup)
        assert paths(str(db_path)) == []  # the saved index of the replaced content went
        found = _ids(reader, later[0], 70)
        assert later[0].id not in found
        assert set(found) <= {r.id for r in records}
        assert reader._cache.events["rebuilt"] == 1  # another epoch: not caught up
    finally:
        owner.close()
        reader.close()


def test_an_hnswlib_index_saved_by_an_earlier_version_is_rebuilt_once(db_path: Path) -> None:
    records = _filled(db_path)
    file = path_of(str(db_path), "ns")
    file.write_bytes(OLDER_MAGIC + b"\x00\x00\x00\x02{}" + b"\x00" * 64)  # its header first
    store = _store(db_path)
    try:
        assert store.check() == []  # an earlier form is not damage
        assert _ids(store, records[3], 1) == [records[3].id]
        events = store._cache.events
        assert (events["older"], events["rebuilt"], events["saved"]) == (1, 1, 1)
        assert file.read_bytes().endswith(MAGIC)  # saved in the new form
    finally:
        store.close()
    reader = _store(db_path)
    try:
        assert _ids(reader, records[4], 1) == [records[4].id]
        assert (reader._cache.events["loaded"], reader._cache.events["rebuilt"]) == (1, 0)
    finally:
        reader.close()


def _log_entries(db_path: Path, namespace: str) -> int:
    with sqlite3.connect(db_path) as conn:
        sql = "SELECT COUNT(*) FROM vector_changes WHERE namespace = ?"
        return int(conn.execute(sql, (namespace,)).fetchone()[0])


def test_a_save_prunes_the_log_up_to_the_save_before_it(db_path: Path) -> None:
    _filled(db_path)  # saved once: its 60 entries stay, the next save drops them
    assert _log_entries(db_path, "ns") == 60
    reader = _store(db_path)
    reader.vector_search("ns", _records(1)[0].vector, 1)  # at the first save's position
    writer = _store(db_path)
    writer.vector_search("ns", _records(1)[0].vector, 1)
    writer.insert(_records(1000, start=3000))
    writer.close()  # saved again (many changes): the first save's entries go
    assert _log_entries(db_path, "ns") == 1000
    writer = _store(db_path)
    writer.vector_search("ns", _records(1)[0].vector, 1)
    writer.insert(later := _records(1000, start=5000))
    writer.close()  # and once more: the reader is behind the pruned log now
    assert _log_entries(db_path, "ns") == 1000
    try:
        assert _ids(reader, later[-1], 1) == [later[-1].id]
        events = reader._cache.events
        # it loads the newer file instead of rebuilding, and catches up from there
        assert (events["loaded"], events["rebuilt"], events["caught_up"]) == (2, 0, 0)
        assert len(reader._cache.index("ns")) == 2060
    finally:
        reader.close()


def test_closing_prunes_the_log_of_namespaces_without_a_graph_it_wrote(db_path: Path) -> None:
    for start in (0, 90):
        store = _store(db_path, ann_threshold=1_000)
        store.vector_search("ns", _records(1)[0].vector, 1)  # "ns" loaded, "other" not
        store.insert(_records(30 if start == 0 else 2, start=start))
        store.insert(_records(5, namespace="other", start=start))
        store.close()  # a close counts as a save: the next one drops what this one covered
    assert (_log_entries(db_path, "ns"), _log_entries(db_path, "other")) == (2, 10)
    reader = _store(db_path, ann_threshold=1_000)
    assert len(reader.vector_search("ns", _records(1)[0].vector, 100)) == 32
    reader.close()  # it only read: it writes nothing
    assert _log_entries(db_path, "ns") == 2


def _plans(store: SqliteStore, read: Callable[[], object], table: str) -> list[str]:
    """The query plans of the SELECTs on ``table`` that ``read`` runs."""
    statements: list[str] = []
    conn: sqlite3.Connection = store._conn
    conn.set_trace_callback(statements.append)
    try:
        read()
    finally:
        conn.set_trace_callback(None)
    found = []
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT") and f" {table} " in f"{sql} ":
            found += [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
    return found


def test_catching_up_reads_only_the_namespaces_own_changes(db_path: Path) -> None:
    records = _filled(db_path)
    writer, reader = _store(db_path), _store(db_path)
    try:
        reader.vector_search("ns", records[0].vector, 1)
        writer.insert(_records(3, namespace="other") + _records(2, start=900))
        search = lambda: reader.vector_search("ns", records[0].vector, 1)  # noqa: E731
        log = [p for p in _plans(reader, search, "vector_changes") if "vector_changes" in p]
        assert log
        assert all("USING INDEX vector_changes_namespace" in p for p in log), log
        assert reader._cache.events["caught_up_rows"] == 2
    finally:
        writer.close()
        reader.close()


def test_loading_the_exact_index_reads_no_memory_row(db_path: Path) -> None:
    store = _store(db_path, ann_threshold=1_000)
    try:
        store.insert(_records(30))
        store._cache.drop()
        search = lambda: store.vector_search("ns", _records(1)[0].vector, 1)  # noqa: E731
        found = _plans(store, search, "vectors")
        engrams = [p for p in found if "vectors" not in p and "(rowid=?)" not in p]
        # the (namespace, rowid) index names the rows: their texts are never read
        assert engrams, found
        assert all("COVERING INDEX engrams_namespace" in p for p in engrams), found
        assert store._cache.events["rebuilt"] == 1
    finally:
        store.close()


def test_close_saves_a_large_graph_before_catching_up_would_cost_more_than_a_save(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenth of a large graph is too many vectors to insert again at the next open
    (a tenth of a million took 35 s): the unsaved changes are capped."""
    monkeypatch.setattr(cache, "_SAVE_AFTER", 10)
    monkeypatch.setattr(cache, "_CATCH_UP_MAX", 30)
    _filled(db_path, count=600)  # a tenth is 60: more than the cap
    writer = _store(db_path)
    writer.vector_search("ns", _records(1)[0].vector, 1)
    writer.insert(new := _records(40, start=2000))
    writer.close()
    reader = _store(db_path)
    try:
        assert _ids(reader, new[-1], 1) == [new[-1].id]
        assert reader._cache.events["loaded"] == 1
        assert reader._cache.events["caught_up"] == 0  # the close saved the 40
    finally:
        reader.close()
