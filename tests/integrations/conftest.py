"""A small store the adapter tests share: a few turns of Maya's, on each store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engramdb import Memory
from engramdb.embed import Embedder

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
TURNS = [
    ("Maya", "I moved to Lisbon in February."),
    ("Maya", "We adopted a rescue terrier called Pastel."),
    ("Jonah", "I bought a second-hand cello."),
    ("Maya", "My new job at the bakery starts on Monday."),
]


@pytest.fixture
def remembered(location: str, embedder: Embedder) -> str:
    """A store at ``location`` holding ``TURNS`` in namespace ``maya``; yields the location."""
    with Memory(location, embedder=embedder) as mem:
        mem.add_many(
            [
                {"text": text, "speaker": who, "session": "s1", "occurred_at": T0 + timedelta(i)}
                for i, (who, text) in enumerate(TURNS)
            ],
            namespace="maya",
            embed="now",
        )
    return location
