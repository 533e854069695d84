"""``mem.context`` shows the pinned profile first: all of it when it fits the budget,
and says what it left out when it does not (docs/profile.md, "In a context")."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import LimitExceededError, Memory, ProfileEntry
from engramdb.recall.prompt import pinned_first, profile_items
from engramdb.recall.tokens import default_counter

from .conftest import T0

COUNT = default_counter().count

keys = st.from_regex(r"[a-z][a-z0-9_.-]{0,15}", fullmatch=True)
texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=120
).filter(str.strip)


def _pinned(mem: Memory, profile: dict[str, str]) -> None:
    """The namespace's profile becomes ``profile`` (as much of it as the limits take)."""
    for entry in mem.profile(namespace="n"):
        mem.unpin(entry.key, namespace="n")
    for key, text in profile.items():
        try:
            mem.pin(key, text, namespace="n")
        except LimitExceededError:
            break


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(profile=st.dictionaries(keys, texts, max_size=12), budget=st.integers(1, 400))
def test_the_context_holds_every_pinned_entry_that_fits_and_names_the_rest(
    mem: Memory, profile: dict[str, str], budget: int
) -> None:
    _pinned(mem, profile)
    entries = mem.profile(namespace="n")
    lines = [f"{e.key}: {e.text}" for e in entries]  # by key
    fits = sum(i.tokens for i in profile_items(entries, COUNT)) <= budget
    bundle = mem.context(
        "what did she paint?", namespace="n", session="s1", budget_tokens=budget, now=T0
    )
    shown = [i.text for i in bundle.of_kind("profile")]
    assert bundle.tokens <= budget
    assert COUNT(bundle.render()) == bundle.tokens
    if fits:
        assert shown == lines, "a profile that fits the budget lost an entry"
        assert bundle.profile_left_out == ()
        assert not bundle.of_kind("note")
    else:
        assert bundle.profile_left_out, "a profile over the budget did not say what it left out"
        # entries in key order until the budget, then the keys left out: every key once
        assert shown == lines[: len(shown)]
        assert [e.key for e in entries[len(shown) :]] == list(bundle.profile_left_out)
        for note in bundle.of_kind("note"):
            assert note.text.endswith(", ".join(bundle.profile_left_out))
    # the profile leads: nothing comes before its entries and its note
    kinds = [i.kind for i in bundle.items]
    leading = len(shown) + len(bundle.of_kind("note"))
    assert set(kinds[:leading]) <= {"profile", "note"}
    assert not {"profile", "note"} & set(kinds[leading:])


def test_a_context_without_a_profile_is_as_before(mem: Memory) -> None:
    bundle = mem.context("what did she paint?", namespace="n", budget_tokens=200, now=T0)
    assert bundle.profile_left_out == ()
    assert not bundle.of_kind("profile")


def test_the_profile_is_paid_for_before_recall(mem: Memory) -> None:
    mem.pin("name", "Caroline; she/her", namespace="n")
    small = mem.context("what did she paint?", namespace="n", budget_tokens=12, now=T0)
    assert [i.kind for i in small.items] == ["profile"]
    assert small.render() == "[profile] name: Caroline; she/her"


def test_a_budget_too_small_for_the_note_leaves_it_to_the_field() -> None:
    entries = [ProfileEntry(k, "a fairly long line of text " * 3, 1, T0) for k in "abc"]
    shown, left_out = pinned_first(entries, 1, COUNT)
    assert (shown, left_out) == ([], ("a", "b", "c"))
    shown, left_out = pinned_first(entries, 40, COUNT)
    assert [i.kind for i in shown] == ["profile", "note"]
    assert left_out == ("b", "c")
    assert shown[-1].line() == "[note] pinned profile entries left out for the budget: b, c"
    assert sum(i.tokens for i in shown) <= 40
