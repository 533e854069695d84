"""Filters in candidate generation (docs/filters.md, "Large namespaces"): above the pool,
the memories that pass a filter seed the pool, so a selective filter finds its memories
however few of them the query's nearest hold. Real SQLite stores, the hash embedder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import EncryptionKey, InvalidInputError, Memory, Settings
from engramdb.filters import Filter, parse
from engramdb.security.crypto import generate_key
from engramdb.testing import HashEmbedder

T0 = datetime(2024, 1, 1, 9, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=900)
TOPICS = ["hiking", "cooking", "painting", "chess", "sailing", "reading", "running"]
SPEAKERS = ["Tom", "Ana", "Ben", "Eva", "Luc"]
COUNT = 1_500  # fifteen times the pool
POOL = 100


def _turns(count: int) -> list[dict[str, Any]]:
    """``count`` turns in sessions of 20, an hour apart; Maya speaks once, in s41."""
    return [
        {
            "text": f"{SPEAKERS[i % 5]} went {TOPICS[i % 7]} again with friends, turn {i}",
            "speaker": "Maya" if i == 837 else SPEAKERS[i % 5],
            "session": f"s{i // 20}",
            "occurred_at": T0 + timedelta(hours=i),
            "metadata": {
                "turn": i,
                "topic": TOPICS[i % 7],
                "mark": "rare" if i % 250 == 7 else "x",
            },
        }
        for i in range(count)
    ]


def _open(encryption: EncryptionKey | None = None) -> Memory:
    settings = Settings(path=":memory:", recall_pool=POOL, encryption=encryption)
    mem = Memory(settings=settings, embedder=HashEmbedder())
    mem.add_many(_turns(COUNT), namespace="ns")
    return mem


@pytest.fixture(scope="module")
def mem() -> Iterator[Memory]:
    with _open() as opened:
        yield opened


def _turns_found(mem: Memory, query: str = "Tom went hiking", **options: Any) -> list[int]:
    hits = mem.search(query, namespace="ns", now=NOW, reinforce=False, limit=50, **options)
    return sorted(h.engram.metadata["turn"] for h in hits)


def test_one_session_among_many_returns_its_turns(mem: Memory) -> None:
    # the query's nearest memories are all over the namespace; s60 holds 20 of 1,500
    assert _turns_found(mem, where={"session": "s60"}) == list(range(1200, 1220))


def test_one_speaker_and_a_rare_metadata_value_return_their_memories(mem: Memory) -> None:
    assert _turns_found(mem, where={"speaker": "Maya"}) == [837]
    assert _turns_found(mem, where={"metadata.mark": "rare"}) == [7, 257, 507, 757, 1007, 1257]


def test_a_narrow_time_window_returns_the_memories_inside_it(mem: Memory) -> None:
    start = T0 + timedelta(hours=300)
    found = _turns_found(mem, occurred_after=start, occurred_before=start + timedelta(hours=12))
    assert found == list(range(300, 312))


def test_as_of_seeds_the_pool_with_what_was_known_then(mem: Memory) -> None:
    found = _turns_found(mem, as_of=T0 + timedelta(hours=14, minutes=30))
    assert found == list(range(15))


def test_a_broad_filter_returns_its_best_memories(mem: Memory) -> None:
    # Tom's turns (one in five) about hiking: turn i with i % 5 == 0 and i % 7 == 0
    hits = mem.search("Tom went hiking", namespace="ns", now=NOW, reinforce=False, limit=10,
                      where={"speaker": "Tom"})  # fmt: skip
    assert len(hits) == 10
    assert {h.engram.speaker for h in hits} == {"Tom"}
    assert sum(h.engram.metadata["topic"] == "hiking" for h in hits) >= 8
    ordered = _turns_found(mem, where={"metadata.turn": {"$gte": 500, "$lt": 1_400}})
    assert len(ordered) == 50
    assert all(500 <= turn < 1_400 for turn in ordered)


def test_an_encrypted_namespace_seeds_by_equality_and_refuses_ordering() -> None:
    with _open(EncryptionKey("key", generate_key())) as mem:
        assert _turns_found(mem, where={"session": "s60"}) == list(range(1200, 1220))
        assert _turns_found(mem, where={"speaker": "Maya"}) == [837]
        with pytest.raises(InvalidInputError, match="encrypted namespace"):
            _turns_found(mem, where={"metadata.turn": {"$gt": 3}})


_WHERE = st.fixed_dictionaries(
    {},
    optional={
        "speaker": st.sampled_from([*SPEAKERS, "Maya"])
        | st.fixed_dictionaries(
            {"$nin": st.lists(st.sampled_from(SPEAKERS), min_size=1, max_size=3)}
        ),
        "session": st.sampled_from([f"s{i}" for i in range(0, 75, 7)]),
        "metadata.topic": st.sampled_from(TOPICS)
        | st.fixed_dictionaries({"$ne": st.sampled_from(TOPICS)}),
        "metadata.turn": st.fixed_dictionaries(
            {}, optional={"$gte": st.integers(0, COUNT), "$lt": st.integers(0, COUNT)}
        ).filter(bool),
        "metadata.mark": st.sampled_from(["rare", "x", "absent"]),
    },
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    where=_WHERE,
    after=st.none() | st.integers(0, COUNT),
    hours=st.integers(1, 2 * COUNT),
    query=st.sampled_from(["Tom went hiking", "chess with friends", "turn 700", "sailing"]),
)
def test_no_hit_breaks_the_filter_and_a_few_passing_are_all_found(
    mem: Memory, where: dict[str, Any], after: int | None, hours: int, query: str
) -> None:
    start = None if after is None else T0 + timedelta(hours=after)
    end = None if start is None else start + timedelta(hours=hours)
    reference: Filter = parse(where, occurred_after=start, occurred_before=end)
    passing = [
        t["metadata"]["turn"]
        for t in _turns(COUNT)
        if reference.matches(
            speaker=t["speaker"],
            session=t["session"],
            metadata=t["metadata"],
            occurred_at=t["occurred_at"],
        )
    ]
    found = _turns_found(mem, query, where=where, occurred_after=start, occurred_before=end)
    assert set(found) <= set(passing)
    if len(passing) <= 50:  # a selective filter: every memory that passes is returned
        assert found == passing
    else:
        assert len(found) == 50
