"""The audit log over HTTP, for admin keys: ``engram audit``'s entries (docs/security.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from engramdb.security.audit import AuditLog
from engramdb.server.http.auth import AdminKey
from engramdb.server.http.errors import HttpError
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import AuditEntryOut, AuditOut, IsoTime

__all__ = ["router"]

# the rule of a namespace in a path (server.http.auth.NamespacePath)
_NAMESPACE: dict[str, Any] = {"pattern": r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", "max_length": 128}

router = APIRouter(prefix="/v1", tags=["audit"], responses=ERRORS)


@router.get("/audit")
def audit(
    request: Request,
    _key: AdminKey,
    namespace: Annotated[str | None, Query(description="Only this one.", **_NAMESPACE)] = None,
    since: Annotated[IsoTime | None, Query(description="Only entries at or after this.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many.")] = 200,
) -> AuditOut:
    """Who did what to which namespace and when, newest first (admin key)."""
    log: AuditLog | None = request.app.state.audit
    if log is None:
        raise HttpError(404, "not_found", "this store keeps no audit log (an in-memory store)")
    # one more than asked: whether older entries were left out
    entries = log.entries(namespace=namespace, since=since, last=limit + 1)
    newest = entries[::-1][:limit]
    return AuditOut(
        entries=[AuditEntryOut.model_validate(e, from_attributes=True) for e in newest],
        more=len(entries) > limit,
    )
