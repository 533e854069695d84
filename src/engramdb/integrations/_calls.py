"""What the adapters share: calling a memory that may be blocking or async, and a
hit's metadata as a framework document carries it."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, Union

from engramdb import wire
from engramdb.aio import AsyncMemory
from engramdb.api import MemoryAPI
from engramdb.client import AsyncClient
from engramdb.errors import InvalidInputError
from engramdb.model import Hit

__all__ = ["AnyMemory", "awaited", "blocking", "hit_metadata"]

#: What an adapter takes: a blocking memory or its async form.
AnyMemory = Union[MemoryAPI, AsyncMemory, AsyncClient]  # noqa: UP007 - pydantic reads it


def is_async(memory: object) -> bool:
    return inspect.iscoroutinefunction(getattr(memory, "search", None))


def blocking(memory: AnyMemory, name: str, *args: Any, **kwargs: Any) -> Any:
    """``memory.<name>(...)`` from blocking code; an async memory needs the async call."""
    if is_async(memory):
        raise InvalidInputError(
            f"{type(memory).__name__} is async: use the framework's async call "
            "(ainvoke, aretrieve, ...) or give a blocking Memory or Client"
        )
    method: Callable[..., Any] = getattr(memory, name)
    return method(*args, **kwargs)


async def awaited(memory: AnyMemory, name: str, *args: Any, **kwargs: Any) -> Any:
    """``memory.<name>(...)`` from async code: awaited, or a blocking memory's call run in
    a worker thread so the event loop keeps running."""
    method: Callable[..., Any] = getattr(memory, name)
    if is_async(memory):
        return await method(*args, **kwargs)
    return await asyncio.to_thread(method, *args, **kwargs)


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """A hit as a document's metadata: its memory's JSON form (docs/server.md) without
    the text, which is the document's content, plus ``score``, ``rank`` and
    ``relevance`` (the calibrated probability that it is relevant, docs/recall.md)."""
    found = wire.to_json(hit.engram)
    found.pop("text", None)
    found.update(score=hit.score, rank=hit.rank, relevance=hit.relevance)
    return found
