"""The REST API's routers, one module per resource; ``ROUTERS`` is what the app mounts.

A new resource is a new module here and one line in ``ROUTERS``.
"""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.routers import (
    audit,
    consolidate,
    context,
    dynamics,
    engrams,
    expiry,
    facts,
    learning,
    lessons,
    lifecycle,
    namespaces,
    profile,
    scopes,
    search,
    server,
    system,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    system.router,
    namespaces.router,
    engrams.router,
    search.router,
    context.router,
    consolidate.router,
    facts.router,
    lessons.router,
    dynamics.router,
    server.router,
    audit.router,
    learning.router,
    lifecycle.router,
    scopes.router,
    profile.router,
    expiry.router,
)
