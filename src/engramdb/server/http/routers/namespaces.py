"""Namespaces: list them, count what they hold, erase one."""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.auth import CurrentKey, MemoryDep, ReadNamespace, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import ForgetOut, NamespacesOut, StatsListOut, StatsOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["namespaces"], responses=ERRORS)


@router.get("/namespaces")
def list_namespaces(memory: MemoryDep, key: CurrentKey) -> NamespacesOut:
    """The namespaces that hold memories; a scoped key sees only those in its scope."""
    return NamespacesOut(namespaces=[n for n in memory.namespaces() if key.covers(n)])


@router.get("/stats")
def all_stats(memory: MemoryDep, key: CurrentKey) -> StatsListOut:
    """Counts for every namespace in the key's scope (every namespace for an admin key)."""
    names = [n for n in memory.namespaces() if key.covers(n)]
    return StatsListOut(namespaces=[StatsOut.of(memory.stats(namespace=n)) for n in names])


@router.get("/namespaces/{namespace}/stats")
def namespace_stats(namespace: ReadNamespace, memory: MemoryDep) -> StatsOut:
    """Memories, versions, sessions and the span of event times in one namespace."""
    return StatsOut.of(memory.stats(namespace=namespace))


@router.delete("/namespaces/{namespace}")
def forget_namespace(namespace: WriteNamespace, memory: MemoryDep) -> ForgetOut:
    """Erase a namespace: every memory, version and index entry in it (needs write access)."""
    return ForgetOut(namespace=namespace, forgotten=memory.forget_namespace(namespace))
