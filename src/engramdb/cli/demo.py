"""``engram demo``: the quick start, end to end, on a conversation that ships here.

It owns the packaged sample conversation (``sample_conversation.jsonl``: two
friends over five sessions in 2024) and the questions asked of it. Importing is
idempotent: turns already in the ``demo`` namespace (by ``dia_id``) are not
added again. It does not judge the answers; it shows the hits and why.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

import typer

from engramdb import Memory, wire
from engramdb.cli.output import emit_json, hit_lines, iso
from engramdb.cli.state import state
from engramdb.cli.transfer import plan_jsonl
from engramdb.config import shown_location

__all__ = ["DEMO_NAMESPACE", "QUESTIONS", "demo"]

DEMO_NAMESPACE = "demo"
SAMPLE = "sample_conversation.jsonl"
QUESTIONS = (
    "What is the name of Maya's dog?",
    "When did Jonah start his new job?",
    "What did the biopsy show?",
    "Which instrument is Jonah learning to play?",
    "What happened on the trip to Sintra?",
    "Where are Maya and Tomás thinking of moving next?",
)
TOP = 3


def _import_missing(mem: Memory) -> tuple[int, int, datetime]:
    """Add the sample turns the namespace lacks; returns (added, total, last session time)."""
    lines = resources.files("engramdb.cli").joinpath(SAMPLE).read_text(encoding="utf-8")
    items = plan_jsonl(lines.splitlines(), SAMPLE, DEMO_NAMESPACE).items[DEMO_NAMESPACE]
    present = {r["metadata"].get("dia_id") for r in mem.export(namespace=DEMO_NAMESPACE)}
    missing = [item for item in items if item["metadata"]["dia_id"] not in present]
    mem.add_many(missing, namespace=DEMO_NAMESPACE)
    last: datetime = max(item["occurred_at"] for item in items)
    return len(missing), len(items), last


def demo(ctx: typer.Context) -> None:
    """Import a sample conversation into namespace 'demo' and recall from it."""
    cli = state(ctx)
    with cli.memory() as mem:
        added, total, now = _import_missing(mem)
        answers = [
            (q, mem.search(q, namespace=DEMO_NAMESPACE, limit=TOP, now=now)) for q in QUESTIONS
        ]
    if cli.json:
        emit_json(
            {
                "namespace": DEMO_NAMESPACE,
                "imported": added,
                "turns": total,
                "now": iso(now),
                "questions": [
                    {"question": q, "hits": [wire.to_json(h) for h in hits]} for q, hits in answers
                ],
            }
        )
        return
    if added:
        typer.echo(f"Imported {added} turns of a sample conversation into namespace 'demo'.")
    else:
        typer.echo("The sample conversation is already in namespace 'demo'.")
    where = shown_location(cli.settings.path)  # a database URL's password is not shown
    typer.echo(f"Store: {where}. Recalling as of {iso(now)}.")
    for question, hits in answers:
        typer.echo(f"\n? {question}")
        for hit in hits:
            for line in hit_lines(hit):
                typer.echo(line)
    typer.echo(f'\nAsk your own: engram --store {where} search -n demo --now {iso(now)} "..."')
