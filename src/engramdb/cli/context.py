"""Working memory and context (docs/context.md): ``engram context``, ``working`` and ``mood``.

Each command makes one facade call and prints the result: the packed context
as prompt text (or its items with ``--json``), a session's latest turns, the
recent mood with the memories that drive it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from engramdb import wire
from engramdb.cli.output import emit_json, engram_line
from engramdb.cli.state import (
    AfterOption,
    BeforeOption,
    MinRelevanceOption,
    NamespaceOption,
    WhereOption,
    parse_filters,
    parse_time,
    state,
)
from engramdb.options import CONTEXT

__all__ = ["context", "mood", "working"]

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="ISO",
        help="Reference time (ISO 8601). (default: wall clock)",
        show_default=False,
    ),
]


def context(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What the next reply is about.", show_default=False)],
    namespace: NamespaceOption = None,
    session: Annotated[str | None, typer.Option("--session", help=CONTEXT.help("session"))] = None,
    budget_tokens: Annotated[
        int, typer.Option("--budget-tokens", help=CONTEXT.help("budget_tokens"))
    ] = 1000,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO", help=CONTEXT.help("now"), show_default=False),
    ] = None,
    where: WhereOption = None,
    occurred_after: AfterOption = None,
    occurred_before: BeforeOption = None,
    min_relevance: MinRelevanceOption = 0.0,
) -> None:
    """Print a prompt context for QUERY: recent turns, relevant memories, mood, in a budget."""
    cli = state(ctx)
    at = parse_time(now, "--now")
    filters = parse_filters(where, occurred_after, occurred_before)
    with cli.existing_memory() as mem:
        bundle = mem.context(
            query,
            namespace=cli.resolve(namespace),
            session=session,
            budget_tokens=budget_tokens,
            now=at,
            **filters,
            min_relevance=min_relevance,
        )
    if cli.json:
        emit_json(wire.to_json(bundle))
    else:
        typer.echo(bundle.render())


def working(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="The session.", show_default=False)],
    namespace: NamespaceOption = None,
    max_turns: Annotated[int, typer.Option("--max-turns", help="Turns at most.")] = 20,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", help="Tokens of text at most.")
    ] = None,
) -> None:
    """Print SESSION's working memory: its latest turns, oldest first."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        turns = mem.working(
            namespace=ns, session=session, max_turns=max_turns, max_tokens=max_tokens
        )
    if cli.json:
        emit_json({"namespace": ns, "session": session, "turns": [wire.to_json(t) for t in turns]})
        return
    for turn in turns:
        typer.echo(engram_line(turn))


def mood(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    window_days: Annotated[
        float, typer.Option("--window-days", help="How far back to look, in days.")
    ] = 7.0,
    now: NowOption = None,
) -> None:
    """Print the recent mood (valence, arousal) and the memories that drive it."""
    cli = state(ctx)
    at = parse_time(now, "--now")
    with cli.existing_memory() as mem:
        found = mem.mood(
            namespace=cli.resolve(namespace), window=timedelta(days=window_days), now=at
        )
    if cli.json:
        emit_json(wire.to_json(found))
        return
    typer.echo(found.describe())
    for engram in found.drivers:
        typer.echo(f"  {engram_line(engram)}")
