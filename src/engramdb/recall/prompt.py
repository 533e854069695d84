"""What ``mem.context`` and ``mem.mood`` are made of: items, working memory, mood.

The facade fetches (working turns, hits, provenance links, the mood); this
module turns them into labelled ``ContextItem``s with token counts and packs
them into the budget (``bundle``) and bounds working memory. The mood itself is
read by ``dynamics.mood``; the knapsack is ``recall.packing``. No store access.

Named for the prompt it fills, not for ``search(context=...)``: those
conversation turns are read by ``recall.followup``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from engramdb.model import ContextBundle, ContextItem, Engram, Hit, Mood
from engramdb.recall.packing import pack
from engramdb.store.base import Link

__all__ = [
    "bounded",
    "bundle",
    "hit_items",
    "mood_item",
    "working_items",
]


def bounded(
    turns: Sequence[Engram], max_turns: int, max_tokens: int | None, count: Callable[[str], int]
) -> list[Engram]:
    """The latest turns (oldest first) within ``max_turns`` and ``max_tokens`` of text."""
    kept: list[Engram] = []
    used = 0
    for turn in reversed(turns[-max_turns:] if max_turns > 0 else []):
        if max_tokens is not None:
            used += count(turn.text)
            if used > max_tokens:
                break
        kept.append(turn)
    return kept[::-1]


def _item(kind: str, engram: Engram, score: float, count: Callable[[str], int]) -> ContextItem:
    item = ContextItem(
        kind=kind,
        text=engram.text,
        tokens=0,
        score=score,
        source_id=engram.id,
        occurred_at=engram.occurred_at,
        speaker=engram.speaker,
        session=engram.session,
    )
    return replace(item, tokens=count(item.line()))


def working_items(turns: Sequence[Engram], count: Callable[[str], int]) -> list[ContextItem]:
    return [_item("working", t, 1.0, count) for t in turns]


def hit_items(hits: Sequence[Hit], count: Callable[[str], int]) -> list[ContextItem]:
    """Recalled memories as items; the kind is the memory's (episode, fact, summary)."""
    return [_item(h.engram.kind, h.engram, h.score, count) for h in hits]


def mood_item(mood: Mood, score: float, count: Callable[[str], int]) -> ContextItem:
    item = ContextItem(kind="mood", text=mood.describe(), tokens=0, score=score)
    return replace(item, tokens=count(item.line()))


def bundle(
    query: str,
    namespace: str,
    session: str | None,
    budget_tokens: int,
    *,
    turns: Sequence[Engram],
    hits: Sequence[Hit],
    links: Iterable[Link],
    mood: Mood,
    count: Callable[[str], int],
) -> ContextBundle:
    """Working turns, recalled hits and the mood packed into ``budget_tokens``.

    ``links`` (the namespace's provenance) let packing drop a fact or summary
    beside a source episode it adds nothing to; the mood is an item only when
    it has memories with some arousal behind it.
    """
    recalled = hit_items(hits, count)
    sources: dict[str, frozenset[str]] = {}
    for link in links:
        sources[link.derived_id] = sources.get(link.derived_id, frozenset()) | {link.source_id}
    if mood.memories and mood.arousal > 0:
        # worth a typical recalled memory: it competes by value per token
        typical = statistics.median(h.score for h in hits) if hits else 1.0
        recalled.append(mood_item(mood, typical, count))
    items = pack(working_items(turns, count), recalled, budget_tokens, count, sources=sources)
    return ContextBundle(
        query=query,
        namespace=namespace,
        session=session,
        budget_tokens=budget_tokens,
        tokens=count("\n".join(i.line() for i in items)),
        items=items,
        mood=mood if any(i.kind == "mood" for i in items) else None,
    )
