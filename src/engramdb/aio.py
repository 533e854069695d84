"""``AsyncMemory``: ``Memory``'s methods as coroutines, for asyncio applications.

Each method of ``MemoryAPI`` is here with the same name, parameters and
result, as a coroutine that runs ``Memory``'s method in a worker thread of
this object's own pool (``threads`` of them) and awaits it, so the event loop
goes on serving other tasks while the store reads, writes and embeds. The
methods are derived from ``Memory``'s, one line each (``_in_thread``), so they
cannot drift from it; ``tests/test_api.py`` checks that every method of
``MemoryAPI`` is here.

Why threads are safe here (docs/async.md): ``Memory`` is made to be shared by
threads, as a server's request threads share it. A SQLite store has one
connection behind a lock, so its statements take turns while the embedding
and ranking around them run side by side; a PostgreSQL store gives each
operation a connection of its pool (``Settings.postgres_pool_size``).

It does not cancel work: a cancelled ``await`` stops waiting, but the call
already running in its thread completes (a write commits or rolls back as a
whole, as it would have). ``close`` waits for the running calls, then closes
the store. The ``LOCAL_ONLY`` maintenance methods (``export``, ``backup``,
``reindex``, ...) are on the wrapped ``memory``, blocking.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from engramdb.clock import Clock
from engramdb.config import Settings
from engramdb.embed.base import Embedder
from engramdb.errors import InvalidInputError
from engramdb.memory import Memory
from engramdb.store import Store

__all__ = ["THREADS", "AsyncMemory"]

#: Worker threads of an ``AsyncMemory`` by default: calls beyond this many wait their turn.
THREADS = 4

P = ParamSpec("P")
R = TypeVar("R")


def _in_thread(
    method: Callable[Concatenate[Memory, P], R],
) -> Callable[Concatenate[AsyncMemory, P], Coroutine[Any, Any, R]]:
    """``AsyncMemory``'s form of a ``Memory`` method: the same call, awaited in a thread."""

    name = method.__name__

    async def call(self: AsyncMemory, /, *args: P.args, **kwargs: P.kwargs) -> R:
        # looked up on the wrapped object, so a subclass of Memory keeps its overrides
        bound: Callable[P, R] = getattr(self.memory, name)
        return await self._run(functools.partial(bound, *args, **kwargs))

    functools.update_wrapper(call, method)
    call.__qualname__ = f"AsyncMemory.{method.__name__}"
    return call


class AsyncMemory:
    """``Memory`` for asyncio: ``await mem.add(...)``, ``await mem.search(...)``.

    Opens the store as ``Memory(location, ...)`` does, or wraps an open
    ``memory`` (then ``location`` and the store options must be left out);
    ``threads`` bounds how many calls run at once.
    """

    def __init__(
        self,
        location: str | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
        read_only: bool = False,
        memory: Memory | None = None,
        threads: int = THREADS,
    ) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidInputError(f"threads must be a positive integer, got {threads!r}")
        if memory is None:
            memory = Memory(
                location,
                settings=settings,
                embedder=embedder,
                clock=clock,
                store=store,
                read_only=read_only,
            )
        elif location is not None or settings or embedder or clock or store or read_only:
            raise InvalidInputError("give either an open memory or how to open one, not both")
        #: The ``Memory`` every call runs on (its blocking methods, ``LOCAL_ONLY``'s too).
        self.memory = memory
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="engram-async")

    async def _run(self, call: Callable[[], R]) -> R:
        # The caller's context variables go with the call into its thread, as
        # asyncio.to_thread does.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._pool, context.run, call)

    # -- lifecycle --------------------------------------------------------------

    async def close(self) -> None:
        """Wait for the calls running, then close the store (in a thread: it may flush)."""
        await asyncio.get_running_loop().run_in_executor(None, self._close)

    def _close(self) -> None:
        self._pool.shutdown(wait=True)
        self.memory.close()

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the methods of MemoryAPI, in its order ---------------------------------

    add = _in_thread(Memory.add)
    add_many = _in_thread(Memory.add_many)
    update = _in_thread(Memory.update)
    delete = _in_thread(Memory.delete)
    delete_where = _in_thread(Memory.delete_where)
    forget_namespace = _in_thread(Memory.forget_namespace)
    get = _in_thread(Memory.get)
    history = _in_thread(Memory.history)
    search = _in_thread(Memory.search)
    neighbours = _in_thread(Memory.neighbours)
    namespaces = _in_thread(Memory.namespaces)
    stats = _in_thread(Memory.stats)
    consolidate = _in_thread(Memory.consolidate)
    facts = _in_thread(Memory.facts)
    pin = _in_thread(Memory.pin)
    unpin = _in_thread(Memory.unpin)
    profile = _in_thread(Memory.profile)
    profile_proposals = _in_thread(Memory.profile_proposals)
    working = _in_thread(Memory.working)
    context = _in_thread(Memory.context)
    mood = _in_thread(Memory.mood)
    flush = _in_thread(Memory.flush)
    retention = _in_thread(Memory.retention)
    curve = _in_thread(Memory.curve)
    set_budget = _in_thread(Memory.set_budget)
    budget = _in_thread(Memory.budget)
    set_expiry = _in_thread(Memory.set_expiry)
    set_ttl = _in_thread(Memory.set_ttl)
    ttl = _in_thread(Memory.ttl)
    purge = _in_thread(Memory.purge)
    fade = _in_thread(Memory.fade)
    feedback = _in_thread(Memory.feedback)
    weights = _in_thread(Memory.weights)
    reset_weights = _in_thread(Memory.reset_weights)
    record_experience = _in_thread(Memory.record_experience)
    recall_experiences = _in_thread(Memory.recall_experiences)
    teach = _in_thread(Memory.teach)
    concepts = _in_thread(Memory.concepts)
    retag = _in_thread(Memory.retag)
    # last: below it, ``list`` would name this attribute in the class body (docs/scopes.md)
    list = _in_thread(Memory.list)
