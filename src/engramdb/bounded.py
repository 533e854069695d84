"""A mapping that keeps at most a fixed number of entries, least recently used first out.

Every cache a long-running process keeps per namespace is one of these, so a
server that sees many namespaces holds a bounded number of them
(docs/limits.md, "Caches"). It owns only the eviction order; it does not lock:
each owner already holds its own lock around it. ``release_free_memory`` hands
the C allocator's free memory back after a large piece of work, and
``limit_arenas`` keeps a threaded server's allocator to a few heaps. It imports
nothing of ours, so every layer may use it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from typing import TypeVar

__all__ = ["SERVER_ARENAS", "Bounded", "limit_arenas", "release_free_memory"]

#: glibc heaps a server process allocates from (``limit_arenas``)
SERVER_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number for the most arenas (malloc.h)

K = TypeVar("K")
V = TypeVar("V")


class Bounded(MutableMapping[K, V]):
    """At most ``max_entries`` entries; reading or writing one makes it the newest,
    and writing past the bound drops the oldest."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __getitem__(self, key: K) -> V:
        value = self._entries[key]
        self._entries.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        del self._entries[key]

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._entries))  # a copy: a caller may delete while iterating

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The entry for ``key``, made (and stored, evicting the oldest) if absent."""
        found = self._entries.get(key)
        if found is None:
            found = make()
            self[key] = found
        else:
            self._entries.move_to_end(key)
        return found


def release_free_memory() -> None:
    """Hand the C allocator's free memory back to the operating system.

    glibc keeps memory freed in the middle of its heaps (and in each thread's
    arena) for reuse, so after a large piece of work (a long embedding batch, a
    consolidation pass) resident memory stays at that work's peak; under mixed
    traffic the peaks add up in steps. ``malloc_trim(0)`` returns every free page
    (about a millisecond). Elsewhere than glibc it does nothing.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None
    return trim


def limit_arenas(arenas: int = SERVER_ARENAS) -> bool:
    """Let glibc's allocator keep at most ``arenas`` heaps; True when it took the limit.

    By default glibc gives threads their own heap (arena) as they contend, up to
    eight per core, and each keeps what was freed in it for reuse: a server whose
    request threads take turns over hours grows a step each time another arena
    reaches a new high. Called once, before the threads start (``engram serve``
    does). ``MALLOC_ARENA_MAX`` in the environment, the operator's own choice,
    wins. Elsewhere than glibc it does nothing and returns False.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return False
    return bool(mallopt(_M_ARENA_MAX, max(int(arenas), 1)))
