"""Memory dynamics through the facade with the real store and model (docs/dynamics.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import Memory
from engramdb.embed import Embedder
from engramdb.errors import InvalidInputError

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def mem(embedder: Embedder, location: str) -> Iterator[Memory]:
    """On each store (tests/conftest.py)."""
    with Memory(location, embedder=embedder) as memory:
        yield memory


def test_add_sets_importance_emotion_and_stability(mem: Memory) -> None:
    routine = mem.add("Had toast for breakfast.", occurred_at=T0)
    marked = mem.add("Remember that my passport expires in March 2031.", occurred_at=T0)
    sad = mem.add("I was devastated when our cat died; I cried all night.", occurred_at=T0)
    assert marked.importance > routine.importance
    assert marked.stability_days > routine.stability_days
    assert sad.emotion == "sadness"
    assert sad.valence < 0 < sad.arousal
    assert mem.get(sad.id).emotion == "sadness"  # stored, not only returned
    assert mem.get(marked.id).stability_days == pytest.approx(marked.stability_days)


def test_caller_overrides_importance_and_emotion(mem: Memory) -> None:
    e = mem.add("Took the bus.", occurred_at=T0, importance=1.0, emotion="joy")
    assert (e.importance, e.emotion) == (1.0, "joy")
    [item] = mem.add_many([{"text": "x", "importance": 0.0, "emotion": "fear"}])
    assert (item.importance, item.emotion) == (0.0, "fear")
    for bad in ({"importance": 1.5}, {"importance": "high"}, {"emotion": "bliss"}):
        with pytest.raises(InvalidInputError):
            mem.add("y", **bad)  # type: ignore[arg-type]


def test_search_reinforces_in_batches_and_can_be_told_not_to(mem: Memory) -> None:
    e = mem.add("The teal notebook is in the study cupboard.", occurred_at=T0)
    later = T0 + timedelta(days=20)
    mem.search("teal notebook", now=later, reinforce=False)
    mem.flush()
    assert mem.get(e.id).recalls == 0
    mem.search("teal notebook", now=later)
    assert mem.store.get("default", e.id).recalls == 0  # seen at once, not yet written
    assert mem.get(e.id).recalls == 1
    assert mem.flush() == 1
    assert mem.store.get("default", e.id).recalls == 1
    recalled = mem.get(e.id)
    assert recalled.recalls == 1
    assert recalled.last_recalled_at == later
    assert recalled.stability_days > e.stability_days
    assert mem.retention(e.id, now=later) == pytest.approx(1.0)


def test_close_writes_queued_recalls(embedder: Embedder, tmp_path: object) -> None:
    path = str(tmp_path) + "/store"
    with Memory(path, embedder=embedder) as mem:
        e = mem.add("The amber lamp is in the attic.", occurred_at=T0)
        mem.search("amber lamp", now=T0 + timedelta(days=3))
    with Memory(path, embedder=embedder) as again:
        assert again.get(e.id).recalls == 1


def test_explanation_shows_stability_retention_importance_emotion(mem: Memory) -> None:
    mem.add("We got engaged in Lisbon, I am so happy!", occurred_at=T0)
    [hit] = mem.search("engaged in Lisbon", now=T0 + timedelta(days=30), limit=1)
    x = hit.explain
    assert x.stability_days == pytest.approx(hit.engram.stability_days)
    assert 0 < (x.retention or 0) < 1
    assert x.importance == pytest.approx(hit.engram.importance)
    assert x.emotion == "joy"
    assert sum(c.share for c in x.contributions) == pytest.approx(1.0)
    assert "R 0." in str(x)
    assert "S " in str(x)


def test_budget_makes_the_least_retained_dormant_and_never_deletes(mem: Memory) -> None:
    mem.set_budget(max_memories=3)
    important = mem.add("Remember: my bank PIN hint is the cat's birthday.", occurred_at=T0)
    texts = [  # unlike each other: none reminds of another (keeper.REMIND_SIMILARITY)
        "Saw a red umbrella on the bus.",
        "Watered the tomatoes.",
        "Bought stamps at the post office.",
        "The printer ran out of toner.",
        "Listened to a podcast about bridges.",
    ]
    trivia = [mem.add(t, occurred_at=T0 + timedelta(days=i)) for i, t in enumerate(texts)]
    now = T0 + timedelta(days=6)
    everything = list(mem.store.iter_engrams("default"))
    assert len(everything) == 6  # nothing deleted
    dormant = {e.id for e in everything if e.dormant}
    assert len(dormant) == 3
    assert important.id not in dormant
    assert trivia[0].id in dormant
    assert trivia[-1].id not in dormant
    found = {h.engram.id for h in mem.search("red umbrella", now=now, reinforce=False)}
    assert not found & dormant
    back = {h.engram.id for h in mem.search("red umbrella", now=now, include_dormant=True)}
    assert dormant <= back
    mem.flush()
    assert not mem.get(trivia[0].id).dormant  # a recall wakes it


def test_faded_memories_are_dormant_by_retention(mem: Memory) -> None:
    old = mem.add("Had porridge.", occurred_at=T0, importance=0.0)
    far = T0 + timedelta(days=3_000)
    assert mem.retention(old.id, now=far) < mem.settings.dormant_below
    assert mem.search("porridge", now=far, reinforce=False) == []
    assert mem.fade(now=far) == 1
    assert mem.get(old.id).dormant
    assert [h.engram.id for h in mem.search("porridge", now=far, include_dormant=True)] == [old.id]


def test_emotion_filter_and_mood_congruent_search(mem: Memory) -> None:
    happy = mem.add("We won the final and celebrated, so happy!", occurred_at=T0)
    sad = mem.add("We lost the final, I was sad and cried.", occurred_at=T0)
    now = T0 + timedelta(days=1)
    only = mem.search("the final", now=now, emotion="sadness", reinforce=False)
    assert [h.engram.id for h in only] == [sad.id]
    cheerful = mem.search(
        "that wonderful happy final", now=now, mood_congruent=True, reinforce=False
    )
    assert cheerful[0].engram.id == happy.id
    with pytest.raises(InvalidInputError):
        mem.search("x", emotion="bliss")


def test_curve_and_budget_validation(mem: Memory) -> None:
    e = mem.add("The navy kettle is in the kitchen.", occurred_at=T0)
    times, values = mem.curve(e.id, days=30, points=31)
    assert times[0] == T0
    assert values[0] == 1.0
    assert values[-1] < 1.0
    with pytest.raises(InvalidInputError):
        mem.curve(e.id, days=0)
    with pytest.raises(InvalidInputError):
        mem.set_budget(max_memories=-1)
    mem.set_budget(max_memories=5)
    mem.set_budget()  # removes it


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(min_value=0, max_value=6), n=st.integers(min_value=1, max_value=8))
def test_dormancy_never_deletes(mem: Memory, limit: int, n: int) -> None:
    namespace = f"p{limit}-{n}"
    mem.set_budget(namespace=namespace, max_memories=limit)
    added = mem.add_many(
        [
            {"text": f"note {i} about item {i}", "occurred_at": T0 + timedelta(days=i)}
            for i in range(n)
        ],
        namespace=namespace,
    )
    mem.fade(namespace=namespace, now=T0 + timedelta(days=n))
    stored = list(mem.store.iter_engrams(namespace))
    assert {e.id for e in stored} == {e.id for e in added}
    assert sum(not e.dormant for e in stored) == min(n, limit)
