"""Memories: add (one or a batch), get, update, delete, history; one memory's session
neighbours, its retention now and its forgetting curve (docs/dynamics.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from engramdb import ConflictError
from engramdb.server.http.auth import MemoryDep, ReadNamespace, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import (
    LABEL_RULE,
    BatchIn,
    BatchOut,
    CurveOut,
    DeletedOut,
    EngramIn,
    EngramOut,
    EngramPatch,
    ErrorOut,
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


# docs/repetition.md: a write carries its idempotency key in the body or in this header
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="The write's idempotency key (as the body's idempotency_key); on a "
        "batch, item i without its own is keyed '<key>/<i>' (docs/repetition.md).",
        # the body field's rule: what the schema accepts, the library accepts
        max_length=LABEL_RULE["maxLength"],
        pattern=LABEL_RULE["pattern"],
    ),
]


def _keyed(given: str | None, header: str | None) -> str | None:
    if header is not None and given is not None and given != header:
        # two keys for one write conflict (409), as a key used for other content does
        raise ConflictError("the Idempotency-Key header and idempotency_key differ")
    return given if given is not None else header


_CONFLICT = {"model": ErrorOut, "description": "The idempotency key was used for other content."}


@router.post(
    "",
    status_code=201,
    responses={200: {"description": "Already remembered."}, 409: _CONFLICT},
)
def add(
    namespace: WriteNamespace,
    body: EngramIn,
    memory: MemoryDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> EngramOut:
    """Remember one experience; returns it as stored, with its id (201). A repetition
    or a replayed idempotency key returns the memory already stored (200,
    ``repeated`` true); a used key with other content is 409 (docs/repetition.md)."""
    options = body.model_dump(exclude={"text"})
    options["idempotency_key"] = _keyed(body.idempotency_key, idempotency_key)
    engram = memory.add(body.text, namespace=namespace, **options)
    if engram.repeated:
        response.status_code = 200
    return EngramOut.of(engram)


@router.post(
    "/batch",
    status_code=201,
    responses={200: {"description": "All remembered."}, 409: _CONFLICT},
)
def add_many(
    namespace: WriteNamespace,
    body: BatchIn,
    memory: MemoryDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BatchOut:
    """Remember several experiences in one transaction: all of them or none. 201 when
    any was new, 200 when every item was already remembered (docs/repetition.md)."""
    items = [item.model_dump() for item in body.items]
    if idempotency_key is not None:
        for i, item in enumerate(items):
            item["idempotency_key"] = item["idempotency_key"] or f"{idempotency_key}/{i}"
    engrams = memory.add_many(items, namespace=namespace, embed=body.embed)
    if engrams and all(e.repeated for e in engrams):
        response.status_code = 200
    return BatchOut(engrams=[EngramOut.of(e) for e in engrams])


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
