"""A mood reads its window's latest episodes by the time index, never the namespace
(docs/context.md, "Mood")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from engramdb import Memory, Settings
from engramdb.dynamics.mood import WINDOW_EPISODES
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.fakes import HashEmbedder

NOW = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _loaded_catalogs(mem: Memory) -> list[str]:
    store = mem.store
    assert isinstance(store, SqliteStore)
    return [name for name, loaded in store._vectors.items() if loaded.catalog is not None]


def test_a_mood_loads_no_catalog_of_the_namespace(tmp_path: Path) -> None:
    settings = Settings(path=str(tmp_path / "store"))
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        mem.add_many(
            [
                {"text": f"an ordinary day, number {i}", "occurred_at": NOW - timedelta(days=i)}
                for i in range(60)
            ],
            namespace="ns",
        )
        assert _loaded_catalogs(mem) == []
        mood = mem.mood(namespace="ns", window=timedelta(days=7), now=NOW)
        assert mood.memories == 8  # days 0 to 7: the window's ends are inside it
        assert _loaded_catalogs(mem) == [], "the mood loaded the namespace's whole catalog"


def test_a_crowded_window_is_read_from_its_latest_episodes(location: str) -> None:
    with Memory(location, embedder=HashEmbedder()) as mem:
        turns = [
            {"text": f"turn {i} of a busy week", "occurred_at": NOW - timedelta(minutes=i)}
            for i in range(WINDOW_EPISODES + 20)
        ]
        added = mem.add_many(turns, namespace="ns")
        mem.add("a note from last year", namespace="ns", occurred_at=NOW - timedelta(days=300))
        mood = mem.mood(namespace="ns", window=timedelta(days=7), now=NOW)
        assert mood.memories == WINDOW_EPISODES
        latest = {e.id for e in added[:WINDOW_EPISODES]}  # the newest minutes come first
        assert {e.id for e in mood.drivers} <= latest
