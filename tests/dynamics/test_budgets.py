"""Budgets are stored: they survive a reopen and bind every Memory on the store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from engramdb import Budget, InvalidInputError, Memory
from engramdb.embed import Embedder
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)


def _notes(n: int) -> list[dict[str, object]]:
    return [
        {"text": f"note {i} about the garden shed", "occurred_at": T0 + timedelta(days=i)}
        for i in range(n)
    ]


def _active(mem: Memory, namespace: str) -> int:
    return sum(not e.dormant for e in mem.store.iter_engrams(namespace))


def test_a_budget_survives_closing_and_reopening_the_store(
    location: str, embedder: Embedder
) -> None:
    with Memory(location, embedder=embedder) as mem:
        assert mem.budget(namespace="garden") is None
        mem.set_budget(namespace="garden", max_memories=2, max_bytes=10_000)
    with Memory(location, embedder=embedder) as mem:
        assert mem.budget(namespace="garden") == Budget(2, 10_000)
        mem.add_many(_notes(4), namespace="garden")
        assert _active(mem, "garden") == 2  # the reopened Memory honours it on add
        assert mem.store.stats("garden").engrams == 4  # put aside, never deleted


def test_a_budget_set_by_one_memory_binds_another_on_the_same_store(
    location: str, embedder: Embedder
) -> None:
    where = location
    with Memory(where, embedder=embedder) as writer, Memory(where, embedder=embedder) as other:
        writer.add_many(_notes(5), namespace="shed")
        assert writer.budget(namespace="shed") is None  # read before the other sets it
        other.set_budget(namespace="shed", max_memories=3)
        assert writer.fade(namespace="shed", now=T0 + timedelta(days=6)) == 2
        assert _active(writer, "shed") == 3
        other.set_budget(namespace="shed", max_memories=1)
        writer.add("one more note about the shed", namespace="shed", occurred_at=T0)
        assert _active(writer, "shed") == 1  # the newer budget, not a cached one
        other.set_budget(namespace="shed")  # removed: nothing more is put aside
        assert writer.budget(namespace="shed") is None
        writer.add("and another", namespace="shed", occurred_at=T0 + timedelta(days=7))
        assert _active(writer, "shed") == 2


def test_a_budget_is_per_namespace_and_goes_with_forget_namespace(
    location: str, embedder: Embedder
) -> None:
    with Memory(location, embedder=embedder) as mem:
        mem.set_budget(namespace="a", max_bytes=100)
        assert mem.budget(namespace="b") is None
        assert mem.budget(namespace="a") == Budget(None, 100)
        mem.add("something in a", namespace="a")
        mem.forget_namespace("a")
        assert mem.budget(namespace="a") is None


@pytest.mark.parametrize(
    "bounds",
    [
        {"max_memories": -1},
        {"max_bytes": -5},
        {"max_memories": True},
        {"max_bytes": 1.5},
        {"max_memories": "10"},
        {"max_bytes": 2**64},  # beyond a SQLite INTEGER: refused, not an OverflowError
    ],
)
def test_a_bad_bound_is_refused_and_nothing_is_stored(
    embedder: Embedder, bounds: dict[str, object], location: str
) -> None:
    with Memory(location, embedder=embedder) as mem:
        with pytest.raises(InvalidInputError):
            mem.set_budget(namespace="a", **bounds)  # type: ignore[arg-type]
        assert mem.budget(namespace="a") is None


def test_checking_a_budget_at_each_write_does_not_load_the_namespace(tmp_path: Path) -> None:
    """The budget is checked against totals the store keeps (``Store.usage``), not the
    namespace's catalog: at a million memories that was every text and vector in
    memory. Going over it still puts the least retained aside."""
    with Memory(tmp_path / "s.db", embedder=HashEmbedder()) as mem:
        mem.set_budget(namespace="shed", max_memories=8, max_bytes=10_000)
        for start in (0, 3):  # one session each: the same notes again would be repetitions
            mem.add_many([{**n, "session": f"s{start}"} for n in _notes(3)], namespace="shed")
            mem.add(f"a note {start} about the shed door", namespace="shed", occurred_at=T0)
        loaded = mem.store._vectors.get("shed")  # type: ignore[attr-defined]
        assert loaded is None or loaded.catalog is None, "a write built the namespace's catalog"
        assert mem.store.usage("shed") == (
            8,
            sum(len(e.text) for e in mem.store.iter_engrams("shed")),
        )
        mem.add_many(_notes(2), namespace="shed")  # over: the least retained go
        assert _active(mem, "shed") == 8
        assert mem.store.usage("shed")[0] == 8
