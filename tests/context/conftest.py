"""Fixtures for the context tests: a Memory over the real embedding model, with two
sessions of one namespace and one turn in another namespace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from engramdb import Memory
from engramdb.embed import Embedder

T0 = datetime(2023, 5, 8, 13, 0, tzinfo=timezone.utc)

TURNS = [
    ("Caroline", "I went to the LGBTQ support group yesterday and it was powerful."),
    ("Melanie", "That sounds amazing! I painted a lake sunrise last week."),
    ("Caroline", "My sister Anna is visiting me next month."),
    ("Melanie", "My kids loved the camping trip to the mountains."),
    ("Caroline", "I am researching adoption agencies."),
    ("Melanie", "I ran a charity race for mental health on Saturday."),
]


@pytest.fixture
def mem(embedder: Embedder, location: str) -> Iterator[Memory]:
    """On each store (tests/conftest.py)."""
    with Memory(location, embedder=embedder) as memory:
        memory.add_many(
            [
                {
                    "text": text,
                    "speaker": who,
                    "session": "s1",
                    "occurred_at": T0 + timedelta(minutes=i),
                }
                for i, (who, text) in enumerate(TURNS)
            ],
            namespace="n",
        )
        memory.add(
            "A turn of another session",
            namespace="n",
            session="s2",
            speaker="Melanie",
            occurred_at=T0 + timedelta(minutes=30),
        )
        memory.add(
            "A turn of another namespace",
            namespace="other",
            session="s1",
            speaker="Melanie",
            occurred_at=T0 + timedelta(minutes=40),
        )
        yield memory
