"""Feedback on hits and the per-namespace weights learned from it (docs/learning.md),
on every store: recorded with what the search showed, learned within the namespace
only, reset to the prior exactly, kept across processes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from engramdb import EncryptionKey, InvalidInputError, Memory, NotFoundError, Settings
from engramdb.embed import Embedder
from engramdb.learn.feedback import FEEDBACK, KINDS, SEARCH
from engramdb.recall.ranker import RankerWeights
from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
TURNS = [
    ("Maya", "I adopted a grey cat called Miso last week."),
    ("Tom", "Miso is a lovely name. I had a dog once."),
    ("Maya", "I started a new job as a nurse at the city hospital."),
    ("Tom", "I went hiking in the Alps with my brother."),
    ("Maya", "My sister Lena is moving to Berlin in May."),
    ("Tom", "I cooked a huge pot of chili on Sunday."),
    ("Maya", "The cat sleeps on my keyboard every morning."),
    ("Tom", "My knee hurts since the hike."),
]


def _filled(location: str, embedder: Embedder, *namespaces: str) -> Memory:
    mem = Memory(location, embedder=embedder)
    for namespace in namespaces:
        mem.add_many(
            [{"text": t, "speaker": s, "session": "s1", "occurred_at": T0} for s, t in TURNS],
            namespace=namespace,
        )
    return mem


def _scores(mem: Memory, namespace: str, query: str) -> list[tuple[str, float]]:
    hits = mem.search(query, namespace=namespace, now=T0, reinforce=False)
    return [(h.engram.id, h.score) for h in hits]


def _teach(mem: Memory, namespace: str) -> None:
    """Feedback that the third hit, not the first two, answered the question."""
    hits = mem.search("what pet does Maya have", namespace=namespace, now=T0, reinforce=False)
    mem.feedback(hits[2], 1.0, namespace=namespace, now=T0)
    mem.feedback(hits[0], -1.0, namespace=namespace, now=T0)
    mem.feedback(hits[1].engram.id, -1.0, namespace=namespace, search_id=hits[1].search_id)


def test_feedback_learns_the_namespace_weights_and_never_another_s(
    location: str, embedder: Embedder
) -> None:
    with _filled(location, embedder, "a", "b") as mem:
        before = _scores(mem, "b", "who is moving to Berlin")
        assert not mem.weights(namespace="a").learned
        _teach(mem, "a")
        learned = mem.weights(namespace="a")
        assert learned.learned
        assert learned.feedback == 3
        assert learned.updates >= 1
        assert any(abs(s.shift) > 1e-6 for s in learned.signals)
        other = mem.weights(namespace="b")
        assert not other.learned
        assert other.feedback == 0
        assert all(s.shift == 0.0 for s in other.signals)
        assert _scores(mem, "b", "who is moving to Berlin") == before


def test_reset_restores_the_prior_exactly(location: str, embedder: Embedder) -> None:
    with _filled(location, embedder, "a") as mem:
        before = _scores(mem, "a", "what does Maya do for work")
        _teach(mem, "a")
        assert _scores(mem, "a", "what does Maya do for work") != before  # feedback moved it
        reset = mem.reset_weights(namespace="a")
        prior = RankerWeights.default().weights
        assert not reset.learned
        assert reset.feedback == 0
        assert {s.signal: s.weight for s in reset.signals} == dict(prior)
        assert _scores(mem, "a", "what does Maya do for work") == before
        assert mem.store.learned("a", FEEDBACK) == []


def test_feedback_is_kept_with_the_query_and_the_hits_shown_across_processes(
    location: str, embedder: Embedder
) -> None:
    with _filled(location, embedder, "a") as mem:
        hits = mem.search("what pet does Maya have", namespace="a", now=T0, reinforce=False)
        mem.feedback(hits[2], 1.0, namespace="a", now=T0)
        mem.feedback(hits[0], -1.0, namespace="a", now=T0)
        learned = mem.weights(namespace="a")
    with Memory(location, embedder=embedder) as again:  # another process, the same store
        assert again.weights(namespace="a") == learned
        (search,) = again.store.learned("a", SEARCH)
        shown = json.loads(search.value)
        assert search.key == hits[0].search_id
        assert shown["query"] == "what pet does Maya have"
        assert shown["ids"] == [h.engram.id for h in hits]
        assert "dense" in shown["signals"]
        assert len(shown["values"]) == len(hits)
        rewards = {
            json.loads(f.value)["engram_id"]: json.loads(f.value)["reward"]
            for f in again.store.learned("a", FEEDBACK)
        }
        assert rewards == {hits[2].engram.id: 1.0, hits[0].engram.id: -1.0}
        # this process did not run the search, yet feedback by the stored trace works
        again.feedback(hits[1].engram.id, -1.0, namespace="a", search_id=hits[1].search_id)
        assert again.weights(namespace="a").feedback == 3


def test_a_later_judgement_of_the_same_hit_replaces_the_earlier(
    location: str, embedder: Embedder
) -> None:
    with _filled(location, embedder, "a") as mem:
        hits = mem.search("what pet does Maya have", namespace="a", now=T0, reinforce=False)
        mem.feedback(hits[0], 1.0, namespace="a")
        mem.feedback(hits[0], -0.5, namespace="a")
        (only,) = mem.store.learned("a", FEEDBACK)
        assert json.loads(only.value)["reward"] == -0.5


def test_bad_feedback_is_refused_with_a_message(location: str, embedder: Embedder) -> None:
    with _filled(location, embedder, "a", "b") as mem:
        hits = mem.search("what pet does Maya have", namespace="a", now=T0, reinforce=False)
        with pytest.raises(InvalidInputError, match="reward"):
            mem.feedback(hits[0], 1.5, namespace="a")
        with pytest.raises(InvalidInputError, match="search_id"):
            mem.feedback(hits[0].engram.id, 1.0, namespace="a")
        with pytest.raises(NotFoundError, match="no recent search"):
            mem.feedback(hits[0].engram.id, 1.0, namespace="a", search_id="0" * 32)
        with pytest.raises(InvalidInputError, match="search id"):
            mem.feedback(hits[0].engram.id, 1.0, namespace="a", search_id="nope")
        with pytest.raises(NotFoundError):  # a search of "a" is not one of "b"
            mem.feedback(hits[0].engram.id, 1.0, namespace="b", search_id=hits[0].search_id)
        other = mem.search("who went hiking", namespace="b", now=T0, reinforce=False)
        with pytest.raises(NotFoundError, match="no memory"):  # a memory of "b" is none of "a"
            mem.feedback(other[0].engram.id, 1.0, namespace="a", search_id=hits[0].search_id)
        few = mem.search("what pet does Maya have", namespace="a", limit=2, reinforce=False)
        unseen = next(
            e.id for e in mem.store.iter_engrams("a") if e.id not in {h.engram.id for h in few}
        )
        with pytest.raises(InvalidInputError, match="was not a hit"):
            mem.feedback(unseen, 1.0, namespace="a", search_id=few[0].search_id)
        assert mem.store.learned("a", FEEDBACK) == []


def test_every_hit_of_a_search_names_it_and_searches_differ(
    location: str, embedder: Embedder
) -> None:
    with _filled(location, embedder, "a") as mem:
        first = mem.search("Maya's cat", namespace="a", now=T0, reinforce=False)
        second = mem.search("Maya's cat", namespace="a", now=T0, reinforce=False)
        assert len({h.search_id for h in first}) == 1
        assert len(first[0].search_id) == 32
        assert first[0].search_id != second[0].search_id


def test_export_and_import_carry_the_weights_and_the_feedback(
    location: str, place: Callable[[str], str], embedder: Embedder
) -> None:
    with _filled(location, embedder, "a", "b") as mem:
        _teach(mem, "a")
        records = list(mem.export(namespace="a"))
        weights = mem.weights(namespace="a")
        order = [i for i, _ in _scores(mem, "a", "what does Maya do for work")]
    assert {r["learned"] for r in records if "learned" in r} == {"search", "feedback", "weights"}
    with Memory(place("sqlite"), embedder=embedder) as other:
        assert other.import_records(records, embed="now") == len(records)
        assert other.weights(namespace="a") == weights
        # the same ranking (scores differ in their last digits between backends' vectors)
        assert [i for i, _ in _scores(other, "a", "what does Maya do for work")] == order
        assert not other.weights(namespace="b").learned


CANARY = "Zorbaxqy"


def test_on_an_encrypted_store_feedback_is_sealed_and_erasure_leaves_no_byte(
    tmp_path: Path, embedder: Embedder
) -> None:
    store = tmp_path / "store"
    settings = Settings(encryption=EncryptionKey.from_text(generate_key()))
    with Memory(str(store), embedder=embedder, settings=settings) as mem:
        mem.add_many([{"text": t, "speaker": s} for s, t in TURNS], namespace="private")
        mem.add("Tom likes chess.", namespace="other")
        hits = mem.search(f"what pet does Maya have in {CANARY}", namespace="private")
        mem.feedback(hits[1], 1.0, namespace="private")
        mem.feedback(hits[0], -1.0, namespace="private")
        assert mem.weights(namespace="private").learned
        assert mem.store.learned("private", SEARCH)[0].value.count(CANARY) == 1
        mem.flush()
        assert where_found(store_files(store), [CANARY]) == []  # sealed at rest
        mem.forget_namespace("private")
        assert not mem.weights(namespace="private").learned
        for kind in KINDS:
            assert mem.store.learned("private", kind) == []
        with pytest.raises(NotFoundError):  # nor does this process remember the search
            mem.feedback(hits[0], 1.0, namespace="private", search_id=hits[0].search_id)


def test_erasure_leaves_no_byte_of_the_feedback_on_a_plain_store(
    tmp_path: Path, embedder: Embedder
) -> None:
    store = tmp_path / "store"
    with Memory(str(store), embedder=embedder) as mem:
        mem.add_many([{"text": t, "speaker": s} for s, t in TURNS], namespace="private")
        mem.add("Tom likes chess.", namespace="other")
        hits = mem.search(f"what pet does Maya have in {CANARY}", namespace="private")
        mem.feedback(hits[1], 1.0, namespace="private")
        mem.flush()
        assert where_found(store_files(store), [CANARY])  # the scan sees the query first
        mem.forget_namespace("private")
    assert where_found(store_files(store), [CANARY]) == []
