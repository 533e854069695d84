"""Working memory and context (docs/context.md): ``Memory.context``, ``working`` and ``mood``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from engramdb.server.http.auth import MemoryDep, ReadNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import (
    LABEL_RULE,
    ContextIn,
    ContextOut,
    EngramOut,
    IsoTime,
    MoodOut,
    WorkingOut,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["context"], responses=ERRORS)


@router.post("/context")
def context(namespace: ReadNamespace, body: ContextIn, memory: MemoryDep) -> ContextOut:
    """What to put in a prompt now: working memory, recalled memories and mood, in a budget."""
    return ContextOut.of(memory.context(body.query, namespace=namespace, **body.options()))


@router.get("/sessions/{session}/working")
def working(
    namespace: ReadNamespace,
    session: Annotated[str, Path(json_schema_extra=LABEL_RULE)],
    memory: MemoryDep,
    max_turns: Annotated[int, Query(ge=0, le=200)] = 20,
    max_tokens: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> WorkingOut:
    """The session's latest turns, oldest first, bounded by count and tokens."""
    turns = memory.working(
        namespace=namespace, session=session, max_turns=max_turns, max_tokens=max_tokens
    )
    return WorkingOut(namespace=namespace, session=session, turns=[EngramOut.of(t) for t in turns])


@router.get("/mood")
def mood(
    namespace: ReadNamespace,
    memory: MemoryDep,
    # at least a second: a shorter window rounds to no time at all
    window_days: Annotated[float, Query(ge=1 / 86_400, le=36_500)] = 7.0,
    now: Annotated[IsoTime | None, Query()] = None,
) -> MoodOut:
    """Valence and arousal of the last ``window_days`` of memories, with what drives them."""
    found = memory.mood(namespace=namespace, window=timedelta(days=window_days), now=now)
    return MoodOut.of(found)
