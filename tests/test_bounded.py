"""The bounded mapping every per-namespace cache uses (docs/limits.md, "Caches")."""

from __future__ import annotations

import subprocess
import sys

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


def test_release_free_memory_hands_freed_heap_back() -> None:
    # Blocks below glibc's mmap threshold come from its heap; freeing all but the
    # last leaves the heap's free middle resident until it is trimmed.
    code = (
        "from pathlib import Path; import resource;"
        "from engramdb.bounded import release_free_memory;"
        "rss = lambda: int(Path('/proc/self/statm').read_text().split()[1])"
        " * resource.getpagesize() / 2**20;"
        "blocks = [bytearray(b'x' * 60_000) for _ in range(4_000)]; keep = blocks[-1];"
        "del blocks; freed = rss(); release_free_memory(); print(freed - rss())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert float(result.stdout) > 150  # of the 229 MiB freed
