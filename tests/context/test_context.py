"""``mem.context``: a packed prompt context that never exceeds its budget."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import InvalidInputError, Memory
from engramdb.embed import Embedder
from engramdb.model import ContextItem, Fact
from engramdb.recall.packing import pack
from engramdb.recall.prompt import until_notes
from engramdb.recall.tokens import default_counter

from .conftest import T0

COUNT = default_counter().count

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60
)


def _item(kind: str, text: str, score: float, i: int) -> ContextItem:
    item = ContextItem(kind, text, 0, score, f"id{i}", T0 + timedelta(minutes=i), "Caroline")
    return ContextItem(
        kind, text, COUNT(item.line()), score, item.source_id, item.occurred_at, "Caroline"
    )


@settings(max_examples=200, deadline=None)
@given(
    working=st.lists(texts, max_size=8),
    recalled=st.lists(st.tuples(texts, st.floats(0, 1)), max_size=30),
    budget=st.integers(1, 300),
)
def test_packing_never_exceeds_the_budget(
    working: list[str], recalled: list[tuple[str, float]], budget: int
) -> None:
    work = [_item("working", t, 1.0, i) for i, t in enumerate(working)]
    found = [_item("episode", t, s, 100 + i) for i, (t, s) in enumerate(recalled)]
    items = pack(work, found, budget, COUNT)
    assert COUNT("\n".join(i.line() for i in items)) <= budget
    ids = [i.source_id for i in items]
    assert len(ids) == len(set(ids))


def test_a_fact_beside_its_source_episode_is_dropped_unless_it_adds_something() -> None:
    episode = _item("episode", "Caroline adopted a dog named Rex", 0.5, 1)
    same = _item("fact", "Caroline adopted dog Rex", 0.4, 2)
    more = _item("fact", "Caroline adopted a dog named Rex in Lisbon", 0.4, 3)
    sources = {"id2": frozenset({"id1"}), "id3": frozenset({"id1"})}
    kept = pack([], [episode, same, more], 1000, COUNT, sources=sources)
    assert [i.source_id for i in kept] == ["id3", "id1"]  # facts read before episodes


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(budget=st.integers(1, 400))
def test_the_context_never_exceeds_its_budget(mem: Memory, budget: int) -> None:
    bundle = mem.context(
        "what did she paint?", namespace="n", session="s1", budget_tokens=budget, now=T0
    )
    assert bundle.tokens <= budget
    assert COUNT(bundle.render()) == bundle.tokens


def test_the_context_leads_with_working_memory_and_shows_no_turn_twice(mem: Memory) -> None:
    bundle = mem.context(
        "what did she paint?", namespace="n", session="s1", budget_tokens=2000, now=T0
    )
    working = bundle.of_kind("working")
    assert [i.text for i in working][-1] == "I ran a charity race for mental health on Saturday."
    assert bundle.items[-1].kind == "working"  # the latest turn comes last
    ids = [i.source_id for i in bundle.items if i.source_id]
    assert len(ids) == len(set(ids))
    assert "A turn of another namespace" not in bundle.render()
    assert bundle.render().splitlines()[-1].startswith("[working 2023-05-08 13:05] Melanie:")


def test_the_context_without_a_session_is_recalled_memories(mem: Memory) -> None:
    bundle = mem.context("the support group", namespace="n", budget_tokens=60, now=T0)
    assert bundle.session is None
    assert not bundle.of_kind("working")
    assert "support group" in bundle.items[0].text or "support group" in bundle.render()


@pytest.mark.parametrize("bad", [0, -5, True, 1.5])
def test_the_context_refuses_a_bad_budget(mem: Memory, bad: object) -> None:
    with pytest.raises(InvalidInputError):
        mem.context("x", namespace="n", budget_tokens=bad)  # type: ignore[arg-type]


def test_mood_reads_valence_and_arousal_with_its_drivers(embedder: Embedder) -> None:
    now = datetime(2024, 1, 10, tzinfo=timezone.utc)
    day1, day2, day40 = (now - timedelta(days=d) for d in (1, 2, 40))
    with Memory(":memory:", embedder=embedder) as memory:
        memory.add_many(
            [
                {"text": "I am so happy and thrilled, this is wonderful!", "occurred_at": day1},
                {"text": "We had a lovely, joyful day at the beach.", "occurred_at": day2},
                {"text": "I was furious and miserable last month.", "occurred_at": day40},
            ],
            namespace="m",
        )  # fmt: skip
        mood = memory.mood(namespace="m", window=timedelta(days=7), now=now)
        assert mood.memories == 2
        assert mood.valence > 0
        assert mood.arousal > 0
        assert mood.drivers
        assert all("furious" not in e.text for e in mood.drivers)
        empty = memory.mood(namespace="m", window=timedelta(days=1), now=now - timedelta(days=100))
        assert (empty.memories, empty.valence, empty.drivers) == (0, 0.0, ())
        with pytest.raises(InvalidInputError):
            memory.mood(namespace="m", window=timedelta(0))


def _fact(
    fid: str, attribute: str, value: str, source: str, valid_to: datetime | None = None
) -> Fact:
    return Fact(
        engram_id=fid,
        namespace="n",
        subject="Maya",
        attribute=attribute,
        value=value,
        text=f"Maya {attribute} {value}",
        valid_from=T0,
        valid_to=valid_to,
        recorded_at=T0,
        invalidated_at=valid_to,
        status="current" if valid_to is None else "superseded",
        sources=(source,),
    )


def test_until_notes_mark_what_no_longer_holds_and_leave_events_alone() -> None:
    ended = datetime(2024, 3, 1, tzinfo=timezone.utc)
    notes = until_notes(
        [
            # "Guess what, I got a job at Pfizer!": an event and a state that ended
            _fact("f1", "did", "got a job", "e1"),
            _fact("f2", "employer", "Pfizer", "e1", ended),
            # "I live in Boston and I love sushi": one state ended, one holds
            _fact("f3", "residence", "Boston", "e2", ended),
            _fact("f4", "feeling about sushi", "loves", "e2"),
            # "I live in Denver": holds
            _fact("f5", "residence", "Denver", "e3"),
        ]
    )
    assert notes == {
        "f2": "(until 2024-03-01)",
        "e1": "(until 2024-03-01)",
        "f3": "(until 2024-03-01)",
        "e2": "(Maya residence Boston until 2024-03-01)",
    }
