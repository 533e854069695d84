"""Context packing: fit labelled items into a token budget by value per token.

``pack`` is the pure part of ``mem.context`` (docs/context.md). The session's latest
working-memory turns come first (up to ``working_share`` of the budget, the
newest kept when they do not all fit): a prompt without the last thing said
is wrong whatever else it holds. The rest of the budget is a 0/1 knapsack:
the best-ranked memories in rank order up to ``HEAD_TOKENS``, then greedily
by ``score / tokens`` (attention weight per token), skipping what does not
fit and going on with smaller items. Deduplication: no memory
twice (a turn in working memory is not recalled again), and a fact or summary
is dropped beside a source episode it adds nothing to (every content word of
it is already in its sources). The rendered text is counted again at the end
and the lowest-value items go until it fits, so the budget holds whatever the
tokenizer does at line joins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from engramdb.model import ContextItem
from engramdb.recall.lexical import analyze

__all__ = ["HEAD_TOKENS", "KIND_ORDER", "pack"]

#: Tokens filled strictly in rank order before value per token takes over.
HEAD_TOKENS = 500

#: Reading order of a packed context, by kind.
KIND_ORDER = ("profile", "note", "mood", "fact", "summary", "episode", "working")


def _adds_nothing(
    item: ContextItem, chosen: Mapping[str, ContextItem], sources: frozenset[str]
) -> bool:
    present = [chosen[s] for s in sources if s in chosen]
    if not present:
        return False
    words = set(analyze(" ".join(p.text for p in present)))
    return set(analyze(item.text)) <= words


def pack(
    working: Sequence[ContextItem],
    recalled: Sequence[ContextItem],
    budget_tokens: int,
    count: Callable[[str], int],
    *,
    sources: Mapping[str, frozenset[str]] | None = None,
    working_share: float = 0.4,
    head_tokens: int = HEAD_TOKENS,
) -> tuple[ContextItem, ...]:
    """The items to show, in reading order; ``count(render) <= budget_tokens``.

    ``working`` are the session's turns oldest first; ``recalled`` the
    candidates (episodes, facts, summaries, mood) with their scores;
    ``sources`` maps a derived memory's id to the ids it came from.
    """
    sources = sources or {}
    chosen: dict[str, ContextItem] = {}
    recent: list[ContextItem] = []
    used = 0
    working_budget = int(budget_tokens * working_share)
    for item in reversed(working):  # newest first
        if item.source_id in chosen or used + item.tokens > working_budget:
            break
        recent.append(item)
        used += item.tokens
        if item.source_id is not None:
            chosen[item.source_id] = item
    picked = recent[::-1]  # oldest first: the sort below is stable on equal times

    # The best-ranked memories first, by score, until HEAD_TOKENS (people answer with
    # the best match first); the rest of the budget buys breadth by value per token.
    # Both together cover more evidence than either alone at 500-2000 tokens
    # (bench/context.py, BENCHMARKS.md).
    by_score = sorted((i for i in recalled if i.kind != "mood"), key=lambda i: -i.score)
    head = _fill(by_score, chosen, min(head_tokens, budget_tokens - used), sources, stop=True)
    used += sum(i.tokens for i in head)
    by_ratio = sorted(recalled, key=lambda i: -(i.score / max(i.tokens, 1)))
    picked += head + _fill(by_ratio, chosen, budget_tokens - used, sources)
    # A fact chosen before its source episode may have become redundant.
    picked = [
        item
        for item in picked
        if not (
            item.kind in ("fact", "summary")
            and _adds_nothing(item, chosen, sources.get(item.source_id or "", frozenset()))
        )
    ]
    ordered = _reading_order(picked)
    while ordered and count("\n".join(i.line() for i in ordered)) > budget_tokens:
        weakest = min(
            (i for i in ordered if i.kind != "working")
            if any(i.kind != "working" for i in ordered)
            else ordered,
            key=lambda i: i.score,
        )
        ordered.remove(weakest)
    return tuple(ordered)


def _fill(
    ranked: Sequence[ContextItem],
    chosen: dict[str, ContextItem],
    room: int,
    sources: Mapping[str, frozenset[str]],
    *,
    stop: bool = False,
) -> list[ContextItem]:
    """Items in ``ranked`` order that fit in ``room`` tokens, skipping duplicates;
    ``stop`` ends at the first that does not fit instead of trying smaller ones."""
    out: list[ContextItem] = []
    for item in ranked:
        if item.tokens > room:
            if stop:
                break
            continue
        if item.source_id is not None and item.source_id in chosen:
            continue
        derived = sources.get(item.source_id or "", frozenset())
        if derived and _adds_nothing(item, chosen, derived):
            continue
        out.append(item)
        room -= item.tokens
        if item.source_id is not None:
            chosen[item.source_id] = item
    return out


def _reading_order(items: Sequence[ContextItem]) -> list[ContextItem]:
    def key(item: ContextItem) -> tuple[int, float]:
        at = item.occurred_at.timestamp() if item.occurred_at is not None else 0.0
        return KIND_ORDER.index(item.kind) if item.kind in KIND_ORDER else 2, at

    return sorted(items, key=key)
