"""``engram consolidate``: episodes into facts and summaries, with a progress bar;
``engram facts``: the facts it wrote, current and past.

One facade call (``Memory.consolidate``) per namespace, each recorded in the
audit log (actor ``local``, with how many facts and summaries it wrote); the
bar goes to stderr (and only to a terminal), so ``--json`` output on stdout
stays one document. Ctrl-C stops a run; what its committed batches did is kept
and the next run goes on from there (exit 130). Both take every option of
their ``Memory`` method, as ``engramdb.options`` defines them
(docs/consolidation.md).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated, Any, NoReturn

import typer

from engramdb import wire
from engramdb.cli.output import emit_json, fact_line, iso
from engramdb.cli.state import NamespaceOption, parse_time, state
from engramdb.options import CONSOLIDATE, FACTS
from engramdb.security import audit

__all__ = ["EXIT_INTERRUPTED", "consolidate", "facts"]

#: The exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def consolidate(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO", help=CONSOLIDATE.help("now"), show_default=False),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help=CONSOLIDATE.help("progress"))
    ] = True,
) -> None:
    """Turn new episodes into facts and summaries (incremental; safe to repeat)."""
    cli = state(ctx)
    at = parse_time(now, "--now")
    with cli.memory() as mem:
        namespaces = (
            [cli.resolve(namespace)] if cli.resolve_optional(namespace) else mem.namespaces()
        )
        reports = []
        for ns in namespaces:
            bar: Any = None
            done = 0

            def step(count: int, total: int, ns: str = ns) -> None:
                nonlocal bar, done
                done = count
                if not progress or not sys.stderr.isatty() or total == 0:
                    return
                if bar is None:
                    bar = typer.progressbar(
                        length=total, label=f"consolidating {ns}", file=sys.stderr
                    )
                    bar.__enter__()
                bar.update(done - bar.pos)

            stopped = False
            try:
                report = mem.consolidate(namespace=ns, now=at, progress=step)
            except KeyboardInterrupt:
                stopped = True
            finally:
                if bar is not None:
                    bar.__exit__(None, None, None)
            if stopped:
                _stopped(cli.settings.path, ns, done)
            reports.append(report)
            # One entry per namespace, as each is done: a later failure keeps the earlier ones.
            audit.record(
                cli.settings.path, "consolidate", ns, count=report.facts + report.summaries
            )
    if cli.json:
        emit_json({"reports": [asdict(r) for r in reports]})
        return
    for r in reports:
        typer.echo(
            f"{r.namespace}: {r.episodes} episodes -> {r.facts} facts "
            f"({r.merged} merged, {r.superseded} superseded, {r.stale} stale), "
            f"{r.summaries} summaries, {r.duplicates} duplicates linked "
            f"in {r.seconds:.1f} s"
        )


def _stopped(store_path: str, namespace: str, done: int) -> NoReturn:
    """Ctrl-C: each batch before it was committed, so the next run goes on from there
    (docs/consolidation.md, "Stopping and resuming"). Audited without a count."""
    audit.record(store_path, "consolidate", namespace)
    typer.echo(
        f"engram: consolidation of {namespace!r} stopped after {done} episodes; "
        "what was done is kept, and `engram consolidate` goes on from there",
        err=True,
    )
    raise typer.Exit(EXIT_INTERRUPTED)


def facts(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    subject: Annotated[
        str | None, typer.Option("--subject", metavar="S", help=FACTS.help("subject"))
    ] = None,
    attribute: Annotated[
        str | None, typer.Option("--attribute", metavar="A", help=FACTS.help("attribute"))
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="ISO", help=FACTS.help("as_of"), show_default=False),
    ] = None,
) -> None:
    """List consolidated facts, current and past, oldest first per subject and attribute."""
    cli = state(ctx)
    when = parse_time(as_of, "--as-of")
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:  # a read: a missing store is exit 3, not created
        found = mem.facts(namespace=ns, subject=subject, attribute=attribute, as_of=when)
    if cli.json:
        emit_json({"namespace": ns, "as_of": iso(when), "facts": [wire.to_json(f) for f in found]})
        return
    if not found:
        typer.echo(f"no facts in {ns!r} (engram consolidate turns episodes into facts)")
    for fact in found:
        typer.echo(fact_line(fact))
