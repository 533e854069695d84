"""The bounded mapping every per-namespace cache uses (docs/limits.md, "Caches")."""

from __future__ import annotations

import os
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


_COUNT_HEAPS = """
import ctypes, ctypes.util, os, sys, tempfile, threading
from engramdb.bounded import limit_arenas
if sys.argv[1] == "limit":
    assert limit_arenas(2)
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
start = threading.Barrier(8)
def work():
    start.wait()  # all at once: glibc gives a contended thread a heap of its own
    for _ in range(200):
        blocks = [bytearray(1_000) for _ in range(500)]
        del blocks
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
path = tempfile.mktemp()
fp = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, fp)
libc.fclose(fp)
print(open(path).read().count("<heap nr="))
os.unlink(path)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_limit_arenas_keeps_threads_to_two_heaps() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    heaps = {
        mode: int(
            subprocess.run(
                [sys.executable, "-c", _COUNT_HEAPS, mode],
                capture_output=True, text=True, check=True, env=env,
            ).stdout
        )
        for mode in ("limit", "default")
    }  # fmt: skip
    assert heaps["limit"] <= 2
    assert heaps["default"] > 2  # the test can tell: without the limit threads get more


def test_limit_arenas_leaves_the_operators_setting() -> None:
    code = "from engramdb.bounded import limit_arenas; print(limit_arenas(2))"
    env = dict(os.environ, MALLOC_ARENA_MAX="4")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "False"
