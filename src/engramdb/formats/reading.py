"""``Reading``: what an importer read from a file, before anything is written.

Items for ``Memory.add_many`` grouped by namespace, and the records it skipped,
each with where it was in the file and why. The facade validates each item
again when it is written; a reader checks what it must to say why it skips.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from engramdb.errors import InvalidInputError

__all__ = ["Reading", "Skipped", "jsonl_objects", "load_json", "time_of"]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record of the file that became no memory: ``where`` it was, and ``reason``."""

    where: str
    reason: str


@dataclass
class Reading:
    """Each item read with where it was, by namespace; and what was skipped."""

    found: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, namespace: str, item: dict[str, Any], where: str) -> None:
        kept = {k: v for k, v in item.items() if v is not None and v != {}}
        self.found.setdefault(namespace, []).append((where, kept))

    def skip(self, where: str, reason: str) -> None:
        self.skipped.append(Skipped(where, reason))

    @property
    def total(self) -> int:
        return sum(len(batch) for batch in self.found.values())

    def items(
        self, check: Callable[[str, dict[str, Any]], object] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The items by namespace; with ``check``, those it passes: one it refuses
        (``InvalidInputError``, as ``add_many`` would) is skipped with its message."""
        passed: dict[str, list[dict[str, Any]]] = {}
        for namespace, entries in self.found.items():
            for where, item in entries:
                try:
                    if check is not None:
                        check(namespace, item)
                except InvalidInputError as exc:
                    self.skip(where, str(exc))
                    continue
                passed.setdefault(namespace, []).append(item)
        return passed

    def reasons(self) -> Counter[str]:
        """How many records were skipped for each reason."""
        return Counter(s.reason for s in self.skipped)


def load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{source}: not valid JSON: {exc}") from None


def jsonl_objects(lines: Iterable[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line of a JSONL text as ``(line number, object)``; a line that is
    not valid JSON, or not an object, raises ``InvalidInputError`` naming it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{source} line {number}: not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise InvalidInputError(f"{source} line {number}: expected a JSON object")
        yield number, value


def time_of(value: object) -> datetime | None:
    """A timestamp as other tools write them: ISO 8601 (a naive one is taken as UTC, a
    trailing Z is UTC) or seconds since the epoch; None when there is none. A value
    that is neither raises ``InvalidInputError``: the caller skips its record."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInputError(f"{value!r} is not a time")
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise InvalidInputError(f"{value!r} is not a time in seconds since 1970") from None
    if not isinstance(value, str):
        raise InvalidInputError(f"{value!r} is not a time")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            return time_of(float(text))
        except ValueError:
            raise InvalidInputError(f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidInputError(f"{value!r} has no UTC form") from None
