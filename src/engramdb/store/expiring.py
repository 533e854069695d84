"""The expiry part of the Store contract (docs/expiry.md): when each memory expires,
and a namespace's default time to live.

A memory's ``expires_at`` is written with it (``EngramRecord.expires_at``), read back
on every ``Engram`` and moved by ``set_expiry``, which writes no version: expiry is
lifecycle, like dormancy, not content. ``expired`` names what a purge erases, by an
index over the memories that expire; a read leaves them out by
``Filter.unexpired_at``, which every filtered read of a store honours. The TTL is a
side record of the namespace, like its budget: ``forget_namespace`` removes it.

What expiring means for reads and erasure is the facade's (``engramdb.expiry``);
a store only keeps the times and finds the expired.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from engramdb.model import Engram

__all__ = ["Expiring"]


class Expiring(ABC):
    """What a backend keeps of expiry (``Store`` inherits it)."""

    @abstractmethod
    def set_expiry(self, namespace: str, engram_id: str, expires_at: datetime | None) -> Engram:
        """Set, move or clear (None) when a memory expires, in one transaction, without
        a new version; the memory as it now is. ``NotFoundError`` when the id is not in
        the namespace."""

    @abstractmethod
    def expired(self, namespace: str, now: datetime, limit: int | None = None) -> list[str]:
        """The memories of the namespace whose ``expires_at`` is at or before ``now``, in
        insertion order, at most ``limit`` (None: all)."""

    @abstractmethod
    def ttl(self, namespace: str) -> float | None:
        """The namespace's default time to live in seconds; None when it has none."""

    @abstractmethod
    def set_ttl(self, namespace: str, ttl_s: float | None) -> None:
        """Store (or replace) the namespace's default time to live in one transaction;
        None removes it. ``forget_namespace`` removes it too."""
