"""``create_app``: the FastAPI application of ``engram serve``.

It assembles: the routers (``routers.ROUTERS``), the error table
(``errors``), the key check (``auth``), the body limit and metrics
(``middleware``), the offline docs page (``docs``), the MCP endpoint at
``/mcp`` (``engramdb.server.mcp``, imported only when enabled), and the
background consolidation (``server.schedule``, when
``Settings.consolidate_every_s`` is above 0) and purge of expired memories
(``server.purging``, when ``Settings.purge_every_s`` is), which run from the
lifespan's start to its end. It owns the lifetimes of what it opened itself: a
``Memory`` or ``KeyRing`` handed in stays the caller's to close.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from engramdb import Memory, Settings, __version__
from engramdb.security.audit import AuditRecord, audit_path, audit_table
from engramdb.security.keys import KeyRing, keys_path
from engramdb.server.http.auth import Authenticator, KeyCheck, McpGate, ServerState
from engramdb.server.http.docs import OPEN_PATHS, OPEN_PREFIXES, OPENAPI_URL, install_docs
from engramdb.server.http.errors import HttpError, install_error_handlers
from engramdb.server.http.metrics import Metrics
from engramdb.server.http.middleware import BodyLimit, RequestMetrics
from engramdb.server.http.routers import ROUTERS
from engramdb.server.http.trail import AuditTrail
from engramdb.server.options import LOOPBACK_HOSTS, ServerOptions
from engramdb.server.purging import PurgeSchedule
from engramdb.server.ratelimit import RateLimiter
from engramdb.server.schedule import ConsolidationSchedule, check_interval
from engramdb.server.ui import UI_OPEN_PATHS, UI_OPEN_PREFIXES, install_ui

__all__ = ["create_app"]

_DESCRIPTION = """\
A local memory engine for AI agents. Remember experiences, recall what is
relevant now (ranked and explained), update with history kept, erase a
namespace. Every route but `/healthz` needs an API key
(`Authorization: Bearer eng_...`, made with `engram keys create`).
Errors are `{"error": {"code": ..., "message": ...}}` (docs/server.md).
"""


def create_app(
    settings: Settings,
    *,
    memory: Memory | None = None,
    keys: KeyRing | None = None,
    options: ServerOptions | None = None,
) -> FastAPI:
    """The REST API (and MCP at ``/mcp``) over the store ``settings`` name.

    ``memory`` and ``keys`` default to the store's and its ``keys.db``; pass
    them to share one (tests, an embedding application). A bad
    ``settings.consolidate_every_s`` (negative, not finite) raises ValueError.
    """
    options = options or ServerOptions()
    every_s = check_interval(settings.consolidate_every_s)
    purge_every_s = check_interval(settings.purge_every_s, "purge")
    owned = contextlib.ExitStack()
    if memory is None:
        memory = owned.enter_context(Memory(settings=settings))
    if keys is None and options.auth:
        keys = owned.enter_context(KeyRing(keys_path(settings.path)))
    authenticator = Authenticator(
        keys, RateLimiter(options.rate_per_s, options.burst), enabled=options.auth
    )
    audit_file = audit_path(settings.path)
    audit = None if audit_file is None else audit_table(audit_file)
    if audit is not None:
        owned.callback(audit.close)
    schedule = None
    if every_s > 0:
        schedule = ConsolidationSchedule(
            memory, every_s, audit=None if audit is None else audit.append
        )
    purging = None
    if purge_every_s > 0:  # docs/expiry.md
        purging = PurgeSchedule(
            memory, purge_every_s, audit=None if audit is None else audit.append
        )
    metrics = Metrics(memory, schedule, purging)
    mcp_manager: Any = None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with owned:
            if schedule is not None:
                schedule.start()
            if purging is not None:
                purging.start()
            try:
                if mcp_manager is None:
                    yield
                else:
                    async with mcp_manager.run():
                        yield
            finally:
                # Before ``owned`` closes the store; in a thread, as the wait for a batch
                # in progress must not block the event loop.
                if schedule is not None:
                    await run_in_threadpool(schedule.stop)
                if purging is not None:
                    await run_in_threadpool(purging.stop)

    app = FastAPI(
        title="engramdb",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_url=OPENAPI_URL,
        # install_docs serves /docs from the package instead of a CDN (docs/server.md)
        docs_url=None,
        redoc_url=None,
        # Starlette would answer /v1/namespaces/ with a 307 whose Location it builds
        # from the request's Host header; a trailing slash is simply no route (404)
        redirect_slashes=False,
        dependencies=[Depends(_known_query_only)],
    )
    app.state.engram = ServerState(memory=memory, authenticator=authenticator, options=options)
    app.state.metrics = metrics
    app.state.schedule = schedule
    app.state.purging = purging
    app.state.audit = audit
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_docs(app)
    install_ui(app)
    if options.mcp:
        mcp_manager = _mount_mcp(
            app, memory, authenticator, options, None if audit is None else audit.append
        )
    # Outermost last. The key is checked first, so a caller without one gets 401
    # whatever its body; then the body limit, before anything reads the body; then
    # the route parses it (docs/server.md, "Order of the checks"). The metrics and
    # the audit trail see the 401s and 413s too.
    app.add_middleware(BodyLimit, max_body_bytes=options.max_body_bytes)
    app.add_middleware(
        KeyCheck,
        authenticator=authenticator,
        open_paths=OPEN_PATHS | UI_OPEN_PATHS,
        open_prefixes=OPEN_PREFIXES + UI_OPEN_PREFIXES,
    )
    app.add_middleware(RequestMetrics, metrics=metrics)
    if audit is not None:
        app.add_middleware(AuditTrail, log=audit)
    return app


def _known_query_only(request: Request) -> None:
    """Unknown query parameters are refused as unknown body fields are (docs/server.md):
    a misspelt ``?nwo=`` is a 422, not a request answered as if it were not there."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    unknown = sorted(set(request.query_params) - _query_names(dependant))
    if unknown:
        raise HttpError(
            422, "invalid_request", f"unknown query parameter {', '.join(map(repr, unknown))}"
        )


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return names


def _mount_mcp(
    app: FastAPI,
    memory: Memory,
    authenticator: Authenticator,
    options: ServerOptions,
    audit: Callable[[AuditRecord], None] | None,
) -> Any:
    """Add the MCP streamable-HTTP endpoint at ``/mcp``; returns its session manager."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

    from engramdb.server.mcp import KEY_STATE, build_mcp

    # The tools audit their own calls, as the request's key, into the app's log.
    server = build_mcp(memory, audit=audit)
    # Stateless: each POST stands alone, so every one is authenticated by McpGate and no
    # session outlives its key. DNS-rebinding protection is on for loopback hosts.
    server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        max_request_body_size=options.max_body_bytes,
        host=options.host if options.host in LOOPBACK_HOSTS else "0.0.0.0",  # noqa: S104
    )
    manager = server.session_manager
    gate = McpGate(StreamableHTTPASGIApp(manager), authenticator, KEY_STATE)
    app.router.routes.append(
        Route("/mcp", endpoint=gate, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    )
    return manager
