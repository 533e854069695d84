"""Scopes (docs/scopes.md): a search of several namespaces, and a namespace page by page.

``POST /v1/search`` reads the namespaces the body names, each of which the
key must cover (403 otherwise), or every namespace under a prefix that the key
covers (a prefix wider than the key reads only what it covers).
``POST /v1/namespaces/{namespace}/list`` is ``Memory.list``, its options in the body
as a search's are (``where`` the same JSON object).
"""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.auth import CurrentKey, MemoryDep, ReadNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import HitOut, PageOut
from engramdb.server.scopes import ListIn, SearchAcrossIn, SearchAcrossOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["scopes"], responses=ERRORS)


@router.post("/search")
def search_across(body: SearchAcrossIn, memory: MemoryDep, key: CurrentKey) -> SearchAcrossOut:
    """The memories most relevant to the query in several namespaces, ranked by relevance
    on one scale; each hit names its namespace."""
    names = key.scope(body.namespaces, body.namespace_prefix, memory.namespaces)
    hits = memory.search(body.query, namespaces=names, **body.options())
    return SearchAcrossOut(
        query=body.query, namespaces=names, now=body.now, hits=[HitOut.of(h) for h in hits]
    )


@router.post("/namespaces/{namespace}/list")
def list_engrams(namespace: ReadNamespace, body: ListIn, memory: MemoryDep) -> PageOut:
    """A page of the namespace's memories in time order, and the cursor of the next page."""
    return PageOut.of(memory.list(namespace=namespace, **body.options()))
