"""Health and metrics: ``/healthz`` (open) and ``/metrics`` (admin key)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from engramdb import __version__
from engramdb.server.http.auth import AdminKey
from engramdb.server.http.metrics import CONTENT_TYPE, Metrics

__all__ = ["router"]

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers. Needs no key."""
    return {"status": "ok", "version": __version__}


@router.get("/metrics", response_class=Response)
def metrics(request: Request, _key: AdminKey) -> Response:
    """Prometheus text: request counts and latencies by route, memories per namespace."""
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE)
