"""Consolidation: ``Memory.consolidate`` on one namespace (docs/consolidation.md)."""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.auth import MemoryDep, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import ConsolidateIn, ConsolidationOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["consolidate"], responses=ERRORS)


@router.post("/consolidate")
def consolidate(
    namespace: WriteNamespace, memory: MemoryDep, body: ConsolidateIn | None = None
) -> ConsolidationOut:
    """Turn the namespace's new episodes into facts and summaries; a repeat changes nothing."""
    now = None if body is None else body.now
    return ConsolidationOut.of(memory.consolidate(namespace=namespace, now=now))
