"""``engram serve`` (the REST API and MCP over HTTP) and ``engram mcp`` (MCP over stdio).

``serve`` binds 127.0.0.1 unless ``--host`` says otherwise and requires API
keys: with no live key for the store it refuses to start and says how to make
one. ``--no-auth`` (every request acts as admin) is allowed on a loopback host
only, with a warning. It consolidates in the background every
``--consolidate-every`` seconds (default 300, or ``ENGRAMDB_CONSOLIDATE_EVERY_S``;
0 turns it off): a long-running server is where facts should appear without
anyone asking, while the library's ``Settings`` keep it off. FastAPI, uvicorn
and the MCP SDK are imported only here, when the command runs; without them
both commands exit 1 with one line naming ``pip install 'engramdb[server]'``
(``engramdb.extras``).
"""

from __future__ import annotations

import math
import socket
from dataclasses import replace
from typing import Annotated

import typer

from engramdb.bounded import limit_arenas
from engramdb.cli.errors import EXIT_FAILURE, EXIT_USAGE, fail
from engramdb.cli.state import NamespaceOption, state
from engramdb.config import shown_location
from engramdb.extras import needs_extra
from engramdb.security.keys import KeyRing, keys_path
from engramdb.server.options import LOOPBACK_HOSTS, ServerOptions

__all__ = ["mcp", "serve"]

_DEFAULTS = ServerOptions()
#: ``engram serve``'s background consolidation interval; the library's default is off.
CONSOLIDATE_EVERY_S = 300.0


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).")] = 8765,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="Serve without API keys (loopback hosts only)."),
    ] = False,
    no_mcp: Annotated[bool, typer.Option("--no-mcp", help="Do not serve MCP at /mcp.")] = False,
    rate_limit: Annotated[
        float,
        typer.Option("--rate-limit", help="Requests per second per key (0: no limit)."),
    ] = _DEFAULTS.rate_per_s,
    burst: Annotated[
        int, typer.Option("--burst", help="Requests a key may make at once.")
    ] = _DEFAULTS.burst,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", help="Largest request body accepted.")
    ] = _DEFAULTS.max_body_bytes,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")] = "warning",
    consolidate_every: Annotated[
        float,
        typer.Option(
            "--consolidate-every",
            metavar="SECONDS",
            envvar="ENGRAMDB_CONSOLIDATE_EVERY_S",
            help="Consolidate namespaces with new episodes this often (0: off).",
        ),
    ] = CONSOLIDATE_EVERY_S,
) -> None:
    """Serve the store over HTTP: the REST API under /v1, MCP at /mcp."""
    with needs_extra("server", "engram serve"):
        import uvicorn

        from engramdb.server.http import JsonErrorsH11, create_app
    cli = state(ctx)
    if not math.isfinite(consolidate_every) or consolidate_every < 0:
        raise fail(
            "--consolidate-every (or ENGRAMDB_CONSOLIDATE_EVERY_S) must be 0 (off) or a "
            f"positive number of seconds, not {consolidate_every:g}",
            EXIT_USAGE,
        )
    settings = replace(cli.settings, consolidate_every_s=consolidate_every)
    if no_auth and host not in LOOPBACK_HOSTS:
        raise fail(
            f"--no-auth is refused on {host}: serve without keys on 127.0.0.1 only", EXIT_USAGE
        )
    if no_auth:
        typer.echo(
            "engram: warning: --no-auth: every local process can read and erase every namespace",
            err=True,
        )
    else:
        path = keys_path(settings.path)
        with KeyRing(path) as ring:
            if not ring.has_live_keys():
                raise fail(
                    f"no API keys for this store (in {shown_location(path)}); create one with "
                    "'engram keys create --name me --access admin', "
                    "or serve keyless on 127.0.0.1 with --no-auth",
                    EXIT_USAGE,
                )
    options = ServerOptions(
        auth=not no_auth,
        rate_per_s=rate_limit,
        burst=burst,
        max_body_bytes=max_body_bytes,
        mcp=not no_mcp,
        host=host,
    )
    limit_arenas()  # before any request thread allocates (docs/limits.md, "Caches")
    app = create_app(settings, options=options)
    app.state.engram.memory.embedder.embed(["warm up"])  # load the model before the first request
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    where = shown_location(settings.path)  # a database URL's password is not shown
    typer.echo(f"engram: serving http://{shown}:{bound} (store {where})", err=True)
    # JsonErrorsH11: uvicorn's own 400s in the API's error shape (docs/server.md)
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", http=JsonErrorsH11)
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc}", EXIT_FAILURE) from None
    sock.set_inheritable(True)
    return sock


def mcp(ctx: typer.Context, namespace: NamespaceOption = None) -> None:
    """Serve MCP over stdio for one client (the tools' default namespace is -n)."""
    cli = state(ctx)
    with needs_extra("server", "engram mcp"):
        from engramdb.server.mcp import build_mcp
    with cli.memory() as memory:
        build_mcp(memory, namespace=cli.resolve(namespace)).run("stdio")
