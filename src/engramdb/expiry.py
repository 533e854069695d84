"""How memories expire (docs/expiry.md): ``set_expiry``, a namespace's default TTL
(``set_ttl``, ``ttl``) and ``purge``.

``Expiry`` is a part of the ``Memory`` facade (``Memory`` inherits it). A memory
expires at its ``expires_at`` (given to ``add``, or the namespace's TTL from when it
was recorded); from then on no read returns it: a search leaves it out as it reads
its candidates (``recall.engine``, ``Filter.unexpired_at``), a listing as it reads
its page, and ``get``, ``history``, ``neighbours`` and working memory as if it were
gone. ``purge`` erases the expired memories as ``delete_where`` erases what a filter
matches (``Store.delete_many``: with what they take along, the files scrubbed); the
server runs it on a schedule. Times are the facade clock's: its ``now``, not a
search's ``now=``, decides what has expired. It does not audit: the edges do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engramdb.clock import Clock
from engramdb.config import Settings
from engramdb.errors import NotFoundError
from engramdb.model import Deletion, Engram
from engramdb.store import Store
from engramdb.validation import NewMemory, check_expiry, check_id, check_namespace, check_ttl

__all__ = ["Expiry"]

_DEFAULT = "default"


class Expiry:
    """The expiry methods of ``Memory``; the attributes below are ``Memory``'s."""

    settings: Settings
    _store: Store
    _clock: Clock

    if TYPE_CHECKING:

        def _forget_in_process(self, namespace: str) -> None: ...  # Lifecycle's

    def set_expiry(
        self, id: str, *, namespace: str = _DEFAULT, expires_at: datetime | None
    ) -> Engram:
        """Set, move or clear (None) when a memory expires, without writing a new version
        (expiry is lifecycle, like dormancy, not content); returns the memory. A time not
        after now is ``InvalidInputError``; an expired memory is ``NotFoundError``, as
        to every read."""
        namespace = check_namespace(namespace, self.settings.limits)
        engram_id = check_id(id)
        now = self._clock.now()
        when = check_expiry(expires_at, now)
        self._live(namespace, engram_id, now)
        return self._store.set_expiry(namespace, engram_id, when)

    def set_ttl(self, ttl: timedelta | None, *, namespace: str = _DEFAULT) -> None:
        """Give the namespace a default time to live (None removes it): a memory added
        while it is set expires ``ttl`` after it was recorded, unless the add gives its
        own ``expires_at``. Stored, like a budget: every process opening the store
        honours it; the memories stored before keep their expiry."""
        namespace = check_namespace(namespace, self.settings.limits)
        seconds = None if ttl is None else check_ttl(ttl).total_seconds()
        self._store.set_ttl(namespace, seconds)

    def ttl(self, *, namespace: str = _DEFAULT) -> timedelta | None:
        """The namespace's default time to live, or None when it has none."""
        seconds = self._store.ttl(check_namespace(namespace, self.settings.limits))
        return None if seconds is None else timedelta(seconds=seconds)

    def purge(self, *, namespace: str | None = None) -> list[Deletion]:
        """Erase every expired memory of ``namespace`` (every namespace when None) as
        ``delete_where`` erases: with its history, index entries and the derived
        memories it takes along, one transaction per namespace, the files scrubbed.
        One ``Deletion`` per namespace that had something to purge."""
        names = (
            self._store.namespaces()
            if namespace is None
            else [check_namespace(namespace, self.settings.limits)]
        )
        now = self._clock.now()
        out = []
        for name in names:
            expired = self._store.expired(name, now)
            if not expired:
                continue
            gone = self._store.delete_many(name, expired)
            if gone:
                self._forget_in_process(name)
            wanted = set(expired)
            out.append(
                Deletion(
                    name,
                    ids=tuple(i for i in gone if i in wanted),
                    derived=tuple(i for i in gone if i not in wanted),
                )
            )
        return out

    # -- what the other parts of Memory ask -------------------------------------

    def _expiring(self, namespace: str, items: list[NewMemory], now: datetime) -> list[NewMemory]:
        """``items`` with the namespace's TTL applied to those that give no expiry."""
        if all(item.expires_at is not None for item in items):
            return items
        seconds = self._store.ttl(namespace)
        if seconds is None:
            return items
        until = now + timedelta(seconds=seconds)
        return [item if item.expires_at else replace(item, expires_at=until) for item in items]

    def _live(self, namespace: str, engram_id: str, now: datetime | None = None) -> Engram:
        """The memory as stored, unless it is absent or expired (``NotFoundError``)."""
        engram = self._store.get(namespace, engram_id)
        if engram is None or engram.expired(self._clock.now() if now is None else now):
            raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
        return engram

    def _unexpired(self, engrams: Iterable[Engram]) -> list[Engram]:
        """``engrams`` but those expired now."""
        now = self._clock.now()
        return [e for e in engrams if not e.expired(now)]
