"""``MemoryAPI`` is exactly what ``Memory`` and ``Client`` share (src/engramdb/api.py).

mypy checks that both classes implement it with compatible signatures; these tests
check that it covers every shared member (all of ``Memory`` but ``LOCAL_ONLY``), no
more, and that its parameters are the ones both classes take. ``AsyncMemory`` and
``AsyncClient`` have each of its methods as a coroutine with the parameters of
``Memory``'s and ``Client``'s (docs/async.md): a method added to the protocol fails
here until both have it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from engramdb import AsyncClient, AsyncMemory, Client, Memory, MemoryAPI
from engramdb.options import LOCAL_ONLY

_LIFECYCLE = {"__enter__", "__exit__"}


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def _members() -> set[str]:
    """What the protocol itself declares (not what ``Protocol`` brings along)."""
    return {name for name in vars(MemoryAPI) if not name.startswith("_")}


def test_the_protocol_is_every_public_member_of_memory_but_the_local_ones() -> None:
    assert _members() == _public(Memory) - set(LOCAL_ONLY)
    assert set(vars(MemoryAPI)) >= _LIFECYCLE


def test_memory_and_client_declare_the_protocol() -> None:
    assert issubclass(Memory, MemoryAPI)
    assert issubclass(Client, MemoryAPI)
    with Memory(":memory:") as mem:
        assert isinstance(mem, MemoryAPI)
    with Client("http://127.0.0.1:9") as client:  # nothing is sent until a call
        assert isinstance(client, MemoryAPI)


@pytest.mark.parametrize("name", sorted(_members() | _LIFECYCLE))
def test_the_protocol_takes_what_client_takes_with_defaults_left_to_memory(name: str) -> None:
    """The client takes each option every surface offers (``tests/test_options.py``);
    the protocol names the same ones, and leaves their defaults to ``Memory``."""
    ours = inspect.signature(getattr(MemoryAPI, name)).parameters.values()
    client = inspect.signature(getattr(Client, name)).parameters.values()
    assert [(p.name, p.kind) for p in ours] == [(p.name, p.kind) for p in client]
    for p, c in zip(ours, client, strict=True):
        assert (p.default is inspect.Parameter.empty) == (c.default is inspect.Parameter.empty)
        assert p.default in (inspect.Parameter.empty, ...), (name, p.name)


#: Each async class and the blocking class whose methods it awaits.
ASYNC: dict[type, type] = {AsyncMemory: Memory, AsyncClient: Client}
_ASYNC_LIFECYCLE = {"close", "__aenter__", "__aexit__"}


def _params(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    params = inspect.signature(function).parameters.values()
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("cls", list(ASYNC), ids=lambda c: c.__name__)
def test_the_async_classes_have_every_method_of_the_protocol_and_no_more(cls: type) -> None:
    assert _public(cls) == _members()
    for name in _ASYNC_LIFECYCLE:
        assert inspect.iscoroutinefunction(getattr(cls, name)), name


@pytest.mark.parametrize(
    ("cls", "name"),
    [(cls, name) for cls in ASYNC for name in sorted(_members() - {"close"})],
    ids=lambda x: x if isinstance(x, str) else x.__name__,
)
def test_each_async_method_awaits_what_its_blocking_method_takes(cls: type, name: str) -> None:
    blocking = ASYNC[cls]
    method = getattr(cls, name)
    assert inspect.iscoroutinefunction(method), f"{cls.__name__}.{name} is not a coroutine"
    assert _params(method) == _params(getattr(blocking, name))
    assert method.__doc__ == getattr(blocking, name).__doc__
