"""The pinned profile through ``Memory`` on both stores: versions, limits, reads as of a
time, proposals from consolidation, export and import (docs/profile.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from engramdb import (
    FixedClock,
    InvalidInputError,
    LimitExceededError,
    Memory,
    NotFoundError,
    ProfileEntry,
    Settings,
)
from engramdb.pinned import MAX_ENTRIES, MAX_TEXT_CHARS, MAX_TOKENS
from engramdb.recall.tokens import default_counter
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def mem(location: str, clock: FixedClock) -> Iterator[Memory]:
    settings = Settings(consolidation_batch=4)
    with Memory(location, embedder=HashEmbedder(), settings=settings, clock=clock) as memory:
        yield memory


def test_pinning_a_pinned_key_supersedes_with_a_validity_interval(
    mem: Memory, clock: FixedClock
) -> None:
    first = mem.pin("name", "Maya Lopez", namespace="u")
    clock.advance(DAY)
    second = mem.pin("name", "Maya", namespace="u")
    assert (first.version, second.version) == (1, 2)
    assert mem.profile(namespace="u") == [second]
    assert mem.profile(namespace="u", history=True) == [
        ProfileEntry("name", "Maya Lopez", 1, T0, T0 + DAY),
        ProfileEntry("name", "Maya", 2, T0 + DAY),
    ]
    assert mem.profile(namespace="u", as_of=T0 + timedelta(hours=1)) == [
        ProfileEntry("name", "Maya Lopez", 1, T0, T0 + DAY)
    ]
    assert mem.profile(namespace="u", as_of=T0 - DAY) == []


def test_the_same_text_again_changes_nothing(mem: Memory, clock: FixedClock) -> None:
    first = mem.pin("diet", "vegetarian", namespace="u")
    clock.advance(DAY)
    assert mem.pin("diet", "  vegetarian ", namespace="u") == first
    assert mem.profile(namespace="u", history=True) == [first]


def test_unpin_closes_the_interval_and_a_later_pin_is_the_next_version(
    mem: Memory, clock: FixedClock
) -> None:
    mem.pin("diet", "vegetarian", namespace="u")
    clock.advance(DAY)
    closed = mem.unpin("diet", namespace="u")
    assert closed.valid_to == T0 + DAY
    assert mem.profile(namespace="u") == []
    with pytest.raises(NotFoundError, match="no profile entry 'diet'"):
        mem.unpin("diet", namespace="u")
    clock.advance(DAY)
    again = mem.pin("diet", "vegan", namespace="u")
    assert again.version == 2
    assert [e.version for e in mem.profile(namespace="u", history=True)] == [1, 2]
    assert mem.profile(namespace="u", as_of=T0 + DAY + timedelta(hours=1)) == []


def test_a_clock_gone_back_cannot_make_versions_overlap(mem: Memory, clock: FixedClock) -> None:
    mem.pin("name", "Maya", namespace="u")
    clock.set(T0 - DAY)
    with pytest.raises(InvalidInputError, match="must not overlap"):
        mem.pin("name", "Maya L.", namespace="u")
    assert [e.text for e in mem.profile(namespace="u", history=True)] == ["Maya"]


def test_namespaces_have_profiles_of_their_own(mem: Memory) -> None:
    mem.pin("name", "Maya", namespace="a")
    mem.pin("name", "Tom", namespace="b")
    assert [e.text for e in mem.profile(namespace="a")] == ["Maya"]
    assert [e.text for e in mem.profile(namespace="b")] == ["Tom"]


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("", "must be letters"),
        ("-name", "must be letters"),
        ("na me", "must be letters"),
        ("a/b", "must be letters"),
        ("k" * 65, "the limit is 64"),
        (3, "must be a string"),
    ],
)
def test_a_malformed_key_is_refused(mem: Memory, key: object, error: str) -> None:
    with pytest.raises(InvalidInputError, match=error):
        mem.pin(key, "text", namespace="u")  # type: ignore[arg-type]


def test_the_limits_refuse_and_write_nothing(mem: Memory) -> None:
    with pytest.raises(InvalidInputError, match="must not be empty"):
        mem.pin("empty", "   ", namespace="u")
    with pytest.raises(LimitExceededError, match="limit is 500"):
        mem.pin("long", "x" * (MAX_TEXT_CHARS + 1), namespace="u")
    for i in range(MAX_ENTRIES):
        mem.pin(f"k{i:02d}", "ok", namespace="u")
    with pytest.raises(LimitExceededError, match=f"limit is {MAX_ENTRIES}"):
        mem.pin("one-more", "ok", namespace="u")
    assert len(mem.profile(namespace="u")) == MAX_ENTRIES
    mem.pin("k00", "changed", namespace="u")  # a new version of a pinned key is no new entry
    dense = "!" * 200  # a token a character: short texts, many tokens
    assert default_counter().count(f"[profile] w0: {dense}") > MAX_TOKENS // 3
    for i in range(2):
        mem.pin(f"w{i}", dense, namespace="v")
    with pytest.raises(LimitExceededError, match=f"the limit is {MAX_TOKENS}"):
        mem.pin("w2", dense, namespace="v")
    assert [e.key for e in mem.profile(namespace="v")] == ["w0", "w1"]


def test_as_of_and_history_together_are_refused(mem: Memory) -> None:
    with pytest.raises(InvalidInputError, match="as_of and history"):
        mem.profile(namespace="u", as_of=T0, history=True)


_SAID = [
    ("Maya", "I live in Boston."),
    ("Tom", "Nice city."),
    ("Maya", "I'm a nurse at the children's hospital."),
    ("Maya", "Boston is home, I live in Boston for good."),
]


def _consolidated(mem: Memory) -> None:
    mem.add_many(
        [
            {"text": t, "speaker": s, "session": "s1", "occurred_at": T0 + i * timedelta(minutes=1)}
            for i, (s, t) in enumerate(_SAID)
        ],
        namespace="u",
    )
    mem.consolidate(namespace="u")


def test_consolidation_proposes_stable_facts_and_pins_nothing(mem: Memory) -> None:
    _consolidated(mem)
    assert mem.profile(namespace="u") == []
    proposals = mem.profile_proposals(namespace="u")
    # stated twice: proposed; the job, stated once, is not yet stable
    assert [(p.key, p.text, p.pinned) for p in proposals] == [
        ("maya.residence", "Maya lives in Boston", None)
    ]
    proposal = proposals[0]
    accepted = mem.pin(proposal.key, proposal.text, namespace="u", source_id=proposal.fact_id)
    assert accepted.source_id == proposal.fact_id
    assert mem.profile_proposals(namespace="u") == [], "an accepted proposal is proposed again"


def test_a_proposal_never_replaces_a_pinned_entry_silently(mem: Memory) -> None:
    mem.pin("maya.residence", "Lives in Lisbon now", namespace="u")
    _consolidated(mem)
    (proposal,) = mem.profile_proposals(namespace="u")
    assert proposal.pinned == "Lives in Lisbon now"
    assert [e.text for e in mem.profile(namespace="u")] == ["Lives in Lisbon now"]


def test_a_source_must_be_a_fact_of_the_namespace(mem: Memory) -> None:
    episode = mem.add("I live in Boston.", namespace="u")
    with pytest.raises(NotFoundError, match="no fact"):
        mem.pin("home", "Boston", namespace="u", source_id=episode.id)
    with pytest.raises(NotFoundError, match="no fact"):
        mem.pin("home", "Boston", namespace="u", source_id="0" * 32)


def test_export_and_import_carry_every_version(
    mem: Memory, clock: FixedClock, location: str
) -> None:
    mem.add("Something happened.", namespace="u")
    mem.pin("name", "Maya Lopez", namespace="u")
    mem.pin("name", "Maya", namespace="only-pins")  # a namespace without memories
    clock.advance(DAY)
    mem.pin("name", "Maya", namespace="u")
    mem.unpin("name", namespace="only-pins")
    records = list(mem.export())
    assert sum("profile_entry" in r for r in records) == 3
    with Memory(":memory:", embedder=HashEmbedder()) as copy:
        assert copy.import_records(records) == len(records) == 4  # 1 memory, 3 versions
        for namespace in ("u", "only-pins"):
            assert copy.profile(namespace=namespace, history=True) == mem.profile(
                namespace=namespace, history=True
            )
        with pytest.raises(InvalidInputError, match="already"):
            copy.import_records([r for r in records if "profile_entry" in r])
    with Memory(":memory:", embedder=HashEmbedder()) as copy:
        bad = {"namespace": "u", "profile_entry": {**records[-1]["profile_entry"], "key": "a b"}}
        with pytest.raises(InvalidInputError, match="record 0"):
            copy.import_records([bad])
