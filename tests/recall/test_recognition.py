"""Recognition: a query that says a memory again finds it among its twins (docs/recall.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engramdb import Memory
from engramdb.testing.fakes import HashEmbedder

NAMES = ["Chloe", "Jorge", "Aiden", "Tara", "Greta", "Malik", "Vera", "Kenji", "Lena", "Omar"]
MONTHS = ["March", "May", "June", "July", "October", "December"]
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def mem() -> Memory:
    """An old, unimportant memory among recent, important twins of one template."""
    memory = Memory(":memory:", embedder=HashEmbedder())
    memory.add(
        "I have a review with Noah on 1 August at 8:45 and I'm really nervous.",
        occurred_at=NOW - timedelta(days=700),
        importance=0.1,
        metadata={"ref": "source"},
    )
    for i, name in enumerate(NAMES * 3):
        memory.add(
            f"I have a review with {name} on {i % 28 + 2} {MONTHS[i % 6]} at {7 + i % 9}:15 "
            "and I'm really nervous.",
            occurred_at=NOW - timedelta(days=i + 1),
            importance=0.95,
        )
    return memory


def test_a_near_verbatim_query_finds_its_memory_before_better_held_twins(mem: Memory) -> None:
    # a word in six left out, lower-cased, as bench/scale.py's probes are made
    hits = mem.search(
        "i have a review noah 1 august at 8:45 and i'm really nervous", now=NOW, reinforce=False
    )
    assert hits[0].engram.metadata.get("ref") == "source", [h.engram.text for h in hits[:3]]
    # its resolved date is indexed with it, so its own terms are more than the query says
    assert any(c.signal == "recognition" and c.value > 0 for c in hits[0].explain.contributions)


def test_a_question_is_not_recognition_and_salience_still_decides_near_ties(mem: Memory) -> None:
    # a question that fits every twin alike: the better-held ones come first
    hits = mem.search("when do I have a review?", now=NOW, reinforce=False)
    assert hits[0].engram.metadata.get("ref") != "source"
    assert all(
        c.value == 0.0 for h in hits for c in h.explain.contributions if c.signal == "recognition"
    )


def test_a_short_dated_memory_is_recognised_by_its_own_words() -> None:
    # its speaker's name and resolved date are indexed with it; a query that says its
    # text again with its month left out says neither, and is still recognition, ahead
    # of better-held twins on the same day at the same hour
    with Memory(":memory:", embedder=HashEmbedder()) as memory:
        memory.add(
            "Daniel has a dentist appointment on 11 September at 8:30 and is dreading it.",
            speaker="Pablo",
            occurred_at=NOW - timedelta(days=700),
            importance=0.1,
            metadata={"ref": "source"},
        )
        for i, name in enumerate(NAMES * 3):
            memory.add(
                f"{name} has a dentist appointment on 11 {MONTHS[i % 6]} at 8:30 and is "
                "dreading it.",
                speaker=NAMES[(i + 3) % len(NAMES)],
                occurred_at=NOW - timedelta(days=i + 1),
                importance=0.95,
            )
        # Daniel speaks in the namespace too: BM25 then leaves his name to the speaker signals
        memory.add("I finally fixed the garden gate.", speaker="Daniel", occurred_at=NOW)
        hits = memory.search(
            "daniel has a dentist appointment on 11 at 8:30 and is dreading",
            now=NOW,
            reinforce=False,
        )
        assert hits[0].engram.metadata.get("ref") == "source", [h.engram.text for h in hits[:3]]
