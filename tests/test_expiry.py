"""Expiry (docs/expiry.md) on SQLite and PostgreSQL: what an expired memory is to every
read before any purge, what a purge erases and leaves, the namespace's default TTL,
and expiry through export and import."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engramdb import EncryptionKey, InvalidInputError, Memory, NotFoundError, Settings
from engramdb.clock import FixedClock
from engramdb.security.crypto import generate_key
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def mem(location: str, clock: FixedClock) -> Iterator[Memory]:
    settings = Settings(consolidation_batch=4)
    with Memory(location, embedder=HashEmbedder(), settings=settings, clock=clock) as memory:
        yield memory


def _turns(session: str, word: str, n: int = 6) -> list[dict[str, Any]]:
    return [
        {
            "text": f"Maya talked about {word} number {i} with Tom",
            "speaker": "Maya",
            "session": session,
            "occurred_at": T0 - timedelta(days=1) + timedelta(minutes=i),
        }
        for i in range(n)
    ]


def test_an_expired_memory_is_gone_to_every_read_before_any_purge(
    mem: Memory, clock: FixedClock
) -> None:
    kept = mem.add_many(_turns("s", "gardening"))
    doomed = mem.add(
        "Maya talked about gardening and the zebra canary",
        session="s",
        speaker="Maya",
        expires_at=T0 + HOUR,
    )
    assert doomed.expires_at == T0 + HOUR
    assert mem.get(doomed.id).expires_at == T0 + HOUR
    assert doomed.id in {h.engram.id for h in mem.search("zebra canary", limit=20)}
    clock.advance(2 * HOUR)
    with pytest.raises(NotFoundError):
        mem.get(doomed.id)
    with pytest.raises(NotFoundError):
        mem.history(doomed.id)
    with pytest.raises(NotFoundError):
        mem.neighbours(doomed.id)
    hits = mem.search("zebra canary gardening", limit=20)
    assert doomed.id not in {h.engram.id for h in hits}
    assert len(hits) == len(kept)  # it takes no place: every other memory is found
    assert doomed.id not in {e.id for e in mem.list(limit=100).engrams}
    assert doomed.id not in {e.id for e in mem.working(session="s")}
    assert doomed.id not in {e.id for e in mem.neighbours(kept[-1].id, before=3, after=3)}
    context = mem.context("zebra canary", session="s")
    assert "zebra" not in context.render()
    mood = mem.mood(window=timedelta(days=30))
    assert doomed.id not in {e.id for e in mood.drivers}
    mem.delete(doomed.id)  # a delete of an expired memory still works
    assert mem.store.get("default", doomed.id) is None


def test_a_large_namespace_leaves_expired_memories_out_of_its_candidates(
    location: str, clock: FixedClock
) -> None:
    # every search goes through the two-stage candidates (recall_exhaustive 0)
    settings = Settings(recall_exhaustive=0, recall_pool=8)
    with Memory(location, embedder=HashEmbedder(), settings=settings, clock=clock) as mem:
        mem.add_many(_turns("a", "violins", 12))
        doomed = mem.add_many(_turns("b", "violins", 12), namespace="default")
        for engram in doomed:
            mem.set_expiry(engram.id, expires_at=T0 + HOUR)
        clock.advance(2 * HOUR)
        hits = mem.search("violins", limit=8)
        assert len(hits) == 8  # the pool of 8 holds no expired memory
        assert not {h.engram.id for h in hits} & {e.id for e in doomed}


def test_cross_namespace_search_leaves_out_what_expired_in_each(
    mem: Memory, clock: FixedClock
) -> None:
    a = mem.add("the quokka parade", namespace="a", expires_at=T0 + HOUR)
    b = mem.add("the quokka parade again", namespace="b")
    clock.advance(2 * HOUR)
    found = {h.engram.id for h in mem.search("quokka", namespaces=["a", "b"])}
    assert found == {b.id}
    assert a.id not in found


def test_set_expiry_sets_moves_and_clears_without_a_new_version(
    mem: Memory, clock: FixedClock
) -> None:
    engram = mem.add("a note about the harbour")
    moved = mem.set_expiry(engram.id, expires_at=T0 + HOUR)
    assert moved.expires_at == T0 + HOUR
    assert moved.version == 1
    assert len(mem.history(engram.id)) == 1
    cleared = mem.set_expiry(engram.id, expires_at=None)
    assert cleared.expires_at is None
    clock.advance(2 * HOUR)
    assert mem.get(engram.id).expires_at is None  # never expires now
    with pytest.raises(InvalidInputError):
        mem.set_expiry(engram.id, expires_at=T0)  # not after now
    with pytest.raises(NotFoundError):
        mem.set_expiry("0" * 32, expires_at=None)
    assert mem.check() == []


def test_an_expiry_not_after_now_or_out_of_range_is_refused(mem: Memory) -> None:
    with pytest.raises(InvalidInputError, match="expires_at"):
        mem.add("too late", expires_at=T0)
    with pytest.raises(InvalidInputError, match="expires_at"):
        mem.add("naive", expires_at=datetime(2027, 1, 1))  # noqa: DTZ001
    with pytest.raises(InvalidInputError, match="expires_at"):
        mem.add_many([{"text": "x", "expires_at": T0 - HOUR}])
    with pytest.raises(InvalidInputError):
        mem.add("far", expires_at=datetime(9999, 1, 1, tzinfo=timezone.utc))
    assert mem.namespaces() == []


def test_add_many_items_take_an_expiry(mem: Memory) -> None:
    added = mem.add_many([{"text": "one", "expires_at": T0 + HOUR}, {"text": "two"}])
    assert [e.expires_at for e in added] == [T0 + HOUR, None]


def test_the_namespace_ttl_gives_new_memories_an_expiry(mem: Memory, clock: FixedClock) -> None:
    assert mem.ttl(namespace="u") is None
    mem.set_ttl(timedelta(days=2), namespace="u")
    assert mem.ttl(namespace="u") == timedelta(days=2)
    assert mem.ttl(namespace="other") is None
    ttl = mem.add("with the ttl", namespace="u")
    own = mem.add("with its own", namespace="u", expires_at=T0 + HOUR)
    other = mem.add("no ttl here", namespace="other")
    assert ttl.expires_at == ttl.recorded_at + timedelta(days=2)
    assert own.expires_at == T0 + HOUR
    assert other.expires_at is None
    mem.set_ttl(None, namespace="u")
    assert mem.ttl(namespace="u") is None
    assert mem.add("after", namespace="u").expires_at is None
    for bad in (timedelta(0), timedelta(seconds=-1), timedelta(days=40_000), 3600):
        with pytest.raises(InvalidInputError):
            mem.set_ttl(bad, namespace="u")  # type: ignore[arg-type]
    mem.set_ttl(HOUR, namespace="u")
    mem.forget_namespace("u")
    assert mem.ttl(namespace="u") is None


def test_purge_erases_the_expired_of_one_namespace_or_all_and_nothing_else(
    mem: Memory, clock: FixedClock
) -> None:
    a = mem.add_many(_turns("s1", "kayaks"), namespace="a")
    for engram in a[:3]:
        mem.set_expiry(engram.id, namespace="a", expires_at=T0 + HOUR)
    b = mem.add("kayaks in b", namespace="b", expires_at=T0 + HOUR)
    c = mem.add("kayaks in c, later", namespace="c", expires_at=T0 + 5 * HOUR)
    assert mem.purge() == []  # nothing expired yet
    clock.advance(2 * HOUR)
    done = mem.purge(namespace="a")
    assert [d.namespace for d in done] == ["a"]
    assert set(done[0].ids) == {e.id for e in a[:3]}
    assert mem.store.get("b", b.id) is not None  # another namespace is untouched
    assert {e.id for e in mem.store.iter_engrams("a")} == {e.id for e in a[3:]}
    everywhere = mem.purge()
    assert [(d.namespace, d.ids) for d in everywhere] == [("b", (b.id,))]
    assert mem.store.get("c", c.id) is not None  # not expired yet
    assert mem.check() == []


def test_purge_takes_what_consolidation_derived_only_from_the_expired(
    mem: Memory, clock: FixedClock
) -> None:
    gone = mem.add_many(_turns("s0", "Vexmortain"), namespace="u")
    kept = mem.add_many(_turns("s1", "Lisbon"), namespace="u")
    mem.consolidate(namespace="u")
    for engram in gone:
        mem.set_expiry(engram.id, namespace="u", expires_at=T0 + HOUR)
    clock.advance(2 * HOUR)
    (report,) = mem.purge(namespace="u")
    assert set(report.ids) == {e.id for e in gone}
    assert report.derived  # the summary of s0 at least
    left = list(mem.export(namespace="u"))
    assert all("Vexmortain" not in r["text"] for r in left if "text" in r)
    assert {e.id for e in kept} <= {r.get("id") for r in left}
    assert mem.check() == []


def test_an_add_of_expired_content_stores_it_anew(mem: Memory, clock: FixedClock) -> None:
    first = mem.add("the same words", expires_at=T0 + HOUR)
    clock.advance(2 * HOUR)
    again = mem.add("the same words")
    assert not again.repeated
    assert again.id != first.id
    assert mem.get(again.id).expires_at is None


def test_export_and_import_keep_expiry_and_the_ttl(
    mem: Memory, clock: FixedClock, place: Any
) -> None:
    mem.set_ttl(timedelta(days=3), namespace="u")
    later = mem.add("expires later", namespace="u")
    soon = mem.add("expires soon", namespace="u", expires_at=T0 + HOUR)
    never = mem.add("never expires", namespace="v")
    clock.advance(2 * HOUR)
    records = list(mem.export())
    assert {"namespace": "u", "ttl_s": 3 * 86_400.0} in records
    by_id = {r["id"]: r for r in records if "id" in r}
    assert by_id[later.id]["expires_at"] is not None
    assert by_id[never.id]["expires_at"] is None
    assert soon.id in by_id  # exported as stored; the other store's purge erases it
    with Memory(place("sqlite"), embedder=HashEmbedder(), clock=clock) as other:
        other.import_records(records, embed="now")
        assert other.ttl(namespace="u") == timedelta(days=3)
        assert other.get(later.id, namespace="u").expires_at == later.expires_at
        assert other.get(never.id, namespace="v").expires_at is None
        with pytest.raises(NotFoundError):
            other.get(soon.id, namespace="u")  # already expired: hidden at once
        assert [d.ids for d in other.purge()] == [(soon.id,)]
        assert other.check() == []


def test_an_encrypted_store_keeps_expiry_hides_and_purges_alike(
    location: str, clock: FixedClock
) -> None:
    key = EncryptionKey.from_text(generate_key())
    settings = Settings(consolidation_batch=4, encryption=key)
    with Memory(location, embedder=HashEmbedder(), settings=settings, clock=clock) as mem:
        assert mem.encrypted
        kept = mem.add_many(_turns("s", "lanterns"))
        doomed = mem.add("lanterns and the sealed canary", session="s", expires_at=T0 + HOUR)
        assert mem.set_expiry(kept[0].id, expires_at=T0 + 3 * HOUR).text == kept[0].text
        mem.set_ttl(timedelta(days=1))
        clock.advance(2 * HOUR)
        assert doomed.id not in {h.engram.id for h in mem.search("sealed canary", limit=20)}
        with pytest.raises(NotFoundError):
            mem.get(doomed.id)
        assert [d.ids for d in mem.purge()] == [(doomed.id,)]
        assert mem.get(kept[0].id).expires_at == T0 + 3 * HOUR
        assert mem.check() == []


def test_a_new_version_keeps_the_memorys_expiry(mem: Memory) -> None:
    engram = mem.add("the first words", expires_at=T0 + HOUR)
    updated = mem.update(engram.id, text="the second words")
    assert (updated.version, updated.expires_at) == (2, T0 + HOUR)
    assert mem.get(engram.id).expires_at == T0 + HOUR
    assert mem.check() == []
