"""How the CLI shows results: JSON documents and human-readable text.

The ``--json`` documents are the values' JSON form from ``engramdb.wire`` (the
HTTP API's shapes, documented in ``docs/cli.md``); this module owns their text
form. Commands decide what to show; this module only decides how. It reads no
store and parses no input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import typer

from engramdb import Engram, Fact, Hit, NamespaceStats, Version, wire

__all__ = [
    "counted",
    "emit_json",
    "engram_line",
    "engram_text",
    "fact_line",
    "hit_lines",
    "iso",
    "stats_line",
    "version_lines",
]


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z`` (``wire``'s form); what ``--occurred-at``/``--now`` accept back."""
    return None if value is None else wire.time_to_json(value)


def counted(n: int, one: str = "memory", many: str = "memories") -> str:
    """``1 memory``, ``2 memories``."""
    return f"{n} {one if n == 1 else many}"


def _day(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d")


def emit_json(document: Any) -> None:
    """One JSON document on stdout."""
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def _who(speaker: str | None) -> str:
    return f"{speaker}: " if speaker else ""


def engram_line(engram: Engram) -> str:
    """``<date> <speaker>: <text>`` on one line."""
    text = " ".join(engram.text.split())
    return f"{_day(engram.occurred_at)}  {_who(engram.speaker)}{text}"


def hit_lines(hit: Hit, named: bool = False) -> Iterable[str]:
    """A hit as text: rank, score, relevance, its namespace when ``named`` (a search of
    several), kind unless an episode, date, speaker, text; its explanation; its neighbours."""
    kind = "" if hit.engram.kind == "episode" else f"[{hit.engram.kind}] "
    where = f"{hit.engram.namespace}  " if named else ""
    head = f"{hit.rank:>3}. {hit.score:.3f}  relevance {hit.relevance:.2f}  {where}{kind}"
    yield head + engram_line(hit.engram)
    yield f"       why: {hit.explain}"
    for neighbour in hit.neighbours:
        yield f"       ~ {engram_line(neighbour)}"


def _fields(pairs: Mapping[str, object]) -> Iterable[str]:
    width = max(len(k) for k in pairs)
    for key, value in pairs.items():
        yield f"{key:<{width}}  {value}"


#: The fields ``engram get`` shows first, as ``--json`` writes them ("-" when empty).
_HEAD = (
    "id",
    "namespace",
    "version",
    "kind",
    "session",
    "speaker",
    "occurred_at",
    "recorded_at",
    "valid_from",
)


def engram_text(engram: Engram, retention: float | None = None) -> Iterable[str]:
    """Every field of an engram, one per line; ``retention`` is its R(now) if known."""
    dynamics = {
        "importance": f"{engram.importance:.2f}",
        "stability": f"{engram.stability_days:.1f} days",
        "retention": "-" if retention is None else f"{retention:.2f} now",
        "emotion": f"{engram.emotion} (valence {engram.valence:+.2f}, "
        f"arousal {engram.arousal:.2f})",
        "recalls": f"{engram.recalls} (last {iso(engram.last_recalled_at) or '-'})",
        "dormant": "yes" if engram.dormant else "no",
    }
    shown = wire.to_json(engram)
    head = {name: shown[name] or "-" for name in _HEAD}
    metadata = json.dumps(shown["metadata"], ensure_ascii=False)
    yield from _fields(head | {"metadata": metadata, "text": engram.text} | dynamics)


def fact_line(fact: Fact) -> str:
    """``<from> .. <to or now>  <status>  <text>  (<subject> / <attribute> = <value>)``."""
    until = _day(fact.valid_to) if fact.valid_to else "now"
    span = f"{_day(fact.valid_from)} .. {until}"
    return (
        f"{span:<24}  {fact.status:<10}  {fact.text}  "
        f"({fact.subject} / {fact.attribute} = {fact.value})"
    )


def version_lines(version: Version) -> Iterable[str]:
    until = iso(version.valid_to) if version.valid_to else "now"
    yield f"v{version.version}  valid {iso(version.valid_from)} .. {until}"
    yield f"    {_day(version.occurred_at)}  {_who(version.speaker)}{version.text}"
    if version.metadata:
        yield f"    metadata {json.dumps(dict(version.metadata), ensure_ascii=False)}"


def stats_line(stats: NamespaceStats) -> str:
    span = "-"
    if stats.first_occurred_at and stats.last_occurred_at:
        span = f"{_day(stats.first_occurred_at)} .. {_day(stats.last_occurred_at)}"
    return (
        f"{stats.namespace}: {counted(stats.engrams)}, "
        f"{counted(stats.versions, 'version', 'versions')}, "
        f"{counted(stats.sessions, 'session', 'sessions')}, {span}"
    )
