"""Search filters: the one ``where`` grammar of every surface and store (docs/filters.md).

``where`` is a mapping of conditions, all of which must hold. A field is
``speaker``, ``session`` or ``metadata.<key>`` (a top-level metadata key); a
bare value means equality, and a mapping of operators applies each of them:
``$eq``, ``$ne``, ``$in``, ``$nin``, ``$gt``, ``$gte``, ``$lt``, ``$lte``.
Values are strings, numbers (within float's range, about 1.8e308 either way)
and booleans; ``$in`` and ``$nin`` take a list of them. Event time is a keyword
of its own (``occurred_after``, ``occurred_before``), not a ``where`` field.

The semantics are those of document stores: a metadata list matches when any
of its elements does (``{"metadata.tags": "work"}`` finds ``{"tags": ["work",
"home"]}``); ``$ne`` and ``$nin`` hold when no element matches, so a memory
without the field passes them; a number never equals a string or a boolean
(``1`` is not ``"1"``, ``True`` is not ``1``); ordering compares numbers with
numbers and strings with strings, never across. ``Filter.matches`` is the
reference: every store gives the same answer (``testing.conformance``).

A store indexes each memory's filterable values as ``entries``: one per field
and scalar value, with an equality key and, for ordering, the number or the
string itself. An encrypted store keeps only keyed tokens of the field and
key (equality works through them) and refuses ordering operators.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeGuard

from engramdb.errors import InvalidInputError

__all__ = [
    "EQUALITY",
    "MAX_CONDITIONS",
    "MAX_VALUES",
    "OPERATORS",
    "ORDERING",
    "Condition",
    "Entry",
    "Filter",
    "entries",
    "equality_key",
    "parse",
]

Scalar = str | int | float | bool
Operator = Literal["$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte"]

EQUALITY: frozenset[str] = frozenset({"$eq", "$ne", "$in", "$nin"})
ORDERING: frozenset[str] = frozenset({"$gt", "$gte", "$lt", "$lte"})
OPERATORS: frozenset[str] = EQUALITY | ORDERING
#: Conditions one filter may hold, and values one ``$in`` / ``$nin`` list may hold.
MAX_CONDITIONS = 32
MAX_VALUES = 256
_FIELDS = ("speaker", "session")
_METADATA = "metadata."
# Numbers beyond 2**53 have no exact float; their key is their decimal form.
_EXACT = 2**53
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Condition:
    """One operator on one field: ``values`` holds one value, or the list of ``$in``."""

    field: str
    op: Operator
    values: tuple[Scalar, ...]

    @property
    def ordering(self) -> bool:
        return self.op in ORDERING

    @property
    def negated(self) -> bool:
        """``$ne`` / ``$nin``: holds when no value of the field is among ``values``."""
        return self.op in ("$ne", "$nin")

    def holds(self, found: Sequence[Scalar]) -> bool:
        """Whether the field's values ``found`` (a list's elements, or one value) pass."""
        if self.op in EQUALITY:
            keys = {equality_key(v) for v in self.values}
            hit = any(equality_key(v) in keys for v in found)
            return not hit if self.negated else hit
        bound = self.values[0]
        return any(_compare(v, bound, self.op) for v in found)


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed ``where`` and event-time bounds: ``occurred_after`` <= t < ``occurred_before``.

    ``unexpired_at`` is not the caller's: the facade sets it to keep out the memories
    expired at that time (``expires_at`` <= it; docs/expiry.md), so that every
    filtered read of a store leaves them out as it reads."""

    conditions: tuple[Condition, ...] = ()
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None
    unexpired_at: datetime | None = None

    def __bool__(self) -> bool:
        return bool(self.conditions) or self.bounded or self.unexpired_at is not None

    @property
    def bounded(self) -> bool:
        """Whether it bounds event time."""
        return self.occurred_after is not None or self.occurred_before is not None

    @property
    def ordering(self) -> bool:
        """Whether any condition orders (refused on encrypted namespaces)."""
        return any(c.ordering for c in self.conditions)

    def matches(
        self,
        *,
        speaker: str | None,
        session: str | None,
        metadata: Mapping[str, Any],
        occurred_at: datetime,
        expires_at: datetime | None = None,
    ) -> bool:
        """The reference semantics: whether a memory with these values passes."""
        unexpired = self.unexpired_at
        if unexpired is not None and expires_at is not None and expires_at <= unexpired:
            return False
        if self.occurred_after is not None and occurred_at < self.occurred_after:
            return False
        if self.occurred_before is not None and occurred_at >= self.occurred_before:
            return False
        for condition in self.conditions:
            found = _values(condition.field, speaker, session, metadata)
            if not condition.holds(found):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Entry:
    """One indexed value of a memory: its field, its equality key, and for ordering
    the number (``number``) or the string (``text``) itself."""

    field: str
    key: str
    number: float | None
    text: str | None


def parse(
    where: object,
    *,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> Filter:
    """The ``Filter`` of a caller's ``where`` (None or a mapping) and time bounds, or an
    ``InvalidInputError`` that names what is wrong. Times are checked by the caller."""
    if where is None:
        where = {}
    if not isinstance(where, Mapping):
        raise InvalidInputError(
            f"where must be a mapping of fields to conditions, not {type(where).__name__}"
        )
    conditions: list[Condition] = []
    for name, spec in where.items():
        field = _field(name)
        if isinstance(spec, Mapping):
            if not spec:
                raise InvalidInputError(f"where[{name!r}] holds no operator")
            for op, operand in spec.items():
                conditions.append(_condition(field, op, operand))
        else:
            conditions.append(_condition(field, "$eq", spec))
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidInputError(
            f"where holds {len(conditions)} conditions; the limit is {MAX_CONDITIONS}"
        )
    if (
        occurred_after is not None
        and occurred_before is not None
        and occurred_after >= occurred_before
    ):
        raise InvalidInputError("occurred_after must be earlier than occurred_before")
    return Filter(tuple(conditions), occurred_after, occurred_before)


def entries(speaker: str | None, session: str | None, metadata: Mapping[str, Any]) -> list[Entry]:
    """The values of one memory a store indexes for filters: speaker, session and
    each top-level metadata key's scalar value or list elements."""
    out: list[Entry] = []
    for field in ("speaker", "session", *(_METADATA + k for k in metadata)):
        seen: set[str] = set()
        for value in _values(field, speaker, session, metadata):
            key = equality_key(value)
            if key in seen:
                continue
            seen.add(key)
            number = _float(value) if _is_number(value) else None
            out.append(Entry(field, key, number, value if isinstance(value, str) else None))
    return out


def equality_key(value: Scalar) -> str:
    """A string equal for equal values and different otherwise: ``1`` and ``1.0`` share
    one, ``True``, ``1`` and ``"1"`` do not."""
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, int) and abs(value) > _EXACT:
        return f"n:{value}"
    if _is_number(value):
        number = float(value)
        return f"n:{int(number)}" if number.is_integer() else f"n:{number!r}"
    return "s:" + str(value)


# -- parsing ---------------------------------------------------------------------


def _field(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInputError(f"where keys must be strings, not {type(name).__name__}")
    if name in _FIELDS:
        return name
    if name.startswith(_METADATA) and len(name) > len(_METADATA):
        _check_text(name, "a where field")
        return name
    raise InvalidInputError(
        f"where field {name!r} is not filterable: use speaker, session or metadata.<key>"
    )


def _condition(field: str, op: object, operand: object) -> Condition:
    if not isinstance(op, str) or op not in OPERATORS:
        raise InvalidInputError(
            f"where[{field!r}] has an unknown operator {op!r}: use one of "
            + ", ".join(sorted(OPERATORS))
        )
    where = f"where[{field!r}][{op!r}]"
    if op in ("$in", "$nin"):
        if isinstance(operand, (str, bytes, Mapping)) or not isinstance(operand, Iterable):
            raise InvalidInputError(f"{where} must be a list of values")
        values = tuple(_scalar(v, where, field) for v in operand)
        if not values:
            raise InvalidInputError(f"{where} must hold at least one value")
        if len(values) > MAX_VALUES:
            raise InvalidInputError(
                f"{where} holds {len(values)} values; the limit is {MAX_VALUES}"
            )
        return Condition(field, op, values)  # type: ignore[arg-type]  # checked above
    value = _scalar(operand, where, field)
    if op in ORDERING and isinstance(value, bool):
        raise InvalidInputError(f"{where} must be a number or a string, not a boolean")
    return Condition(field, op, (value,))  # type: ignore[arg-type]  # checked above


def _scalar(value: object, where: str, field: str) -> Scalar:
    if isinstance(value, str):
        return _check_text(value, where)
    if field in _FIELDS:
        raise InvalidInputError(f"{where}: {field} values are strings, not {type(value).__name__}")
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > sys.float_info.max:  # no float can order by it
            raise InvalidInputError(f"{where} is beyond the range of numbers (about 1.8e308)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{where} must be a finite number")
        return value
    raise InvalidInputError(
        f"{where} must be a string, a number or a boolean, not {type(value).__name__}"
    )


def _check_text(value: str, name: str) -> str:
    """The rule of every stored string (``validation.check_string``, which sits above
    this floor module): no NUL, no lone surrogate."""
    if "\x00" in value:
        raise InvalidInputError(f"{name} must not contain NUL characters")
    found = _SURROGATE.search(value)
    if found:
        raise InvalidInputError(
            f"{name} holds a lone surrogate (U+{ord(found.group()):04X}), which is not valid "
            "Unicode text"
        )
    return value


# -- matching --------------------------------------------------------------------


def _values(
    field: str, speaker: str | None, session: str | None, metadata: Mapping[str, Any]
) -> list[Scalar]:
    """What a condition on ``field`` compares: none, one value, or a list's scalars."""
    if field == "speaker":
        return [] if speaker is None else [speaker]
    if field == "session":
        return [] if session is None else [session]
    value: Any = metadata.get(field[len(_METADATA) :])
    if isinstance(value, list):
        return [v for v in value if _is_scalar(v)]
    return [value] if _is_scalar(value) else []


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | bool | int) or (
        isinstance(value, float) and math.isfinite(value)
    )


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _float(value: int | float) -> float:
    """A number as a float; an integer past float's range (metadata may hold one) as
    the infinity of its sign, which orders it past every finite bound."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _compare(value: Scalar, bound: Scalar, op: str) -> bool:
    if _is_number(value) and _is_number(bound):
        a: Any = _float(value)
        b: Any = _float(bound)
    elif isinstance(value, str) and isinstance(bound, str):
        a, b = value, bound
    else:
        return False
    if op == "$gt":
        return bool(a > b)
    if op == "$gte":
        return bool(a >= b)
    if op == "$lt":
        return bool(a < b)
    return bool(a <= b)
