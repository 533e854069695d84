"""``engram keys create|list|revoke``: the API keys of ``engram serve``;
``engram keys new-master|rotate-master``: the master key of an encrypted store.

API keys live in ``keys.db`` beside the store (``engramdb.security.keys``); a new
key's token is printed once and cannot be shown again. The master key lives
nowhere in the store: it comes from ``ENGRAMDB_MASTER_KEY``,
``ENGRAMDB_MASTER_KEY_FILE`` or ``ENGRAMDB_PASSPHRASE`` (docs/security.md).
This module only parses options and prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from engramdb import EncryptionKey, InvalidInputError
from engramdb.cli.output import emit_json, iso
from engramdb.cli.state import state
from engramdb.security import audit
from engramdb.security.crypto import generate_key
from engramdb.security.keys import ACCESS_LEVELS, Access, ApiKey, KeyRing, keys_path
from engramdb.store import is_postgres
from engramdb.store.files import private_file

__all__ = ["app"]

app = typer.Typer(
    name="keys",
    no_args_is_help=True,
    help="API keys of 'engram serve' (create, list, revoke); the master key of an "
    "encrypted store (new-master, rotate-master).",
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
    where = keys_path(cli.settings.path)
    if where != ":memory:" and not is_postgres(where) and not Path(where).is_file():
        cli.require_store()  # no store, no keys: exit 3, and nothing is created
        keys: list[ApiKey] = []
    else:
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


def _write_key_file(path: Path) -> None:
    """A fresh master key in a new file only its owner can read (never overwritten)."""
    try:
        private_file(path, exclusive=True)
    except FileExistsError:
        raise InvalidInputError(f"{path} exists: a key file is never overwritten") from None
    path.write_text(generate_key() + "\n", encoding="ascii")


@app.command("new-master")
def new_master(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write the key to this new file (mode 600) instead of printing it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Make a random master key (32 bytes, base64) for an encrypted store."""
    cli = state(ctx)
    if out is None:
        key = generate_key()
        if cli.json:
            emit_json({"key": key})
        else:
            typer.echo(key)
        return
    _write_key_file(out)
    if cli.json:
        emit_json({"key_file": str(out)})
    else:
        typer.echo(f"wrote a new master key to {out} (mode 600); keep a copy somewhere safe")


def _new_key(new_key_file: Path | None, generate: bool) -> EncryptionKey:
    """The new master key of rotate-master and encrypt-store: a file, or the environment."""
    if generate:
        if new_key_file is None:
            raise InvalidInputError("--generate needs --new-key-file FILE to write the key to")
        _write_key_file(new_key_file)
    if new_key_file is not None:
        return EncryptionKey.from_file(new_key_file)
    try:
        new = EncryptionKey.from_env(os.environ, prefix="ENGRAMDB_NEW_")
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if new is None:
        raise InvalidInputError(
            "no new master key: pass --new-key-file FILE or set ENGRAMDB_NEW_MASTER_KEY, "
            "ENGRAMDB_NEW_MASTER_KEY_FILE or ENGRAMDB_NEW_PASSPHRASE"
        )
    return new


NewKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--new-key-file",
        metavar="FILE",
        help="The new master key's file (else $ENGRAMDB_NEW_MASTER_KEY, "
        "$ENGRAMDB_NEW_MASTER_KEY_FILE or $ENGRAMDB_NEW_PASSPHRASE).",
        show_default=False,
    ),
]
GenerateOption = Annotated[
    bool,
    typer.Option("--generate", help="Write a fresh key to --new-key-file first."),
]


@app.command("rotate-master")
def rotate_master(
    ctx: typer.Context,
    new_key_file: NewKeyFileOption = None,
    generate: GenerateOption = False,
) -> None:
    """Re-wrap the store's data keys under a new master key (content is not rewritten).

    The store is opened with the current key ($ENGRAMDB_MASTER_KEY, ..._FILE
    or $ENGRAMDB_PASSPHRASE); afterwards it opens only with the new one.
    """
    cli = state(ctx)
    new = _new_key(new_key_file, generate)
    with cli.memory() as mem:
        count = mem.rotate_master_key(new)
    audit.record(cli.settings.path, "rotate_master_key", None, count=count)
    if cli.json:
        emit_json({"rotated": count, "new_key": new.kind})
    else:
        typer.echo(
            f"re-wrapped {count} data key(s) under the new master key ({new.kind}); "
            "the store now opens only with it"
        )


@app.command("encrypt-store")
def encrypt_store(
    ctx: typer.Context,
    new_key_file: NewKeyFileOption = None,
    generate: GenerateOption = False,
) -> None:
    """Encrypt a plaintext store in place under a new master key.

    Every memory, version, fact, emotion and vector is sealed in one
    transaction and the file is compacted (on PostgreSQL, run VACUUM FULL
    after it). Stop other users of the store first; afterwards it opens only
    with the key.
    """
    cli = state(ctx)
    new = _new_key(new_key_file, generate)
    with cli.memory() as mem:
        count = mem.encrypt(new)
    audit.record(cli.settings.path, "encrypt_store", None, count=count)
    if cli.json:
        emit_json({"encrypted": count, "key": new.kind})
    else:
        typer.echo(
            f"encrypted {count} memories in place ({new.kind} key); the store now opens "
            "only with it"
        )
        if is_postgres(cli.settings.path):  # the old row versions are in the files still
            typer.echo(
                "PostgreSQL keeps the plaintext row versions in its files until VACUUM FULL "
                "of the store's tables (docs/postgres.md, 'Encryption at rest')"
            )
