"""The REST API's routers, one module per resource; ``ROUTERS`` is what the app mounts.

A new resource (``consolidate``, ``feedback`` when the library has them) is a
new module here and one line in ``ROUTERS``.
"""

from __future__ import annotations

from fastapi import APIRouter

from engramdb.server.http.routers import engrams, namespaces, search, system

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (system.router, namespaces.router, engrams.router, search.router)
