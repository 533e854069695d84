"""How the CLI shows results: JSON documents and human-readable text.

It owns the ``--json`` shapes of engrams, versions, hits, facts and stats (documented
in ``docs/cli.md``) and their text form. Commands decide what to show; this
module only decides how. It reads no store and parses no input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import typer

from engramdb import Engram, Explanation, Fact, Hit, NamespaceStats, Version

__all__ = [
    "counted",
    "emit_json",
    "engram_json",
    "engram_line",
    "engram_text",
    "explain_json",
    "fact_json",
    "fact_line",
    "hit_json",
    "hit_lines",
    "iso",
    "stats_json",
    "stats_line",
    "version_json",
    "version_lines",
]


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z``; what ``--occurred-at``/``--now`` accept back."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def counted(n: int, one: str = "memory", many: str = "memories") -> str:
    """``1 memory``, ``2 memories``."""
    return f"{n} {one if n == 1 else many}"


def _day(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d")


def emit_json(document: Any) -> None:
    """One JSON document on stdout."""
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def engram_json(engram: Engram) -> dict[str, Any]:
    return {
        "id": engram.id,
        "namespace": engram.namespace,
        "text": engram.text,
        "session": engram.session,
        "speaker": engram.speaker,
        "metadata": dict(engram.metadata),
        "kind": engram.kind,
        "version": engram.version,
        "occurred_at": iso(engram.occurred_at),
        "recorded_at": iso(engram.recorded_at),
        "valid_from": iso(engram.valid_from),
        "importance": engram.importance,
        "stability_days": engram.stability_days,
        "valence": engram.valence,
        "arousal": engram.arousal,
        "emotion": engram.emotion,
        "recalls": engram.recalls,
        "last_recalled_at": iso(engram.last_recalled_at),
        "dormant": engram.dormant,
    }


def version_json(version: Version) -> dict[str, Any]:
    return {
        "version": version.version,
        "text": version.text,
        "speaker": version.speaker,
        "metadata": dict(version.metadata),
        "occurred_at": iso(version.occurred_at),
        "valid_from": iso(version.valid_from),
        "valid_to": iso(version.valid_to),
    }


def explain_json(explain: Explanation) -> dict[str, Any]:
    return {
        "summary": str(explain),
        "contributions": [
            {"signal": c.signal, "value": c.value, "weight": c.weight, "share": c.share}
            for c in explain.contributions
        ],
        "paths": list(explain.paths),
        "retention": explain.retention,
        "stability_days": explain.stability_days,
        "importance": explain.importance,
        "emotion": explain.emotion,
    }


def hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "rank": hit.rank,
        "score": hit.score,
        "engram": engram_json(hit.engram),
        "explain": explain_json(hit.explain),
        "neighbours": [engram_json(n) for n in hit.neighbours],
    }


def fact_json(fact: Fact) -> dict[str, Any]:
    """The shape of ``GET /v1/namespaces/{ns}/facts``'s facts (``server.schemas.FactOut``)."""
    return {
        "engram_id": fact.engram_id,
        "namespace": fact.namespace,
        "subject": fact.subject,
        "attribute": fact.attribute,
        "value": fact.value,
        "text": fact.text,
        "valid_from": iso(fact.valid_from),
        "valid_to": iso(fact.valid_to),
        "recorded_at": iso(fact.recorded_at),
        "invalidated_at": iso(fact.invalidated_at),
        "status": fact.status,
        "superseded_by": fact.superseded_by,
        "sources": list(fact.sources),
    }


def stats_json(stats: NamespaceStats) -> dict[str, Any]:
    return {
        "namespace": stats.namespace,
        "engrams": stats.engrams,
        "versions": stats.versions,
        "sessions": stats.sessions,
        "first_occurred_at": iso(stats.first_occurred_at),
        "last_occurred_at": iso(stats.last_occurred_at),
    }


def _who(speaker: str | None) -> str:
    return f"{speaker}: " if speaker else ""


def engram_line(engram: Engram) -> str:
    """``<date> <speaker>: <text>`` on one line."""
    text = " ".join(engram.text.split())
    return f"{_day(engram.occurred_at)}  {_who(engram.speaker)}{text}"


def hit_lines(hit: Hit) -> Iterable[str]:
    """A hit as text: rank, score, kind unless an episode, date, speaker, text; its
    explanation; its neighbours."""
    kind = "" if hit.engram.kind == "episode" else f"[{hit.engram.kind}] "
    yield f"{hit.rank:>3}. {hit.score:.3f}  {kind}{engram_line(hit.engram)}"
    yield f"       why: {hit.explain}"
    for neighbour in hit.neighbours:
        yield f"       ~ {engram_line(neighbour)}"


def _fields(pairs: Mapping[str, object]) -> Iterable[str]:
    width = max(len(k) for k in pairs)
    for key, value in pairs.items():
        yield f"{key:<{width}}  {value}"


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
    yield from _fields(
        {
            "id": engram.id,
            "namespace": engram.namespace,
            "version": engram.version,
            "kind": engram.kind,
            "session": engram.session or "-",
            "speaker": engram.speaker or "-",
            "occurred_at": iso(engram.occurred_at),
            "recorded_at": iso(engram.recorded_at),
            "valid_from": iso(engram.valid_from),
            "metadata": json.dumps(dict(engram.metadata), ensure_ascii=False),
            "text": engram.text,
        }
        | dynamics
    )


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
