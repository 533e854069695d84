"""The values engramdb hands out: frozen dataclasses, never dicts.

``Engram`` is one memory as it is now; ``Version`` one state of it in its
history; ``Hit`` one search result with its ``Explanation``. Nothing here talks
to a store or computes a score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Contribution",
    "Engram",
    "Explanation",
    "Hit",
    "NamespaceStats",
    "Version",
]



@dataclass(frozen=True, slots=True)
class Engram:
    """One memory, in its current version.

    ``occurred_at`` is when the event happened (event time), ``recorded_at``
    when engramdb first stored it (ingest time), ``valid_from`` when the
    current version was written. ``kind`` is ``"episode"`` for what was added;
    consolidation adds other kinds.
    """

    id: str
    namespace: str
    text: str
    occurred_at: datetime
    recorded_at: datetime
    valid_from: datetime
    session: str | None = None
    speaker: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "episode"
    version: int = 1


@dataclass(frozen=True, slots=True)
class Version:
    """One state of a memory; ``valid_to`` is None for the current one."""

    engram_id: str
    version: int
    text: str
    speaker: str | None
    metadata: Mapping[str, Any]
    occurred_at: datetime
    valid_from: datetime
    valid_to: datetime | None

    @property
    def is_current(self) -> bool:
        return self.valid_to is None


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one signal added to a hit's score.

    ``value`` is the signal as measured (e.g. cosine similarity), ``weight``
    the ranker's weight for it, ``share`` its part of the total absolute
    contribution (the shares of one explanation sum to 1).
    """

    signal: str
    value: float
    weight: float
    share: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a memory was recalled: each signal's contribution, largest first."""

    contributions: tuple[Contribution, ...]
    paths: tuple[str, ...] = ()

    @property
    def shares(self) -> dict[str, float]:
        return {c.signal: c.share for c in self.contributions}

    def __str__(self) -> str:
        parts = ", ".join(f"{c.signal} {c.share:.0%}" for c in self.contributions if c.share > 0)
        found = f" (found by {', '.join(self.paths)})" if self.paths else ""
        return parts + found


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result.

    ``score`` is the memory's attention weight among the candidates of this
    search (a softmax; scores of all candidates sum to 1), ``rank`` its
    1-based position. ``neighbours`` holds the turns just before and after it
    in the same session when ``search(..., neighbours=n)`` asked for them.
    """

    engram: Engram
    score: float
    rank: int
    explain: Explanation
    neighbours: tuple[Engram, ...] = ()


@dataclass(frozen=True, slots=True)
class NamespaceStats:
    """Counts for one namespace."""

    namespace: str
    engrams: int
    versions: int
    sessions: int
    first_occurred_at: datetime | None
    last_occurred_at: datetime | None
