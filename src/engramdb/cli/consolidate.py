"""``engram consolidate``: episodes into facts and summaries, with a progress bar (issue 5).

One facade call (``Memory.consolidate``) per namespace, each recorded in the
audit log (actor ``local``, with how many facts and summaries it wrote); the
bar goes to stderr (and only to a terminal), so ``--json`` output on stdout
stays one document.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer

from engramdb.cli.output import emit_json
from engramdb.cli.state import NamespaceOption, parse_time, state
from engramdb.server import audit

__all__ = ["consolidate"]


def consolidate(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="ISO",
            help="Record time of what consolidation writes (default: the clock).",
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
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

            def step(done: int, total: int, ns: str = ns) -> None:
                nonlocal bar
                if not progress or not sys.stderr.isatty() or total == 0:
                    return
                if bar is None:
                    bar = typer.progressbar(
                        length=total, label=f"consolidating {ns}", file=sys.stderr
                    )
                    bar.__enter__()
                bar.update(done - bar.pos)

            try:
                report = mem.consolidate(namespace=ns, now=at, progress=step)
            finally:
                if bar is not None:
                    bar.__exit__(None, None, None)
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
