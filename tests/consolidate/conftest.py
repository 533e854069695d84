"""Histories in which facts change, and a Memory to consolidate them in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engramdb import Memory, Settings
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def history() -> list[dict[str, Any]]:
    """Maya moves twice, changes jobs and partners; Tom chats in between."""
    said = [
        (0, "s1", "Maya", "I live in Boston and I love sushi."),
        (0, "s1", "Tom", "Nice! What do you do these days?"),
        (0, "s1", "Maya", "I work at Google. My partner is Alex."),
        (0, "s1", "Tom", "Sounds like a good life."),
        (0, "s1", "Maya", "We have 2 dogs, which keeps us busy."),
        (0, "s1", "Tom", "I visited Lisbon last spring."),
        (100, "s2", "Maya", "I just moved to Denver!"),
        (100, "s2", "Tom", "Wow, how is it?"),
        (101, "s2", "Maya", "My new job at Stripe is great."),
        (101, "s2", "Tom", "Congratulations on everything."),
        (102, "s2", "Maya", "I just moved to Denver!"),
        (102, "s2", "Tom", "You said that already, ha."),
        (200, "s3", "Maya", "I'm dating Sam now, Alex and I split up."),
        (200, "s3", "Tom", "Oh, I'm sorry to hear about Alex."),
        (250, "s4", "Maya", "I relocated to Seattle for a fresh start."),
        (250, "s4", "Tom", "Seattle is rainy but lovely."),
    ]
    return [
        {"text": text, "speaker": speaker, "session": session, "occurred_at": day(d)}
        for d, session, speaker, text in said
    ]


def hash_memory(path: str = ":memory:", **settings: Any) -> Memory:
    return Memory(path, embedder=HashEmbedder(), settings=Settings(**settings))


@pytest.fixture
def mem(location: str) -> Iterator[Memory]:
    """The history in one namespace, on each store (tests/conftest.py)."""
    with hash_memory(location, consolidation_batch=4) as memory:
        memory.add_many(history(), namespace="u")
        yield memory
