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
