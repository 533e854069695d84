"""What deleting a memory takes along: every fact and summary derived from it,
and the episodes whose remaining words consolidation derives again
(docs/security.md, "Erasure that reaches the files"; docs/consolidation.md);
and what becomes of the facts that remain whose validity the erased evidence
closed (``revalidated``).

Both stores call these over their own provenance lookups, so one rule decides
what an erasure reaches on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, TypeVar

__all__ = [
    "DANGLING",
    "FactTimelines",
    "Validity",
    "consolidated_again",
    "dangling",
    "revalidated",
    "taken_along",
    "taken_along_all",
]

K = TypeVar("K", bound=Hashable)

#: Each namespace with the ids its facts are superseded by that are no fact of it:
#: what an erasure left before ``revalidated`` existed. The same SQL on both stores.
DANGLING = (
    "SELECT DISTINCT f.namespace, f.superseded_by FROM facts f "
    "WHERE f.superseded_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM engrams s "
    "JOIN facts g ON g.engram_rowid = s.rowid "
    "WHERE s.id = f.superseded_by AND g.namespace = f.namespace) "
    "ORDER BY f.namespace, f.superseded_by"
)


def dangling(rows: Iterable[Sequence[object]]) -> dict[str, list[str]]:
    """``DANGLING``'s rows, by namespace: the ids that facts are superseded by and that
    are no fact of it."""
    found: dict[str, list[str]] = {}
    for namespace, target in rows:
        found.setdefault(str(namespace), []).append(str(target))
    return found


def taken_along(gone: K, derived_from: Callable[[Sequence[K]], Iterable[K]]) -> list[K]:
    """``gone`` and every derived memory (fact, summary) a delete of it takes along."""
    return taken_along_all([gone], derived_from)


def taken_along_all(
    gone: Sequence[K], derived_from: Callable[[Sequence[K]], Iterable[K]]
) -> list[K]:
    """``gone`` (without repeats), then every derived memory a delete of them takes
    along, transitively (docs/security.md, "Erasure that reaches the files").

    ``derived_from(keys)`` is the backend's lookup over its provenance links: the
    memories derived from any of ``keys`` that are not episodes. A derived memory
    goes as soon as any one of its sources goes, even if others remain: it may hold
    the erased memory's words (a fact keeps the wording of the first statement
    that said it, a situation fact joins two facts' values, a summary quotes its
    turns). Episodes are never taken along (a "duplicate" link records a likeness,
    not a derivation). Nothing is rewritten: what the remaining sources say is
    derived again by the next consolidation (``consolidated_again``).
    """
    doomed = list(dict.fromkeys(gone))
    seen = set(doomed)
    frontier = list(doomed)
    while frontier:
        found = [k for k in dict.fromkeys(derived_from(frontier)) if k not in seen]
        seen.update(found)
        doomed.extend(found)
        frontier = found
    return doomed


def consolidated_again(
    named: Sequence[K],
    doomed: Sequence[K],
    episodes_under: Callable[[Sequence[K]], Set[K]],
) -> set[K]:
    """The episodes a delete of ``named`` (taking ``doomed``) marks pending again: the
    remaining sources of what went along, for the next consolidation to derive again
    (docs/consolidation.md). ``episodes_under(keys)``: the episode sources of the derived
    memories among ``keys``. A derived memory deleted by name must not come back."""
    asked = set(named)
    taken = [k for k in doomed if k not in asked]
    if not taken:
        return set()
    return set(episodes_under(taken)) - set(doomed) - set(episodes_under(list(asked)))


@dataclass(frozen=True, slots=True)
class Validity:
    """A fact's validity as stored (docs/consolidation.md, "Facts are memories"): what an
    erasure may change of it (never its content). ``sources``: the facts a derived fact
    came from (empty for a fact said in episodes)."""

    engram_id: str
    valid_from: datetime
    valid_to: datetime | None
    status: str
    superseded_by: str | None
    invalidated_at: datetime | None
    recorded_at: datetime
    sources: tuple[str, ...] = ()

    @property
    def closure(self) -> tuple[datetime | None, str, str | None, datetime | None]:
        return self.valid_to, self.status, self.superseded_by, self.invalidated_at


class FactTimelines(Protocol):
    """A backend's lookups over one namespace's facts, in the erasure's transaction,
    before the erased rows go."""

    def by_id(self, ids: Collection[str]) -> list[Validity]:
        """The facts among ``ids``."""
        ...

    def superseded_by(self, ids: Collection[str]) -> list[Validity]:
        """The facts whose ``superseded_by`` is among ``ids``."""
        ...

    def derived_from(self, ids: Collection[str]) -> list[Validity]:
        """The facts derived from any of ``ids``, each with all its fact ``sources``."""
        ...

    def later(self, fact: Validity) -> list[Validity]:
        """The facts of ``fact``'s subject and attribute that begin after it, in order."""
        ...


def revalidated(gone: Set[str], facts: FactTimelines) -> list[Validity]:
    """The new validity of each remaining fact whose interval erased evidence closed,
    when ``gone`` (ids) are erased (docs/consolidation.md, "Provenance and erasure").

    A fact superseded by an erased fact takes over the erased one's end: superseded
    by what superseded it, or, when nothing did, current again (the only evidence of
    the change is gone), unless a later value of its timeline begins, where it then
    ends. A fact derived from facts and gone stale with one of them is judged again
    from its sources as they now are: stale where the first of them ends, current
    while none does; and the facts derived from it in turn. So no fact is left
    closed by, or pointing to, a fact that no longer exists. What the remaining
    episodes say about the change is derived again by the next consolidation.
    ``gone`` may name facts already gone (a pointer an erasure left behind before
    this rule): what pointed to them is current again, or ends at its timeline's next
    value.
    """
    erased = {f.engram_id: f for f in facts.by_id(gone)}
    changed: dict[str, Validity] = {}
    for fact in facts.superseded_by(gone):
        if fact.engram_id not in gone:
            changed[fact.engram_id] = _spliced(fact, gone, erased, facts)
    frontier = list(changed)
    while frontier:
        found = [d for d in facts.derived_from(frontier) if d.engram_id not in gone]
        frontier = []
        for dependent in found:
            dependent = changed.get(dependent.engram_id, dependent)
            if dependent.status != "stale":
                continue
            judged = _judged(dependent, gone, changed, facts)
            if judged.closure != dependent.closure:
                changed[judged.engram_id] = judged
                frontier.append(judged.engram_id)
    return list(changed.values())


def _spliced(
    fact: Validity, gone: Set[str], erased: dict[str, Validity], facts: FactTimelines
) -> Validity:
    """``fact`` without the erased facts that follow it in its supersession chain."""
    following, last, seen = fact.superseded_by, None, set()
    while following in erased and following not in seen:
        seen.add(following)
        last = erased[following]
        following = last.superseded_by
    if last is None or following is None or following in gone:
        return _reopened(fact, gone, facts)
    return replace(
        fact,
        valid_to=last.valid_to,
        status="superseded",
        superseded_by=following,
        invalidated_at=last.invalidated_at,
    )


def _reopened(fact: Validity, gone: Set[str], facts: FactTimelines) -> Validity:
    """``fact`` current again, or ending where the next remaining value of its timeline
    begins (supersession and derivation only concern attributes with one value at a
    time: residence, employer, partner, situation; docs/consolidation.md)."""
    following = next((f for f in facts.later(fact) if f.engram_id not in gone), None)
    if following is None:
        return replace(
            fact, valid_to=None, status="current", superseded_by=None, invalidated_at=None
        )
    return replace(
        fact,
        valid_to=following.valid_from,
        status="superseded",
        superseded_by=following.engram_id,
        invalidated_at=following.recorded_at,
    )


def _judged(
    fact: Validity, gone: Set[str], changed: dict[str, Validity], facts: FactTimelines
) -> Validity:
    """A stale derived fact judged again from its sources as they now are."""
    sources = [changed.get(s.engram_id, s) for s in facts.by_id(fact.sources)]
    ended = sorted((s.valid_to, s.engram_id, s) for s in sources if s.valid_to is not None)
    if not ended:
        return _reopened(fact, gone, facts)
    at, _, first = ended[0]
    return replace(
        fact,
        valid_to=max(at, fact.valid_from),
        status="stale",
        superseded_by=None,
        invalidated_at=first.invalidated_at,
    )
