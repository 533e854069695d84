"""A write whose vector follows (docs/write-path.md): committed and found by its words at
once, embedded by the background embedder, resumed after a restart; on SQLite and on
PostgreSQL (``location``, ``place``: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from engramdb import InvalidInputError, Memory, Settings
from engramdb.embed.base import Embedder

T = datetime(2024, 5, 1, 12, tzinfo=UTC)
HAPPY = "I adopted a puppy today and I am so happy, it is wonderful!"
HIKE = "We went hiking in the Alps last summer with my brother Tom."


def _memory(embedder: Embedder, where: str, **settings: object) -> Memory:
    return Memory(where, embedder=embedder, settings=Settings(**settings))  # type: ignore[arg-type]


def test_a_later_write_is_found_by_its_words_then_by_its_meaning(
    embedder: Embedder, location: str
) -> None:
    with _memory(embedder, location) as mem:
        mem._catchup.close()  # nothing embeds until the store is opened again
        added = mem.add(HAPPY, embed="later", occurred_at=T)
        mem.add(HIKE, embed="later", occurred_at=T)
        assert added.emotion == "neutral", "the label needs the vector: stated until it comes"
        hits = mem.search("puppy", reinforce=False)
        assert hits[0].engram.id == added.id
        assert hits[0].explain.without_vector
        assert "ranked without its vector" in str(hits[0].explain)
    with _memory(embedder, location) as mem:
        mem.flush()
        assert mem.stats().pending_vectors == 0
        assert mem.store.vectors("default", [added.id]).any()
        hits = mem.search("a new dog in the family", reinforce=False)
        assert hits[0].engram.id == added.id
        assert not hits[0].explain.without_vector
        assert mem.check() == []


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_what_the_vector_derives_is_what_an_embedded_write_has(
    embedder: Embedder, place: Callable[[str], str], kind: str
) -> None:
    with _memory(embedder, place(kind)) as now, _memory(embedder, place(kind)) as later:
        for text in (HIKE, HAPPY):
            now.add(text, occurred_at=T)
            later.add(text, occurred_at=T, embed="later")
        later.flush()
        for a, b in zip(
            now.store.iter_engrams("default"), later.store.iter_engrams("default"), strict=True
        ):
            assert (a.text, a.emotion, a.valence, a.arousal) == (
                b.text,
                b.emotion,
                b.valence,
                b.arousal,
            )
            # novelty against a stored (int8, float16) vector or an unstored one: the same
            # to 1e-4
            assert a.importance == pytest.approx(b.importance, abs=1e-4)
            assert a.stability_days == pytest.approx(b.stability_days, rel=1e-3)
            got = later.store.vectors("default", [b.id])[0]
            want = now.store.vectors("default", [a.id])[0]
            assert float(np.dot(got, want)) == pytest.approx(float(np.dot(want, want)), rel=1e-3)


def test_the_callers_importance_and_emotion_stand(embedder: Embedder, location: str) -> None:
    with _memory(embedder, location) as mem:
        added = mem.add(HAPPY, embed="later", importance=0.2, emotion="sadness")
        mem.flush()
        stored = mem.get(added.id)
        assert (stored.importance, stored.emotion) == (0.2, "sadness")
        assert stored.stability_days == added.stability_days


def test_the_store_setting_is_the_default_and_a_call_overrides_it(
    embedder: Embedder, location: str
) -> None:
    with _memory(embedder, location, embed="later") as mem:
        mem.add(HAPPY)
        mem.add(HIKE, embed="now")
        assert mem.stats().pending_vectors in (0, 1)  # the embedder may have caught up
        mem.flush()
        assert mem.stats().pending_vectors == 0


def test_an_unknown_embed_value_is_refused(embedder: Embedder) -> None:
    with _memory(embedder, ":memory:") as mem:
        with pytest.raises(InvalidInputError, match="embed must be one of now, later"):
            mem.add(HAPPY, embed="soon")
        with pytest.raises(InvalidInputError, match="embed"):
            mem.add_many([{"text": HAPPY}], embed="never")
        assert mem.stats().engrams == 0


def test_pending_vectors_outlive_the_process_and_resume_at_open(
    embedder: Embedder, location: str
) -> None:
    where = location
    with _memory(embedder, where) as mem:
        mem._catchup.close()  # stopped, as a process killed before it embedded anything
        written = mem.add_many([{"text": HAPPY}, {"text": HIKE}], embed="later")
        assert mem.stats().pending_vectors == 2
        assert mem.check() == [], "a pending memory is not damage"
    with Memory(where, read_only=True) as reader:
        assert reader.stats().pending_vectors == 2
        assert [h.engram.id for h in reader.search("hiking", reinforce=False)][:1] == [
            written[1].id
        ]
    with _memory(embedder, where) as mem:
        mem.flush()  # the embedder started at open
        assert mem.stats().pending_vectors == 0
        assert mem._catchup.embedded == 2
        assert mem.get(written[0].id).emotion == "joy"


def test_delete_and_update_while_pending(embedder: Embedder, location: str) -> None:
    with _memory(embedder, location) as mem:
        mem._catchup.close()
        doomed = mem.add(HAPPY, embed="later")
        changed = mem.add(HIKE, embed="later")
        mem.delete(doomed.id)
        mem.update(changed.id, text="We went hiking in the Andes.")
        assert mem.stats().pending_vectors == 0, "the update embedded the new version"
        assert mem.store.pending_vectors(10) == []
        assert mem.check() == []


def test_import_records_leaves_the_vectors_to_the_embedder(
    embedder: Embedder, location: str, place: Callable[[str], str]
) -> None:
    with _memory(embedder, ":memory:") as source:
        source.add(HAPPY, occurred_at=T)
        source.add(HIKE, occurred_at=T, importance=0.7)
        records = list(source.export())
        kept = [
            (e.id, e.importance, e.emotion, e.stability_days) for e in source.store.iter_engrams()
        ]
    with _memory(embedder, location) as target:
        target._catchup.close()
        assert target.import_records(records) == 2
        assert target.stats().pending_vectors == 2
    kind = "sqlite" if location.startswith("/") else "postgres"
    with _memory(embedder, place(kind)) as target:
        assert target.import_records(records) == 2
        target.flush()
        assert target.stats().pending_vectors == 0
        got = [
            (e.id, e.importance, e.emotion, e.stability_days) for e in target.store.iter_engrams()
        ]
        assert got == kept, "an imported memory's dynamics are the record's"
