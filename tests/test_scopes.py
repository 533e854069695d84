"""Scopes (docs/scopes.md): a search of several namespaces ranked on one scale, and a
namespace listed page by page with a cursor, on SQLite and PostgreSQL, and on
encrypted namespaces (each opened with its own data key)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import anyio
import pytest

from engramdb import (
    AsyncMemory,
    EncryptionKey,
    Engram,
    InvalidInputError,
    LimitExceededError,
    Memory,
    Page,
    Settings,
)
from engramdb.embed import Embedder
from engramdb.options import MAX_NAMESPACES
from engramdb.security.crypto import generate_key

T0 = datetime(2024, 3, 1, 9, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=60)
FRIENDS = ("Maya", "Tom", "Ana")


def _seed(mem: Memory, namespace: str, pet: str) -> list[Engram]:
    """Six turns of a namespace: two about its pet, four about other things."""
    turns = [
        f"Maya adopted a rescue dog called {pet} last spring.",
        "Tom baked sourdough bread for the party.",
        f"{pet} the dog loves long walks by the river.",
        "Ana is learning to play the cello.",
        "The team moved the standup to ten o'clock.",
        "Tom went climbing in the mountains.",
    ]
    return mem.add_many(
        [
            {
                "text": text,
                "speaker": FRIENDS[i % 3],
                "session": f"s{i // 3}",
                "occurred_at": T0 + timedelta(days=i),
                "metadata": {"day": i, "topic": "pet" if pet in text else "life"},
            }
            for i, text in enumerate(turns)
        ],
        namespace=namespace,
    )


@pytest.fixture
def mem(location: str, embedder: Embedder) -> Iterator[Memory]:
    with Memory(location, embedder=embedder) as opened:
        _seed(opened, "org-1:user-1", "Pastel")
        _seed(opened, "org-1:user-2", "Biscuit")
        _seed(opened, "org-2:user-3", "Rex")
        yield opened


# -- search across namespaces ---------------------------------------------------------


def test_a_prefix_search_reads_every_namespace_under_it_and_no_other(mem: Memory) -> None:
    hits = mem.search("what is the dog called?", namespace_prefix="org-1:", limit=20, now=NOW)
    assert {h.engram.namespace for h in hits} == {"org-1:user-1", "org-1:user-2"}
    texts = " ".join(h.engram.text for h in hits)
    assert "Pastel" in texts
    assert "Biscuit" in texts
    assert "Rex" not in texts


def test_hits_of_several_namespaces_rank_by_relevance_on_one_scale(mem: Memory) -> None:
    names = ["org-2:user-3", "org-1:user-1"]
    hits = mem.search("what is the dog called?", namespaces=names, limit=8, now=NOW)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    keys = [(-h.relevance, h.engram.namespace) for h in hits]
    assert keys == sorted(keys), "best relevance first, ties by namespace"
    # each namespace's own best hit is the one its own search ranks first
    for name in names:
        alone = mem.search("what is the dog called?", namespace=name, limit=1, now=NOW)
        first = next(h for h in hits if h.engram.namespace == name)
        assert first.engram.id == alone[0].engram.id
        assert first.relevance == pytest.approx(alone[0].relevance)
    assert len(hits) == 8  # the best 8 of both, not 8 of each


def test_a_search_of_several_is_deterministic(mem: Memory) -> None:
    runs = [
        [
            (h.engram.id, h.rank)
            for h in mem.search("Tom", namespace_prefix="org-", limit=10, now=NOW, reinforce=False)
        ]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_filters_apply_in_every_namespace_searched(mem: Memory) -> None:
    hits = mem.search(
        "what do they do?",
        namespace_prefix="org-",
        limit=50,
        now=NOW,
        where={"speaker": "Tom", "metadata.day": {"$gte": 3}},
        occurred_before=T0 + timedelta(days=5),
        kinds="episode",
        min_relevance=0.0,
    )
    assert {h.engram.namespace for h in hits} == {"org-1:user-1", "org-1:user-2", "org-2:user-3"}
    assert all(h.engram.speaker == "Tom" for h in hits)
    assert all(h.engram.metadata["day"] >= 3 and h.engram.occurred_at < T0 + timedelta(days=5)
               for h in hits)  # fmt: skip
    assert len(hits) == 3  # day 4, Tom, in each of the three


def test_as_of_and_min_relevance_apply_in_every_namespace(mem: Memory) -> None:
    early = mem.search(
        "cello", namespace_prefix="org-", limit=50, now=NOW, as_of=T0 + timedelta(days=2)
    )
    assert early
    assert all(h.engram.occurred_at <= T0 + timedelta(days=2) for h in early)
    picky = mem.search("cello", namespace_prefix="org-", limit=50, now=NOW, min_relevance=0.5)
    assert picky
    assert all(h.relevance >= 0.5 for h in picky)
    assert {h.engram.namespace for h in picky} == {"org-1:user-1", "org-1:user-2", "org-2:user-3"}


def test_a_search_of_several_reinforces_each_hit_in_its_own_namespace(mem: Memory) -> None:
    hits = mem.search("dog", namespaces=["org-1:user-1", "org-2:user-3"], limit=4, now=NOW)
    mem.flush()
    for hit in hits:
        assert mem.get(hit.engram.id, namespace=hit.engram.namespace).recalls == 1


def test_the_scope_of_a_search_is_checked(mem: Memory) -> None:
    with pytest.raises(InvalidInputError, match="not both"):
        mem.search("dog", namespaces=["org-1:user-1"], namespace_prefix="org-1:")
    with pytest.raises(InvalidInputError, match="not both"):
        mem.search("dog", namespace="org-1:user-1", namespaces=["org-1:user-2"])
    with pytest.raises(InvalidInputError, match="namespaces"):
        mem.search("dog", namespaces="org-1:user-1")  # a string is not a list of names
    with pytest.raises(InvalidInputError, match="malformed"):
        mem.search("dog", namespaces=["org-1/../x"])
    with pytest.raises(InvalidInputError, match="malformed"):
        mem.search("dog", namespace_prefix="org 1")
    with pytest.raises(LimitExceededError, match=str(MAX_NAMESPACES)):
        mem.search("dog", namespaces=[f"n{i}" for i in range(MAX_NAMESPACES + 1)])
    assert mem.search("dog", namespaces=[]) == []
    assert mem.search("dog", namespace_prefix="nobody:") == []
    assert mem.search("dog", namespaces=["empty-one"]) == []


def test_encrypted_namespaces_are_searched_together_each_with_its_key(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(encryption=EncryptionKey.from_text(generate_key()))
    with Memory(str(tmp_path / "sealed"), settings=settings, embedder=embedder) as sealed:
        assert sealed.encrypted
        _seed(sealed, "org-1:user-1", "Pastel")
        _seed(sealed, "org-1:user-2", "Biscuit")
        hits = sealed.search(
            "what is the dog called?",
            namespace_prefix="org-1:",
            limit=4,
            now=NOW,
            where={"metadata.topic": "pet"},
        )
        assert {h.engram.namespace for h in hits} == {"org-1:user-1", "org-1:user-2"}
        assert all("Pastel" in h.engram.text or "Biscuit" in h.engram.text for h in hits)


# -- listing --------------------------------------------------------------------------


def _every(mem: Memory, **options: object) -> tuple[list[Engram], int]:
    """Every page of a listing; its memories and how many pages it took."""
    found: list[Engram] = []
    cursor = None
    pages = 0
    while True:
        page = mem.list(cursor=cursor, **options)  # type: ignore[arg-type]
        assert isinstance(page, Page)
        found += page.engrams
        pages += 1
        if page.next_cursor is None:
            return found, pages
        cursor = page.next_cursor


def test_a_listing_pages_through_a_namespace_in_event_time_order(mem: Memory) -> None:
    everything, pages = _every(mem, namespace="org-1:user-1", limit=4)
    assert pages == 2
    assert [e.metadata["day"] for e in everything] == list(range(6))
    assert {e.namespace for e in everything} == {"org-1:user-1"}
    latest, _ = _every(mem, namespace="org-1:user-1", limit=5, descending=True)
    assert [e.metadata["day"] for e in latest] == list(range(5, -1, -1))


def test_ties_in_time_go_by_the_order_they_were_stored_in(
    location: str, embedder: Embedder
) -> None:
    with Memory(location, embedder=embedder) as mem:
        same = [{"text": f"turn {i}", "occurred_at": T0} for i in range(7)]
        stored = mem.add_many(same, namespace="ties")
        stored += mem.add_many(same[:3], namespace="ties")  # repeats: no new memory
        ids = [e.id for e in stored[:7]]
        for limit in (1, 2, 3, 7):
            found, _ = _every(mem, namespace="ties", limit=limit)
            assert [e.id for e in found] == ids
            latest, _ = _every(mem, namespace="ties", limit=limit, descending=True)
            assert [e.id for e in latest] == ids[::-1]


def test_a_listing_orders_by_ingest_time_too(location: str, embedder: Embedder) -> None:
    with Memory(location, embedder=embedder) as mem:
        # told in reverse: the latest event is stored first
        for i in range(5):
            mem.add(f"event {i}", namespace="told", occurred_at=T0 - timedelta(days=i))
        by_event, _ = _every(mem, namespace="told", limit=2)
        by_ingest, _ = _every(mem, namespace="told", limit=2, order="recorded_at")
        assert [e.text for e in by_event] == [f"event {i}" for i in range(4, -1, -1)]
        assert [e.text for e in by_ingest] == [f"event {i}" for i in range(5)]
        newest, _ = _every(mem, namespace="told", limit=3, order="recorded_at", descending=True)
        assert [e.text for e in newest] == [f"event {i}" for i in range(4, -1, -1)]


def test_a_listing_takes_the_filters_of_a_search(mem: Memory) -> None:
    found, _ = _every(
        mem,
        namespace="org-2:user-3",
        limit=1,
        where={"speaker": {"$in": ["Tom", "Ana"]}, "metadata.day": {"$lt": 5}},
        occurred_after=T0 + timedelta(days=1),
    )
    assert [e.metadata["day"] for e in found] == [1, 2, 4]
    assert [e.speaker for e in found] == ["Tom", "Ana", "Tom"]
    none, _ = _every(mem, namespace="org-2:user-3", kinds=["fact", "summary"])
    assert none == []
    episodes, _ = _every(mem, namespace="org-2:user-3", kinds="episode", limit=100)
    assert len(episodes) == 6


def test_a_cursor_belongs_to_its_listing(mem: Memory) -> None:
    page = mem.list(namespace="org-1:user-1", limit=2, where={"speaker": "Maya"})
    assert page.next_cursor is None  # two of Maya's turns: one page
    page = mem.list(namespace="org-1:user-1", limit=2)
    cursor = page.next_cursor
    assert cursor is not None
    for other in (
        {"namespace": "org-1:user-2"},
        {"namespace": "org-1:user-1", "descending": True},
        {"namespace": "org-1:user-1", "order": "recorded_at"},
        {"namespace": "org-1:user-1", "where": {"speaker": "Tom"}},
        {"namespace": "org-1:user-1", "kinds": "episode"},
    ):
        with pytest.raises(InvalidInputError, match="another listing"):
            mem.list(cursor=cursor, **other)
    for bad in ("", "x" * 600, "not-a-cursor!", cursor[:-3], "e30"):
        with pytest.raises(InvalidInputError, match="cursor"):
            mem.list(namespace="org-1:user-1", cursor=bad)
    nxt = mem.list(namespace="org-1:user-1", limit=2, cursor=cursor)
    assert [e.metadata["day"] for e in nxt.engrams] == [2, 3]


def test_the_options_of_a_listing_are_checked(mem: Memory) -> None:
    with pytest.raises(InvalidInputError, match="order"):
        mem.list(namespace="org-1:user-1", order="text")
    with pytest.raises(InvalidInputError, match="limit"):
        mem.list(namespace="org-1:user-1", limit=0)
    with pytest.raises(LimitExceededError):
        mem.list(namespace="org-1:user-1", limit=100_000)
    with pytest.raises(InvalidInputError, match="kinds"):
        mem.list(namespace="org-1:user-1", kinds="memo")
    with pytest.raises(InvalidInputError, match="descending"):
        mem.list(namespace="org-1:user-1", descending="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="malformed"):
        mem.list(namespace="org 1")
    assert mem.list(namespace="nobody") == Page("nobody", (), None)


def test_memories_written_during_a_listing_never_repeat_or_hide_another(
    location: str, embedder: Embedder
) -> None:
    with Memory(location, embedder=embedder) as mem:
        first = mem.add_many(
            [{"text": f"turn {i}", "occurred_at": T0 + timedelta(hours=2 * i)} for i in range(10)],
            namespace="busy",
        )
        seen: list[Engram] = []
        cursor = None
        wrote = 0
        while True:
            page = mem.list(namespace="busy", limit=3, cursor=cursor)
            seen += page.engrams
            # between pages: one before the cursor, one after it, one deleted ahead
            mem.add(f"early {wrote}", namespace="busy", occurred_at=T0 - timedelta(days=1))
            mem.add(f"late {wrote}", namespace="busy", occurred_at=T0 + timedelta(days=30))
            wrote += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        ids = [e.id for e in seen]
        assert len(ids) == len(set(ids))
        assert [e.id for e in seen if e.text.startswith("turn")] == [e.id for e in first]
        assert not any(e.text.startswith("early") for e in seen)
        times = [e.occurred_at for e in seen]
        assert times == sorted(times)


def test_an_encrypted_namespace_lists_in_time_order_and_filters_by_equality(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(encryption=EncryptionKey.from_text(generate_key()))
    with Memory(str(tmp_path / "sealed"), settings=settings, embedder=embedder) as sealed:
        _seed(sealed, "org-1:user-1", "Pastel")
        found, pages = _every(sealed, namespace="org-1:user-1", limit=2, descending=True)
        assert pages == 3
        assert [e.metadata["day"] for e in found] == list(range(5, -1, -1))
        assert "Pastel" in found[-1].text
        tom, _ = _every(sealed, namespace="org-1:user-1", where={"speaker": "Tom"}, limit=1)
        assert [e.metadata["day"] for e in tom] == [1, 4]
        with pytest.raises(InvalidInputError, match="encrypted"):
            sealed.list(namespace="org-1:user-1", where={"metadata.day": {"$gt": 2}})


def test_async_memory_searches_several_and_lists(location: str, embedder: Embedder) -> None:
    async def scenario() -> None:
        async with AsyncMemory(location, embedder=embedder) as amem:
            _seed(amem.memory, "org-1:user-1", "Pastel")
            _seed(amem.memory, "org-1:user-2", "Biscuit")
            hits = await amem.search("dog", namespace_prefix="org-1:", limit=4, now=NOW)
            assert {h.engram.namespace for h in hits} == {"org-1:user-1", "org-1:user-2"}
            page = await amem.list(namespace="org-1:user-2", limit=4, descending=True)
            assert [e.metadata["day"] for e in page.engrams] == [5, 4, 3, 2]
            rest = await amem.list(
                namespace="org-1:user-2", limit=4, descending=True, cursor=page.next_cursor
            )
            assert [e.metadata["day"] for e in rest.engrams] == [1, 0]
            assert rest.next_cursor is None

    anyio.run(scenario)
