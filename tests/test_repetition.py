"""Repetition, not duplication (docs/repetition.md), through ``Memory``: the same
experience written again returns the memory already held; the same sentence at
another time is another episode; an idempotency key replays, or conflicts."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engramdb import ConflictError, EncryptionKey, FixedClock, LimitExceededError, Memory, Settings
from engramdb.security.crypto import generate_key
from engramdb.store.identity import content_identity, key_identity
from engramdb.store.sqlite import SqliteStore
from engramdb.store.sqlite.schema import MIGRATIONS
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 3, 23, 18, 0, tzinfo=timezone.utc)
SAID = {"speaker": "Maya", "session": "s1", "occurred_at": T0}
TEXT = "I adopted a rescue dog called Pastel."


@pytest.fixture(
    params=["sqlite", "sqlite-encrypted", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def mem(request: pytest.FixtureRequest, place: Callable[[str], str]) -> Iterator[Memory]:
    """A Memory on each store (encryption on SQLite: docs/postgres.md)."""
    key = EncryptionKey.from_text(generate_key()) if "encrypted" in request.param else None
    clock = FixedClock(datetime(2024, 4, 1, tzinfo=timezone.utc))
    with Memory(
        place(request.param.split("-")[0]),
        embedder=HashEmbedder(),
        clock=clock,
        settings=Settings(encryption=key),
    ) as memory:
        yield memory


def _clock(mem: Memory) -> FixedClock:
    clock = mem._clock
    assert isinstance(clock, FixedClock)
    return clock


def _count(mem: Memory, namespace: str = "u") -> int:
    return mem.stats(namespace=namespace).engrams


def test_adding_the_same_experience_twice_stores_it_once(mem: Memory) -> None:
    first = mem.add(TEXT, namespace="u", **SAID)
    again = mem.add(TEXT, namespace="u", metadata={"retry": True}, **SAID)
    assert (first.repeated, again.repeated) == (False, True)
    assert again.id == first.id
    assert again.metadata == {}  # the memory as held: a repetition changes no content
    assert _count(mem) == 1
    assert mem.get(first.id, namespace="u").repeated is False  # read otherwise: False


def test_the_same_sentence_at_another_time_or_place_is_another_episode(mem: Memory) -> None:
    first = mem.add(TEXT, namespace="u", **SAID)
    others = [
        mem.add(TEXT, namespace="u", **{**SAID, "occurred_at": T0 + timedelta(microseconds=1)}),
        mem.add(TEXT, namespace="u", **{**SAID, "speaker": "Tom"}),
        mem.add(TEXT, namespace="u", **{**SAID, "session": "s2"}),
        mem.add(TEXT, namespace="u", speaker="Maya", session="s1"),  # occurred_at: now
        mem.add(TEXT + " ", namespace="u", **SAID),
        mem.add(TEXT, namespace="other", **SAID),  # namespaces never share
    ]
    assert not any(e.repeated for e in others)
    assert len({first.id, *(e.id for e in others)}) == 7
    assert _count(mem) == 6


def test_the_same_instant_in_another_timezone_is_the_same_experience(mem: Memory) -> None:
    paris = timezone(timedelta(hours=1))
    first = mem.add(TEXT, namespace="u", **SAID)
    again = mem.add(TEXT, namespace="u", **{**SAID, "occurred_at": T0.astimezone(paris)})
    assert again.repeated
    assert again.id == first.id


def test_a_retry_within_seconds_adds_almost_nothing_a_month_later_strengthens(
    mem: Memory,
) -> None:
    first = mem.add(TEXT, namespace="u", **SAID)
    _clock(mem).advance(timedelta(seconds=5))
    retried = mem.add(TEXT, namespace="u", **SAID)
    assert retried.stability_days == pytest.approx(first.stability_days, rel=1e-3)
    _clock(mem).advance(timedelta(days=30))
    month = mem.add(TEXT, namespace="u", **SAID)
    assert month.stability_days > 2 * first.stability_days
    # spaced from that repetition, not from the first write: at once again, nothing more
    at_once = mem.add(TEXT, namespace="u", **SAID)
    assert at_once.stability_days == pytest.approx(month.stability_days, rel=1e-3)
    stored = mem.get(first.id, namespace="u")
    assert stored.stability_days == pytest.approx(month.stability_days, rel=1e-3)
    assert (stored.recalls, stored.last_recalled_at) == (0, None)  # not a recall


def test_a_repetition_keeps_reinforcement_queued_by_searches(mem: Memory) -> None:
    first = mem.add(TEXT, namespace="u", **SAID)
    keeper = mem._dynamics()
    _clock(mem).advance(timedelta(days=20))
    keeper.recalled("u", [first.id], _clock(mem).now())
    recalled = mem.get(first.id, namespace="u")
    assert recalled.recalls == 1
    _clock(mem).advance(timedelta(days=20))
    again = mem.add(TEXT, namespace="u", **SAID)
    assert again.recalls == 1
    assert again.stability_days > recalled.stability_days
    mem.flush()  # the queued recall is written without undoing the repetition
    stored = mem.get(first.id, namespace="u")
    assert (stored.recalls, stored.stability_days) == (1, pytest.approx(again.stability_days))


def test_a_repetition_wakes_a_dormant_memory(mem: Memory) -> None:
    first = mem.add(TEXT, namespace="u", **SAID)
    mem.set_budget(namespace="u", max_memories=1)
    mem.add("Something else entirely.", namespace="u", occurred_at=T0 + timedelta(days=1))
    assert mem.get(first.id, namespace="u").dormant
    assert mem.add(TEXT, namespace="u", **SAID).dormant is False


def test_an_idempotency_key_replays_the_first_write_and_changes_nothing(mem: Memory) -> None:
    first = mem.add("Booked the flight to Lisbon.", namespace="u", idempotency_key="req-1")
    _clock(mem).advance(timedelta(days=30))
    replay = mem.add("Booked the flight to Lisbon.", namespace="u", idempotency_key="req-1")
    assert replay.repeated
    assert replay.id == first.id
    assert replay.stability_days == first.stability_days  # a pure no-op
    assert replay.occurred_at == first.occurred_at  # although "now" moved on
    assert _count(mem) == 1


def test_an_idempotency_key_with_other_content_is_a_conflict(mem: Memory) -> None:
    mem.add("Booked the flight to Lisbon.", namespace="u", idempotency_key="req-1")
    with pytest.raises(ConflictError, match="idempotency key 'req-1'"):
        mem.add("Booked the flight to Rome.", namespace="u", idempotency_key="req-1")
    with pytest.raises(ConflictError, match="item 1"):
        mem.add_many(
            [{"text": "fresh"}, {"text": "Rome", "idempotency_key": "req-1"}], namespace="u"
        )
    assert _count(mem) == 1  # nothing of either call was written
    other = mem.add("Booked the flight to Rome.", namespace="v", idempotency_key="req-1")
    assert not other.repeated  # a key is the namespace's own


def test_a_key_given_to_a_repetition_replays_it_later(mem: Memory) -> None:
    first = mem.add(TEXT, namespace="u", **SAID)
    keyed = mem.add(TEXT, namespace="u", idempotency_key="k", **SAID)
    assert keyed.repeated
    assert keyed.id == first.id
    _clock(mem).advance(timedelta(days=30))
    replay = mem.add(TEXT, namespace="u", idempotency_key="k", **SAID)
    assert replay.stability_days == keyed.stability_days  # the key's replay: no-op


def test_a_key_is_checked_like_a_label(mem: Memory) -> None:
    with pytest.raises(LimitExceededError):
        mem.add("x", namespace="u", idempotency_key="k" * 129)
    with pytest.raises(ValueError, match="idempotency_key"):
        mem.add("x", namespace="u", idempotency_key="two\nlines")


def test_add_many_stores_each_experience_once_within_and_across_batches(mem: Memory) -> None:
    held = mem.add(TEXT, namespace="u", **SAID)
    batch: list[dict[str, Any]] = [
        {"text": "We went hiking.", "occurred_at": T0},
        {"text": "We went hiking.", "occurred_at": T0},  # repeats item 0
        {"text": TEXT, **SAID},  # repeats the store
        {"text": "We went hiking.", "occurred_at": T0 + timedelta(days=7)},  # another day
        {"text": "Same key, same words.", "idempotency_key": "b"},
        {"text": "Same key, same words.", "idempotency_key": "b"},
    ]
    out = mem.add_many(batch, namespace="u")
    assert [e.repeated for e in out] == [False, True, True, False, False, True]
    assert out[1].id == out[0].id
    assert out[2].id == held.id
    assert out[5].id == out[4].id
    assert out[3].id != out[0].id
    assert _count(mem) == 4
    again = mem.add_many(batch, namespace="u")  # a re-run batch
    assert all(e.repeated for e in again)
    assert [e.id for e in again] == [e.id for e in out]
    assert _count(mem) == 4


def test_an_updated_memory_is_repeated_by_its_new_content_only(mem: Memory) -> None:
    first = mem.add(TEXT, namespace="u", idempotency_key="k", **SAID)
    mem.update(first.id, namespace="u", text="I adopted a rescue cat called Pastel.")
    assert not mem.add(TEXT, namespace="u", **SAID).repeated  # the old words: new again
    new_words = mem.add("I adopted a rescue cat called Pastel.", namespace="u", **SAID)
    assert new_words.repeated
    assert new_words.id == first.id
    assert mem.add(TEXT, namespace="u", idempotency_key="k", **SAID).id == first.id


def test_a_deleted_memory_takes_its_identity_and_keys_with_it(mem: Memory) -> None:
    first = mem.add(TEXT, namespace="u", idempotency_key="k", **SAID)
    mem.delete(first.id, namespace="u")
    again = mem.add(TEXT, namespace="u", idempotency_key="k", **SAID)
    assert not again.repeated
    assert again.id != first.id
    mem.forget_namespace("u")
    assert not mem.add(TEXT, namespace="u", idempotency_key="k", **SAID).repeated


def test_an_imported_memory_is_repeated_like_an_added_one(mem: Memory) -> None:
    first = mem.add(TEXT, namespace="u", **SAID)
    exported = list(mem.export(namespace="u"))
    mem.forget_namespace("u")
    mem.import_records(exported)
    again = mem.add(TEXT, namespace="u", **SAID)
    assert again.repeated
    assert again.id == first.id


def test_an_encrypted_store_keeps_no_plain_digest(tmp_path: Path) -> None:
    key = EncryptionKey.from_text(generate_key())
    path = tmp_path / "store"
    with Memory(str(path), embedder=HashEmbedder(), settings=Settings(encryption=key)) as m:
        m.add(TEXT, namespace="u", idempotency_key="req-secret", **SAID)
    digests = {content_identity(TEXT, "Maya", "s1", T0), key_identity("req-secret")}
    data = b"".join(p.read_bytes() for p in path.iterdir() if p.is_file())
    assert not [d for d in digests if d.encode() in data]
    with sqlite3.connect(path / "engram.db") as conn:
        stored = {r[0] for r in conn.execute("SELECT tag FROM identities")}
    assert len(stored) == 2
    assert not stored & digests


def test_encrypting_a_store_in_place_keeps_its_repetitions(tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    with Memory(path, embedder=HashEmbedder()) as plain:
        first = plain.add(TEXT, namespace="u", idempotency_key="k", **SAID)
        plain.encrypt(EncryptionKey.from_text(generate_key()))
        assert plain.add(TEXT, namespace="u", **SAID).id == first.id
        assert plain.add(TEXT, namespace="u", idempotency_key="k", **SAID).id == first.id
        with pytest.raises(ConflictError):
            plain.add("other", namespace="u", idempotency_key="k")


def _old_store(path: Path) -> None:
    """A store as engramdb wrote it before identities: the migrations before theirs,
    and the same turn written twice (stored twice, as it then was)."""
    before = next(n for n, sql in enumerate(MIGRATIONS, 1) if "CREATE TABLE identities" in sql)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, migration in enumerate(MIGRATIONS[: before - 1], 1):
            conn.executescript(migration)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        at = "2024-03-23T18:00:00.000000Z"
        for rowid in (1, 2):
            conn.execute(
                "INSERT INTO engrams (rowid, id, namespace, kind, session, seq, speaker, text, "
                "keys, metadata, occurred_at, recorded_at, valid_from, version) VALUES "
                "(?, ?, 'u', 'episode', 's1', ?, 'Maya', ?, '', '{}', ?, ?, ?, 1)",
                (rowid, f"{rowid:032x}", rowid, TEXT, at, at, at),
            )
            conn.execute(
                "INSERT INTO dynamics (engram_rowid, stability_days, importance) "
                "VALUES (?, 12.0, 0.5)",
                (rowid,),
            )


def test_a_store_from_before_migrates_and_finds_what_it_held(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_store(path)
    with Memory(str(path), embedder=HashEmbedder()) as m:  # migrates
        again = m.add(TEXT, namespace="u", **SAID)
        assert again.repeated
        assert again.id == f"{1:032x}"
        assert m.stats(namespace="u").engrams == 2  # what was stored twice stays
        assert isinstance(m.store, SqliteStore)
        with m.store._read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM identities_pending").fetchone()[0] == 0


def test_a_writer_that_looked_before_another_stored_yields_to_it(location: str) -> None:
    path = location
    with (
        Memory(path, embedder=HashEmbedder()) as first,
        Memory(path, embedder=HashEmbedder()) as second,
    ):
        store = second.store
        looked = store.identified
        stored: list[str] = []

        def look_then_lose_the_race(namespace: str, digests: Any) -> Any:
            found = looked(namespace, digests)  # nothing held yet...
            stored.append(first.add(TEXT, namespace="u", idempotency_key="k", **SAID).id)
            return found  # ...and the other writer stores it before this one inserts

        store.identified = look_then_lose_the_race  # type: ignore[method-assign]
        lost = second.add(TEXT, namespace="u", **SAID)
        assert lost.repeated
        assert lost.id == stored[0]
        with pytest.raises(ConflictError):
            second.add("other words", namespace="u", idempotency_key="k")
        assert first.stats(namespace="u").engrams == 1


def _add_same(path: str, start: Any) -> list[str]:
    start.wait()
    with Memory(path, embedder=HashEmbedder()) as m:
        turns = [{"text": f"turn {i}", **SAID} for i in range(20)]
        return [e.id for e in m.add_many(turns, namespace="u")]


def test_processes_adding_the_same_turns_at_once_store_them_once(location: str) -> None:
    path = location
    Memory(path, embedder=HashEmbedder()).close()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(3, mp_context=context) as pool:
        start = manager.Barrier(3)
        results = [f.result() for f in [pool.submit(_add_same, path, start) for _ in range(3)]]
    assert results[0] == results[1] == results[2]
    with Memory(path, embedder=HashEmbedder()) as m:
        assert m.stats(namespace="u").engrams == 20
