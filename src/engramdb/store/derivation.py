"""What deleting a memory takes along: every fact and summary derived from it,
and the episodes whose remaining words consolidation derives again
(docs/security.md, "Erasure that reaches the files"; docs/consolidation.md).

Both stores call these over their own provenance lookups, so one rule decides
what an erasure reaches on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence, Set
from typing import TypeVar

__all__ = ["consolidated_again", "taken_along", "taken_along_all"]

K = TypeVar("K", bound=Hashable)


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
