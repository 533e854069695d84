"""All handling of "now": the Clock protocol and its two implementations.

Benchmarks replay history, so every operation that depends on the current time
takes ``now=`` and falls back to a Clock. Tests use ``FixedClock`` instead of
sleeping. This module also owns the conversion of datetimes to the UTC form the
stores keep; it does not parse human time expressions (that is ``recall``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol

from engramdb.errors import InvalidInputError

__all__ = ["Clock", "FixedClock", "SystemClock", "ensure_aware", "from_iso", "to_iso"]


class Clock(Protocol):
    """Something that tells the time as a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that stands still until moved; for tests and replays."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_aware(at, "at")

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at = self._at + delta

    def set(self, at: datetime) -> None:
        self._at = ensure_aware(at, "at")


def ensure_aware(value: object, name: str) -> datetime:
    """Return ``value`` as a UTC datetime; naive datetimes are refused, not guessed."""
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInputError(
            f"{name} must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc)), "
            "got a naive datetime"
        )
    return value.astimezone(timezone.utc)


def to_iso(value: datetime) -> str:
    """The fixed-width UTC text form stored in the database (sorts as time sorts)."""
    utc = value.astimezone(timezone.utc)
    # %Y does not zero-pad years before 1000 on every platform; the stored form must
    # stay fixed-width so it sorts and parses.
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    """Parse what ``to_iso`` wrote (and any ISO 8601 with an offset)."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise InvalidInputError(f"datetime {text!r} has no timezone")
    return parsed.astimezone(timezone.utc)
