"""Expiry (docs/expiry.md): ``engram purge``, ``engram ttl`` and ``engram expire``, and
how the CLI reads a duration (``engram add --ttl``, ``engram ttl --set``).

A duration is a number with an optional unit: ``s`` (the default), ``m``, ``h``,
``d`` or ``w``: ``90``, ``15m``, ``36h``, ``30d``. The work is the facade's
(``Memory.purge``, ``set_ttl``, ``set_expiry``); these commands parse, audit and print.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated

import typer

from engramdb import InvalidInputError, wire
from engramdb.cli.errors import EXIT_USAGE, fail
from engramdb.cli.output import counted, emit_json, iso
from engramdb.cli.state import NamespaceOption, parse_time, state
from engramdb.options import PURGE
from engramdb.security import audit

__all__ = ["expire", "parse_duration", "purge", "ttl"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def parse_duration(value: str | None, option: str) -> timedelta | None:
    """A duration such as ``30d``, ``36h``, ``15m`` or ``90`` (seconds)."""
    if value is None:
        return None
    found = _DURATION.match(value)
    if found is None:
        raise InvalidInputError(
            f"{option} {value!r} is not a duration: a number with s, m, h, d or w (e.g. 30d)"
        )
    try:
        return timedelta(seconds=float(found.group(1)) * _UNIT_S[found.group(2)])
    except OverflowError:
        raise InvalidInputError(f"{option} {value!r} is too long") from None


def purge(
    ctx: typer.Context,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help=PURGE.help("namespace"), show_default=False),
    ] = None,
) -> None:
    """Erase the memories that expired, with what they take along (facts, summaries), as
    delete-where erases (docs/expiry.md)."""
    cli = state(ctx)
    ns = cli.resolve_optional(namespace)
    with cli.existing_memory() as mem:
        done = mem.purge(namespace=ns)
    for deletion in done:
        audit.record(cli.settings.path, "purge", deletion.namespace, count=deletion.count)
    if cli.json:
        emit_json({"deletions": [wire.to_json(d) for d in done]})
        return
    if not done:
        typer.echo("nothing had expired")
    for d in done:
        typer.echo(
            f"purged {counted(d.count)} ({len(d.ids)} expired, {len(d.derived)} derived) "
            f"in {d.namespace!r}"
        )


def ttl(
    ctx: typer.Context,
    namespace: Annotated[
        str, typer.Argument(metavar="NS", help="The namespace.", show_default=False)
    ],
    given: Annotated[
        str | None,
        typer.Option(
            "--set",
            metavar="DURATION",
            help="Store this default time to live (e.g. 30d, 36h, 15m, 90 seconds): memories "
            "added without their own expiry expire that long after they were recorded.",
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the default TTL.")] = False,
) -> None:
    """Show a namespace's default time to live, or store or remove it (docs/expiry.md)."""
    cli = state(ctx)
    if clear and given is not None:
        raise fail("--clear takes no --set", EXIT_USAGE)
    wanted = parse_duration(given, "--set")
    setting = clear or wanted is not None
    # the read form creates no store; storing a TTL does, like any write
    with cli.memory() if setting else cli.existing_memory() as mem:
        if setting:
            mem.set_ttl(wanted, namespace=namespace)
            audit.record(cli.settings.path, "set_ttl", namespace)
        found = mem.ttl(namespace=namespace)
    if cli.json:
        seconds = None if found is None else found.total_seconds()
        emit_json({"namespace": namespace, "ttl_s": seconds})
    elif found is None:
        typer.echo(f"{namespace}: no default TTL")
    else:
        typer.echo(f"{namespace}: memories expire {found} after they are recorded")


def expire(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="The memory's id.", show_default=False)],
    namespace: NamespaceOption = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="ISO", help="Expire at this time (after now)."),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option("--in", metavar="DURATION", help="Expire this long from now (e.g. 7d)."),
    ] = None,
    never: Annotated[bool, typer.Option("--never", help="Never expire.")] = False,
) -> None:
    """Set, move or clear when a memory expires (no new version is written)."""
    cli = state(ctx)
    if sum((at is not None, after is not None, never)) != 1:
        raise fail("give one of --at, --in or --never", EXIT_USAGE)
    when = parse_time(at, "--at")
    span = parse_duration(after, "--in")
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        if span is not None:
            when = datetime.now(timezone.utc) + span
        engram = mem.set_expiry(id, namespace=ns, expires_at=when)
    audit.record(cli.settings.path, "set_expiry", ns, target=engram.id)
    if cli.json:
        emit_json(wire.to_json(engram))
    else:
        typer.echo(f"{engram.id}: expires {iso(engram.expires_at) or 'never'}")
