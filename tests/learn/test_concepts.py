"""Concepts from a few examples (docs/learning.md): prototypes, membership, search by
concept, on SQLite and PostgreSQL, encrypted too; and the maths on its own."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engramdb import EncryptionKey, FixedClock, InvalidInputError, Memory, NotFoundError, Settings
from engramdb.embed import Embedder
from engramdb.learn.concepts import FLOOR, HIGHEST, LOWEST, Prototypes, prototype, threshold
from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
PETS = ["I took my dog to the vet for his vaccinations", "our cat sleeps on the sofa all day"]
FOOD = ["we baked a chocolate cake with berries", "I cooked pasta with tomato sauce for dinner"]
TURNS = [
    "Max, my puppy, chewed the cat's toy again",
    "the kitten scratched the new armchair",
    "I made a spicy curry with rice tonight",
    "the bakery's croissants were warm and buttery",
    "my manager moved the deadline to Friday",
]


def _memory(location: str, embedder: Embedder, **settings: object) -> Memory:
    return Memory(
        location,
        embedder=embedder,
        clock=FixedClock(T0),
        settings=Settings(**settings),  # type: ignore[arg-type]
    )


def _taught(mem: Memory, namespace: str = "u") -> None:
    mem.add_many([{"text": t} for t in TURNS], namespace=namespace)
    mem.teach("pets", PETS, namespace=namespace)
    mem.teach("food", FOOD, namespace=namespace)


def test_search_by_concept_returns_only_its_memories(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        _taught(mem)
        pets = {h.engram.text for h in mem.search("what happened", namespace="u", concept="pets")}
        assert pets == set(TURNS[:2])
        food = {h.engram.text for h in mem.search("what happened", namespace="u", concept="food")}
        assert food == set(TURNS[2:4])
        # without a concept, the same query ranks every episode (not the concepts)
        everything = {h.engram.text for h in mem.search("what happened", namespace="u")}
        assert everything == set(TURNS)


def test_a_memory_added_later_is_tagged_as_it_arrives(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        _taught(mem)
        before = {c.name: c.tagged for c in mem.concepts(namespace="u")}
        mem.add("our new puppy keeps chasing the cat", namespace="u")
        after = {c.name: c.tagged for c in mem.concepts(namespace="u")}
        assert after == {"food": before["food"], "pets": before["pets"] + 1}
        found = {h.engram.text for h in mem.search("puppy", namespace="u", concept="pets")}
        assert "our new puppy keeps chasing the cat" in found


def test_concepts_list_their_support_and_more_examples_refine_them(
    location: str, embedder: Embedder
) -> None:
    with _memory(location, embedder) as mem:
        _taught(mem)
        listed = mem.concepts(namespace="u")
        assert [c.name for c in listed] == ["food", "pets"]
        pets = listed[1]
        assert pets.examples == tuple(PETS)
        assert pets.tagged == 2
        assert LOWEST <= pets.threshold <= HIGHEST
        refined = mem.teach("pets", ["the turtles need a bigger tank"], namespace="u")
        assert refined.id == pets.id
        assert refined.examples == (*PETS, "the turtles need a bigger tank")
        assert refined.threshold != pets.threshold
        assert len(mem.history(pets.id, namespace="u")) == 2  # each teaching a version
        assert [c.name for c in mem.retag(namespace="u")] == ["food", "pets"]


def test_teaching_checks_its_arguments(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        with pytest.raises(InvalidInputError, match="at least one"):
            mem.teach("pets", [], namespace="u")
        with pytest.raises(InvalidInputError, match="list of texts"):
            mem.teach("pets", "a dog", namespace="u")
        with pytest.raises(InvalidInputError, match="concept"):
            mem.teach("two\nlines", ["a dog"], namespace="u")
        with pytest.raises(NotFoundError, match="no concept 'pets'"):
            mem.search("dog", namespace="u", concept="pets")


def test_concepts_never_cross_namespaces(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        _taught(mem, "one")
        mem.add_many([{"text": t} for t in TURNS], namespace="two")
        assert mem.concepts(namespace="two") == []
        with pytest.raises(NotFoundError):
            mem.search("dog", namespace="two", concept="pets")
        mem.teach("pets", PETS[:1], namespace="two")
        assert [c.tagged for c in mem.concepts(namespace="one") if c.name == "pets"] == [2]
        assert [len(c.examples) for c in mem.concepts(namespace="one") if c.name == "pets"] == [2]


def test_forget_namespace_erases_concepts(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        _taught(mem, "gone")
        _taught(mem, "kept")
        mem.forget_namespace("gone")
        assert mem.concepts(namespace="gone") == []
        assert [c.name for c in mem.concepts(namespace="kept")] == ["food", "pets"]


def test_a_deleted_concept_is_gone_and_the_other_keeps_its_memories(
    location: str, embedder: Embedder
) -> None:
    with _memory(location, embedder) as mem:
        _taught(mem)
        food = next(c for c in mem.concepts(namespace="u") if c.name == "food")
        mem.delete(food.id, namespace="u")
        assert [c.name for c in mem.concepts(namespace="u")] == ["pets"]
        with pytest.raises(NotFoundError):
            mem.search("dinner", namespace="u", concept="food")


def test_export_and_import_keep_concepts(location: str, embedder: Embedder, tmp_path: Path) -> None:
    with _memory(location, embedder) as mem:
        _taught(mem)
        records = list(mem.export(namespace="u"))
        before = {(c.name, c.examples, c.tagged) for c in mem.concepts(namespace="u")}
    with _memory(str(tmp_path / "copy"), embedder) as copy:
        copy.import_records(records, embed="now")
        assert {(c.name, c.examples, c.tagged) for c in copy.concepts(namespace="u")} == before


def test_an_encrypted_store_seals_concepts_and_erasure_leaves_no_canary(
    tmp_path: Path, embedder: Embedder
) -> None:
    store = tmp_path / "sealed"
    key = EncryptionKey.from_text(generate_key())
    with _memory(str(store), embedder, encryption=key) as mem:
        mem.add("Quillfenwick the dog chewed a shoe", namespace="p")
        mem.teach("Zorbaxqy", ["my Plumtrazzle puppy barks at night"], namespace="p")
        mem.add("Tom likes chess.", namespace="other")
    canaries = ["Zorbaxqy", "Quillfenwick", "Plumtrazzle", "zorbaxqy", "plumtrazzle"]
    assert where_found(store_files(store), canaries) == []
    with _memory(str(store), embedder, encryption=key) as mem:
        assert [c.name for c in mem.concepts(namespace="p")] == ["Zorbaxqy"]
        hits = mem.search("a pet", namespace="p", concept="Zorbaxqy")
        assert [h.engram.text for h in hits] == ["Quillfenwick the dog chewed a shoe"]
        mem.forget_namespace("p")
        assert mem.concepts(namespace="p") == []


def test_forget_namespace_leaves_no_concept_canary_in_a_plain_store(
    tmp_path: Path, embedder: Embedder
) -> None:
    store = tmp_path / "plain"
    with _memory(str(store), embedder) as mem:
        mem.teach("Zorbaxqy", ["my Plumtrazzle puppy barks at night"], namespace="p")
        mem.add("Tom likes chess.", namespace="other")
    assert where_found(store_files(store), ["Plumtrazzle"])
    with _memory(str(store), embedder) as mem:
        mem.forget_namespace("p")
    assert where_found(store_files(store), ["Zorbaxqy", "Plumtrazzle"]) == []


def test_a_large_namespace_draws_its_candidates_from_the_concept(
    tmp_path: Path, embedder: Embedder
) -> None:
    # every search through the candidates (two stages), as a namespace past the pool does
    with _memory(str(tmp_path / "s"), embedder, recall_exhaustive=0) as mem:
        _taught(mem)
        pets = {h.engram.text for h in mem.search("what happened", namespace="u", concept="pets")}
        assert pets == set(TURNS[:2])


def test_feedback_on_a_concept_s_hits_refines_it(location: str, embedder: Embedder) -> None:
    with _memory(location, embedder) as mem:
        _taught(mem)
        hits = mem.search("what happened", namespace="u", concept="pets")
        by_text = {h.engram.text: h for h in hits}
        mem.feedback(by_text[TURNS[0]], 1.0, namespace="u")  # useful: one more example
        pets = next(c for c in mem.concepts(namespace="u") if c.name == "pets")
        assert pets.examples == (*PETS, TURNS[0])
        mem.feedback(by_text[TURNS[1]], -1.0, namespace="u")  # not useful: left out
        pets = next(c for c in mem.concepts(namespace="u") if c.name == "pets")
        assert pets.tagged == 1
        again = {h.engram.text for h in mem.search("what happened", namespace="u", concept="pets")}
        assert again == {TURNS[0]}
        # feedback on a search without a concept leaves the concepts as they are
        plain = mem.search("kitten", namespace="u")
        mem.feedback(plain[0], -1.0, namespace="u")
        assert next(c for c in mem.concepts(namespace="u") if c.name == "pets") == pets


# -- the maths ---------------------------------------------------------------------------


def _unit_rows(n: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, 16)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@given(st.integers(1, 12), st.integers(0, 10_000))
def test_a_prototype_is_a_unit_vector_and_the_threshold_stays_in_bounds(n: int, seed: int) -> None:
    examples = _unit_rows(n, seed)
    assert float(np.linalg.norm(prototype(examples))) == pytest.approx(1.0, abs=1e-5)
    value = threshold(examples)
    assert value == FLOOR if n == 1 else LOWEST <= value <= HIGHEST


def test_one_example_is_its_own_prototype_and_zero_vectors_belong_nowhere() -> None:
    examples = _unit_rows(3, 1)
    protos = Prototypes.of([("a", examples[:1]), ("b", examples[1:])])
    assert np.allclose(protos.matrix[0], examples[0], atol=1e-6)
    member = protos.membership(np.vstack([examples[:1], np.zeros((1, 16), np.float32)]))
    assert member.tolist() == [[True, False], [False, False]]
    assert protos.nearest(examples[:1]) == ["a"]
    assert Prototypes.of([]).nearest(examples) == [None, None, None]
