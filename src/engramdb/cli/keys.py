"""``engram keys create|list|revoke``: the API keys of ``engram serve``.

Keys live in ``keys.db`` beside the store (``engramdb.server.keys``); this
module only parses options and prints. A new key's token is printed once and
cannot be shown again.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from engramdb.cli.output import emit_json, iso
from engramdb.cli.state import state
from engramdb.server.keys import ACCESS_LEVELS, Access, ApiKey, KeyRing, keys_path

__all__ = ["app"]

app = typer.Typer(
    name="keys",
    no_args_is_help=True,
    help="Create, list and revoke the API keys of 'engram serve'.",
)


def _ring(ctx: typer.Context) -> KeyRing:
    return KeyRing(keys_path(state(ctx).settings.path))


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "namespaces": list(key.namespaces),
        "access": key.access,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="A label: who or what uses the key.")],
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            "-n",
            metavar="PATTERN",
            help="A namespace the key may use: a name, or a prefix ending in * (repeatable).",
            show_default=False,
        ),
    ] = None,
    access: Annotated[
        str,
        typer.Option(
            "--access", metavar="read|write|admin", help="read, write (implies read) or admin."
        ),
    ] = "read",
) -> None:
    """Mint a key and print its token (shown once; only a hash is kept)."""
    cli = state(ctx)
    if access not in ACCESS_LEVELS:
        from engramdb import InvalidInputError

        raise InvalidInputError(f"--access must be one of {', '.join(ACCESS_LEVELS)}")
    level: Access = "admin" if access == "admin" else ("write" if access == "write" else "read")
    with _ring(ctx) as ring:
        new = ring.create(name=name, namespaces=namespace or [], access=level)
    if cli.json:
        emit_json({**_key_json(new.key), "token": new.token})
        return
    typer.echo(new.token)
    typer.echo(
        f"engram: key {new.key.id} ({new.key.access} on {', '.join(new.key.namespaces)}); "
        "store the token now, it is not shown again",
        err=True,
    )


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the keys (never their tokens), revoked ones included."""
    cli = state(ctx)
    with _ring(ctx) as ring:
        keys = ring.list()
    if cli.json:
        emit_json({"keys": [_key_json(k) for k in keys]})
        return
    for key in keys:
        status = f"revoked {iso(key.revoked_at)}" if key.revoked_at else "live"
        typer.echo(
            f"{key.id}  {key.access:<5}  {','.join(key.namespaces):<20}  {status:<8}  {key.name}"
        )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (from 'keys list').")],
) -> None:
    """Revoke a key: the server refuses it from its next request on."""
    cli = state(ctx)
    with _ring(ctx) as ring:
        key = ring.revoke(key_id)
    if cli.json:
        emit_json(_key_json(key))
    else:
        typer.echo(f"revoked {key.id} ({key.name})")
