"""Health, metrics and flushing: ``/healthz`` (open), ``/metrics`` and ``/v1/flush`` (admin key)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from engramdb import __version__
from engramdb.server.http.auth import AdminKey, MemoryDep
from engramdb.server.http.metrics import CONTENT_TYPE, Metrics
from engramdb.server.http.routers.responses import ERRORS
from engramdb.server.schemas import FlushOut

__all__ = ["router"]

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers. Needs no key."""
    return {"status": "ok", "version": __version__}


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
        **{status: ERRORS[status] for status in (401, 403, 429)},
    },
)
def metrics(request: Request, _key: AdminKey) -> Response:
    """Prometheus text: request counts and latencies by route, memories per namespace."""
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE)


@router.post("/v1/flush", responses=ERRORS)
def flush(memory: MemoryDep, _key: AdminKey) -> FlushOut:
    """Write the queued recalls of every namespace now (``Memory.flush``); the server
    also writes them every ``recall_flush_every`` hits and when it stops."""
    return FlushOut(flushed=memory.flush())
