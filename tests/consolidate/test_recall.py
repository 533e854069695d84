"""Consolidated facts in recall, with the real model: as_of, "used to", facts as keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engramdb import Memory
from engramdb.embed import Embedder

from .conftest import NOW, day, history


@pytest.fixture(scope="module")
def consolidated(embedder: Embedder) -> Iterator[Memory]:
    with Memory(":memory:", embedder=embedder) as mem:
        mem.add_many(history(), namespace="u")
        mem.consolidate(namespace="u", now=NOW)
        yield mem


def top_fact(mem: Memory, query: str, **options: object) -> str:
    hits = mem.search(query, namespace="u", now=NOW, kinds="fact", limit=1, **options)  # type: ignore[arg-type]
    return hits[0].engram.text


def test_the_current_value_answers_by_default(consolidated: Memory) -> None:
    assert top_fact(consolidated, "Where does Maya live?") == "Maya lives in Seattle"
    assert top_fact(consolidated, "Where does Maya work?") == "Maya works at Stripe"


def test_as_of_answers_with_what_was_true_then(consolidated: Memory) -> None:
    assert top_fact(consolidated, "Where does Maya live?", as_of=day(50)) == "Maya lives in Boston"
    assert top_fact(consolidated, "Where does Maya live?", as_of=day(150)) == "Maya lives in Denver"


def test_used_to_finds_the_previous_value(consolidated: Memory) -> None:
    assert top_fact(consolidated, "Where did Maya live before?") == "Maya lives in Denver"
    assert top_fact(consolidated, "Who was Maya's partner before?") == "Maya's partner is Alex"


def test_facts_are_keys_for_their_episodes(consolidated: Memory) -> None:
    hits = consolidated.search("Where does Maya live now?", namespace="u", now=NOW, limit=3)
    assert all(h.engram.kind == "episode" for h in hits)
    top = hits[0]
    assert top.engram.text == "I relocated to Seattle for a fresh start."
    assert "fact" in top.explain.paths


def top_episode(mem: Memory, query: str, **options: object) -> str:
    hits = mem.search(query, namespace="u", now=NOW, limit=1, reinforce=False, **options)  # type: ignore[arg-type]
    return hits[0].engram.text


def test_the_default_search_answers_with_the_statement_that_holds_now(
    consolidated: Memory,
) -> None:
    # "My new job at Stripe" fed a derived fact (works at Stripe and lives in Denver)
    # that went stale when Maya moved on: her job statement still holds.
    assert top_episode(consolidated, "Where does Maya work now?") == (
        "My new job at Stripe is great."
    )
    assert top_episode(consolidated, "Where does Maya live?") == (
        "I relocated to Seattle for a fresh start."
    )
    assert top_episode(consolidated, "Who is Maya's partner?") == (
        "I'm dating Sam now, Alex and I split up."
    )


def test_a_question_about_the_past_turns_the_order(consolidated: Memory) -> None:
    assert top_episode(consolidated, "Where did Maya live before?") == "I just moved to Denver!"
    assert top_episode(consolidated, "Where does Maya live?", as_of=day(50)) == (
        "I live in Boston and I love sushi."
    )


def test_a_time_the_question_names_is_when_the_value_held(consolidated: Memory) -> None:
    # no as_of: "in February 2023" asks for what held then (docs/consolidation.md)
    assert top_episode(consolidated, "Where did Maya live in February 2023?") == (
        "I live in Boston and I love sushi."
    )
    assert top_episode(consolidated, "Where did Maya work in February 2023?") == (
        "I work at Google. My partner is Alex."
    )


def test_the_context_marks_what_no_longer_holds(consolidated: Memory) -> None:
    bundle = consolidated.context("Where does Maya live?", namespace="u", now=NOW)
    lines = [item.text for item in bundle.items]
    said = {
        "Boston": ["I live in Boston and I love sushi.", "Maya lives in Boston"],
        "Denver": ["I just moved to Denver!", "Maya lives in Denver"],
        "Seattle": ["I relocated to Seattle for a fresh start.", "Maya lives in Seattle"],
    }
    unmarked = {city for city, texts in said.items() for text in texts if text in lines}
    assert unmarked == {"Seattle"}
    # the old values are there only with the day they stopped holding
    assert "Maya lives in Denver (until 2023-09-09)" in lines
    assert "I just moved to Denver! (until 2023-09-09)" in lines
    # Boston ended, but "I love sushi" still holds: the turn names what ended
    assert "I live in Boston and I love sushi. (Maya lives in Boston until 2023-04-12)" in lines
