"""The Memory facade with the real packaged model: bad input, isolation, search, history.

One Memory serves the whole module (each test works in namespaces of its own),
so the model loads once and the tests stay fast. Bad input must raise its typed
error and write nothing, in any namespace.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engramdb import (
    FixedClock,
    InvalidInputError,
    LimitExceededError,
    Memory,
    NotFoundError,
    StoreError,
)
from engramdb.embed import Embedder

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
NAIVE = datetime(2024, 5, 1, 12, 0)  # noqa: DTZ001 - the point of the test


@pytest.fixture(scope="module")
def mem(embedder: Embedder, module_location: str) -> Iterator[Memory]:
    """On each store (tests/conftest.py)."""
    memory = Memory(module_location, embedder=embedder, clock=FixedClock(T0))
    yield memory
    memory.close()


def fresh_namespace(label: str = "t") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


# -- bad input: typed error, nothing written -------------------------------------


@dataclass(frozen=True)
class Seed:
    namespace: str
    own: str  # a memory id in ``namespace``
    other_namespace: str
    foreign: str  # a memory id in ``other_namespace``


@pytest.fixture(scope="module")
def seed(mem: Memory) -> Seed:
    ns, other = fresh_namespace("bad"), fresh_namespace("other")
    own = mem.add("my own memory", namespace=ns, session="s")
    foreign = mem.add("someone else's memory", namespace=other, session="s")
    return Seed(ns, own.id, other, foreign.id)


def footprint(mem: Memory) -> list[tuple[str, str, int, str]]:
    return [(e.namespace, e.id, e.version, e.text) for e in mem.store.iter_engrams()]


class Unserialisable:
    pass


Call = Callable[[Memory, Seed], object]
BAD_INPUT: list[tuple[str, Call, type[Exception]]] = [
    # text
    ("empty text", lambda m, s: m.add("", namespace=s.namespace), InvalidInputError),
    ("blank text", lambda m, s: m.add(" \n\t ", namespace=s.namespace), InvalidInputError),
    ("int text", lambda m, s: m.add(42, namespace=s.namespace), InvalidInputError),  # type: ignore[arg-type]
    ("None text", lambda m, s: m.add(None, namespace=s.namespace), InvalidInputError),  # type: ignore[arg-type]
    ("bytes text", lambda m, s: m.add(b"x", namespace=s.namespace), InvalidInputError),  # type: ignore[arg-type]
    ("NUL in text", lambda m, s: m.add("a\x00b", namespace=s.namespace), InvalidInputError),
    ("text too long", lambda m, s: m.add("x" * 32_001, namespace=s.namespace), LimitExceededError),
    # times
    (
        "naive occurred_at",
        lambda m, s: m.add("x", namespace=s.namespace, occurred_at=NAIVE),
        InvalidInputError,
    ),
    (
        "string occurred_at",
        lambda m, s: m.add("x", namespace=s.namespace, occurred_at="2024-05-01"),
        InvalidInputError,
    ),  # type: ignore[arg-type]
    (
        "naive now in search",
        lambda m, s: m.search("x", namespace=s.namespace, now=NAIVE),
        InvalidInputError,
    ),
    (
        "naive now in update",
        lambda m, s: m.update(s.own, namespace=s.namespace, text="y", now=NAIVE),
        InvalidInputError,
    ),
    (
        "update before valid_from",
        lambda m, s: m.update(s.own, namespace=s.namespace, text="y", now=T0 - timedelta(days=1)),
        InvalidInputError,
    ),
    # labels
    ("namespace with space", lambda m, s: m.add("x", namespace="a b"), InvalidInputError),
    ("empty namespace", lambda m, s: m.add("x", namespace=""), InvalidInputError),
    ("path namespace", lambda m, s: m.add("x", namespace="../etc"), InvalidInputError),
    ("newline namespace", lambda m, s: m.add("x", namespace="ns\n"), InvalidInputError),
    ("int namespace", lambda m, s: m.add("x", namespace=5), InvalidInputError),  # type: ignore[arg-type]
    ("long namespace", lambda m, s: m.add("x", namespace="n" * 129), LimitExceededError),
    (
        "empty session",
        lambda m, s: m.add("x", namespace=s.namespace, session=""),
        InvalidInputError,
    ),
    (
        "two-line speaker",
        lambda m, s: m.add("x", namespace=s.namespace, speaker="a\nb"),
        InvalidInputError,
    ),
    (
        "long speaker",
        lambda m, s: m.add("x", namespace=s.namespace, speaker="s" * 129),
        LimitExceededError,
    ),
    ("malformed forget", lambda m, s: m.forget_namespace("a b"), InvalidInputError),
    ("malformed search namespace", lambda m, s: m.search("x", namespace="*"), InvalidInputError),
    # metadata
    (
        "set metadata",
        lambda m, s: m.add("x", namespace=s.namespace, metadata={"s": {1}}),
        InvalidInputError,
    ),
    (
        "object metadata",
        lambda m, s: m.add("x", namespace=s.namespace, metadata={"o": Unserialisable()}),
        InvalidInputError,
    ),
    (
        "NaN metadata",
        lambda m, s: m.add("x", namespace=s.namespace, metadata={"n": math.nan}),
        InvalidInputError,
    ),
    (
        "int key metadata",
        lambda m, s: m.add("x", namespace=s.namespace, metadata={1: "x"}),
        InvalidInputError,
    ),
    (
        "list metadata",
        lambda m, s: m.add("x", namespace=s.namespace, metadata=[1]),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    (
        "metadata too large",
        lambda m, s: m.add("x", namespace=s.namespace, metadata={"b": "x" * 65_536}),
        LimitExceededError,
    ),
    (
        "NaN metadata in update",
        lambda m, s: m.update(s.own, namespace=s.namespace, metadata={"n": math.inf}),
        InvalidInputError,
    ),
    # batches
    (
        "batch too large",
        lambda m, s: m.add_many([{"text": "x"}] * 10_001, namespace=s.namespace),
        LimitExceededError,
    ),
    (
        "bad last item",
        lambda m, s: m.add_many(
            [{"text": "fine one"}, {"text": "fine two"}, {"text": ""}], namespace=s.namespace
        ),
        InvalidInputError,
    ),
    (
        "unknown item key",
        lambda m, s: m.add_many([{"text": "x", "colour": "red"}], namespace=s.namespace),
        InvalidInputError,
    ),
    (
        "item not a mapping",
        lambda m, s: m.add_many([{"text": "x"}, "y"], namespace=s.namespace),  # type: ignore[list-item]
        InvalidInputError,
    ),
    (
        "items a string",
        lambda m, s: m.add_many("text", namespace=s.namespace),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    # search options
    ("empty query", lambda m, s: m.search("", namespace=s.namespace), InvalidInputError),
    (
        "query too long",
        lambda m, s: m.search("q" * 4_001, namespace=s.namespace),
        LimitExceededError,
    ),
    ("limit zero", lambda m, s: m.search("x", namespace=s.namespace, limit=0), InvalidInputError),
    (
        "limit too large",
        lambda m, s: m.search("x", namespace=s.namespace, limit=1_001),
        LimitExceededError,
    ),
    (
        "limit a string",
        lambda m, s: m.search("x", namespace=s.namespace, limit="5"),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    (
        "neighbours negative",
        lambda m, s: m.search("x", namespace=s.namespace, neighbours=-1),
        InvalidInputError,
    ),
    # ids: unknown, malformed, or of another namespace
    ("get unknown id", lambda m, s: m.get("f" * 32, namespace=s.namespace), NotFoundError),
    ("get malformed id", lambda m, s: m.get("nope", namespace=s.namespace), InvalidInputError),
    ("get foreign id", lambda m, s: m.get(s.foreign, namespace=s.namespace), NotFoundError),
    (
        "update unknown id",
        lambda m, s: m.update("f" * 32, namespace=s.namespace, text="y"),
        NotFoundError,
    ),
    (
        "update foreign id",
        lambda m, s: m.update(s.foreign, namespace=s.namespace, text="y"),
        NotFoundError,
    ),
    ("delete unknown id", lambda m, s: m.delete("f" * 32, namespace=s.namespace), NotFoundError),
    ("delete foreign id", lambda m, s: m.delete(s.foreign, namespace=s.namespace), NotFoundError),
    ("history unknown id", lambda m, s: m.history("f" * 32, namespace=s.namespace), NotFoundError),
    ("history foreign id", lambda m, s: m.history(s.foreign, namespace=s.namespace), NotFoundError),
]


@pytest.mark.parametrize(
    ("call", "error"), [(c, e) for _, c, e in BAD_INPUT], ids=[name for name, _, _ in BAD_INPUT]
)
def test_bad_input_raises_its_typed_error_and_writes_nothing(
    mem: Memory, seed: Seed, call: Call, error: type[Exception]
) -> None:
    before = footprint(mem)
    with pytest.raises(error) as raised:
        call(mem, seed)
    if error is InvalidInputError:  # the narrower type would be a wrong classification
        assert not isinstance(raised.value, LimitExceededError)
    assert footprint(mem) == before
    assert mem.get(seed.foreign, namespace=seed.other_namespace).text == "someone else's memory"
    assert len(mem.history(seed.own, namespace=seed.namespace)) == 1


# -- isolation, as a property -----------------------------------------------------

COMMON = ["I love hiking in the mountains", "My sister lives in Paris", "We adopted a cat"]
TEXTS = st.one_of(
    st.sampled_from(COMMON),  # identical texts across namespaces are the interesting case
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
        str.strip
    ),
)


@settings(max_examples=25, deadline=None)
@given(items=st.lists(st.tuples(st.sampled_from("abc"), TEXTS), min_size=1, max_size=6))
def test_a_namespace_never_sees_another_namespaces_memories(
    mem: Memory, items: list[tuple[str, str]]
) -> None:
    prefix = fresh_namespace("p")
    owned: dict[str, set[str]] = {f"{prefix}-{n}": set() for n in "abc"}
    for name, text in items:
        ns = f"{prefix}-{name}"
        owned[ns].add(mem.add(text, namespace=ns, session="s").id)
    every_id = set().union(*owned.values())
    queries = [text for _, text in items[:3]]
    for ns, ids in owned.items():
        for query in queries:
            hits = mem.search(query, namespace=ns, limit=50, neighbours=1)
            assert {h.engram.id for h in hits} <= ids
            assert all(h.engram.namespace == ns for h in hits)
            assert all(n.id in ids for h in hits for n in h.neighbours)
        for foreign in every_id - ids:
            with pytest.raises(NotFoundError):
                mem.get(foreign, namespace=ns)
            with pytest.raises(NotFoundError):
                mem.history(foreign, namespace=ns)


# -- search -------------------------------------------------------------------------

CONVERSATION = [
    ("s1", "Caroline", "I went to a support group for LGBTQ people yesterday."),
    ("s1", "Melanie", "That sounds brave. How did it feel?"),
    ("s1", "Caroline", "It felt empowering; I want to study counseling."),
    ("s1", "Melanie", "I painted a sunrise over the lake last week."),
    ("s1", "Caroline", "Your painting sounds beautiful."),
    ("s2", "Melanie", "We took the kids camping at the beach."),
    ("s2", "Caroline", "I am researching adoption agencies."),
]


@pytest.fixture(scope="module")
def conversation(mem: Memory) -> tuple[str, list[str]]:
    ns = fresh_namespace("conv")
    engrams = mem.add_many(
        [
            {
                "text": text,
                "session": session,
                "speaker": speaker,
                "occurred_at": T0 - timedelta(days=10 - i),
                "metadata": {"dia_id": f"D:{i}"},
            }
            for i, (session, speaker, text) in enumerate(CONVERSATION)
        ],
        namespace=ns,
    )
    return ns, [e.id for e in engrams]


def test_search_scores_are_attention_weights_with_explanations(
    mem: Memory, conversation: tuple[str, list[str]]
) -> None:
    ns, _ = conversation
    hits = mem.search("What did Caroline want to study?", namespace=ns, limit=5, now=T0)
    assert 1 <= len(hits) <= 5
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert sum(h.score for h in hits) <= 1.0 + 1e-9
    for hit in hits:
        assert 0.0 < hit.score <= 1.0
        shares = [c.share for c in hit.explain.contributions]
        assert math.isclose(sum(shares), 1.0, abs_tol=1e-6)
        assert all(0.0 <= s <= 1.0 for s in shares)
        assert set(hit.explain.paths) <= {"dense", "lexical", "context"}
        assert hit.explain.paths
    # the best match by content; salience may reorder near ties after it (docs/recall.md)
    relevance = {
        h.engram.text: sum(
            c.weight * c.value for c in h.explain.contributions if c.signal != "salience"
        )
        for h in hits
    }
    assert "counseling" in max(relevance, key=lambda text: relevance[text])


def test_search_neighbours_come_from_the_same_session_in_order(
    mem: Memory, conversation: tuple[str, list[str]]
) -> None:
    ns, ids = conversation
    hits = mem.search("painted a sunrise over the lake", namespace=ns, limit=7, neighbours=1)
    [top] = [h for h in hits if h.engram.id == ids[3]]
    assert [n.id for n in top.neighbours] == [ids[2], ids[4]]
    for hit in hits:
        assert len(hit.neighbours) <= 2
        assert all(
            n.session == hit.engram.session and n.id != hit.engram.id for n in hit.neighbours
        )
    assert all(h.neighbours == () for h in mem.search("sunrise", namespace=ns, limit=3))


def test_search_of_an_empty_namespace_returns_nothing(mem: Memory) -> None:
    assert mem.search("anything at all", namespace=fresh_namespace()) == []


def test_search_after_update_finds_the_new_text_not_the_old(mem: Memory) -> None:
    ns = fresh_namespace("upd")
    mem.add("We went sailing on the weekend.", namespace=ns)
    pet = mem.add("I adopted a golden retriever named Biscuit.", namespace=ns, session="s")
    updated = mem.update(
        pet.id, namespace=ns, text="I adopted a tabby cat named Pepper.", now=T0 + timedelta(days=1)
    )
    assert (updated.version, updated.session, updated.recorded_at) == (2, "s", T0)
    assert mem.get(pet.id, namespace=ns) == updated
    top = mem.search("What is my cat called?", namespace=ns, limit=1)[0]
    assert top.engram.id == pet.id
    assert top.engram.text == updated.text
    for hit in mem.search("golden retriever Biscuit", namespace=ns, limit=10):
        assert "Biscuit" not in hit.engram.text
    old, new = mem.history(pet.id, namespace=ns)
    assert (old.text, new.text) == (pet.text, updated.text)
    assert old.valid_to == new.valid_from == T0 + timedelta(days=1)
    assert new.is_current
    assert not old.is_current


def test_delete_removes_a_memory_from_search_and_history(mem: Memory) -> None:
    ns = fresh_namespace("del")
    keep, gone = mem.add_many(
        [{"text": "The garden has roses."}, {"text": "The garage has a red bicycle."}], namespace=ns
    )
    mem.delete(gone.id, namespace=ns)
    assert [h.engram.id for h in mem.search("red bicycle in the garage", namespace=ns)] == [keep.id]
    with pytest.raises(NotFoundError):
        mem.history(gone.id, namespace=ns)
    assert mem.stats(namespace=ns).versions == 1


def test_forget_namespace_erases_only_that_namespace(mem: Memory) -> None:
    ns, other = fresh_namespace("forget"), fresh_namespace("keep")
    mem.add_many([{"text": "secret one"}, {"text": "secret two"}], namespace=ns)
    kept = mem.add("secret one", namespace=other)
    assert mem.forget_namespace(ns) == 2
    assert ns not in mem.namespaces()
    assert mem.search("secret", namespace=ns) == []
    assert [h.engram.id for h in mem.search("secret", namespace=other)] == [kept.id]


def test_returned_engram_equals_what_get_reads_back(mem: Memory) -> None:
    ns = fresh_namespace("rt")
    when = datetime(2023, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5)))
    added = mem.add(
        "Grüße 🎉 from Zoë",
        namespace=ns,
        session="séance",
        speaker="Zoë",
        occurred_at=when,
        metadata={"nested": {"list": [1, None, "ü"]}},
    )
    assert mem.get(added.id, namespace=ns) == added
    assert added.occurred_at == when
    assert added.occurred_at.utcoffset() == timedelta(0)


# -- export and import ----------------------------------------------------------------


def test_export_then_import_into_a_fresh_memory_round_trips(
    mem: Memory, embedder: Embedder
) -> None:
    ns = fresh_namespace("exp")
    first, _ = mem.add_many(
        [
            {
                "text": "Caroline moved to Sweden 🇸🇪",
                "session": "s1",
                "speaker": "Caroline",
                "metadata": {"dia_id": "D1:1", "tags": ["move", "ü"]},
            },
            {"text": "Melanie runs marathons", "session": "s1", "speaker": "Melanie"},
        ],
        namespace=ns,
    )
    mem.update(
        first.id,
        namespace=ns,
        text="Caroline moved to Norway",
        metadata={"dia_id": "D1:1"},
        now=T0 + timedelta(hours=2),
    )
    exported = list(mem.export(namespace=ns))
    assert [len(r["versions"]) for r in exported] == [2, 1]
    with Memory(":memory:", embedder=embedder, clock=FixedClock(T0 + timedelta(days=9))) as fresh:
        for record in json.loads(json.dumps(exported)):  # through JSON, as a file would go
            fresh.import_record(record)
        assert list(fresh.export(namespace=ns)) == exported
        for record in exported:
            assert fresh.get(record["id"], namespace=ns) == mem.get(record["id"], namespace=ns)
            assert fresh.history(record["id"], namespace=ns) == mem.history(
                record["id"], namespace=ns
            )
        query = "Where did Caroline move?"
        assert [h.engram.id for h in fresh.search(query, namespace=ns, now=T0)] == [
            h.engram.id for h in mem.search(query, namespace=ns, now=T0)
        ]
        with pytest.raises(InvalidInputError):  # importing twice is refused, not duplicated
            fresh.import_record(exported[0])
        assert fresh.stats(namespace=ns).engrams == 2


# -- lifecycle ------------------------------------------------------------------------


def test_context_manager_closes_the_store(embedder: Embedder, tmp_path: Any) -> None:
    with Memory(str(tmp_path / "m.db"), embedder=embedder) as memory:
        added = memory.add("kept on disk", namespace="ns")
    with pytest.raises(StoreError):
        memory.get(added.id, namespace="ns")
    with Memory(str(tmp_path / "m.db"), embedder=embedder) as reopened:
        assert reopened.get(added.id, namespace="ns").text == "kept on disk"


def test_an_early_occurred_at_reads_back(embedder: Embedder) -> None:
    with Memory(":memory:", embedder=embedder) as memory:
        early = datetime(999, 1, 2, tzinfo=timezone.utc)
        added = memory.add("an old chronicle", namespace="ns", occurred_at=early)
        assert memory.get(added.id, namespace="ns").occurred_at == early


def test_check_is_clean_and_reindex_rebuilds_what_search_reads(
    location: str, embedder: Embedder
) -> None:
    with Memory(location, embedder=embedder, clock=FixedClock(T0)) as memory:
        dog = memory.add("I adopted a rescue dog called Pastel.", namespace="u", session="s")
        memory.add("The weather in Lisbon was sunny all week.", namespace="u", session="s")
        memory.add("Tom likes chess.", namespace="other", session="s")
        assert memory.check() == []
        assert memory.reindex(namespace="u") == 2
        assert memory.reindex() == 3
        assert memory.check() == []
        hits = memory.search("Pastel", namespace="u", reinforce=False)
        assert hits[0].engram.id == dog.id
