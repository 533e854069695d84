"""Checks on everything a caller hands the facade, before anything is written.

Each check returns the cleaned value or raises an ``InvalidInputError``
subclass with a message that names the argument. Nothing here touches a store.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from engramdb.clock import ensure_aware, to_iso
from engramdb.config import Limits
from engramdb.dynamics.emotion import EMOTIONS
from engramdb.errors import InvalidInputError, LimitExceededError
from engramdb.filters import Filter, parse
from engramdb.options import EMBED
from engramdb.security.redact import redacted

__all__ = [
    "EARLIEST",
    "ITEM_KEYS",
    "KINDS",
    "LATEST",
    "MAX_BUDGET",
    "MAX_KEY_CHARS",
    "MAX_WINDOW",
    "NewMemory",
    "check_budget",
    "check_context",
    "check_embed",
    "check_emotion",
    "check_emotions",
    "check_expiry",
    "check_filter",
    "check_flag",
    "check_id",
    "check_importance",
    "check_int",
    "check_item",
    "check_key",
    "check_kinds",
    "check_label",
    "check_limit",
    "check_many",
    "check_metadata",
    "check_namespace",
    "check_new_memory",
    "check_number",
    "check_query",
    "check_search_id",
    "check_string",
    "check_text",
    "check_time",
    "check_ttl",
    "check_window",
]

#: The kinds of memory: what ``add`` writes, what consolidation derives from it, and what
#: learning records (experiences, concepts: docs/learning.md).
KINDS = frozenset({"episode", "fact", "summary", "experience", "concept"})
#: The largest budget bound: exact in JSON numbers and in a SQLite INTEGER.
MAX_BUDGET = 2**53
#: The earliest time a caller may give (``occurred_at``, ``now``, ``as_of``), and the
#: first it may no longer give (docs/limits.md): a century or more inside datetime's years
#: 1 to 9999, so a window (a mood's, at most ``MAX_WINDOW``) or a curve (at most 36,500 days
#: after the last use) computed from any accepted time stays representable.
EARLIEST = datetime(200, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9900, 1, 1, tzinfo=timezone.utc)
#: The longest window (a mood's) and curve a caller may ask for.
MAX_WINDOW = timedelta(days=36_500)

# Namespace labels appear in URLs, file names and API-key scopes: keep them plain.
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A label is one line: no control characters (tab and NEL included), no line or
# paragraph separators (U+2028, U+2029); check_string refuses lone surrogates first.
_NOT_IN_A_LABEL = frozenset({"Cc", "Zl", "Zp"})
_ID = re.compile(r"^[0-9a-f]{32}$")


def check_namespace(value: object, limits: Limits) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"namespace must be a string, got {type(value).__name__}")
    if len(value) > limits.max_label_chars:
        raise LimitExceededError(
            f"namespace is {len(value)} characters; the limit is {limits.max_label_chars}"
        )
    # fullmatch, not match: "$" also matches before a trailing newline, so "ns\n" passed
    if not _NAMESPACE.fullmatch(value):
        raise InvalidInputError(
            f"namespace {value!r} is malformed: use letters, digits and . _ : @ - "
            "(starting with a letter or digit)"
        )
    return value


def check_string(value: str, name: str, *, stored: bool = True) -> str:
    """The rule every string a caller gives keeps: no lone surrogate (not Unicode text:
    it has no UTF-8 form, so the store, the tokenizer and JSON all refuse it), and, in
    what is ``stored``, no NUL (SQLite's C strings and many tools end at one). A query
    is not stored: a NUL in it is plain text. Labels keep a stricter rule."""
    if stored and "\x00" in value:
        raise InvalidInputError(f"{name} must not contain NUL characters")
    found = _SURROGATE.search(value)
    if found:
        raise InvalidInputError(
            f"{name} holds a lone surrogate (U+{ord(found.group()):04X} at position "
            f"{found.start()}), which is not valid Unicode text"
        )
    return value


def check_label(value: object, name: str, limits: Limits) -> str | None:
    """A free-text label (session, speaker): optional, short, one line."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string or None, got {type(value).__name__}")
    check_string(value, name)
    # before strip(): it removes tabs, NEL and U+2028 at the ends, and the message must
    # name the character, not call the label empty
    for position, char in enumerate(value):
        if unicodedata.category(char) in _NOT_IN_A_LABEL:
            raise InvalidInputError(
                f"{name} must be one line without control characters or line separators; "
                f"found U+{ord(char):04X} at position {position}"
            )
    value = value.strip()
    if not value:
        raise InvalidInputError(f"{name} must not be empty (pass None to leave it out)")
    if len(value) > limits.max_label_chars:
        raise LimitExceededError(
            f"{name} is {len(value)} characters; the limit is {limits.max_label_chars}"
        )
    return value


#: A pinned profile entry's key (docs/profile.md): one word of a URL path, a CLI
#: argument and a prompt line.
MAX_KEY_CHARS = 64
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_key(value: object) -> str:
    """A profile key: letters, digits, ``_``, ``.`` and ``-``, a letter or digit first,
    at most ``MAX_KEY_CHARS``: one word in a URL path, a CLI argument and a prompt line."""
    if not isinstance(value, str):
        raise InvalidInputError(f"key must be a string, got {type(value).__name__}")
    if len(value) > MAX_KEY_CHARS:
        raise LimitExceededError(f"key is {len(value)} characters; the limit is {MAX_KEY_CHARS}")
    if not _KEY.fullmatch(value):
        raise InvalidInputError(
            f"key {value!r} must be letters, digits, '_', '.' or '-', a letter or digit first"
        )
    return value


def check_text(value: object, limits: Limits, name: str = "text") -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError(f"{name} must not be empty")
    if len(value) > limits.max_text_chars:
        raise LimitExceededError(
            f"{name} is {len(value)} characters; the limit is {limits.max_text_chars}"
        )
    return check_string(value, name)


def check_query(value: object, limits: Limits) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"query must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError("query must not be empty")
    if len(value) > limits.max_query_chars:
        raise LimitExceededError(
            f"query is {len(value)} characters; the limit is {limits.max_query_chars}"
        )
    return check_string(value, "query", stored=False)


def check_context(value: object, limits: Limits, max_turns: int) -> str | list[str] | None:
    """``search(context=...)``: a session id, or recent turns (texts, oldest first)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Sequence):
        raise InvalidInputError("context must be a session id or a list of turn texts")
    if len(value) > max_turns:
        raise InvalidInputError(f"context holds at most {max_turns} turns")
    return [check_text(t, limits, "a context turn") for t in value]


def check_time(value: object, name: str) -> datetime:
    """A timezone-aware datetime from ``EARLIEST`` up to (not including) ``LATEST``."""
    try:
        utc = ensure_aware(value, name)
    except OverflowError as exc:
        # e.g. 0001-01-01 at +02:00 has no UTC form; refuse it as input, don't crash
        raise InvalidInputError(f"{name} {value!r} is out of the representable range") from exc
    if not EARLIEST <= utc < LATEST:
        raise InvalidInputError(
            f"{name} must be from {_day(EARLIEST)} up to (not including) {_day(LATEST)} UTC "
            f"(docs/limits.md); got {_day(utc)}"
        )
    return utc


def _day(value: datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def check_expiry(value: object, now: datetime) -> datetime | None:
    """When a memory expires (docs/expiry.md): None (never), or a time as ``check_time``
    takes it that is after ``now``."""
    if value is None:
        return None
    expires_at = check_time(value, "expires_at")
    if expires_at <= now:
        raise InvalidInputError(
            f"expires_at must be after now ({to_iso(now)}); got {to_iso(expires_at)}"
        )
    return expires_at


def check_ttl(value: object) -> timedelta:
    """A namespace's default time to live (docs/expiry.md): a ``timedelta`` from one second
    to ``MAX_WINDOW`` (100 years)."""
    if not isinstance(value, timedelta) or not timedelta(seconds=1) <= value <= MAX_WINDOW:
        raise InvalidInputError(f"ttl must be a timedelta from 1 second to {MAX_WINDOW.days} days")
    return value


def check_window(value: object) -> timedelta:
    """A positive ``timedelta`` of at most ``MAX_WINDOW`` (100 years)."""
    if not isinstance(value, timedelta) or not timedelta(0) < value <= MAX_WINDOW:
        raise InvalidInputError(
            f"window must be a positive timedelta of at most {MAX_WINDOW.days} days"
        )
    return value


def check_many(value: object, name: str, what: str) -> Iterable[Any]:
    """A batch (``add_many``'s items, ``import_records``' records): any iterable but a
    string, bytes or a mapping, whose elements are checked one by one."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInputError(f"{name} must be an iterable of {what}")
    return value


def check_limit(value: object, limits: Limits) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"limit must be an integer, got {type(value).__name__}")
    if value < 1:
        raise InvalidInputError(f"limit must be at least 1, got {value}")
    if value > limits.max_limit:
        raise LimitExceededError(f"limit is {value}; the most is {limits.max_limit}")
    return value


def check_int(value: object, name: str, low: int, high: int) -> int:
    """An integer from ``low`` to ``high``, both included (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an integer from {low} to {high}")
    return value


def check_number(
    value: object, name: str, low: float, high: float, *, low_included: bool = True
) -> float:
    """A finite number from ``low`` to ``high`` (``low`` itself only if ``low_included``)."""
    bound = f"{low}" if low_included else f"{low} (exclusive)"
    refusal = InvalidInputError(f"{name} must be a number from {bound} to {high}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise refusal
    # compared before float(): a huge int would overflow; NaN fails every comparison
    if not ((low <= value if low_included else low < value) and value <= high):
        raise refusal
    return float(value)


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False")
    return value


def check_embed(value: object) -> str:
    """When a write's vector is computed (``options.EMBED``, docs/write-path.md)."""
    if value not in EMBED:
        raise InvalidInputError(f"embed must be one of {', '.join(EMBED)}, got {value!r}")
    return str(value)


def check_id(value: object) -> str:
    # fullmatch, not match: "$" also matches before a trailing newline
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInputError(f"{value!r} is not a memory id (32 lowercase hex digits)")
    return value


def check_search_id(value: object) -> str:
    """A search's id, as a hit carries it (``Hit.search_id``; docs/learning.md)."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInputError(f"{value!r} is not a search id (32 lowercase hex digits)")
    return value


def check_metadata(value: object, limits: Limits) -> dict[str, Any]:
    """A JSON object with string keys and finite numbers, within the size limit."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"metadata must be a mapping, got {type(value).__name__}")
    _check_json_value(value, "metadata")
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"metadata does not serialise to JSON: {exc}") from exc
    size = len(encoded.encode("utf-8"))
    if size > limits.max_metadata_bytes:
        raise LimitExceededError(
            f"metadata is {size} bytes as JSON; the limit is {limits.max_metadata_bytes}"
        )
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded


def _check_json_value(value: object, path: str, depth: int = 0) -> None:
    if depth > 32:
        raise InvalidInputError(f"{path} is nested too deeply (more than 32 levels)")
    if isinstance(value, str):
        check_string(value, path)
        return
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{path} holds a non-finite number ({value})")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{path} has a non-string key {key!r}")
            check_string(key, f"a key of {path}")
            _check_json_value(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json_value(item, f"{path}[{i}]", depth + 1)
        return
    raise InvalidInputError(
        f"{path} holds a {type(value).__name__}, which does not serialise to JSON"
    )


def check_importance(value: object) -> float | None:
    """A caller's importance for a memory: a number from 0 to 1, or None (estimate it)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"importance must be a number from 0 to 1, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise InvalidInputError(f"importance must be a number from 0 to 1, got {value!r}")
    return number


def check_emotion(value: object) -> str | None:
    """An emotion label (one of ``engramdb.dynamics.emotion.EMOTIONS``), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in EMOTIONS:
        raise InvalidInputError(f"emotion must be one of {', '.join(EMOTIONS)}; got {value!r}")
    return value


def check_emotions(value: object) -> frozenset[str] | None:
    """A search's emotion filter: one label or several, or None (no filter)."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({check_emotion(value) or ""})
    if not isinstance(value, Iterable):
        raise InvalidInputError("emotion must be a label or a list of labels")
    labels = frozenset(check_emotion(v) or "" for v in value)
    if not labels:
        raise InvalidInputError("emotion must name at least one label")
    return labels


def check_kinds(value: object) -> frozenset[str] | None:
    """``search(kinds=...)``: one kind or several, each one of ``KINDS``, or None."""
    if value is None:
        return None
    chosen = [value] if isinstance(value, str) else value
    if isinstance(chosen, Mapping) or not isinstance(chosen, Iterable):
        raise InvalidInputError("kinds must be a kind or a list of kinds")
    listed = list(chosen)
    if not listed or not all(isinstance(k, str) for k in listed) or set(listed) - KINDS:
        got = sorted({str(k) for k in listed})
        raise InvalidInputError(f"kinds must be among {sorted(KINDS)}, got {got}")
    return frozenset(listed)


def check_filter(where: object, occurred_after: object, occurred_before: object) -> Filter | None:
    """A search's filter (docs/filters.md): ``where`` read by ``filters.parse``, each time
    bound checked as every time is; None when nothing filters."""
    after = None if occurred_after is None else check_time(occurred_after, "occurred_after")
    before = None if occurred_before is None else check_time(occurred_before, "occurred_before")
    return parse(where, occurred_after=after, occurred_before=before) or None


def check_budget(max_memories: object, max_bytes: object) -> tuple[int | None, int | None]:
    """A namespace budget's bounds: each None (no bound) or an integer from 0 to
    ``MAX_BUDGET``; both None removes the budget."""
    return _budget_bound(max_memories, "max_memories"), _budget_bound(max_bytes, "max_bytes")


def _budget_bound(value: object, name: str) -> int | None:
    if value is None:
        return None
    try:
        return check_int(value, name, 0, MAX_BUDGET)
    except InvalidInputError:
        raise InvalidInputError(
            f"{name} must be an integer from 0 to {MAX_BUDGET} or None"
        ) from None


@dataclass(frozen=True, slots=True)
class NewMemory:
    """One memory to write, as ``add`` and ``add_many`` checked it: ``occurred_at``
    is set (``now`` when the caller gave none); ``importance`` and ``emotion`` are
    None when engramdb is to estimate them (docs/dynamics.md)."""

    text: str
    session: str | None
    speaker: str | None
    occurred_at: datetime
    metadata: dict[str, Any]
    importance: float | None
    emotion: str | None
    idempotency_key: str | None = None
    #: when it expires (docs/expiry.md); None: never, or the namespace's TTL from now
    expires_at: datetime | None = None
    #: whether the caller gave ``occurred_at`` (not a key of an item: derived)
    occurred_at_given: bool = True

    def redacted(self) -> NewMemory:
        """This memory with PII in its text and metadata redacted (docs/security.md)."""
        text, metadata = redacted(self.text, self.metadata)
        return replace(self, text=text, metadata=metadata)


#: The keys an ``add_many`` item may have: ``add``'s keyword arguments.
ITEM_KEYS = frozenset(f.name for f in fields(NewMemory)) - {"occurred_at_given"}


def check_new_memory(
    limits: Limits,
    now: datetime,
    *,
    text: object = None,
    session: object = None,
    speaker: object = None,
    occurred_at: object = None,
    metadata: object = None,
    importance: object = None,
    emotion: object = None,
    idempotency_key: object = None,
    expires_at: object = None,
) -> NewMemory:
    """``add``'s arguments, checked; a missing ``occurred_at`` is ``now``."""
    return NewMemory(
        text=check_text(text, limits),
        session=check_label(session, "session", limits),
        speaker=check_label(speaker, "speaker", limits),
        occurred_at=now if occurred_at is None else check_time(occurred_at, "occurred_at"),
        metadata=check_metadata(metadata, limits),
        importance=check_importance(importance),
        emotion=check_emotion(emotion),
        idempotency_key=check_label(idempotency_key, "idempotency_key", limits),
        expires_at=check_expiry(expires_at, now),
        occurred_at_given=occurred_at is not None,
    )


def check_item(item: object, index: int, limits: Limits, now: datetime) -> NewMemory:
    """One item of ``add_many``: a mapping of ``add``'s keyword arguments. Errors name
    the item's position in the batch."""
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"item {index} must be a mapping, got {type(item).__name__}")
    unknown = set(item) - ITEM_KEYS
    if unknown:
        raise InvalidInputError(
            f"item {index} has unknown keys {sorted(map(str, unknown))}; "
            f"allowed: {sorted(ITEM_KEYS)}"
        )
    try:
        return check_new_memory(limits, now, **item)
    except InvalidInputError as exc:
        raise type(exc)(f"item {index}: {exc}") from exc
