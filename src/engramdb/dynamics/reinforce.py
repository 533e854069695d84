"""Recalls turned into stability updates, queued so that search stays fast.

A search that returns memories marks them recalled (``RecallQueue.add``); the
facade writes the queue in one transaction every ``flush_every`` recalls, on
``Memory.flush()`` and on ``close()``. ``reinforcement`` computes the new
state from a namespace's ``Catalog``: recalls of a memory are applied in time
order with ``retention.recalled_stability`` (the spacing effect), so ten
recalls within a minute add about as much as one. A recall of a dormant memory
wakes it. It owns no store and no clock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timezone

from engramdb.dynamics.retention import elapsed_days, recalled_stability, retrievability
from engramdb.store.base import Catalog, DynamicsUpdate

__all__ = ["RecallQueue", "reinforcement"]


class RecallQueue:
    """Recalls not yet written, per namespace; safe to share between threads."""

    def __init__(self, flush_every: int = 64) -> None:
        if flush_every < 1:
            raise ValueError("flush_every must be at least 1")
        self.flush_every = flush_every
        self._pending: dict[str, list[tuple[str, datetime]]] = {}
        self._lock = threading.Lock()

    def add(self, namespace: str, ids: Sequence[str], at: datetime) -> bool:
        """Queue a recall of each id at ``at``; True when the namespace is due a flush."""
        with self._lock:
            queue = self._pending.setdefault(namespace, [])
            queue.extend((engram_id, at) for engram_id in ids)
            return len(queue) >= self.flush_every

    def take(self, namespace: str | None = None) -> dict[str, list[tuple[str, datetime]]]:
        """Remove and return the queued recalls (of one namespace, or all)."""
        with self._lock:
            if namespace is None:
                taken, self._pending = self._pending, {}
                return taken
            queue = self._pending.pop(namespace, None)
            return {} if queue is None else {namespace: queue}

    def __len__(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._pending.values())


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
            )
        )
    return updates
