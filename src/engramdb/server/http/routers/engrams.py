"""Memories: add (one or a batch), get, update, delete, history; one memory's session
neighbours, its retention now and its forgetting curve (docs/dynamics.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from engramdb.server.http.auth import MemoryDep, ReadNamespace, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import (
    BatchIn,
    BatchOut,
    CurveOut,
    DeletedOut,
    EngramIn,
    EngramOut,
    EngramPatch,
    HistoryOut,
    IsoTime,
    NeighboursOut,
    RetentionOut,
    VersionOut,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}/engrams", tags=["engrams"], responses=ERRORS)

EngramId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="A memory id: 32 lowercase hex digits.")
]


@router.post("", status_code=201)
def add(namespace: WriteNamespace, body: EngramIn, memory: MemoryDep) -> EngramOut:
    """Remember one experience; returns it as stored, with its id."""
    engram = memory.add(body.text, namespace=namespace, **body.model_dump(exclude={"text"}))
    return EngramOut.of(engram)


@router.post("/batch", status_code=201)
def add_many(namespace: WriteNamespace, body: BatchIn, memory: MemoryDep) -> BatchOut:
    """Remember several experiences in one transaction: all of them or none."""
    items = [item.model_dump() for item in body.items]
    return BatchOut(engrams=[EngramOut.of(e) for e in memory.add_many(items, namespace=namespace)])


@router.get("/{id}")
def get(namespace: ReadNamespace, id: EngramId, memory: MemoryDep) -> EngramOut:
    """One memory as it is now."""
    return EngramOut.of(memory.get(id, namespace=namespace))


@router.patch("/{id}")
def update(
    namespace: WriteNamespace, id: EngramId, body: EngramPatch, memory: MemoryDep
) -> EngramOut:
    """Write a new version; the old one stays in the history with its validity closed."""
    engram = memory.update(id, namespace=namespace, **body.model_dump(exclude_unset=True))
    return EngramOut.of(engram)


@router.delete("/{id}")
def delete(namespace: WriteNamespace, id: EngramId, memory: MemoryDep) -> DeletedOut:
    """Remove a memory with its whole history and index entries."""
    memory.delete(id, namespace=namespace)
    return DeletedOut(deleted=id, namespace=namespace)


@router.get("/{id}/history")
def history(namespace: ReadNamespace, id: EngramId, memory: MemoryDep) -> HistoryOut:
    """Every version, oldest first, with its validity interval."""
    versions = memory.history(id, namespace=namespace)
    return HistoryOut(id=id, namespace=namespace, versions=[VersionOut.of(v) for v in versions])


@router.get("/{id}/neighbours")
def neighbours(
    namespace: ReadNamespace,
    id: EngramId,
    memory: MemoryDep,
    before: Annotated[int, Query(description="Turns before it in its session (0 to 100).")] = 1,
    after: Annotated[int, Query(description="Turns after it in its session (0 to 100).")] = 1,
) -> NeighboursOut:
    """The turns around a memory in its session (not including it), in order."""
    found = memory.neighbours(id, namespace=namespace, before=before, after=after)
    return NeighboursOut(id=id, namespace=namespace, neighbours=[EngramOut.of(e) for e in found])


@router.get("/{id}/retention")
def retention(
    namespace: ReadNamespace,
    id: EngramId,
    memory: MemoryDep,
    now: Annotated[IsoTime | None, Query(description="When to read it (default: now).")] = None,
) -> RetentionOut:
    """R(now) of a memory on its forgetting curve: 1 right after use, then falling."""
    found = memory.retention(id, namespace=namespace, now=now)
    return RetentionOut(id=id, namespace=namespace, now=now, retention=found)


@router.get("/{id}/curve")
def curve(
    namespace: ReadNamespace,
    id: EngramId,
    memory: MemoryDep,
    days: Annotated[float, Query(description="Days after its last use (up to 36500).")] = 365.0,
    points: Annotated[int, Query(description="How many points (2 to 10000).")] = 200,
) -> CurveOut:
    """A memory's forgetting curve from its last use over ``days``: times and R values."""
    times, values = memory.curve(id, namespace=namespace, days=days, points=points)
    return CurveOut(id=id, namespace=namespace, times=times, retention=values)
