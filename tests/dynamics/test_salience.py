"""Salience in search, with the real model: it decides near ties between memories of
one event, and never a clearly better match (docs/recall.md, "Salience")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from engramdb import Memory
from engramdb.embed import Embedder

T0 = datetime(2024, 1, 8, 18, 0, tzinfo=timezone.utc)
# two memories of one kind of event, equally near "that train ride to Boston" by content
TERRIFYING = "Took the train ride to Boston and a man pulled a knife on us, I was terrified."
TRIVIAL = "Took the train ride to Boston and the conductor checked tickets, I ate an apple."
ROUTINE = [
    "Bought groceries: milk, bread and eggs.",
    "Paid the electricity bill online.",
    "Watered the plants on the balcony.",
    "Took out the recycling.",
]


@pytest.fixture
def mem(embedder: Embedder, location: str) -> Iterator[Memory]:
    """The routine of the days before, on each store (tests/conftest.py)."""
    with Memory(location, embedder=embedder) as memory:
        memory.add_many(
            [{"text": t, "occurred_at": T0 - timedelta(days=i + 1)} for i, t in enumerate(ROUTINE)]
        )
        yield memory


def order(mem: Memory, query: str, days: float) -> list[str]:
    hits = mem.search(query, now=T0 + timedelta(days=days), reinforce=False, limit=10)
    return [h.engram.text for h in hits]


@pytest.mark.parametrize("days", [1, 300])
def test_the_terrifying_ride_outranks_the_trivial_one(mem: Memory, days: float) -> None:
    terrifying = mem.add(TERRIFYING, occurred_at=T0)
    trivial = mem.add(TRIVIAL, occurred_at=T0)
    assert terrifying.stability_days > trivial.stability_days  # arousal and importance
    ranked = order(mem, "that train ride to Boston", days)
    assert ranked.index(TERRIFYING) < ranked.index(TRIVIAL)


def test_the_trivial_ride_wins_when_the_question_is_about_it(mem: Memory) -> None:
    mem.add(TERRIFYING, occurred_at=T0)
    mem.add(TRIVIAL, occurred_at=T0)
    assert order(mem, "the Boston train ride when I ate an apple", 300)[0] == TRIVIAL


def test_a_memory_recalled_at_spaced_intervals_outranks_its_twin(mem: Memory) -> None:
    looked_up = (
        "Went on a bike ride along the river and the path was quiet, I stopped for a coffee."
    )
    twin = "Went on a bike ride along the river and a rowing team passed by, I fixed my chain."
    same = {"occurred_at": T0, "importance": 0.5, "emotion": "neutral"}
    mem.add_many([{"text": looked_up, **same}, {"text": twin, **same}])
    # by content alone the twin is the better match: the recalls must make up for it
    assert order(mem, "the bike ride along the river", 1)[:2] == [twin, looked_up]
    for day in (3, 10, 30):  # an agent looks it up again, at spaced intervals
        hits = mem.search(looked_up, now=T0 + timedelta(days=day), limit=1)
        assert hits[0].engram.text == looked_up
    assert order(mem, "the bike ride along the river", 30 + 240)[0] == looked_up
