"""The bounded mapping every per-namespace cache uses (docs/limits.md, "Caches")."""

from __future__ import annotations

import pytest

from engramdb.bounded import Bounded


def test_writing_past_the_bound_drops_the_least_recently_used() -> None:
    cache: Bounded[str, int] = Bounded(2)
    cache["a"] = 1
    cache["b"] = 2
    assert cache["a"] == 1  # "a" is now the newest
    cache["c"] = 3
    assert dict(cache) == {"a": 1, "c": 3}
    assert cache.get_or_make("d", lambda: 4) == 4
    assert len(cache) == 2
    assert "a" not in cache


def test_get_or_make_keeps_what_is_there() -> None:
    cache: Bounded[str, list[int]] = Bounded(3)
    first = cache.get_or_make("a", list)
    assert cache.get_or_make("a", list) is first


def test_entries_can_be_deleted_while_iterating() -> None:
    cache: Bounded[str, int] = Bounded(5)
    for i, key in enumerate("abcde"):
        cache[key] = i
    for key in cache:
        if cache[key] % 2:
            del cache[key]
    assert sorted(cache) == ["a", "c", "e"]


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Bounded(0)
