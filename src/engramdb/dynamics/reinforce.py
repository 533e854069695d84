"""Recalls turned into stability updates, seen at once and written in batches.

A search that returns memories marks them recalled: ``reinforcement`` computes
their new state from a ``Catalog`` holding their current one; recalls of a
memory are applied in time order with ``retention.recalled_stability`` (the
spacing effect), so ten recalls within a minute add about as much as one. A
recall of a dormant memory wakes it. The keeper holds the updates (``merged``
into one per memory) until it writes them every ``flush_every`` recalls, on
``Memory.flush()`` and on ``close()``; until then ``applied`` lays one over a
memory read from the store (docs/dynamics.md). It owns no store and no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TypeVar

from engramdb.dynamics.retention import elapsed_days, recalled_stability, retrievability
from engramdb.model import Engram
from engramdb.store.base import Catalog, DynamicsUpdate

__all__ = ["applied", "merged", "reinforcement"]

_T = TypeVar("_T")


def merged(earlier: DynamicsUpdate | None, later: DynamicsUpdate) -> DynamicsUpdate:
    """One update holding both: ``later``'s fields where it sets them, else ``earlier``'s."""
    if earlier is None:
        return later
    return DynamicsUpdate(
        id=later.id,
        stability_days=_first(later.stability_days, earlier.stability_days),
        importance=_first(later.importance, earlier.importance),
        last_recalled_at=_first(later.last_recalled_at, earlier.last_recalled_at),
        recalls=_first(later.recalls, earlier.recalls),
        dormant=_first(later.dormant, earlier.dormant),
        recalled=earlier.recalled + later.recalled,
    )


def applied(engram: Engram, update: DynamicsUpdate | None) -> Engram:
    """The memory with ``update`` laid over its stored dynamics (None: as stored)."""
    if update is None:
        return engram
    return replace(
        engram,
        stability_days=_first(update.stability_days, engram.stability_days),
        importance=_first(update.importance, engram.importance),
        last_recalled_at=_first(update.last_recalled_at, engram.last_recalled_at),
        recalls=_first(update.recalls, engram.recalls),
        dormant=_first(update.dormant, engram.dormant),
    )


def _first(value: _T | None, otherwise: _T) -> _T:
    return otherwise if value is None else value


def reinforcement(
    catalog: Catalog, recalls: Sequence[tuple[str, datetime]]
) -> list[DynamicsUpdate]:
    """The dynamics updates that ``recalls`` (id, when) make to the catalog's memories.

    A recall at or before the memory's last use counts, but does not move its
    curve (a replay that goes back in time never lowers anything).
    """
    dynamics = catalog.dynamics
    if dynamics is None or not recalls:
        return []
    row_of = {engram_id: i for i, engram_id in enumerate(catalog.ids)}
    by_id: dict[str, list[datetime]] = {}
    for engram_id, at in recalls:
        if engram_id in row_of:
            by_id.setdefault(engram_id, []).append(at)
    updates = []
    for engram_id, times in by_id.items():
        row = row_of[engram_id]
        stability = float(dynamics.stability_days[row])
        last_used = datetime.fromtimestamp(float(dynamics.last_used_at[row]), tz=timezone.utc)
        last_recalled: datetime | None = None
        for at in sorted(times):
            if at > last_used:
                r = retrievability(elapsed_days(last_used, at), stability)
                stability = recalled_stability(stability, r)
                last_used = at
                last_recalled = at
        updates.append(
            DynamicsUpdate(
                id=engram_id,
                stability_days=stability,
                last_recalled_at=last_recalled,
                recalls=int(dynamics.recalls[row]) + len(times),
                dormant=False if bool(dynamics.dormant[row]) else None,
                recalled=len(times),
            )
        )
    return updates
