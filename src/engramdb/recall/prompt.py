"""What ``mem.context`` and ``mem.mood`` are made of: items, working memory, mood.

The facade fetches (the pinned profile, working turns, hits, provenance links,
the mood); this module turns them into labelled ``ContextItem``s with token
counts, places the profile first (``pinned_first``) and packs the rest into
what is left of the budget (``bundle``), and bounds working memory. The mood itself is
read by ``dynamics.mood``; the knapsack is ``recall.packing``. No store access.

Named for the prompt it fills, not for ``search(context=...)``: those
conversation turns are read by ``recall.followup``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from engramdb.consolidate.extract import is_exclusive
from engramdb.model import ContextBundle, ContextItem, Engram, Fact, Hit, Mood, ProfileEntry
from engramdb.recall.packing import pack
from engramdb.store.base import Link

__all__ = [
    "bounded",
    "bundle",
    "hit_items",
    "mood_item",
    "pinned_first",
    "profile_items",
    "until_notes",
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


def until_notes(facts: Iterable[Fact]) -> dict[str, str]:
    """What to add to each memory whose content, or part of it, no longer holds.

    A fact holds until its ``valid_to`` (superseded, or stale with what it was
    derived from): "(until DATE)". An episode is read through the states it
    stated (facts of an attribute with one value at a time: where one lives,
    one's partner); events it told ("got a job") neither hold nor end. Once
    every state it stated has ended, it holds "(until DATE)" of the last; while
    some still hold, the ended ones are named: "(Maya lives in Boston until
    DATE)" (docs/context.md).
    """
    facts = list(facts)
    fact_ids = {f.engram_id for f in facts}
    notes: dict[str, str] = {}
    states: dict[str, list[Fact]] = {}
    for fact in facts:
        if fact.valid_to is not None:
            notes[fact.engram_id] = f"(until {fact.valid_to:%Y-%m-%d})"
        if is_exclusive(fact.attribute):
            for source in fact.sources:
                if source not in fact_ids:  # an episode it was extracted from
                    states.setdefault(source, []).append(fact)
    for episode, stated in states.items():
        ended = sorted((f for f in stated if f.valid_to is not None), key=_ended)
        if len(ended) == len(stated):
            notes[episode] = f"(until {_ended(ended[-1]):%Y-%m-%d})"
        elif ended:
            notes[episode] = (
                "(" + "; ".join(f"{f.text} until {_ended(f):%Y-%m-%d}" for f in ended) + ")"
            )
    return notes


def _ended(fact: Fact) -> datetime:
    return fact.valid_to or fact.valid_from


def _item(
    kind: str,
    engram: Engram,
    score: float,
    count: Callable[[str], int],
    notes: Mapping[str, str] | None = None,
) -> ContextItem:
    note = (notes or {}).get(engram.id)
    item = ContextItem(
        kind=kind,
        text=engram.text if note is None else f"{engram.text} {note}",
        tokens=0,
        score=score,
        source_id=engram.id,
        occurred_at=engram.occurred_at,
        speaker=engram.speaker,
        session=engram.session,
    )
    return replace(item, tokens=count(item.line()))


def working_items(
    turns: Sequence[Engram],
    count: Callable[[str], int],
    notes: Mapping[str, str] | None = None,
) -> list[ContextItem]:
    return [_item("working", t, 1.0, count, notes) for t in turns]


def hit_items(
    hits: Sequence[Hit],
    count: Callable[[str], int],
    notes: Mapping[str, str] | None = None,
) -> list[ContextItem]:
    """Recalled memories as items; the kind is the memory's (episode, fact, summary).

    ``notes`` (``until_notes``) mark what no longer holds: its text ends with
    "(until DATE)", so a prompt never states an old value and the current one
    side by side as if both were true."""
    return [_item(h.engram.kind, h.engram, h.score, count, notes) for h in hits]


def mood_item(mood: Mood, score: float, count: Callable[[str], int]) -> ContextItem:
    item = ContextItem(kind="mood", text=mood.describe(), tokens=0, score=score)
    return replace(item, tokens=count(item.line()))


def profile_items(
    entries: Sequence[ProfileEntry], count: Callable[[str], int]
) -> list[ContextItem]:
    """Pinned entries as items, in the order given: ``[profile] key: text``."""
    items = [
        ContextItem(kind="profile", text=f"{e.key}: {e.text}", tokens=0, score=1.0) for e in entries
    ]
    return [replace(item, tokens=count(item.line())) for item in items]


def pinned_first(
    entries: Sequence[ProfileEntry], budget_tokens: int, count: Callable[[str], int]
) -> tuple[list[ContextItem], tuple[str, ...]]:
    """The profile's items that go first in a context, and the keys left out.

    Every entry when they all fit in ``budget_tokens`` (token counts add up across
    lines). Otherwise the entries in key order until the first that does not fit,
    then a ``note`` item naming the keys left out, its room kept before the entries
    are chosen (the bundle's ``profile_left_out`` names them too, and alone when the
    budget cannot hold the note): a pinned entry is never left out without a word
    (docs/profile.md).
    """
    ordered = sorted(entries, key=lambda e: e.key)
    items = profile_items(ordered, count)
    if sum(item.tokens for item in items) <= budget_tokens:
        return items, ()

    def note(left_out: Sequence[str]) -> ContextItem:
        text = f"pinned profile entries left out for the budget: {', '.join(left_out)}"
        item = ContextItem(kind="note", text=text, tokens=0, score=1.0)
        return replace(item, tokens=count(item.line()))

    # the note's room before the entries (the longest it can be names every key), unless
    # even that does not fit: then the entries take the budget and the bundle's field
    # alone says what is left out
    room = budget_tokens - note([e.key for e in ordered]).tokens
    if room < 0:
        room = budget_tokens
    shown: list[ContextItem] = []
    for item in items:
        if item.tokens > room:
            break
        shown.append(item)
        room -= item.tokens
    left_out = tuple(e.key for e in ordered[len(shown) :])
    last = note(left_out)
    if sum(item.tokens for item in shown) + last.tokens <= budget_tokens:
        shown.append(last)
    return shown, left_out


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
    facts: Iterable[Fact] = (),
    profile: Sequence[ProfileEntry] = (),
) -> ContextBundle:
    """The pinned ``profile`` first, then working turns, recalled hits and the mood
    packed into what the profile leaves of ``budget_tokens``.

    ``links`` (the namespace's provenance) let packing drop a fact or summary
    beside a source episode it adds nothing to; ``facts`` (the namespace's)
    mark what no longer holds "(until DATE)"; the mood is an item only when
    it has memories with some arousal behind it.
    """
    notes = until_notes(facts)
    recalled = hit_items(hits, count, notes)
    sources: dict[str, frozenset[str]] = {}
    for link in links:
        sources[link.derived_id] = sources.get(link.derived_id, frozenset()) | {link.source_id}
    if mood.memories and mood.arousal > 0:
        # worth a typical recalled memory: it competes by value per token
        typical = statistics.median(h.score for h in hits) if hits else 1.0
        recalled.append(mood_item(mood, typical, count))
    working = working_items(turns, count, notes)
    pinned, left_out = pinned_first(profile, budget_tokens, count)
    room = budget_tokens - sum(item.tokens for item in pinned)
    items = (*pinned, *pack(working, recalled, room, count, sources=sources))
    return ContextBundle(
        query=query,
        namespace=namespace,
        session=session,
        budget_tokens=budget_tokens,
        tokens=count("\n".join(i.line() for i in items)),
        items=items,
        mood=mood if any(i.kind == "mood" for i in items) else None,
        profile_left_out=left_out,
    )
