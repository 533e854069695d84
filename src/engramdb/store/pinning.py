"""What a pin, an unpin or a restore of the pinned profile writes (docs/profile.md): pure,
shared by every backend's ``Store.pin``, ``unpin`` and ``restore_profile`` inside its
transaction, given the namespace's entries as it read them there.

Nothing is overwritten: a pin of a pinned key with other text is its next version
(the store closes the current one), the same text again is no version at all, and
versions of a key never overlap in time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from engramdb.errors import InvalidInputError
from engramdb.model import ProfileEntry

__all__ = ["next_pin", "pinned", "restorable", "unpinned"]


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
