"""Consolidation reads what each batch needs, and a stopped run resumes where it stopped
(docs/consolidation.md, "At scale").

What a step costs is counted in SQLite virtual-machine steps (the connection's
progress handler), which is how much of the store a statement reads: a step
over a few new episodes must cost the same beside a hundred consolidated
episodes or a thousand.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engramdb import Memory
from engramdb.store.sqlite import SqliteStore

from .conftest import NOW, hash_memory, history
from .test_consolidate import snapshot

T0 = datetime(2023, 1, 2, tzinfo=timezone.utc)
CITIES = ("Boston", "Denver", "Lisbon", "Oslo", "Kyoto", "Lima", "Quito", "Porto")


def _residents(start: int, count: int, session: str | None = None) -> list[dict[str, Any]]:
    """One person each, saying where they live: a fact each, sessions of three turns."""
    return [
        {
            "text": f"I live in {CITIES[i % len(CITIES)]}.",
            "speaker": f"Person{i}",
            "session": session or f"s{i // 3}",
            "occurred_at": T0 + timedelta(minutes=i),
        }
        for i in range(start, start + count)
    ]


def _steps_to_consolidate_eight_more(consolidated: int) -> int:
    """Thousands of SQLite VM steps a run over 8 new episodes takes, in a namespace
    that already holds ``consolidated`` consolidated episodes (and as many facts)."""
    with hash_memory(consolidation_batch=64) as mem:
        mem.add_many(_residents(0, consolidated), namespace="u")
        mem.consolidate(namespace="u", now=NOW)
        mem.add_many(_residents(consolidated, 8, session="new"), namespace="u")
        store = mem.store
        assert isinstance(store, SqliteStore)
        ticks = 0

        def tick() -> int:
            nonlocal ticks
            ticks += 1
            return 0  # go on

        store._conn.set_progress_handler(tick, 1_000)
        try:
            report = mem.consolidate(namespace="u", now=NOW)
        finally:
            store._conn.set_progress_handler(None, 0)
        assert (report.episodes, report.facts) == (8, 8)
        return ticks


def test_a_step_over_new_episodes_does_not_read_the_namespace() -> None:
    small, large = (_steps_to_consolidate_eight_more(n) for n in (60, 600))
    # Reading every fact, or scanning past every consumed episode, costs ~10x here.
    assert large <= 2 * small + 5, f"{large} thousand VM steps beside 600, {small} beside 60"


class _Stop(KeyboardInterrupt):
    """Ctrl-C, pressed once the first batch is committed."""


def test_a_run_stopped_after_a_batch_resumes_where_it_stopped(tmp_path: Path) -> None:
    clean_path, stopped_path = tmp_path / "clean.db", tmp_path / "stopped.db"
    with hash_memory(path=str(clean_path)) as mem:
        mem.add_many(history(), namespace="u")
    shutil.copy(clean_path, stopped_path)
    with hash_memory(path=str(clean_path), consolidation_batch=4) as clean:
        clean.consolidate(namespace="u", now=NOW)
        expected = snapshot(clean)

    def stop(done: int, total: int) -> None:
        if done:
            raise _Stop

    with hash_memory(path=str(stopped_path), consolidation_batch=4) as mem:
        with pytest.raises(_Stop):
            mem.consolidate(namespace="u", now=NOW, progress=stop)
        assert mem.store.pending_count("u") == 12
    with hash_memory(path=str(stopped_path), consolidation_batch=4) as reopened:
        first = reopened.store.pending_episodes("u", 1)
        assert [e.text for e in first] == [history()[4]["text"]]  # the fifth turn: next
        report = reopened.consolidate(namespace="u", now=NOW)
        assert (report.episodes, report.batches, report.pending) == (12, 3, 0)
        assert snapshot(reopened) == expected
        assert reopened.check() == []


def test_an_episode_changed_after_its_run_is_consolidated_again(tmp_path: Path) -> None:
    with hash_memory(path=str(tmp_path / "store"), consolidation_batch=4) as mem:
        mem.add_many(history(), namespace="u")
        mem.consolidate(namespace="u", now=NOW)
        boston = next(e for e in mem.store.iter_engrams("u") if "Boston" in e.text)
        mem.update(boston.id, text="I live in Chicago and I love sushi.", namespace="u")
        assert [e.id for e in mem.store.pending_episodes("u", 10)] == [boston.id]
        report = mem.consolidate(namespace="u", now=NOW)
        assert report.episodes == 1
        places = [f.value for f in mem.facts(namespace="u", subject="Maya", attribute="residence")]
        assert "Chicago" in places


def test_facts_of_equals_facts_on_a_consolidated_store(mem: Memory) -> None:
    mem.consolidate(namespace="u", now=NOW)
    every = mem.store.facts("u")
    assert len(every) > 5

    def key(subject: str, attribute: str) -> tuple[str, str]:
        return subject.casefold().strip(), attribute.casefold().strip()

    for fact in every:
        timeline = [
            f for f in every if key(f.subject, f.attribute) == key(fact.subject, fact.attribute)
        ]
        assert mem.store.facts_of("u", [fact.engram_id]) == timeline
        assert mem.store.facts_of("u", keys=[(fact.subject, fact.attribute)]) == timeline
    assert mem.store.facts_of("u", [f.engram_id for f in every]) == every
