"""Expiry (docs/expiry.md): one memory's expiry, a namespace's default time to live, and
the purge of what expired, of one namespace or of every one the key may write.

The server also purges on its own, every ``Settings.purge_every_s`` seconds
(``server.schedule.PurgeSchedule``).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from engramdb import Memory
from engramdb.server.expiry import ExpiryIn, PurgeOut, TtlIn, TtlOut
from engramdb.server.http.auth import CurrentKey, MemoryDep, ReadNamespace, WriteNamespace
from engramdb.server.http.routers.engrams import EngramId
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import DeletionOut, EngramOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["expiry"], responses=ERRORS)
_NS = "/namespaces/{namespace}"


@router.put(_NS + "/engrams/{id}/expiry")
def set_expiry(
    namespace: WriteNamespace, id: EngramId, body: ExpiryIn, memory: MemoryDep
) -> EngramOut:
    """Set, move or clear (null) when the memory expires, without a new version; an
    expired memory is 404, a time not after now 422."""
    return EngramOut.of(memory.set_expiry(id, namespace=namespace, expires_at=body.expires_at))


@router.get(_NS + "/ttl")
def ttl(namespace: ReadNamespace, memory: MemoryDep) -> TtlOut:
    """The namespace's default time to live; null when it has none."""
    return _ttl_out(memory, namespace)


@router.put(_NS + "/ttl")
def set_ttl(namespace: WriteNamespace, body: TtlIn, memory: MemoryDep) -> TtlOut:
    """Store the namespace's default time to live (null removes it): memories added from
    now on without their own expires_at expire that long after they were recorded."""
    given = None if body.ttl_s is None else timedelta(seconds=body.ttl_s)
    memory.set_ttl(given, namespace=namespace)
    return _ttl_out(memory, namespace)


@router.post(_NS + "/purge")
def purge(namespace: WriteNamespace, memory: MemoryDep) -> PurgeOut:
    """Erase the namespace's expired memories, with what they take along, as a delete by
    filter erases (docs/security.md); no deletion when nothing had expired."""
    return PurgeOut(deletions=[DeletionOut.of(d) for d in memory.purge(namespace=namespace)])


@router.post("/purge")
def purge_all(memory: MemoryDep, key: CurrentKey) -> PurgeOut:
    """Erase the expired memories of every namespace the key may write; one deletion per
    namespace that had some."""
    deletions = []
    for name in memory.namespaces():
        if key.allows(name, "write"):
            deletions += memory.purge(namespace=name)
    return PurgeOut(deletions=[DeletionOut.of(d) for d in deletions])


def _ttl_out(memory: Memory, namespace: str) -> TtlOut:
    found = memory.ttl(namespace=namespace)
    return TtlOut(namespace=namespace, ttl_s=None if found is None else found.total_seconds())
