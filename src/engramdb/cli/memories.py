"""Commands on memories: add, search, list, get, update, delete, history.

Each command parses its options, makes one facade call and prints the result
(text, or one JSON document with ``--json``). Validation beyond parsing is the
facade's; errors become exit codes in ``errors``. ``add`` and ``search`` take
every option of their ``Memory`` method, with its help text, as
``engramdb.options`` defines them (``tests/test_options.py`` checks it).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer

from engramdb import InvalidInputError, wire
from engramdb.cli.errors import EXIT_USAGE, fail
from engramdb.cli.expiry import parse_duration
from engramdb.cli.output import (
    emit_json,
    engram_line,
    engram_text,
    hit_lines,
    iso,
    version_lines,
)
from engramdb.cli.state import (
    AfterOption,
    BeforeOption,
    MinRelevanceOption,
    NamespaceOption,
    WhereOption,
    parse_filters,
    parse_metadata,
    parse_time,
    state,
)
from engramdb.options import ADD, LIST, LIST_ORDERS, SEARCH
from engramdb.security import audit

__all__ = ["add", "delete", "get", "history", "list_", "search", "update"]

IdArgument = Annotated[
    str, typer.Argument(metavar="ID", help="The memory's id.", show_default=False)
]
SpeakerOption = Annotated[str | None, typer.Option("--speaker", help="Who said or did it.")]
OccurredAtOption = Annotated[
    str | None,
    typer.Option(
        "--occurred-at",
        metavar="ISO",
        help="When it happened: timezone-aware ISO 8601, e.g. 2023-05-08T13:56:00Z.",
    ),
]
MetadataOption = Annotated[
    str | None, typer.Option("--metadata", metavar="JSON", help=ADD.help("metadata"))
]


def add(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to remember.", show_default=False)],
    namespace: NamespaceOption = None,
    session: Annotated[str | None, typer.Option("--session", help=ADD.help("session"))] = None,
    speaker: Annotated[str | None, typer.Option("--speaker", help=ADD.help("speaker"))] = None,
    occurred_at: Annotated[
        str | None,
        typer.Option(
            "--occurred-at",
            metavar="ISO",
            help=f"{ADD.help('occurred_at')} E.g. 2023-05-08T13:56:00Z.",
            show_default=False,
        ),
    ] = None,
    metadata: MetadataOption = None,
    importance: Annotated[
        float | None, typer.Option("--importance", help=ADD.help("importance"))
    ] = None,
    emotion: Annotated[str | None, typer.Option("--emotion", help=ADD.help("emotion"))] = None,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help=ADD.help("idempotency_key"))
    ] = None,
    embed: Annotated[
        str | None, typer.Option("--embed", metavar="now|later", help=ADD.help("embed"))
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(
            "--expires-at",
            metavar="ISO",
            help=f"{ADD.help('expires_at')} Or --ttl.",
            show_default=False,
        ),
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option(
            "--ttl",
            metavar="DURATION",
            help="Expire this long from now (e.g. 30d, 36h, 15m, 90 seconds); or --expires-at.",
        ),
    ] = None,
) -> None:
    """Remember one experience and print its id (with --json: the memory as stored).

    The same text, speaker, session and time as a memory of the namespace, or an
    idempotency key used before, prints that memory's id, with "(repeated)" on
    stderr (docs/repetition.md)."""
    cli = state(ctx)
    when = parse_time(occurred_at, "--occurred-at")
    meta = parse_metadata(metadata)
    ns = cli.resolve(namespace)
    if expires_at is not None and ttl is not None:
        raise fail("give --expires-at or --ttl, not both", EXIT_USAGE)
    until = parse_time(expires_at, "--expires-at")
    span = parse_duration(ttl, "--ttl")
    if span is not None:
        until = datetime.now(timezone.utc) + span
    with cli.memory() as mem:
        engram = mem.add(
            text,
            namespace=ns,
            session=session,
            speaker=speaker,
            occurred_at=when,
            metadata=meta,
            importance=importance,
            emotion=emotion,
            idempotency_key=idempotency_key,
            embed=embed,
            expires_at=until,
        )
    audit.record(cli.settings.path, "add", ns, target=engram.id)
    if cli.json:
        emit_json(wire.to_json(engram))
    else:
        typer.echo(engram.id)
        if engram.repeated:
            typer.echo("(repeated: already remembered, no copy stored)", err=True)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to recall.", show_default=False)],
    namespace: NamespaceOption = None,
    limit: Annotated[int, typer.Option("--limit", help=SEARCH.help("limit"))] = 10,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO", help=SEARCH.help("now"), show_default=False),
    ] = None,
    neighbours: Annotated[int, typer.Option("--neighbours", help=SEARCH.help("neighbours"))] = 0,
    context: Annotated[
        list[str] | None,
        typer.Option(
            "--context",
            metavar="TURN",
            help="A recent turn ('Name: text'); repeat for several, oldest first. "
            "Resolves 'she', 'his' etc. and keeps recall on topic.",
        ),
    ] = None,
    context_session: Annotated[
        str | None,
        typer.Option("--context-session", help="Use this session's working memory as context."),
    ] = None,
    include_dormant: Annotated[
        bool, typer.Option("--include-dormant", help=SEARCH.help("include_dormant"))
    ] = False,
    reinforce: Annotated[
        bool, typer.Option("--reinforce/--no-reinforce", help=SEARCH.help("reinforce"))
    ] = True,
    emotion: Annotated[
        list[str] | None,
        typer.Option("--emotion", metavar="LABEL", help=f"{SEARCH.help('emotion')} Repeatable."),
    ] = None,
    mood_congruent: Annotated[
        bool, typer.Option("--mood-congruent", help=SEARCH.help("mood_congruent"))
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="ISO", help=SEARCH.help("as_of"), show_default=False),
    ] = None,
    kinds: Annotated[
        list[str] | None,
        typer.Option("--kinds", metavar="KIND", help=f"{SEARCH.help('kinds')} Repeatable."),
    ] = None,
    where: WhereOption = None,
    occurred_after: AfterOption = None,
    occurred_before: BeforeOption = None,
    min_relevance: MinRelevanceOption = 0.0,
    concept: Annotated[
        str | None, typer.Option("--concept", metavar="NAME", help=SEARCH.help("concept"))
    ] = None,
    namespaces: Annotated[
        list[str] | None,
        typer.Option("--namespaces", metavar="NS", help=f"{SEARCH.help('namespaces')} Repeatable."),
    ] = None,
    namespace_prefix: Annotated[
        str | None,
        typer.Option("--namespace-prefix", metavar="PREFIX", help=SEARCH.help("namespace_prefix")),
    ] = None,
) -> None:
    """Recall the memories most relevant to QUERY, best first, each explained (in several
    namespaces with --namespaces or --namespace-prefix: each hit names its namespace)."""
    cli = state(ctx)
    at = parse_time(now, "--now")
    when = parse_time(as_of, "--as-of")
    filters = parse_filters(where, occurred_after, occurred_before)
    across = bool(namespaces) or namespace_prefix is not None
    if across and namespace is not None:
        raise InvalidInputError("give --namespace, or --namespaces / --namespace-prefix, not both")
    ns = "default" if across else cli.resolve(namespace)
    with cli.existing_memory() as mem:
        if context and context_session:
            raise InvalidInputError("give --context or --context-session, not both")
        hits = mem.search(
            query,
            namespace=ns,
            limit=limit,
            now=at,
            neighbours=neighbours,
            context=context_session or context or None,
            include_dormant=include_dormant,
            reinforce=reinforce,
            emotion=emotion or None,
            mood_congruent=mood_congruent,
            as_of=when,
            kinds=kinds or None,
            **filters,
            min_relevance=min_relevance,
            concept=concept,
            namespaces=namespaces or None,
            namespace_prefix=namespace_prefix,
        )
    scope = {"namespaces": namespaces} if namespaces else {"namespace_prefix": namespace_prefix}
    if cli.json:
        emit_json(
            {
                "query": query,
                **(scope if across else {"namespace": ns}),
                "now": iso(at),
                "hits": [wire.to_json(h) for h in hits],
            }
        )
        return
    if not hits:
        typer.echo(
            f"no memories found in {', '.join(namespaces or []) or namespace_prefix or ns!r}"
        )
    for hit in hits:
        for line in hit_lines(hit, across):
            typer.echo(line)


def list_(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    where: WhereOption = None,
    occurred_after: AfterOption = None,
    occurred_before: BeforeOption = None,
    kinds: Annotated[
        list[str] | None,
        typer.Option("--kinds", metavar="KIND", help=f"{LIST.help('kinds')} Repeatable."),
    ] = None,
    order: Annotated[
        str, typer.Option("--order", metavar="|".join(LIST_ORDERS), help=LIST.help("order"))
    ] = "occurred_at",
    descending: Annotated[bool, typer.Option("--descending", help=LIST.help("descending"))] = False,
    limit: Annotated[int, typer.Option("--limit", help=LIST.help("limit"))] = 100,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help=LIST.help("cursor"), show_default=False)
    ] = None,
) -> None:
    """List a namespace's memories page by page in time order; the next page's cursor
    goes to stderr (with --json: the page, its next_cursor included)."""
    cli = state(ctx)
    filters = parse_filters(where, occurred_after, occurred_before)
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        page = mem.list(
            namespace=ns,
            **filters,
            kinds=kinds or None,
            order=order,
            descending=descending,
            limit=limit,
            cursor=cursor,
        )
    if cli.json:
        emit_json(wire.to_json(page))
        return
    if not page.engrams:
        typer.echo(f"no memories in {ns!r}" + (" after this cursor" if cursor else ""))
    for engram in page.engrams:
        typer.echo(f"{engram.id}  {engram_line(engram)}")
    if page.next_cursor is not None:
        typer.echo(f"next page: --cursor {page.next_cursor}", err=True)


def get(ctx: typer.Context, engram_id: IdArgument, namespace: NamespaceOption = None) -> None:
    """Show one memory."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        engram = mem.get(engram_id, namespace=ns)
        retention = mem.retention(engram_id, namespace=ns)
    if cli.json:
        emit_json(wire.to_json(engram) | {"retention": retention})
    else:
        for line in engram_text(engram, retention):
            typer.echo(line)


def update(
    ctx: typer.Context,
    engram_id: IdArgument,
    namespace: NamespaceOption = None,
    text: Annotated[str | None, typer.Option("--text", help="The new text.")] = None,
    speaker: SpeakerOption = None,
    occurred_at: OccurredAtOption = None,
    metadata: Annotated[
        str | None,
        typer.Option("--metadata", metavar="JSON", help="A JSON object; replaces the metadata."),
    ] = None,
) -> None:
    """Write a new version of a memory; the old one stays in its history."""
    cli = state(ctx)
    when = parse_time(occurred_at, "--occurred-at")
    meta = parse_metadata(metadata)
    if text is None and speaker is None and when is None and meta is None:
        raise InvalidInputError(
            "nothing to update: give --text, --speaker, --occurred-at or --metadata"
        )
    ns = cli.resolve(namespace)
    with cli.memory() as mem:
        engram = mem.update(
            engram_id,
            namespace=ns,
            text=text,
            speaker=speaker,
            occurred_at=when,
            metadata=meta,
        )
    audit.record(cli.settings.path, "update", ns, target=engram.id)
    if cli.json:
        emit_json(wire.to_json(engram))
    else:
        typer.echo(f"{engram.id} is now version {engram.version}")


def delete(ctx: typer.Context, engram_id: IdArgument, namespace: NamespaceOption = None) -> None:
    """Remove a memory with its whole history."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.memory() as mem:
        mem.delete(engram_id, namespace=ns)
    audit.record(cli.settings.path, "delete", ns, target=engram_id)
    if cli.json:
        emit_json({"deleted": engram_id, "namespace": ns})
    else:
        typer.echo(f"deleted {engram_id}")


def history(ctx: typer.Context, engram_id: IdArgument, namespace: NamespaceOption = None) -> None:
    """Show every version of a memory, oldest first, with validity intervals."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        versions = mem.history(engram_id, namespace=ns)
    if cli.json:
        emit_json(
            {"id": engram_id, "namespace": ns, "versions": [wire.to_json(v) for v in versions]}
        )
        return
    for version in versions:
        for line in version_lines(version):
            typer.echo(line)
