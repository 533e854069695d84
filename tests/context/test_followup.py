"""Context-conditioned recall: pronouns resolved against the conversation, topic kept."""

from __future__ import annotations

import pytest

from engramdb import InvalidInputError, Memory
from engramdb.recall.followup import Turn, parse_turn, referent, resolve

from .conftest import T0

KNOWN = ["caroline", "melanie"]


@pytest.mark.parametrize(
    ("query", "context", "expected"),
    [
        ("When did she go to the support group?", ["Tell me about Caroline."],
         "When did Caroline go to the support group?"),
        ("What did her kids love?", ["Tell me about Melanie."], "What did Melanie's kids love?"),
        ("What did he give to her?", ["I saw Melanie today."], "What did Melanie give to Melanie?"),
        ("What does he paint?", ["Melanie: I love painting"], "What does Melanie paint?"),
        ("Where did they go camping?", ["Melanie: how is Caroline?"],
         "Where did Caroline go camping?"),
        ("What did Caroline research?", ["Tell me about Melanie."], "What did Caroline research?"),
        ("What did I say?", ["Tell me about Melanie."], "What did I say?"),
    ],
)  # fmt: skip
def test_third_person_pronouns_take_the_latest_person(
    query: str, context: list[str], expected: str
) -> None:
    assert resolve(query, [parse_turn(c) for c in context], KNOWN).text == expected


def test_a_person_named_in_the_latest_turn_wins_over_its_speaker_and_older_turns() -> None:
    turns = [Turn("Tell me about Caroline."), Turn("how is Anna doing?", speaker="Melanie")]
    assert referent(turns, KNOWN) == "Anna"
    assert referent([Turn("I went hiking", speaker="Caroline")], KNOWN) == "Caroline"
    assert referent([Turn("nothing here")], KNOWN) is None


def test_a_labelled_turn_names_its_speaker() -> None:
    assert parse_turn("Caroline: I went hiking") == Turn("I went hiking", "Caroline")
    assert parse_turn("What: no") == Turn("What: no")


def test_search_with_context_resolves_she_to_the_right_person(mem: Memory) -> None:
    hits = mem.search(
        "What is she researching?",
        namespace="n",
        limit=1,
        now=T0,
        reinforce=False,
        context=["Tell me about Caroline."],
    )
    assert hits[0].engram.text == "I am researching adoption agencies."
    assert "context_dense" in hits[0].explain.shares


def test_search_context_may_be_a_session_id(mem: Memory) -> None:
    hits = mem.search(
        "what about her sister?", namespace="n", limit=1, now=T0, reinforce=False, context="s1"
    )
    assert hits[0].engram.session == "s1"


@pytest.mark.parametrize("bad", [[""], [3], {"a": "b"}, b"s1", ["x"] * 201])
def test_search_refuses_a_malformed_context(mem: Memory, bad: object) -> None:
    with pytest.raises(InvalidInputError):
        mem.search("she?", namespace="n", context=bad)  # type: ignore[arg-type]
