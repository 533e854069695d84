"""Delete by filter (docs/security.md, "Delete by filter"), on SQLite and PostgreSQL:
what it takes, what it leaves, what a dry run reports, and what it refuses."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import Deletion, EncryptionKey, InvalidInputError, Memory, Settings
from engramdb.filters import parse
from engramdb.security.crypto import generate_key
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
SPEAKERS = ("Maya", "Tom", "Ana")
TOPICS = ("work", "home", "trip")


@pytest.fixture
def mem(location: str) -> Iterator[Memory]:
    settings = Settings(consolidation_batch=4)
    with Memory(location, embedder=HashEmbedder(), settings=settings) as memory:
        yield memory


def _conversation(session: str, place: str) -> list[dict[str, Any]]:
    said = [
        ("Maya", f"I live in {place} and I love sushi."),
        ("Tom", "Nice! What do you do these days?"),
        ("Maya", "I work at Initech. My partner is Alex."),
        ("Tom", "Sounds like a good life."),
        ("Maya", "We have 2 dogs, which keeps us busy."),
        ("Tom", "I visited Lisbon last spring."),
        ("Maya", "The weather has been lovely lately."),
    ]
    return [
        {
            "text": text,
            "speaker": speaker,
            "session": session,
            "occurred_at": T0 + timedelta(days=int(session[1:]), minutes=i),
            "metadata": {"topic": TOPICS[i % len(TOPICS)], "n": i},
        }
        for i, (speaker, text) in enumerate(said)
    ]


def _ids(memory: Memory, namespace: str) -> set[str]:
    return {e.id for e in memory.store.iter_engrams(namespace)}


def test_a_dry_run_reports_what_the_delete_then_deletes_and_changes_nothing(mem: Memory) -> None:
    mem.add_many(_conversation("s1", "Lisbon"), namespace="u")
    mem.add_many(_conversation("s2", "Porto"), namespace="u")
    mem.add_many(_conversation("s1", "Lisbon"), namespace="other")
    mem.consolidate(namespace="u")
    before = _ids(mem, "u")
    planned = mem.delete_where(namespace="u", where={"session": "s1"}, dry_run=True)
    assert planned.dry_run
    assert planned.ids
    assert planned.derived  # the session's summary and facts
    assert _ids(mem, "u") == before
    done = mem.delete_where(namespace="u", where={"session": "s1"})
    assert done == Deletion("u", planned.ids, planned.derived, dry_run=False)
    assert done.count == len(done.ids) + len(done.derived)
    assert _ids(mem, "u") == before - set(done.ids) - set(done.derived)
    assert {e.session for e in mem.store.iter_engrams("u") if e.kind == "episode"} == {"s2"}
    assert len(_ids(mem, "other")) == 7  # the same session in another namespace stays
    assert mem.check() == []
    for gone in done.ids:
        assert mem.store.get("u", gone) is None


def test_it_takes_the_derived_memories_a_delete_would_take(mem: Memory) -> None:
    turns = mem.add_many(_conversation("s1", "Lisbon"), namespace="u")
    mem.consolidate(namespace="u")
    derived = {e["id"] for e in mem.export(namespace="u") if e["kind"] != "episode"}
    assert derived
    report = mem.delete_where(namespace="u", kinds="episode")
    assert set(report.ids) == {e.id for e in turns}
    assert set(report.derived) == derived  # every fact and summary had only these sources
    assert mem.namespaces() == []


def test_kinds_and_time_bounds_narrow_what_goes(mem: Memory) -> None:
    mem.add_many(_conversation("s1", "Lisbon") + _conversation("s2", "Porto"), namespace="u")
    mem.consolidate(namespace="u")
    kinds = {e.kind for e in mem.store.iter_engrams("u")}
    assert {"episode", "fact", "summary"} <= kinds
    facts = mem.delete_where(namespace="u", kinds=["fact"])
    assert facts.ids
    assert not facts.derived
    assert {e.kind for e in mem.store.iter_engrams("u")} == kinds - {"fact"}
    cut = T0 + timedelta(days=2)
    early = mem.delete_where(namespace="u", kinds="episode", occurred_before=cut)
    left = [e for e in mem.store.iter_engrams("u") if e.kind == "episode"]
    assert len(early.ids) == 7
    assert left
    assert all(e.occurred_at >= cut for e in left)


@pytest.mark.parametrize(
    "options",
    [{}, {"where": {}}, {"where": None, "kinds": None}, {"dry_run": True}],
    ids=["nothing", "empty-where", "nones", "dry-run-only"],
)
def test_an_empty_filter_is_refused(mem: Memory, options: dict[str, Any]) -> None:
    mem.add("keep me", namespace="u")
    with pytest.raises(InvalidInputError, match="forget_namespace"):
        mem.delete_where(namespace="u", **options)
    assert len(_ids(mem, "u")) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"where": {"colour": "red"}}, "colour"),
        ({"kinds": "memo"}, "kinds"),
        ({"occurred_before": datetime(2024, 1, 1)}, "timezone"),  # noqa: DTZ001
        ({"where": {"speaker": "Maya"}, "dry_run": "yes"}, "dry_run"),
    ],
)
def test_a_malformed_filter_is_invalid_input(
    mem: Memory, options: dict[str, Any], message: str
) -> None:
    mem.add("keep me", namespace="u", speaker="Maya")
    with pytest.raises(InvalidInputError, match=message):
        mem.delete_where(namespace="u", **options)
    assert len(_ids(mem, "u")) == 1


def test_nothing_matching_deletes_nothing(mem: Memory) -> None:
    mem.add("keep me", namespace="u", speaker="Maya")
    assert mem.delete_where(namespace="u", where={"speaker": "Tom"}) == Deletion("u")
    assert mem.delete_where(namespace="empty", kinds="episode") == Deletion("empty")
    assert len(_ids(mem, "u")) == 1


def test_on_an_encrypted_namespace_equality_works_through_blind_tokens(tmp_path: Path) -> None:
    key = EncryptionKey.from_text(generate_key())
    settings = Settings(encryption=key)
    with Memory(str(tmp_path / "s"), embedder=HashEmbedder(), settings=settings) as mem:
        mem.add_many(_conversation("s1", "Lisbon") + _conversation("s2", "Porto"), namespace="u")
        report = mem.delete_where(
            namespace="u", where={"speaker": "Maya", "metadata.topic": {"$in": ["work", "trip"]}}
        )
        gone = mem.store.get_many("u", list(report.ids))
        assert len(report.ids) == 6
        assert gone == {}
        assert all(
            e.speaker != "Maya" or e.metadata["topic"] == "home"
            for e in mem.store.iter_engrams("u")
        )
        with pytest.raises(InvalidInputError, match="encrypted"):
            mem.delete_where(namespace="u", where={"metadata.n": {"$gt": 1}})
        assert mem.check() == []


# -- never outside the namespace, never what does not match --------------------------------

_counter = itertools.count()
_values = st.sampled_from(TOPICS)
_conditions = st.one_of(
    st.builds(lambda s: {"speaker": s}, st.sampled_from(SPEAKERS)),
    st.builds(lambda s: {"speaker": {"$ne": s}}, st.sampled_from(SPEAKERS)),
    st.builds(lambda t: {"metadata.topic": {"$in": t}}, st.lists(_values, min_size=1)),
    st.builds(lambda t: {"metadata.topic": {"$nin": t}}, st.lists(_values, min_size=1)),
    st.builds(lambda n: {"metadata.n": {"$gte": n}}, st.integers(0, 5)),
    st.builds(lambda n: {"session": f"s{n}"}, st.integers(0, 2)),
)
_memories = st.lists(
    st.tuples(
        st.sampled_from(SPEAKERS), st.integers(0, 2), _values, st.integers(0, 5), st.integers(0, 9)
    ),
    min_size=1,
    max_size=12,
)


def _property(mem: Memory, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        rows=_memories,
        where=st.lists(_conditions, max_size=2),
        before=st.none() | st.integers(0, 9),
        kinds=st.none() | st.just("episode"),
    )
    def check(
        rows: list[tuple[str, int, str, int, int]],
        where: list[dict[str, Any]],
        before: int | None,
        kinds: str | None,
    ) -> None:
        if not where and before is None and kinds is None:
            return  # refused: the test above
        n = next(_counter)
        target, other = f"t{n}", f"o{n}"
        items = [
            {
                "text": f"note {i} by {speaker}",
                "speaker": speaker,
                "session": f"s{session}",
                "metadata": {"topic": topic, "n": number},
                "occurred_at": T0 + timedelta(days=day),
            }
            for i, (speaker, session, topic, number, day) in enumerate(rows)
        ]
        for namespace in (target, other):
            mem.add_many(items, namespace=namespace)
        merged: dict[str, Any] = {}
        for condition in where:
            merged |= condition
        bound = None if before is None else T0 + timedelta(days=before)
        chosen = parse(merged, occurred_before=bound)
        expected = {
            e.id
            for e in mem.store.iter_engrams(target)
            if chosen.matches(
                speaker=e.speaker,
                session=e.session,
                metadata=e.metadata,
                occurred_at=e.occurred_at,
            )
        }
        kept = {e.id: e for e in mem.store.iter_engrams(target)}
        elsewhere = {e.id: e for e in mem.store.iter_engrams(other)}
        report = mem.delete_where(
            namespace=target, where=merged or None, occurred_before=bound, kinds=kinds
        )
        assert set(report.ids) == expected
        assert report.derived == ()
        assert {e.id: e for e in mem.store.iter_engrams(other)} == elsewhere
        left = {e.id: e for e in mem.store.iter_engrams(target)}
        assert left == {i: e for i, e in kept.items() if i not in expected}

    check()


@pytest.mark.parametrize(
    ("kind", "examples"),
    [("sqlite", 60), pytest.param("postgres", 15, marks=pytest.mark.postgres)],
)
def test_delete_where_never_touches_another_namespace_or_what_does_not_match(
    place: Any, kind: str, examples: int
) -> None:
    with Memory(place(kind), embedder=HashEmbedder()) as mem:
        _property(mem, examples)
