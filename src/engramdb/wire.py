"""The JSON form of engramdb's public values, both ways, and the table of error codes.

Every surface that speaks JSON goes through this module: the REST API and the
MCP tools (``server/schemas.py`` builds its response models from ``fields``),
``engramdb.Client`` (``from_json``), the CLI's ``--json`` and export and
import (``to_json``). A value's JSON form is an object with one key per field
of its dataclass, in field order, less the keys its envelope holds (a
version's ``engram_id``: a history names its memory once), plus a few keys
derived for readers (an explanation's ``summary``, a context's ``text``),
which reading ignores. Nested values nest, tuples are arrays, and a key a
reader does not find takes the field's default, so an older writer's JSON
still reads.

Datetimes have one form everywhere: UTC ISO 8601 with a ``Z``
(``2024-08-17T09:30:00Z``, with microseconds when there are any). Reading takes
any ISO 8601 with a timezone, so older exports (``2024-08-17T09:30:00.000000Z``)
still read; a naive datetime is refused both ways, never guessed.

This module does not check values against the library's limits (``validation``
does, where a value comes in) and imports nothing heavy, so ``engramdb.Client``
can use it without the server.

Error codes
-----------

The REST API answers every error as ``{"error": {"code": ..., "message": ...}}``
with the status below; the MCP tools report ``<code>: <message>``;
``engramdb.Client`` reads the code back into the same exception class, so code
written against ``Memory`` catches the same errors from a server.

    status  code                 raised as / when
    ------  -------------------  ---------------------------------------------
      400   bad_request          the body is not JSON at all
      401   unauthorized         no API key, a malformed, unknown or revoked one
      403   forbidden            the key's scope does not cover the namespace or action
      404   not_found            ``NotFoundError``: no such id in this namespace
      404   route_not_found      no such route
      409   conflict             ``ConflictError``: an idempotency key reused with other
                                 content (docs/repetition.md)
      405   method_not_allowed   the route exists, the method does not
      413   limit_exceeded       ``LimitExceededError``: text, metadata, batch, query,
                                 limit above a documented limit
      413   payload_too_large    the request body is above ``max_body_bytes``
      422   invalid_input        ``InvalidInputError``: the library refused a value
      422   invalid_request      the body or parameters do not fit the schema
                                 (wrong types, unknown fields, naive datetimes)
      429   rate_limited         the key's token bucket is empty (``Retry-After`` says when)
      503   decryption_error     ``DecryptionError``: a value of the store failed to
                                 decrypt (altered on disk); the server never starts
                                 without the right master key
      503   store_error          ``StoreError``, ``SchemaError``, ``IntegrityError``
      503   embedding_error      ``EmbeddingError``, ``ModelIntegrityError``
      501   missing_extra        ``MissingExtraError``: the server was installed without
                                 the optional extra a feature needs
      500   engram_error         any other ``EngramError``
      500   internal_error       a bug; the message says nothing more

422 rather than 400 for refused values: FastAPI already answers schema
violations with 422, and a client should not have to tell which layer refused.
A ``StoreError`` is 503: the server is sound but its store cannot serve now.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from datetime import datetime
from typing import Any, TypeVar, Union, get_args, get_origin

from engramdb.clock import ensure_aware, from_iso
from engramdb.errors import (
    AccessDeniedError,
    ConflictError,
    DecryptionError,
    EmbeddingError,
    EngramError,
    InvalidInputError,
    LimitExceededError,
    MissingExtraError,
    NotFoundError,
    RateLimitedError,
    StoreError,
)
from engramdb.model import (
    Budget,
    Concept,
    ConsolidationReport,
    ContextBundle,
    ContextItem,
    Contribution,
    Deletion,
    Engram,
    Experience,
    ExperienceHit,
    Explanation,
    Fact,
    Feedback,
    Hit,
    Mood,
    NamespaceStats,
    NamespaceWeights,
    Page,
    ProfileEntry,
    ProfileProposal,
    SignalWeight,
    Version,
)

__all__ = [
    "ERROR_TABLE",
    "VALUES",
    "ErrorCode",
    "Field",
    "Value",
    "encode",
    "error_class",
    "error_code",
    "fields",
    "from_json",
    "json_type",
    "time_from_json",
    "time_to_json",
    "to_json",
]

#: A public value: what ``to_json`` writes and ``from_json`` reads.
Value = (
    Budget
    | Concept
    | ConsolidationReport
    | ContextBundle
    | ContextItem
    | Contribution
    | Deletion
    | Engram
    | Experience
    | ExperienceHit
    | Explanation
    | Fact
    | Feedback
    | Hit
    | Mood
    | NamespaceStats
    | NamespaceWeights
    | SignalWeight
    | Page
    | ProfileEntry
    | ProfileProposal
    | Version
)
V = TypeVar("V", bound=Value)


# -- datetimes ---------------------------------------------------------------------------


def time_to_json(value: datetime, name: str = "datetime") -> str:
    """``value`` as UTC ISO 8601 with a ``Z``; a naive datetime is ``InvalidInputError``."""
    return ensure_aware(value, name).isoformat().removesuffix("+00:00") + "Z"


def time_from_json(value: object, name: str = "datetime") -> datetime:
    """An ISO 8601 string with a timezone (``Z`` or an offset) as a UTC datetime."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be an ISO 8601 string")
    try:
        return from_iso(value)
    except ValueError as exc:
        raise InvalidInputError(f"{name} {value!r} is not an ISO 8601 datetime: {exc}") from exc
    except OverflowError as exc:  # 0001-01-01T00:00:00+02:00 has no UTC form
        raise InvalidInputError(f"{name} {value!r} has no UTC form: {exc}") from exc


# -- public values -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """One key of a value's JSON form; ``fields(Engram)`` lists them in order.

    ``type`` is the dataclass field's type (``datetime | None``,
    ``tuple[Engram, ...]``; ``json_type`` says how it travels). A key that is
    not ``required`` may be absent: a reader takes ``default``. A ``derived``
    key is written from the value and ignored on reading.
    """

    name: str
    type: Any
    required: bool = True
    default: Any = None
    derived: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a value's JSON form adds to its dataclass fields, or leaves out."""

    omitted: tuple[str, ...] = ()
    derived: tuple[tuple[str, Callable[[Any], str], str | None], ...] = ()
    notes: Mapping[str, str] = dataclasses.field(default_factory=dict)


_SHAPES: dict[type[Any], _Shape] = {
    Engram: _Shape(),
    # a history holds its memory's id once, beside its versions
    Version: _Shape(omitted=("engram_id",)),
    Contribution: _Shape(),
    Explanation: _Shape(derived=(("summary", str, None),)),
    Hit: _Shape(),
    NamespaceStats: _Shape(),
    Fact: _Shape(notes={"status": "current, superseded or stale."}),
    ConsolidationReport: _Shape(),
    Mood: _Shape(),
    ContextItem: _Shape(),
    ContextBundle: _Shape(
        derived=(
            (
                "text",
                ContextBundle.render,
                "The context rendered for a prompt (``render()``).",
            ),
        )
    ),
    Budget: _Shape(),
    Feedback: _Shape(),
    SignalWeight: _Shape(),
    NamespaceWeights: _Shape(),
    Experience: _Shape(notes={"reward": "How well the action worked, -1 to 1."}),
    ExperienceHit: _Shape(),
    Concept: _Shape(),
    Deletion: _Shape(),
    Page: _Shape(),
    ProfileEntry: _Shape(),
    ProfileProposal: _Shape(),
}


def _fields_of(kind: type[Any], shape: _Shape) -> tuple[Field, ...]:
    hints = typing.get_type_hints(kind)
    out = []
    for f in dataclasses.fields(kind):
        if f.name in shape.omitted:
            continue
        required = f.default is MISSING and f.default_factory is MISSING
        default = None if required else f.default
        if f.default_factory is not MISSING:
            default = f.default_factory()
        note = shape.notes.get(f.name)
        out.append(Field(f.name, hints[f.name], required, default, description=note))
    out.extend(Field(name, str, derived=True, description=note) for name, _, note in shape.derived)
    return tuple(out)


_FIELDS = {kind: _fields_of(kind, shape) for kind, shape in _SHAPES.items()}

#: Every public value's class, in the order above.
VALUES: tuple[type[Any], ...] = tuple(_SHAPES)


def fields(kind: type[Any]) -> tuple[Field, ...]:
    """The keys of ``kind``'s JSON form, in order: its dataclass fields, then derived keys."""
    try:
        return _FIELDS[kind]
    except KeyError:
        raise TypeError(f"{kind.__name__} is not a public value of engramdb") from None


def to_json(value: Value) -> dict[str, Any]:
    """``value``'s JSON form: a dict of JSON types, ready for ``json.dumps``."""
    kind = type(value)
    out = {f.name: encode(getattr(value, f.name), f.name) for f in fields(kind) if not f.derived}
    for name, derive, _ in _SHAPES[kind].derived:
        out[name] = derive(value)
    return out


def encode(value: object, name: str = "value") -> Any:
    """Any value as JSON types: public values, datetimes, mappings, lists and tuples.

    What ``to_json`` writes each field with; ``engramdb.Client`` writes request
    bodies with it. ``name`` says where a value that cannot be written was.
    """
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, datetime):
        return time_to_json(value, name)
    if isinstance(value, Mapping):
        return {k: encode(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, name) for v in value]
    if type(value) in _SHAPES:
        return to_json(typing.cast(Value, value))
    raise InvalidInputError(f"{name}: a {type(value).__name__} has no JSON form")


def from_json(kind: type[V], data: object, **given: Any) -> V:
    """A ``kind`` read back from its JSON form.

    ``given`` supplies the keys the envelope holds (``engram_id=`` for a
    ``Version``). Unknown keys are ignored; an absent key takes the field's
    default; a missing required key or a value of the wrong type is
    ``InvalidInputError``.
    """
    name = kind.__name__
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{name} must be a JSON object, got {type(data).__name__}")
    values = dict(given)
    for f in fields(kind):
        if f.derived or f.name in values:
            continue
        if f.name in data:
            values[f.name] = _decode(f.type, data[f.name], f"{name}.{f.name}")
        elif f.required:
            raise InvalidInputError(f"{name} lacks the field {f.name!r}")
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} cannot be read back: {exc}") from exc


def _decode(hint: Any, raw: object, name: str) -> Any:
    """``raw`` (JSON types) as a field of type ``hint``."""
    optional, hint = _unwrap(hint)
    if raw is None:
        if optional:
            return None
        raise InvalidInputError(f"{name} must not be null")
    if hint is datetime:
        return time_from_json(raw, name)
    if hint in _SHAPES:
        return from_json(hint, raw)
    origin = get_origin(hint)
    if origin is tuple:
        if not isinstance(raw, list):
            raise InvalidInputError(f"{name} must be a list")
        return tuple(_decode(get_args(hint)[0], item, name) for item in raw)
    if origin is Mapping:
        if not isinstance(raw, Mapping):
            raise InvalidInputError(f"{name} must be an object")
        return dict(raw)
    if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, hint) or (hint is int and isinstance(raw, bool)):
        raise InvalidInputError(f"{name} must be {_JSON_NAMES.get(hint, hint.__name__)}")
    return raw


_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _unwrap(hint: Any) -> tuple[bool, Any]:
    """``(True, X)`` for ``X | None``, ``(False, hint)`` for anything else."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return True, args[0]
    return False, hint


def json_type(hint: Any, named: Mapping[type[Any], Any]) -> Any:
    """The type a field of type ``hint`` has in JSON, as a Python type.

    Mappings are ``dict[str, Any]``, tuples lists, ``X | None`` stays optional;
    a class in ``named`` becomes what it maps to (``server/schemas.py`` maps
    each public value to its response model, and ``datetime`` to its serialised
    form); a datetime not in ``named`` is a string.
    """
    optional, hint = _unwrap(hint)
    if optional:
        # Union, not |: a mapped type may be a forward reference, which | does not take
        return Union[json_type(hint, named), None]  # noqa: UP007
    if hint in named:
        return named[hint]
    if hint is datetime:
        return str
    if hint in _SHAPES:
        raise TypeError(f"json_type needs the JSON type of {hint.__name__}")
    origin = get_origin(hint)
    if origin is tuple:
        return list[json_type(get_args(hint)[0], named)]  # type: ignore[misc]
    if origin is Mapping:
        return dict[str, Any]
    return hint


# -- error codes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorCode:
    status: int
    code: str


#: Library errors, most specific first: the first class an error is an instance of decides.
ERROR_TABLE: tuple[tuple[type[EngramError], ErrorCode], ...] = (
    (LimitExceededError, ErrorCode(413, "limit_exceeded")),
    (ConflictError, ErrorCode(409, "conflict")),
    (InvalidInputError, ErrorCode(422, "invalid_input")),
    (NotFoundError, ErrorCode(404, "not_found")),
    (DecryptionError, ErrorCode(503, "decryption_error")),
    (StoreError, ErrorCode(503, "store_error")),
    (EmbeddingError, ErrorCode(503, "embedding_error")),
    (MissingExtraError, ErrorCode(501, "missing_extra")),
    (AccessDeniedError, ErrorCode(403, "forbidden")),
    (RateLimitedError, ErrorCode(429, "rate_limited")),
    (EngramError, ErrorCode(500, "engram_error")),
)

# The edge's own refusals, and what a client raises for each code it reads back.
_CLIENT_CLASSES: dict[str, type[EngramError]] = {
    "bad_request": InvalidInputError,
    "invalid_request": InvalidInputError,
    "invalid_input": InvalidInputError,
    "limit_exceeded": LimitExceededError,
    "conflict": ConflictError,
    "payload_too_large": LimitExceededError,
    "not_found": NotFoundError,
    "unauthorized": AccessDeniedError,
    "forbidden": AccessDeniedError,
    "rate_limited": RateLimitedError,
    "decryption_error": DecryptionError,
    "store_error": StoreError,
    "embedding_error": EmbeddingError,
    "missing_extra": MissingExtraError,
}


def error_code(exc: EngramError) -> ErrorCode:
    """The status and code for a library error."""
    for kind, code in ERROR_TABLE:
        if isinstance(exc, kind):
            return code
    raise AssertionError("EngramError is the table's last row")  # pragma: no cover


def error_class(code: str) -> type[EngramError]:
    """The exception a client raises for an error code (``EngramError`` when unknown)."""
    return _CLIENT_CLASSES.get(code, EngramError)
