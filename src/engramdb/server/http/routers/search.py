"""Search: ``Memory.search`` with every option it takes (``SearchIn.options``)."""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.auth import MemoryDep, ReadNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import HitOut, SearchIn, SearchOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["search"], responses=ERRORS)


@router.post("/search")
def search(namespace: ReadNamespace, body: SearchIn, memory: MemoryDep) -> SearchOut:
    """The memories most relevant to the query, best first, each with its explanation."""
    hits = memory.search(body.query, namespace=namespace, **body.options())
    return SearchOut(
        query=body.query, namespace=namespace, now=body.now, hits=[HitOut.of(h) for h in hits]
    )
