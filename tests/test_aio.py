"""``AsyncMemory``: ``Memory``'s methods awaited in worker threads (docs/async.md).

That it has every method of ``MemoryAPI`` with ``Memory``'s parameters is checked in
``tests/test_api.py``; that the same calls give the same results as ``Memory`` in
``tests/server/test_client.py``. Here, on each store: the event loop runs while a
call works, many tasks share one store, a cancelled await does not undo a write,
and ``close`` waits for the calls running.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import pytest

from engramdb import AsyncMemory, Engram, FixedClock, InvalidInputError, Memory
from engramdb.embed import Embedder
from engramdb.embed.base import Vectors

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
GUARD_S = 30.0  # how long a test waits before calling a wait a deadlock


class Gated:
    """The real embedder, but each call to it waits until ``gate`` is open."""

    def __init__(self, real: Embedder) -> None:
        self.real = real
        self.gate = threading.Event()
        self.entered = threading.Event()

    @property
    def model_id(self) -> str:
        return self.real.model_id

    @property
    def dims(self) -> int:
        return self.real.dims

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.entered.set()
        if not self.gate.wait(GUARD_S):
            raise AssertionError("the gate stayed shut: the event loop was blocked")
        return self.real.embed(texts)


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_event_loop_runs_while_a_call_works(
    store: str, place: Callable[[str], str], embedder: Embedder
) -> None:
    """The add waits on a gate that only a coroutine on the loop opens: had the add
    blocked the loop, that coroutine could not run and the add would fail."""
    gated = Gated(embedder)

    async def scenario() -> str:
        async with AsyncMemory(place(store), embedder=gated) as mem:
            adding = asyncio.ensure_future(mem.add("the loop keeps turning", embed="now"))
            while not gated.entered.is_set():
                await asyncio.sleep(0.01)
            gated.gate.set()  # runs on the loop, while the add is inside the embedder
            added = await adding
            hits = await mem.search("turning loop", limit=1)
            return hits[0].engram.id if hits and hits[0].engram.id == added.id else ""

    assert asyncio.run(scenario())


def test_many_tasks_share_one_store(location: str, embedder: Embedder) -> None:
    async def scenario() -> tuple[int, set[str]]:
        async with AsyncMemory(location, embedder=embedder, threads=3) as mem:
            texts = [f"note {i} about the garden shed" for i in range(12)]
            added = await asyncio.gather(*(mem.add(t, namespace="many") for t in texts))
            found = await mem.search("garden shed", namespace="many", limit=20)
            stats = await mem.stats(namespace="many")
            return stats.engrams, {h.engram.id for h in found} ^ {e.id for e in added}

    count, difference = asyncio.run(scenario())
    assert count == 12
    assert difference == set()


def test_a_cancelled_await_leaves_the_write_to_complete(location: str, embedder: Embedder) -> None:
    gated = Gated(embedder)

    async def scenario() -> list[str]:
        mem = AsyncMemory(location, embedder=gated, clock=FixedClock(T0))
        adding = asyncio.ensure_future(mem.add("written after all", embed="now"))
        while not gated.entered.is_set():
            await asyncio.sleep(0.01)
        adding.cancel()
        with pytest.raises(asyncio.CancelledError):
            await adding
        gated.gate.set()
        await mem.close()  # waits for the add in its thread
        with Memory(location, embedder=embedder) as again:
            return [h.engram.text for h in again.search("written", limit=5)]

    assert asyncio.run(scenario()) == ["written after all"]


def test_errors_are_raised_by_the_await(embedder: Embedder) -> None:
    async def scenario() -> None:
        async with AsyncMemory(":memory:", embedder=embedder) as mem:
            with pytest.raises(InvalidInputError):
                await mem.add("   ")
            with pytest.raises(KeyError):  # NotFoundError
                await mem.get("0" * 32)

    asyncio.run(scenario())


def test_a_call_sees_the_callers_context_variables(embedder: Embedder) -> None:
    seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="")
    reads: list[str] = []

    def progress(done: int, total: int) -> None:
        reads.append(seen.get())

    async def scenario() -> None:
        async with AsyncMemory(":memory:", embedder=embedder) as mem:
            await mem.add("Maya moved to Lisbon", speaker="Maya")
            seen.set("request-7")
            await mem.consolidate(progress=progress)

    asyncio.run(scenario())
    assert reads
    assert set(reads) == {"request-7"}


def test_an_open_memory_is_wrapped_and_closed_with_it(embedder: Embedder) -> None:
    memory = Memory(":memory:", embedder=embedder)

    async def scenario() -> int:
        async with AsyncMemory(memory=memory) as mem:
            assert mem.memory is memory
            await mem.add("wrapped")
            return len(list(mem.memory.export()))

    assert asyncio.run(scenario()) == 1
    with pytest.raises(InvalidInputError):
        AsyncMemory(":memory:", memory=memory)
    with pytest.raises(InvalidInputError, match="threads"):
        AsyncMemory(memory=memory, threads=0)


def test_a_wrapped_subclass_keeps_its_overrides(embedder: Embedder) -> None:
    class Tagged(Memory):
        def add(self, text: str, **options: Any) -> Engram:
            return super().add(f"[tagged] {text}", **options)

    async def scenario() -> str:
        async with AsyncMemory(memory=Tagged(":memory:", embedder=embedder)) as mem:
            return (await mem.add("hello")).text

    assert asyncio.run(scenario()) == "[tagged] hello"
