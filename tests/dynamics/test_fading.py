"""A fade weighs the active memories' dynamics, not the namespace's catalog, and an add
that goes over a budget makes room below it (docs/dynamics.md, "Dormancy and budgets")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from engramdb import Memory, Settings
from engramdb.dynamics.keeper import ROOM
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _notes(start: int, count: int) -> list[dict[str, object]]:
    return [
        {"text": f"note {i} about the garden shed", "occurred_at": T0 + timedelta(hours=i)}
        for i in range(start, start + count)
    ]


def _active(mem: Memory, namespace: str) -> int:
    return len(mem.store.active(namespace))


def test_a_fade_loads_no_catalog_of_the_namespace(tmp_path: Path) -> None:
    with Memory(settings=Settings(path=str(tmp_path / "s")), embedder=HashEmbedder()) as mem:
        mem.add_many(_notes(0, 30), namespace="shed")
        mem.set_budget(namespace="shed", max_memories=20)
        now = T0 + timedelta(days=2)
        weighed = [
            (mem.retention(e.id, namespace="shed", now=now), e.importance, i, e.text)
            for i, e in enumerate(mem.store.iter_engrams("shed"))
        ]
        least_retained = {text for *_, text in sorted(weighed)[:10]}
        assert mem.fade(namespace="shed", now=now) == 10
        store = mem.store
        assert isinstance(store, SqliteStore)
        loaded = store._vectors.get("shed")
        assert loaded is None or loaded.catalog is None, "the fade built the whole catalog"
        assert _active(mem, "shed") == 20
        put_aside = {e.text for e in mem.store.iter_engrams("shed") if e.dormant}
        assert put_aside == least_retained  # ties: the less important


def test_an_add_over_the_budget_makes_room_below_it(location: str) -> None:
    budget = 300
    room = int(budget * ROOM)
    assert room >= 2
    with Memory(location, embedder=HashEmbedder()) as mem:
        mem.set_budget(namespace="shed", max_memories=budget)
        mem.add_many(_notes(0, budget), namespace="shed")
        assert _active(mem, "shed") == budget  # at the budget, not over it
        mem.add_many(_notes(budget, 1), namespace="shed")
        assert _active(mem, "shed") == budget - room  # over: down to below it
        mem.add_many(_notes(budget + 1, room - 1), namespace="shed")
        assert _active(mem, "shed") == budget - 1  # no pass until it is over again
        assert mem.fade(namespace="shed", now=T0) == 0  # an explicit fade: the budget itself
        assert mem.store.stats("shed").engrams == budget + room  # nothing deleted


def test_a_small_budget_is_kept_exactly(location: str) -> None:
    with Memory(location, embedder=HashEmbedder()) as mem:
        mem.set_budget(namespace="shed", max_memories=5)
        mem.add_many(_notes(0, 7), namespace="shed")
        assert _active(mem, "shed") == 5
