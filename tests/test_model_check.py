"""A Memory refuses an embedder whose model is not the stored vectors' model, and finds
that out without scanning every stored vector at each write."""

from __future__ import annotations

from pathlib import Path

import pytest

from engramdb import Memory
from engramdb.errors import StoreError
from engramdb.testing.fakes import HashEmbedder


def _model_reads(statements: list[str]) -> int:
    """Statements that read the stored vectors' models (the index's two ends, or all);
    not the read of a written row for its checksum (store/sqlite/checksums.py)."""
    return sum("model_id" in s and "FROM vectors" in s and "checksum" not in s for s in statements)


class OtherModel(HashEmbedder):
    """Vectors of the same size from another model."""

    @property
    def model_id(self) -> str:
        return "another-model-384"


def test_an_embedder_of_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Memory(path, embedder=HashEmbedder()) as mem:
        mem.add("written with the hash model")
    with Memory(path, embedder=OtherModel()) as other:
        with pytest.raises(StoreError, match="another-model-384"):
            other.add("written with another model")
        with pytest.raises(StoreError, match="configure the same model"):
            other.search("written")
        assert other.store.count("default", 10) == 1


def test_a_store_empty_at_first_is_checked_again_once_it_holds_vectors(
    tmp_path: Path,
) -> None:
    """Two processes open an empty store with different models: the second to write
    is refused once the first has written."""
    path = tmp_path / "s.db"
    with Memory(path, embedder=OtherModel()) as late, Memory(path, embedder=HashEmbedder()) as mem:
        assert late.search("nothing yet") == []  # the check passed: no vectors yet
        mem.add("the hash model wrote first")
        with pytest.raises(StoreError, match="configure the same model"):
            late.add("and now another model")


def test_a_restored_backup_is_checked_again(tmp_path: Path) -> None:
    with Memory(tmp_path / "other.db", embedder=OtherModel()) as other:
        other.add("from another model")
        backup = other.backup(tmp_path / "backup.db")
    with Memory(tmp_path / "s.db", embedder=HashEmbedder()) as mem:
        mem.add("the hash model's memory")
        mem.restore_backup(backup, force=True)
        with pytest.raises(StoreError, match="another-model-384"):
            mem.add("the hash model again")


def test_writes_do_not_read_the_stored_models_again(tmp_path: Path) -> None:
    """The model check read every stored vector's row at each write (a tenth of a
    second at 60,000 memories); once the store holds the embedder's vectors it is
    not repeated."""
    with Memory(tmp_path / "s.db", embedder=HashEmbedder()) as mem:
        mem.add("the first memory")
        statements: list[str] = []
        mem.store._conn.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        for i in range(5):
            mem.add_many([{"text": f"memory {i}"}, {"text": f"and {i}"}])
        mem.search("memory")
        mem.store._conn.set_trace_callback(None)  # type: ignore[attr-defined]
    assert _model_reads(statements) == 1  # once the store holds vectors, then never
