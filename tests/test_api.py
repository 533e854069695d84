"""``MemoryAPI`` is exactly what ``Memory`` and ``Client`` share (src/engramdb/api.py).

mypy checks that both classes implement it with compatible signatures; these tests
check that it covers every shared member (all of ``Memory`` but ``LOCAL_ONLY``), no
more, and that its parameters are the ones both classes take.
"""

from __future__ import annotations

import inspect

import pytest

from engramdb import Client, Memory, MemoryAPI
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
