"""How memories leave a namespace: delete by filter (docs/security.md, "Delete by filter").

One memory's delete is ``DELETE .../engrams/{id}`` (``engrams``); a whole
namespace's, ``DELETE /v1/namespaces/{ns}`` (``namespaces``).
"""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.auth import MemoryDep, WriteNamespace
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import DeleteWhereIn, DeletionOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/namespaces/{namespace}", tags=["lifecycle"], responses=ERRORS)


@router.post("/delete-where")
def delete_where(namespace: WriteNamespace, body: DeleteWhereIn, memory: MemoryDep) -> DeletionOut:
    """Delete every memory that passes the filter, with the facts and summaries it takes
    along, in one transaction; ``dry_run`` reports what would go and deletes nothing.
    At least one condition (an empty filter is a 422: a namespace's erasure is
    ``DELETE /v1/namespaces/{namespace}``)."""
    return DeletionOut.of(memory.delete_where(namespace=namespace, **body.options()))
