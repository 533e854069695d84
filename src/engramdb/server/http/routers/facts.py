"""Facts: ``Memory.facts`` on one namespace, current and past values (docs/consolidation.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from engramdb.options import FACTS
from engramdb.server.http.auth import MemoryDep, ReadNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import LABEL_RULE, FactOut, FactsOut, IsoTime

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["facts"], responses=ERRORS)


@router.get("/facts")
def facts(
    namespace: ReadNamespace,
    memory: MemoryDep,
    subject: Annotated[
        str | None, Query(description=FACTS.help("subject"), json_schema_extra=LABEL_RULE)
    ] = None,
    attribute: Annotated[
        str | None, Query(description=FACTS.help("attribute"), json_schema_extra=LABEL_RULE)
    ] = None,
    as_of: Annotated[IsoTime | None, Query(description=FACTS.help("as_of"))] = None,
) -> FactsOut:
    """Consolidated facts, every past value included, oldest first per subject and attribute."""
    found = memory.facts(namespace=namespace, subject=subject, attribute=attribute, as_of=as_of)
    return FactsOut(namespace=namespace, as_of=as_of, facts=[FactOut.of(f) for f in found])
