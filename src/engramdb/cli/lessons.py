"""``engram record-experience`` / ``recall-experiences``: procedural memory; ``engram
teach`` / ``concepts`` / ``retag``: concepts from a few examples (docs/learning.md).

The writes (``record-experience``, ``teach``) append an audit entry (actor
``local``) as ``add`` does; the reads open an existing store only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from engramdb import wire
from engramdb.cli.output import emit_json, iso
from engramdb.cli.state import NamespaceOption, parse_time, state
from engramdb.model import Concept
from engramdb.options import RECALL_EXPERIENCES, RECORD_EXPERIENCE
from engramdb.security import audit

__all__ = ["concepts", "recall_experiences", "record_experience", "retag", "teach"]


def record_experience(
    ctx: typer.Context,
    situation: Annotated[str, typer.Argument(help="The situation the action was taken in.")],
    action: Annotated[str, typer.Argument(help="What was done.")],
    reward: Annotated[
        float, typer.Option("--reward", metavar="R", help="How well it worked: -1 to 1.")
    ],
    outcome: Annotated[
        str, typer.Option("--outcome", metavar="TEXT", help="What happened, in words.")
    ] = "",
    namespace: NamespaceOption = None,
    occurred_at: Annotated[
        str | None,
        typer.Option("--occurred-at", metavar="ISO", help=RECORD_EXPERIENCE.help("occurred_at")),
    ] = None,
) -> None:
    """Remember that ACTION was taken in SITUATION and how well it worked."""
    cli = state(ctx)
    at = parse_time(occurred_at, "--occurred-at")
    ns = cli.resolve(namespace)
    with cli.memory() as mem:
        recorded = mem.record_experience(
            situation, action, outcome, reward, namespace=ns, occurred_at=at
        )
    audit.record(cli.settings.path, "record_experience", ns, target=recorded.id)
    if cli.json:
        emit_json(wire.to_json(recorded))
        return
    typer.echo(f"{recorded.id}  recorded in {ns!r} (reward {recorded.reward:+.2f})")


def recall_experiences(
    ctx: typer.Context,
    situation: Annotated[str, typer.Argument(help="The situation at hand.")],
    namespace: NamespaceOption = None,
    limit: Annotated[int, typer.Option("--limit", "-k", help=RECALL_EXPERIENCES.help("limit"))] = 5,
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="ISO", help=RECALL_EXPERIENCES.help("now")),
    ] = None,
    reinforce: Annotated[
        bool,
        typer.Option("--reinforce/--no-reinforce", help=RECALL_EXPERIENCES.help("reinforce")),
    ] = True,
) -> None:
    """What was done in situations like SITUATION and how it went, the most useful first."""
    cli = state(ctx)
    at = parse_time(now, "--now")
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        hits = mem.recall_experiences(
            situation, namespace=ns, limit=limit, now=at, reinforce=reinforce
        )
    if cli.json:
        emit_json(
            {
                "situation": situation,
                "namespace": ns,
                "now": iso(at),
                "experiences": [wire.to_json(h) for h in hits],
            }
        )
        return
    if not hits:
        typer.echo(f"no experiences in {ns!r}")
    for hit in hits:
        e = hit.experience
        typer.echo(
            f"{hit.rank}. [{hit.score:.3f}] {e.action}  (reward {e.reward:+.2f}, "
            f"similarity {hit.similarity:.2f}, retention {hit.retention:.2f})"
        )
        typer.echo(f"   when: {e.situation}")
        if e.outcome:
            typer.echo(f"   then: {e.outcome}")


def teach(
    ctx: typer.Context,
    concept: Annotated[str, typer.Argument(help="The concept's name.")],
    examples: Annotated[
        list[str], typer.Argument(help="Texts that are examples of it: one is enough.")
    ],
    namespace: NamespaceOption = None,
) -> None:
    """Teach CONCEPT from EXAMPLES, or refine it with more."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.memory() as mem:
        taught = mem.teach(concept, examples, namespace=ns)
    audit.record(cli.settings.path, "teach", ns, target=taught.id)
    if cli.json:
        emit_json(wire.to_json(taught))
        return
    typer.echo(_line(taught))


def concepts(ctx: typer.Context, namespace: NamespaceOption = None) -> None:
    """List the concepts taught in a namespace with their support."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        found = mem.concepts(namespace=ns)
    _show(cli.json, ns, found)


def retag(ctx: typer.Context, namespace: NamespaceOption = None) -> None:
    """Compute every concept's prototype again from its examples (after a model change
    or an import)."""
    cli = state(ctx)
    ns = cli.resolve(namespace)
    with cli.existing_memory() as mem:
        found = mem.retag(namespace=ns)
    _show(cli.json, ns, found)


def _show(as_json: bool, namespace: str, found: list[Concept]) -> None:
    if as_json:
        emit_json({"namespace": namespace, "concepts": [wire.to_json(c) for c in found]})
        return
    if not found:
        typer.echo(f"no concepts in {namespace!r} (engram teach NAME EXAMPLE...)")
    for concept in found:
        typer.echo(_line(concept))


def _line(concept: Concept) -> str:
    return (
        f"{concept.name}: {len(concept.examples)} examples, {concept.tagged} memories tagged "
        f"(threshold {concept.threshold:.2f})"
    )
