"""Working memory: the session's latest turns, bounded and ordered, and only its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import InvalidInputError, Memory
from engramdb.recall.tokens import default_counter

from .conftest import T0, TURNS


def test_working_memory_is_the_latest_turns_oldest_first(mem: Memory) -> None:
    turns = mem.working(namespace="n", session="s1", max_turns=3)
    assert [t.text for t in turns] == [text for _, text in TURNS[-3:]]


def test_working_memory_never_holds_another_sessions_or_namespaces_turns(mem: Memory) -> None:
    turns = mem.working(namespace="n", session="s1", max_turns=200)
    assert [t.text for t in turns] == [text for _, text in TURNS]
    assert all(t.session == "s1" and t.namespace == "n" for t in turns)
    assert [t.text for t in mem.working(namespace="n", session="s2")] == [
        "A turn of another session"
    ]
    assert [t.text for t in mem.working(namespace="other", session="s1")] == [
        "A turn of another namespace"
    ]
    assert mem.working(namespace="n", session="nobody") == []


def test_working_memory_follows_new_turns_without_a_copy(mem: Memory) -> None:
    mem.add("A brand new turn", namespace="n", session="s1", occurred_at=T0 + timedelta(hours=1))
    assert mem.working(namespace="n", session="s1", max_turns=1)[0].text == "A brand new turn"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(max_turns=st.integers(0, 10), max_tokens=st.one_of(st.none(), st.integers(0, 80)))
def test_working_memory_is_bounded_by_turns_and_tokens(
    mem: Memory, max_turns: int, max_tokens: int | None
) -> None:
    turns = mem.working(namespace="n", session="s1", max_turns=max_turns, max_tokens=max_tokens)
    assert len(turns) <= max_turns
    if max_tokens is not None:
        assert sum(default_counter().count(t.text) for t in turns) <= max_tokens
    # always a suffix of the session: the latest turns, in order
    texts = [text for _, text in TURNS]
    assert [t.text for t in turns] == texts[len(texts) - len(turns) :]


@pytest.mark.parametrize("bad", [-1, 201, True, "3"])
def test_working_memory_refuses_a_bad_bound(mem: Memory, bad: object) -> None:
    with pytest.raises(InvalidInputError):
        mem.working(namespace="n", session="s1", max_turns=bad)  # type: ignore[arg-type]
