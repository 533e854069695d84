"""``engram pin``, ``unpin``, ``profile`` and ``profile-proposals``: the pinned profile
(docs/profile.md), the short entries every ``engram context`` shows first.

Each command makes one facade call and prints the result (one line per entry,
or one JSON document with ``--json``); pins and unpins are audited (actor
``local``, never the key or the text). Options and help texts are
``engramdb.options``' (``tests/test_options.py`` checks it).
"""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from engramdb import ProfileEntry, wire
from engramdb.cli.output import emit_json, iso
from engramdb.cli.state import NamespaceOption, parse_time, state
from engramdb.options import PIN, PROFILE
from engramdb.security import audit

__all__ = ["pin", "profile", "profile_proposals", "unpin"]

KeyArgument = Annotated[
    str, typer.Argument(help="The entry's key, e.g. name or diet.", show_default=False)
]


def _line(entry: ProfileEntry) -> str:
    """``<key>  v<version>  <from> .. <to or now>  <text>``."""
    until = iso(entry.valid_to) if entry.valid_to else "now"
    return f"{entry.key}  v{entry.version}  {iso(entry.valid_from)} .. {until}  {entry.text}"


def pin(
    ctx: typer.Context,
    key: KeyArgument,
    text: Annotated[str, typer.Argument(help="What the entry says.", show_default=False)],
    namespace: NamespaceOption = None,
    source_id: Annotated[
        str | None, typer.Option("--source-id", metavar="ID", help=PIN.help("source_id"))
    ] = None,
) -> None:
    """Pin TEXT under KEY: every context shows it first (a new version when KEY is pinned)."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.memory() as mem:
        entry = mem.pin(key, text, namespace=ns, source_id=source_id)
    audit.record(cli.settings.path, "pin", ns)
    if cli.json:
        emit_json({"namespace": ns, **wire.to_json(entry)})
    else:
        typer.echo(f"pinned {_line(entry)}")


def unpin(ctx: typer.Context, key: KeyArgument, namespace: NamespaceOption = None) -> None:
    """Stop showing KEY in contexts; its versions are kept (engram profile --history)."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.memory() as mem:
        entry = mem.unpin(key, namespace=ns)
    audit.record(cli.settings.path, "unpin", ns)
    if cli.json:
        emit_json({"namespace": ns, **wire.to_json(entry)})
    else:
        typer.echo(f"unpinned {_line(entry)}")


def profile(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="ISO", help=PROFILE.help("as_of"), show_default=False),
    ] = None,
    history: Annotated[bool, typer.Option("--history", help=PROFILE.help("history"))] = False,
) -> None:
    """List the pinned profile by key: now, at --as-of, or every version with --history."""
    cli = state(ctx)
    when = parse_time(as_of, "--as-of")
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        found = mem.profile(namespace=ns, as_of=when, history=history)
    if cli.json:
        entries = [wire.to_json(e) for e in found]
        emit_json({"namespace": ns, "as_of": iso(when), "history": history, "entries": entries})
        return
    if not found:
        typer.echo(f"nothing pinned in {ns!r} (engram pin KEY TEXT pins an entry)")
    for entry in found:
        typer.echo(_line(entry))


def profile_proposals(ctx: typer.Context, namespace: NamespaceOption = None) -> None:
    """List profile entries proposed from stable facts; accept one with engram pin."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        found = mem.profile_proposals(namespace=ns)
    if cli.json:
        emit_json({"namespace": ns, "proposals": [wire.to_json(p) for p in found]})
        return
    if not found:
        typer.echo(f"no proposals in {ns!r} (they come from facts stated more than once)")
    for proposal in found:
        instead = f"  (replaces: {proposal.pinned})" if proposal.pinned else ""
        accept = f"engram pin {proposal.key} {shlex.quote(proposal.text)}"
        typer.echo(f"{proposal.key}: {proposal.text}{instead}")
        typer.echo(f"    {accept} --source-id {proposal.fact_id}")
