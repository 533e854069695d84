"""``engramdb.Client`` is ``Memory`` over HTTP: same methods, same results, same errors.

That it has every method of ``Memory`` but ``LOCAL_ONLY``'s, with the same parameters,
is checked in ``tests/test_options.py``; here the same calls give the same results,
also awaited through ``AsyncClient`` and ``AsyncMemory`` (docs/async.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engramdb import (
    AccessDeniedError,
    AsyncClient,
    AsyncMemory,
    Client,
    Engram,
    InvalidInputError,
    LimitExceededError,
    Memory,
    NotFoundError,
    StoreError,
)
from engramdb.embed import Embedder

from .conftest import LiveServer

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.url, api_key=live_server.admin) as found:
        yield found


def _scenario(mem: Any, ns: str) -> dict[str, Any]:
    """The same calls on a Memory or a Client; what they return, without ids and ingest times."""
    turns = [
        {"text": "I moved to Lisbon in February", "speaker": "Maya", "session": "s1"},
        {"text": "My new job at the bakery starts Monday", "speaker": "Maya", "session": "s1"},
        {"text": "Jonah bought a cello", "speaker": "Jonah", "session": "s2"},
        {"text": "We adopted a terrier called Pastel", "speaker": "Maya", "session": "s2"},
    ]
    items = [{**t, "occurred_at": T0 + timedelta(days=i)} for i, t in enumerate(turns)]
    added = mem.add_many(items, namespace=ns)
    one = mem.add(
        "Pastel learned to sit",
        namespace=ns,
        speaker="Maya",
        occurred_at=T0 + timedelta(days=9),
        metadata={"dia_id": "D3:1", "tags": ["dog"]},
    )
    got = mem.get(one.id, namespace=ns)
    updated = mem.update(added[2].id, namespace=ns, text="Jonah bought a second-hand cello")
    hits = mem.search("what is the dog called?", namespace=ns, limit=3, now=T0 + timedelta(60))
    near = mem.search("the cello", namespace=ns, limit=1, neighbours=1, now=T0 + timedelta(60))
    history = mem.history(added[2].id, namespace=ns)
    mem.flush()  # the recalls of the searches above are written, on either side
    dynamics = (
        mem.retention(one.id, namespace=ns, now=T0 + timedelta(90)),
        mem.curve(one.id, namespace=ns, days=30.0, points=3),
        [_engram(e) for e in mem.neighbours(added[1].id, namespace=ns, before=1, after=0)],
    )
    mem.consolidate(namespace=ns, now=T0 + timedelta(61))
    facts = [
        (f.subject, f.attribute, f.value, f.text, f.valid_from, f.valid_to, f.status)
        for f in mem.facts(namespace=ns, as_of=T0 + timedelta(30))
    ]
    mem.delete(added[0].id, namespace=ns)
    with pytest.raises(NotFoundError):
        mem.get(added[0].id, namespace=ns)
    stats = mem.stats(namespace=ns)
    no_budget = mem.budget(namespace=ns)
    mem.set_budget(namespace=ns, max_memories=2)
    budget = mem.budget(namespace=ns)
    faded = mem.fade(namespace=ns, now=T0 + timedelta(60))
    forgotten = mem.forget_namespace(ns)
    after_forget = mem.budget(namespace=ns)
    return {
        "added": [_engram(e) for e in [*added, one]],
        "got": _engram(got),
        "updated": _engram(updated),
        "hits": [(_engram(h.engram), round(h.score, 9), h.rank, h.explain) for h in hits],
        "near": [[_engram(n) for n in h.neighbours] for h in near],
        "history": [(v.version, v.text, v.valid_to is None, v.occurred_at) for v in history],
        "stats": (stats.engrams, stats.versions, stats.sessions, stats.first_occurred_at),
        "forgotten": forgotten,
        "budget": (no_budget, budget, faded, after_forget),
        "dynamics": dynamics,
        "facts": facts,
        "types": [type(x).__name__ for x in (added[0], hits[0], history[0], stats)],
    }


def _engram(e: Engram) -> tuple[Any, ...]:
    return (e.namespace, e.text, e.session, e.speaker, dict(e.metadata), e.occurred_at, e.version)


def test_the_same_scenario_gives_the_same_results_embedded_and_served(
    client: Client, embedder: Embedder
) -> None:
    with Memory(":memory:", embedder=embedder) as mem:
        embedded = _scenario(mem, "scenario")
    served = _scenario(client, "scenario")
    assert served == embedded


class Awaited:
    """An async memory called like a blocking one: each coroutine run to its end, on one
    event loop (an ``httpx.AsyncClient`` keeps to the loop it started on)."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.target, self.loop = target, loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method: Callable[..., Coroutine[Any, Any, Any]] = getattr(self.target, name)
        return lambda *args, **kwargs: self.loop.run_until_complete(method(*args, **kwargs))


def test_the_same_scenario_gives_the_same_results_awaited(
    live_server: LiveServer, embedder: Embedder
) -> None:
    with Memory(":memory:", embedder=embedder) as mem:
        embedded = _scenario(mem, "scenario")
    loop = asyncio.new_event_loop()
    try:
        remote = AsyncClient(live_server.url, api_key=live_server.admin)
        served = _scenario(Awaited(remote, loop), "scenario")
        loop.run_until_complete(remote.close())
        local = AsyncMemory(":memory:", embedder=embedder)
        awaited = _scenario(Awaited(local, loop), "scenario")
        loop.run_until_complete(local.close())
    finally:
        loop.close()
    assert served == embedded
    assert awaited == embedded


def test_the_async_client_raises_what_the_client_raises(live_server: LiveServer) -> None:
    async def scenario() -> None:
        async with AsyncClient(live_server.url, api_key=live_server.alice) as alice:
            with pytest.raises(AccessDeniedError, match="may not read"):
                await alice.search("anything", namespace="bob")
            with pytest.raises(NotFoundError):
                await alice.get("0" * 32, namespace="alice")
            with pytest.raises(InvalidInputError):
                await alice.add("x", namespace="a/b")
            assert await alice.add_many([], namespace="alice") == []
            # many requests at once on one connection pool
            added = await asyncio.gather(
                *(alice.add(f"async note {i}", namespace="alice") for i in range(8))
            )
            assert len({e.id for e in added}) == 8
        async with AsyncClient("http://127.0.0.1:9", timeout_s=2) as nowhere:
            with pytest.raises(StoreError):
                await nowhere.namespaces()

    asyncio.run(scenario())


def test_errors_come_back_as_the_library_raises_them(client: Client) -> None:
    ns = "client-errors"
    with pytest.raises(NotFoundError):
        client.get("0" * 32, namespace=ns)
    with pytest.raises(InvalidInputError):
        client.get("not-an-id", namespace=ns)
    with pytest.raises(InvalidInputError):
        client.add("   ", namespace=ns)
    with pytest.raises(InvalidInputError, match="timezone"):
        client.add("naive", namespace=ns, occurred_at=datetime(2024, 1, 1))  # noqa: DTZ001
    with pytest.raises(LimitExceededError):
        client.search("x", namespace=ns, limit=100_000)
    with pytest.raises(InvalidInputError):
        client.add("x", namespace="..")
    with pytest.raises(InvalidInputError):
        client.add("x", namespace="a/b")
    with pytest.raises(InvalidInputError):
        client.add("x", namespace=ns, metadata={"bad": {1, 2}})
    assert client.add_many([], namespace=ns) == []


def test_a_key_out_of_scope_raises_access_denied(live_server: LiveServer) -> None:
    with (
        Client(live_server.url, api_key=live_server.alice) as alice,
        pytest.raises(AccessDeniedError, match="may not read"),
    ):
        alice.search("anything", namespace="bob")
    with Client(live_server.url) as anonymous, pytest.raises(AccessDeniedError):
        anonymous.namespaces()


def test_an_unreachable_server_is_a_store_error() -> None:
    with Client("http://127.0.0.1:9", timeout_s=2) as nowhere, pytest.raises(StoreError):
        nowhere.namespaces()
