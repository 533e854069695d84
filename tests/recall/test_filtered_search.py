"""Search filters in recall (docs/filters.md): ``where`` and the event-time bounds keep
memories out before ranking, on the exhaustive path and the two-stage one, within one
namespace, plaintext and encrypted. Real SQLite and PostgreSQL stores and the hash
embedder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engramdb import EncryptionKey, InvalidInputError, Memory, Settings
from engramdb.filters import parse
from engramdb.recall.engine import Recaller, SearchRequest
from engramdb.security.crypto import generate_key
from engramdb.store.sqlite import SqliteStore
from engramdb.testing import HashEmbedder

T0 = datetime(2024, 1, 1, 9, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=400)
TOPICS = ["hiking", "cooking", "painting", "chess", "sailing"]


def _turns(count: int) -> list[dict[str, Any]]:
    """``count`` turns, a day apart; one in ten by Maya, the rest by Tom."""
    return [
        {
            "text": f"turn {i}: Tom went {TOPICS[i % 5]} again on day {i}",
            "speaker": "Maya" if i % 10 == 3 else "Tom",
            "session": f"s{i // 20}",
            "occurred_at": T0 + timedelta(days=i),
            "metadata": {"day": i, "topic": TOPICS[i % 5], "tags": ["diary", f"week{i // 7}"]},
        }
        for i in range(count)
    ]


@pytest.fixture
def mem(location: str) -> Iterator[Memory]:
    """200 turns in one namespace, on each store (tests/conftest.py)."""
    with Memory(location, embedder=HashEmbedder()) as opened:
        opened.add_many(_turns(200), namespace="ns")
        yield opened


def _search(mem: Memory, **options: Any) -> list[Any]:
    return mem.search("Tom went hiking", namespace="ns", now=NOW, reinforce=False, **options)


def test_a_restrictive_filter_still_fills_the_limit_below_the_pool(mem: Memory) -> None:
    # 20 of 200 memories are Maya's and the query is about Tom: unfiltered, the top 10
    # hold few of hers; filtered, all 10 hits are hers (the mask covers the namespace).
    unfiltered = _search(mem, limit=10)
    assert sum(h.engram.speaker == "Maya" for h in unfiltered) < 10
    hits = _search(mem, limit=10, where={"speaker": "Maya"})
    assert len(hits) == 10
    assert {h.engram.speaker for h in hits} == {"Maya"}
    assert [h.rank for h in hits] == list(range(1, 11))
    everything = _search(mem, limit=50, where={"speaker": "Maya"})
    assert len(everything) == 20


def test_operators_lists_and_missing_fields_filter_as_the_grammar_says(mem: Memory) -> None:
    by_tag = _search(mem, limit=20, where={"metadata.tags": "week2"})
    assert sorted(h.engram.metadata["day"] for h in by_tag) == list(range(14, 21))
    ordered = _search(mem, limit=20, where={"metadata.day": {"$gte": 10, "$lt": 13}})
    assert sorted(h.engram.metadata["day"] for h in ordered) == [10, 11, 12]
    chosen = _search(
        mem, limit=50, where={"metadata.topic": {"$in": ["chess"]}, "speaker": {"$ne": "Tom"}}
    )
    assert {(h.engram.metadata["topic"], h.engram.speaker) for h in chosen} == {("chess", "Maya")}
    assert _search(mem, where={"metadata.absent": "x"}) == []
    assert len(_search(mem, limit=5, where={"metadata.absent": {"$nin": ["x"]}})) == 5


def test_occurred_after_is_inclusive_and_occurred_before_exclusive(mem: Memory) -> None:
    hits = _search(
        mem,
        limit=20,
        occurred_after=T0 + timedelta(days=5),
        occurred_before=T0 + timedelta(days=8),
    )
    assert sorted(h.engram.metadata["day"] for h in hits) == [5, 6, 7]
    # in any offset: 2024-01-06 09:00 UTC is 2024-01-06 11:00 at +02:00
    paris = timezone(timedelta(hours=2))
    same = _search(mem, limit=20, occurred_after=datetime(2024, 1, 6, 11, tzinfo=paris),
                   occurred_before=datetime(2024, 1, 9, 11, tzinfo=paris))  # fmt: skip
    assert [h.engram.id for h in same] == [h.engram.id for h in hits]


def test_a_filter_sees_memories_added_after_the_namespace_was_first_searched(
    mem: Memory,
) -> None:
    assert _search(mem, where={"speaker": "Ana"}) == []
    added = mem.add("Ana went hiking", namespace="ns", speaker="Ana", occurred_at=T0)
    assert [h.engram.id for h in _search(mem, where={"speaker": "Ana"})] == [added.id]


def test_a_filter_never_reaches_another_namespace(mem: Memory) -> None:
    mem.add_many(_turns(30), namespace="other")
    hits = _search(mem, limit=100, where={"speaker": "Maya"})
    assert len(hits) == 20
    theirs = mem.search("Tom went hiking", namespace="other", limit=100, where={"speaker": "Maya"})
    assert len(theirs) == 3
    assert {h.engram.namespace for h in hits} == {"ns"}
    assert {h.engram.namespace for h in theirs} == {"other"}


def test_context_recalls_only_what_passes_the_filter(mem: Memory) -> None:
    bundle = mem.context("Tom went hiking", namespace="ns", now=NOW, where={"speaker": "Maya"})
    recalled = [i for i in bundle.items if i.kind == "episode"]
    assert recalled
    assert {i.speaker for i in recalled} == {"Maya"}
    bounded = mem.context("Tom went hiking", namespace="ns", now=NOW,
                          occurred_before=T0 + timedelta(days=2))  # fmt: skip
    assert {i.occurred_at for i in bounded.items if i.kind == "episode"} <= {
        T0,
        T0 + timedelta(days=1),
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"where": "speaker=Maya"}, "where must be a mapping"),
        ({"where": {"text": "x"}}, "not filterable"),
        ({"where": {"metadata.day": {"$regex": "1"}}}, "unknown operator"),
        ({"where": {"speaker": {"$gt": 3}}}, "speaker values are strings"),
        ({"occurred_after": datetime(2024, 1, 1)}, "occurred_after"),  # noqa: DTZ001 (naive, on purpose)
        ({"occurred_before": datetime(100, 1, 1, tzinfo=timezone.utc)}, "occurred_before must be"),
        ({"occurred_before": "2024-01-01"}, "occurred_before"),
        ({"occurred_after": T0, "occurred_before": T0}, "earlier than occurred_before"),
    ],
)
def test_a_malformed_filter_is_invalid_input_on_search_and_context(
    mem: Memory, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _search(mem, **options)
    with pytest.raises(InvalidInputError, match=message):
        mem.context("hiking", namespace="ns", **options)


def test_an_encrypted_namespace_filters_by_equality_and_refuses_ordering() -> None:
    key = EncryptionKey("key", generate_key())
    settings = Settings(path=":memory:", encryption=key)
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        mem.add_many(_turns(60), namespace="ns")
        hits = _search(mem, limit=10, where={"speaker": "Maya", "metadata.topic": "chess"})
        assert {(h.engram.speaker, h.engram.metadata["topic"]) for h in hits} == {("Maya", "chess")}
        assert len(hits) == 6
        among = _search(mem, limit=50, where={"metadata.tags": {"$in": ["week0", "week1"]},
                                              "speaker": {"$nin": ["Tom"]}})  # fmt: skip
        assert sorted(h.engram.metadata["day"] for h in among) == [3, 13]
        timed = _search(mem, limit=50, occurred_before=T0 + timedelta(days=2))
        assert sorted(h.engram.metadata["day"] for h in timed) == [0, 1]
        with pytest.raises(InvalidInputError, match="encrypted namespace"):
            _search(mem, where={"metadata.day": {"$gt": 3}})


def test_the_two_stage_path_returns_only_pool_memories_that_pass() -> None:
    # docs/recall.md: above the pool a search ranks only the candidates; the filter
    # restricts which of them may be returned, asked of the store for those ids only.
    store = SqliteStore(":memory:")
    with Memory(store=store, embedder=HashEmbedder()) as mem:
        mem.add_many(_turns(200), namespace="ns")
        pooled = Recaller(store, HashEmbedder(), pool=100, exhaustive_up_to=0)
        where = parse({"metadata.topic": "chess"})
        hits = pooled.search(SearchRequest("Tom went hiking", "ns", 10, NOW, where=where))
        assert hits
        assert {h.engram.metadata["topic"] for h in hits} == {"chess"}
        unfiltered = pooled.search(SearchRequest("Tom went hiking", "ns", 10, NOW))
        assert "hiking" in {h.engram.metadata["topic"] for h in unfiltered}
