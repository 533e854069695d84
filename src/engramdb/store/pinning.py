"""Which version a pin of the pinned profile writes (docs/profile.md): pure, shared by
every backend's ``Store.pin`` inside its transaction.

Nothing is overwritten: a pin of a pinned key with other text is its next version
(the store closes the current one), the same text again is no version at all, and
versions of a key never overlap in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engramdb.errors import InvalidInputError
from engramdb.model import ProfileEntry

__all__ = ["next_pin"]


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
