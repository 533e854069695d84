"""The pinned profile's ``Store`` methods (docs/profile.md), one definition for every
backend: ``ProfileTable`` runs each in one transaction of the backend's, reads the
namespace's entries there, decides what to write (``pinned``, ``unpinned``,
``restorable``: pure) and has the backend write it. A backend gives the SQL of its
``profile_entries`` rows as hooks (and PostgreSQL its lock).

Nothing is overwritten: a pin of a pinned key with other text is its next version
(the store closes the current one), the same text again is no version at all, and
versions of a key never overlap in time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from engramdb.errors import InvalidInputError
from engramdb.model import ProfileEntry
from engramdb.security.crypto import Cipher
from engramdb.security.datakeys import DataKeys
from engramdb.store.keytable import Executes

__all__ = ["ProfileTable", "next_pin", "pinned", "restorable", "unpinned"]

C = TypeVar("C", bound=Executes)
C_co = TypeVar("C_co", covariant=True)


class Transactions(Protocol[C_co]):
    """A backend's database as ``ProfileTable`` uses it: a read, and a write for an action."""

    def read(self) -> AbstractContextManager[C_co]: ...

    def write(self, action: str, /) -> AbstractContextManager[C_co]: ...


def next_pin(
    history: Sequence[ProfileEntry], key: str, text: str, source_id: str | None, now: datetime
) -> ProfileEntry | None:
    """The version ``pin`` writes for ``key`` given the namespace's ``history``, or None
    when the key's current version already says ``text`` from ``source_id`` (a repeated
    pin changes nothing). Versions of a key never overlap (docs/profile.md)."""
    versions = [e for e in history if e.key == key]
    current = next((e for e in versions if e.valid_to is None), None)
    if current is not None and (current.text, current.source_id) == (text, source_id):
        return None
    latest = max((e.valid_to or e.valid_from for e in versions), default=None)
    if latest is not None and now < latest:
        raise InvalidInputError(
            f"profile entry {key!r} last changed after now; versions must not overlap"
        )
    version = max((e.version for e in versions), default=0) + 1
    return ProfileEntry(key, text, version, now, None, source_id)


def pinned(
    history: Sequence[ProfileEntry],
    key: str,
    text: str,
    source_id: str | None,
    now: datetime,
    admit: Callable[[list[ProfileEntry]], None],
) -> tuple[ProfileEntry, bool]:
    """What ``pin`` answers, and whether it is a new version to write (the store closes
    the key's current one first). ``admit`` sees the current entries, by key, as the
    pin would leave them, and raises when the profile would break its limits."""
    current = {e.key: e for e in history if e.valid_to is None}
    entry = next_pin(history, key, text, source_id, now)
    if entry is None:
        return current[key], False
    admit(sorted({**current, key: entry}.values(), key=lambda e: e.key))
    return entry, True


def unpinned(history: Sequence[ProfileEntry], key: str, now: datetime) -> ProfileEntry | None:
    """The key's current version closed at ``now`` (the store closes it), or None when the
    key is not pinned."""
    current = next((e for e in history if e.key == key and e.valid_to is None), None)
    if current is None:
        return None
    if now < current.valid_from:
        raise InvalidInputError(
            f"now is before profile entry {key!r} was pinned; versions must not overlap"
        )
    return replace(current, valid_to=now)


def restorable(
    history: Sequence[ProfileEntry], namespace: str, entries: Sequence[ProfileEntry]
) -> None:
    """Refuse a restore of ``entries`` when one is a version the namespace holds already,
    or that ``entries`` name twice: nothing is overwritten."""
    held = {(e.key, e.version) for e in history}
    for entry in entries:
        if (entry.key, entry.version) in held:
            raise InvalidInputError(
                f"profile entry {entry.key!r} version {entry.version} is in "
                f"namespace {namespace!r} already"
            )
        held.add((entry.key, entry.version))


class ProfileTable(ABC, Generic[C]):
    """The ``Store`` methods of the pinned profile over a backend's connections ``C``."""

    @abstractmethod
    def _transactions(self) -> tuple[Transactions[C], DataKeys[C]]:
        """The backend's database and its keys."""

    @abstractmethod
    def _profile_rows(self, conn: C, cipher: Cipher, namespace: str) -> list[ProfileEntry]:
        """Every version of the namespace's entries, by key, then version."""

    @abstractmethod
    def _close_pinned(
        self, conn: C, cipher: Cipher, namespace: str, key: str, at: datetime
    ) -> None:
        """Close the key's current version at ``at``."""

    @abstractmethod
    def _insert_pinned(self, conn: C, cipher: Cipher, namespace: str, entry: ProfileEntry) -> None:
        """Write one version of an entry."""

    def _lock_profile(self, conn: C, namespace: str) -> None:
        """Make two writers of one namespace's profile take turns (a backend with one
        writer at a time has nothing to do)."""

    def profile(self, namespace: str) -> list[ProfileEntry]:
        db, keys = self._transactions()
        with db.read() as conn:
            return self._profile_rows(conn, keys.cipher(conn, namespace), namespace)

    def profiled(self) -> list[str]:
        db, _ = self._transactions()
        with db.read() as conn:
            found = conn.execute("SELECT DISTINCT namespace FROM profile_entries ORDER BY 1")
            return [str(row[0]) for row in found]

    def pin(
        self,
        namespace: str,
        key: str,
        text: str,
        source_id: str | None,
        now: datetime,
        admit: Callable[[list[ProfileEntry]], None],
    ) -> ProfileEntry:
        db, keys = self._transactions()
        with db.write("pin") as conn:
            self._lock_profile(conn, namespace)
            cipher = keys.cipher(conn, namespace, create=True)
            history = self._profile_rows(conn, cipher, namespace)
            entry, new = pinned(history, key, text, source_id, now, admit)
            if new:
                self._close_pinned(conn, cipher, namespace, key, now)
                self._insert_pinned(conn, cipher, namespace, entry)
            return entry

    def unpin(self, namespace: str, key: str, now: datetime) -> ProfileEntry | None:
        db, keys = self._transactions()
        with db.write("unpin") as conn:
            self._lock_profile(conn, namespace)
            cipher = keys.cipher(conn, namespace)
            closed = unpinned(self._profile_rows(conn, cipher, namespace), key, now)
            if closed is not None:
                self._close_pinned(conn, cipher, namespace, key, now)
            return closed

    def restore_profile(self, namespace: str, entries: Sequence[ProfileEntry]) -> None:
        if not entries:
            return
        db, keys = self._transactions()
        with db.write("restore_profile") as conn:
            self._lock_profile(conn, namespace)
            cipher = keys.cipher(conn, namespace, create=True)
            restorable(self._profile_rows(conn, cipher, namespace), namespace, entries)
            for entry in entries:
                self._insert_pinned(conn, cipher, namespace, entry)
