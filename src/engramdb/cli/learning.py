"""``engram feedback``: judge a hit of a query; ``engram weights``: a namespace's ranker
weights and how far feedback moved each from the prior; ``engram reset-weights``.

A search is remembered by the process that ran it (docs/learning.md), and each
command is a process of its own: ``engram feedback`` runs the query again
(without reinforcing its hits) and judges the memory among its hits, so it
takes ``--query`` where the library and the server take a search id. Writes
are recorded in the audit log (actor ``local``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from engramdb import NotFoundError, wire
from engramdb.cli.errors import EXIT_USAGE, fail
from engramdb.cli.output import emit_json
from engramdb.cli.state import NamespaceOption, State, parse_time, state
from engramdb.model import NamespaceWeights
from engramdb.options import FEEDBACK
from engramdb.security import audit

__all__ = ["feedback", "reset_weights", "weights"]

_NAMESPACE_ARGUMENT = Annotated[
    str | None,
    typer.Argument(metavar="[NS]", help="The namespace (or --namespace).", show_default=False),
]


def feedback(
    ctx: typer.Context,
    memory_id: Annotated[
        str, typer.Argument(metavar="ID", help="The memory judged.", show_default=False)
    ],
    reward: Annotated[
        float,
        typer.Argument(
            metavar="REWARD",
            help="How useful it was, -1 to 1 (useful 1, not useful -1).",
            show_default=False,
        ),
    ],
    query: Annotated[
        str,
        typer.Option(
            "--query",
            metavar="Q",
            help="The query whose hit is judged (run again).",
            show_default=False,
        ),
    ],
    namespace: NamespaceOption = None,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO", help=FEEDBACK.help("now"), show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How deep in the hits to look.")] = 10,
) -> None:
    """Judge memory ID as a hit of QUERY; recall learns the namespace's weights from it."""
    cli = state(ctx)
    at = parse_time(now, "--now")
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        hits = mem.search(query, namespace=ns, limit=limit, now=at, reinforce=False)
        hit = next((h for h in hits if h.engram.id == memory_id), None)
        if hit is None:
            raise NotFoundError(f"memory {memory_id!r} is not among the query's top {limit} hits")
        judged = mem.feedback(hit, reward, namespace=ns, now=at)
        audit.record(cli.settings.path, "feedback", ns, target=memory_id)
    if cli.json:
        emit_json(wire.to_json(judged))
        return
    moved = "weights learned" if judged.learned else "weights unchanged"
    typer.echo(f"recorded {judged.reward:+g} for {memory_id} (rank {hit.rank}); {moved}")


def weights(
    ctx: typer.Context, ns: _NAMESPACE_ARGUMENT = None, namespace: NamespaceOption = None
) -> None:
    """Show how recall weighs each signal in a namespace and each shift from the prior."""
    cli = state(ctx)
    name = _namespace(cli, ns, namespace)
    with cli.existing_memory() as mem:
        found = mem.weights(namespace=name)
    _show(found, cli.json)


def reset_weights(
    ctx: typer.Context, ns: _NAMESPACE_ARGUMENT = None, namespace: NamespaceOption = None
) -> None:
    """Rank a namespace with the prior again: its learned weights and feedback go."""
    cli = state(ctx)
    name = _namespace(cli, ns, namespace)
    with cli.existing_memory() as mem:
        found = mem.reset_weights(namespace=name)
        audit.record(cli.settings.path, "reset_weights", name)
    _show(found, cli.json)


def _namespace(cli: State, ns: str | None, namespace: str | None) -> str:
    """The namespace given as NS or as --namespace (both: the same), else the default."""
    if ns is not None and namespace is not None and ns != namespace:
        raise fail("give the namespace once: NS or --namespace", EXIT_USAGE)
    return cli.resolve(ns or namespace)


def _show(found: NamespaceWeights, as_json: bool) -> None:
    if as_json:
        emit_json(wire.to_json(found))
        return
    state_line = (
        f"learned from {found.feedback} judgements ({found.updates} updates, "
        f"{found.rejected} refused by the replay guard)"
        if found.learned
        else f"the prior (shipped weights); {found.feedback} judgements recorded"
    )
    typer.echo(f"{found.namespace}: {state_line}")
    typer.echo(f"{'signal':<20} {'weight':>9} {'prior':>9} {'shift':>9}")
    for s in sorted(found.signals, key=lambda s: (-abs(s.shift), s.signal)):
        typer.echo(f"{s.signal:<20} {s.weight:>9.4f} {s.prior:>9.4f} {s.shift:>+9.4f}")
