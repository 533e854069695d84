"""The wire shapes of the REST API and the MCP tools, as pydantic models.

Requests forbid unknown fields and take only timezone-aware datetimes, so a
typo or a naive time is a 422 before the library sees it; everything else
(empty text, metadata size, limits) is the library's to check, so the rules
live in one place.

A response model of a public value (``EngramOut``, ``HitOut``, ...) is not
written here: it is built from the value's JSON form in ``engramdb.wire``
(``wire.fields``), the one definition the Client, the CLI and export also use,
and filled with ``Model.of(value)``. So the OpenAPI document and the MCP tools'
output schemas cannot drift from what is sent. Datetimes go out as strings in
wire's one form (UTC ISO 8601 with a ``Z``). The envelopes around them (a
search's query and hits, a history's id and versions) are written here.
Pydantic lives only under ``server/``.
"""

from __future__ import annotations

import copy
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    StrictBool,
    create_model,
    model_validator,
)

from engramdb import wire
from engramdb.config import Limits
from engramdb.dynamics.emotion import EMOTIONS
from engramdb.filters import MAX_CONDITIONS, MAX_VALUES
from engramdb.model import (
    Budget,
    ConsolidationReport,
    ContextBundle,
    ContextItem,
    Contribution,
    Deletion,
    Engram,
    Explanation,
    Fact,
    Feedback,
    Hit,
    Mood,
    NamespaceStats,
    NamespaceWeights,
    Page,
    SignalWeight,
    Version,
)
from engramdb.options import (
    ADD,
    CONSOLIDATE,
    CONTEXT,
    DELETE_WHERE,
    EMBED,
    FEEDBACK,
    SEARCH,
)
from engramdb.validation import MAX_BUDGET

__all__ = [
    "LABEL_RULE",
    "WHERE_RULE",
    "WRITE_AHEAD",
    "BatchIn",
    "BatchItemIn",
    "BatchOut",
    "BudgetBound",
    "BudgetIn",
    "BudgetOut",
    "ConsolidateIn",
    "ConsolidationOut",
    "ContextIn",
    "ContextItemOut",
    "ContextOut",
    "ContributionOut",
    "CurveOut",
    "DeleteWhereIn",
    "DeletedOut",
    "DeletionOut",
    "EngramIn",
    "EngramOut",
    "EngramPatch",
    "ErrorBody",
    "ErrorOut",
    "ExplanationOut",
    "FactOut",
    "FactsOut",
    "FadeIn",
    "FadeOut",
    "FeedbackIn",
    "FeedbackOut",
    "FlushOut",
    "ForgetOut",
    "HistoryOut",
    "HitOut",
    "Integer",
    "IsoTime",
    "Kind",
    "Metadata",
    "MoodOut",
    "NamespacesOut",
    "NeighboursOut",
    "Number",
    "PageOut",
    "RecallOut",
    "RetentionOut",
    "SearchIn",
    "SearchOut",
    "SignalWeightOut",
    "StatsListOut",
    "StatsOut",
    "UtcTime",
    "ValueOut",
    "VersionOut",
    "WeightsOut",
    "WorkingOut",
    "WriteTime",
    "optional_where",
]


#: How far ahead of the server's clock the ``now`` of a write may be (docs/server.md): a
#: version, a recall or a fade dated later would refuse or outweigh every write until then.
WRITE_AHEAD = timedelta(hours=24)
# The date part of ISO 8601: what pydantic would otherwise also take as Unix time ("1700000000")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_only(value: object) -> object:
    # pydantic would also take a number, or a string of digits, as Unix time; the API takes
    # ISO 8601 only (docs/server.md).
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("a datetime must be an ISO 8601 string with a timezone")
    return value


def _not_far_ahead(value: datetime) -> datetime:
    try:
        ahead = value > datetime.now(timezone.utc) + WRITE_AHEAD
    except OverflowError:  # no UTC form (0001-01-01 at +02:00): the library refuses it
        return value
    if ahead:
        raise ValueError(
            f"the now of a write may be at most {WRITE_AHEAD.total_seconds() / 3600:.0f} hours "
            "ahead of the server's clock"
        )
    return value


# -- what the library accepts, stated in the OpenAPI document (docs/limits.md) --------------
# The library checks these rules (422 invalid_input, one place: engramdb.validation); the
# schema states them with the default Limits, so a client or a fuzzer knows them up front.
_LIMITS = Limits()
_CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
#: A speaker, session, subject or attribute: one line, not blank.
LABEL_RULE: dict[str, Any] = {
    "maxLength": _LIMITS.max_label_chars,
    "pattern": f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$",
}
_TEXT_RULE: dict[str, Any] = {
    "maxLength": _LIMITS.max_text_chars,
    "pattern": r"^[^\x00]*[^\s\x00][^\x00]*$",
}
_QUERY_RULE: dict[str, Any] = {"maxLength": _LIMITS.max_query_chars, "pattern": r"\S"}
_EMOTION_RULE: dict[str, Any] = {"enum": [*EMOTIONS, None]}


def _context(schema: dict[str, Any]) -> None:
    """A search's context: a session id (a label) or a list of turns (texts)."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "string":
            branch.update(LABEL_RULE)
        elif branch.get("type") == "array":
            branch["items"].update(_TEXT_RULE)
            branch["maxItems"] = 200


def _emotions(schema: dict[str, Any]) -> None:
    """A search's emotion filter: a label or a non-empty list of labels."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "string":
            branch["enum"] = list(EMOTIONS)
        elif branch.get("type") == "array":
            branch["items"]["enum"] = list(EMOTIONS)
            branch["minItems"] = 1


def _filter_rule() -> dict[str, Any]:
    """A search's ``where`` (engramdb.filters, docs/filters.md): speaker and session take
    strings, ``metadata.<key>`` strings, numbers and booleans (ordering: no booleans);
    a bare value or an object of operators. What no JSON Schema can say: at most
    ``MAX_CONDITIONS`` conditions in all, operators counted one by one."""
    text: dict[str, Any] = {"type": "string", "pattern": r"^[^\x00]*$"}
    number = {"type": "number", "minimum": -sys.float_info.max, "maximum": sys.float_info.max}
    scalar = {"anyOf": [text, number, {"type": "boolean"}]}

    def condition(value: dict[str, Any], ordered: dict[str, Any]) -> dict[str, Any]:
        listed = {"type": "array", "items": value, "minItems": 1, "maxItems": MAX_VALUES}
        operators = {"$eq": value, "$ne": value, "$in": listed, "$nin": listed}
        operators |= {"$gt": ordered, "$gte": ordered, "$lt": ordered, "$lte": ordered}
        chosen = {
            "type": "object",
            "properties": operators,
            "additionalProperties": False,
            "minProperties": 1,
        }
        return {"anyOf": [*value.get("anyOf", [value]), chosen]}

    label = condition(text, text)
    return {
        "type": "object",
        "properties": {"speaker": label, "session": label},
        "patternProperties": {
            r"^metadata\.[^\x00]+$": condition(scalar, {"anyOf": [text, number]})
        },
        "additionalProperties": False,
        "maxProperties": MAX_CONDITIONS,
    }


#: A search's ``where`` as JSON Schema: the grammar of engramdb.filters (docs/filters.md).
WHERE_RULE: dict[str, Any] = _filter_rule()


def optional_where(schema: dict[str, Any]) -> None:
    """An optional ``where``: ``WHERE_RULE`` or null."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "object":
            branch.clear()
            branch.update(copy.deepcopy(WHERE_RULE))


def _integer(value: object) -> object:
    # JSON Schema's integer is a number with no fraction: 58.0 is one, as 58 is; a bool
    # or a string of digits is not
    if isinstance(value, (bool, str)):
        raise ValueError("must be an integer")
    return value


#: An integer as JSON Schema means it (``58`` or ``58.0``); never a bool or a string.
Integer = Annotated[int, BeforeValidator(_integer)]


def _number(value: object) -> object:
    # JSON Schema's number: neither a bool nor a string of digits
    if isinstance(value, (bool, str)):
        raise ValueError("must be a number")
    return value


#: A number as JSON Schema means it (``1``, ``0.5``); never a bool or a string.
Number = Annotated[float, BeforeValidator(_number)]


class _Range:
    """JSON Schema's ``minimum`` and ``maximum``: inside a union pydantic writes its own
    ``ge`` and ``le``, which no JSON Schema reader knows."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def __get_pydantic_json_schema__(self, core: Any, handler: GetJsonSchemaHandler) -> Any:
        schema = handler(core)
        schema.pop("ge", None)
        schema.pop("le", None)
        return {**schema, "minimum": self.low, "maximum": self.high}


#: A budget's bound (``validation.check_budget``).
BudgetBound = Annotated[Integer, Field(ge=0, le=MAX_BUDGET), _Range(0, MAX_BUDGET)]


class _TimeRange:
    """States the library's range of times (docs/limits.md) in the JSON schema: years
    0201 to 9898, a day inside the range at each end, so no offset takes a time the
    schema allows out of it."""

    def __get_pydantic_json_schema__(self, core: Any, handler: GetJsonSchemaHandler) -> Any:
        schema = handler(core)
        schema["pattern"] = (
            r"^(020[1-9]|02[1-9][0-9]|0[3-9][0-9]{2}|[1-8][0-9]{3}|9[0-7][0-9]{2}"
            r"|98[0-8][0-9]|989[0-8])-"
        )
        return schema


UtcTime = Annotated[datetime, PlainSerializer(wire.time_to_json, return_type=str)]
#: An ISO 8601 datetime with a timezone; a naive one is refused, never guessed.
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_only), _TimeRange()]
#: The ``now`` of a write: an ``IsoTime`` at most ``WRITE_AHEAD`` past the server's clock.
WriteTime = Annotated[IsoTime, AfterValidator(_not_far_ahead)]
Metadata = dict[str, Any]
Kind = Literal["episode", "fact", "summary", "experience", "concept"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- public values, built from engramdb.wire -----------------------------------------------

_V = TypeVar("_V", bound="ValueOut")


class ValueOut(BaseModel):
    """The response model of a public value; each subclass is built from ``wire.fields``.

    Every key is always sent, so every field is required (what a reader takes
    when an older server leaves a key out is ``wire.from_json``'s to decide).
    """

    @classmethod
    def of(cls: type[_V], value: wire.Value, **envelope: Any) -> _V:
        """``value`` as this model; ``envelope`` adds the keys around it (a budget's namespace)."""
        return cls.model_validate({**envelope, **wire.to_json(value)})


#: How a field's class travels in a response: public values as their models, datetimes
#: as wire's datetime form (a string; its JSON schema says ``date-time`` where pydantic can).
_NAMED: dict[type[Any], Any] = {datetime: UtcTime}


def _value_model(
    kind: type[Any], name: str, doc: str | None = None, **envelope: Any
) -> type[ValueOut]:
    """The response model ``name`` of ``kind``: ``envelope``'s fields, then one per key of
    its JSON form."""
    fields: dict[str, Any] = dict(envelope)
    for f in wire.fields(kind):
        fields[f.name] = (wire.json_type(f.type, _NAMED), Field(description=f.description))
    model = create_model(name, __base__=ValueOut, __module__=__name__, __doc__=doc, **fields)
    _NAMED[kind] = model
    return model


if TYPE_CHECKING:  # built at run time; mypy sees each as the ValueOut it is
    ContributionOut: TypeAlias = ValueOut
    ExplanationOut: TypeAlias = ValueOut
    EngramOut: TypeAlias = ValueOut
    VersionOut: TypeAlias = ValueOut
    HitOut: TypeAlias = ValueOut
    StatsOut: TypeAlias = ValueOut
    FactOut: TypeAlias = ValueOut
    ConsolidationOut: TypeAlias = ValueOut
    MoodOut: TypeAlias = ValueOut
    ContextItemOut: TypeAlias = ValueOut
    ContextOut: TypeAlias = ValueOut
    BudgetOut: TypeAlias = ValueOut
    FeedbackOut: TypeAlias = ValueOut
    SignalWeightOut: TypeAlias = ValueOut
    WeightsOut: TypeAlias = ValueOut
    DeletionOut: TypeAlias = ValueOut
    PageOut: TypeAlias = ValueOut
else:  # nested values first: a hit's model holds an engram's
    ContributionOut = _value_model(Contribution, "ContributionOut")
    ExplanationOut = _value_model(Explanation, "ExplanationOut")
    EngramOut = _value_model(Engram, "EngramOut")
    VersionOut = _value_model(Version, "VersionOut")
    HitOut = _value_model(Hit, "HitOut")
    StatsOut = _value_model(NamespaceStats, "StatsOut")
    FactOut = _value_model(
        Fact,
        "FactOut",
        "One consolidated fact, every past value kept (``engramdb.Fact``, docs/consolidation.md).",
    )
    ConsolidationOut = _value_model(ConsolidationReport, "ConsolidationOut")
    MoodOut = _value_model(Mood, "MoodOut")
    ContextItemOut = _value_model(ContextItem, "ContextItemOut")
    ContextOut = _value_model(ContextBundle, "ContextOut")
    BudgetOut = _value_model(
        Budget,
        "BudgetOut",
        "A namespace's stored budget; both bounds null when it has none.",
        namespace=(str, ...),
    )
    DeletionOut = _value_model(
        Deletion,
        "DeletionOut",
        "What a delete by filter deleted, or with dry_run would delete (``engramdb.Deletion``).",
    )
    FeedbackOut = _value_model(
        Feedback, "FeedbackOut", "A recorded judgement of a hit (docs/learning.md)."
    )
    SignalWeightOut = _value_model(SignalWeight, "SignalWeightOut")
    WeightsOut = _value_model(
        NamespaceWeights,
        "WeightsOut",
        "A namespace's ranker weights, each beside the prior's (docs/learning.md).",
    )

    PageOut = _value_model(
        Page, "PageOut", "A page of a namespace's memories (``engramdb.Page``, docs/scopes.md)."
    )


class FeedbackIn(_In):
    """``Memory.feedback``'s judgement of one hit of a search (docs/learning.md)."""

    search_id: str = Field(description=FEEDBACK.help("search_id"), pattern="^[0-9a-f]{32}$")
    engram_id: str = Field(
        description="The id of the memory the hit returned.", pattern="^[0-9a-f]{32}$"
    )
    reward: Number = Field(
        ge=-1, le=1, description="How useful the hit was, -1 to 1 (useful 1, not useful -1)."
    )
    now: WriteTime | None = Field(default=None, description=FEEDBACK.help("now"))


class BatchItemIn(_In):
    """One experience of a batch (``Memory.add``'s arguments but ``embed``, which is the
    batch's; help from ``options.ADD``)."""

    text: str = Field(
        min_length=1, description="What happened or was said.", json_schema_extra=_TEXT_RULE
    )
    session: str | None = Field(
        default=None, description=ADD.help("session"), json_schema_extra=LABEL_RULE
    )
    speaker: str | None = Field(
        default=None, description=ADD.help("speaker"), json_schema_extra=LABEL_RULE
    )
    occurred_at: IsoTime | None = Field(default=None, description=ADD.help("occurred_at"))
    metadata: Metadata | None = Field(default=None, description=ADD.help("metadata"))
    importance: float | None = Field(
        default=None,
        description=ADD.help("importance"),
        json_schema_extra={"minimum": 0, "maximum": 1},
    )
    emotion: str | None = Field(
        default=None, description=ADD.help("emotion"), json_schema_extra=_EMOTION_RULE
    )
    idempotency_key: str | None = Field(
        default=None, description=ADD.help("idempotency_key"), json_schema_extra=LABEL_RULE
    )
    expires_at: IsoTime | None = Field(default=None, description=ADD.help("expires_at"))


class EngramIn(BatchItemIn):
    """One experience to remember (``Memory.add``'s arguments; help from ``options.ADD``)."""

    embed: str | None = Field(
        default=None, description=ADD.help("embed"), json_schema_extra={"enum": list(EMBED)}
    )


class BatchIn(_In):
    """Several experiences, remembered in one transaction (all or none); ``embed`` is
    the batch's, beside its items."""

    items: list[BatchItemIn]
    embed: str | None = Field(
        default=None, description=ADD.help("embed"), json_schema_extra={"enum": list(EMBED)}
    )


class EngramPatch(_In):
    """A new version of a memory: only the fields given change."""

    text: str | None = Field(default=None, json_schema_extra=_TEXT_RULE)
    speaker: str | None = Field(default=None, json_schema_extra=LABEL_RULE)
    occurred_at: IsoTime | None = None
    metadata: Metadata | None = None
    now: WriteTime | None = Field(
        default=None,
        description="When the new version becomes valid (default: now; at most 24 hours "
        "ahead of the server's clock).",
    )


class SearchIn(_In):
    """``Memory.search``'s options (``options.SEARCH``). A new library option is one field here."""

    query: str = Field(min_length=1, json_schema_extra=_QUERY_RULE)
    limit: Integer = Field(
        default=10,
        ge=1,
        description=SEARCH.help("limit"),
        json_schema_extra={"maximum": _LIMITS.max_limit},
    )
    now: IsoTime | None = Field(default=None, description=SEARCH.help("now"))
    neighbours: Integer = Field(default=0, ge=0, le=20, description=SEARCH.help("neighbours"))
    include_dormant: StrictBool = Field(default=False, description=SEARCH.help("include_dormant"))
    reinforce: StrictBool = Field(default=True, description=SEARCH.help("reinforce"))
    emotion: list[str] | str | None = Field(
        default=None, description=SEARCH.help("emotion"), json_schema_extra=_emotions
    )
    mood_congruent: StrictBool = Field(default=False, description=SEARCH.help("mood_congruent"))
    context: list[str] | str | None = Field(
        default=None, description=SEARCH.help("context"), json_schema_extra=_context
    )
    as_of: IsoTime | None = Field(default=None, description=SEARCH.help("as_of"))
    kinds: list[Kind] | None = Field(default=None, min_length=1, description=SEARCH.help("kinds"))
    where: Metadata | None = Field(
        default=None, description=SEARCH.help("where"), json_schema_extra=optional_where
    )
    occurred_after: IsoTime | None = Field(default=None, description=SEARCH.help("occurred_after"))
    occurred_before: IsoTime | None = Field(
        default=None, description=SEARCH.help("occurred_before")
    )
    min_relevance: Number = Field(default=0.0, ge=0, le=1, description=SEARCH.help("min_relevance"))
    concept: str | None = Field(
        default=None, description=SEARCH.help("concept"), json_schema_extra=LABEL_RULE
    )

    @model_validator(mode="after")
    def _reinforce_not_far_ahead(self) -> SearchIn:
        # a reinforcing search writes its hits' last use at ``now``
        if self.reinforce and self.now is not None:
            _not_far_ahead(self.now)
        return self

    def options(self) -> dict[str, Any]:
        """Every option but the query, as ``Memory.search`` keyword arguments."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "query"}


class ConsolidateIn(_In):
    """``Memory.consolidate``'s options (``options.CONSOLIDATE``; ``progress`` is local)."""

    now: WriteTime | None = Field(default=None, description=CONSOLIDATE.help("now"))


class FactsOut(BaseModel):
    namespace: str
    as_of: UtcTime | None
    facts: list[FactOut]


# -- memory dynamics (docs/dynamics.md) ----------------------------------


class BudgetIn(_In):
    """``Memory.set_budget``'s bounds; both null (or absent) removes the budget."""

    max_memories: BudgetBound | None = Field(
        default=None,
        description="The most active memories the namespace keeps (null: no bound).",
    )
    max_bytes: BudgetBound | None = Field(
        default=None,
        description="The most text bytes its active memories hold (null: no bound).",
    )


class FadeIn(_In):
    """``Memory.fade``'s options."""

    now: WriteTime | None = Field(
        default=None,
        description="The time retention is judged at (default: now; at most 24 hours ahead "
        "of the server's clock).",
    )


class FadeOut(BaseModel):
    namespace: str
    dormant: int = Field(description="How many memories turned dormant.")


class RetentionOut(BaseModel):
    id: str
    namespace: str
    now: UtcTime | None
    retention: float = Field(description="R(now) on the memory's forgetting curve, 0 to 1.")


class CurveOut(BaseModel):
    id: str
    namespace: str
    times: list[UtcTime]
    retention: list[float] = Field(description="R at each of ``times``.")


class FlushOut(BaseModel):
    flushed: int = Field(description="How many memories the queued recalls updated.")


class SearchOut(BaseModel):
    query: str
    namespace: str
    now: UtcTime | None
    hits: list[HitOut]


class RecallOut(SearchOut):
    """The MCP tool ``recall``'s answer: a search's; when it read several namespaces,
    ``namespace`` is null and ``namespaces`` lists them (docs/scopes.md)."""

    namespace: str | None  # type: ignore[assignment]
    namespaces: list[str] | None = Field(
        default=None, description="The namespaces searched: those the key covers."
    )


class NeighboursOut(BaseModel):
    id: str
    namespace: str
    neighbours: list[EngramOut]


class BatchOut(BaseModel):
    engrams: list[EngramOut]


class HistoryOut(BaseModel):
    id: str
    namespace: str
    versions: list[VersionOut]


class StatsListOut(BaseModel):
    namespaces: list[StatsOut]


class NamespacesOut(BaseModel):
    namespaces: list[str]


class ForgetOut(BaseModel):
    namespace: str
    forgotten: int


def _one_condition(schema: dict[str, Any]) -> None:
    """A delete by filter names at least one condition (not null; ``where`` not empty)."""
    given: dict[str, dict[str, Any]] = {
        "where": {"type": "object", "minProperties": 1},
        "kinds": {"type": "array"},
    }
    given |= {"occurred_after": {"type": "string"}, "occurred_before": {"type": "string"}}
    described = schema.get("properties", {})
    schema["anyOf"] = [
        {
            "required": [name],
            "properties": {name: {**rule, **_description(described.get(name, {}))}},
        }
        for name, rule in given.items()
    ]


def _description(prop: dict[str, Any]) -> dict[str, Any]:
    return {"description": prop["description"]} if "description" in prop else {}


class DeleteWhereIn(_In):
    """``Memory.delete_where``'s options (``options.DELETE_WHERE``): at least one condition
    (an empty filter would be a namespace's erasure, ``DELETE /v1/namespaces/{ns}``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_condition)

    where: Metadata | None = Field(
        default=None, description=DELETE_WHERE.help("where"), json_schema_extra=optional_where
    )
    kinds: list[Kind] | None = Field(
        default=None, min_length=1, description=DELETE_WHERE.help("kinds")
    )
    occurred_after: IsoTime | None = Field(
        default=None, description=DELETE_WHERE.help("occurred_after")
    )
    occurred_before: IsoTime | None = Field(
        default=None, description=DELETE_WHERE.help("occurred_before")
    )
    dry_run: StrictBool = Field(default=False, description=DELETE_WHERE.help("dry_run"))

    @model_validator(mode="after")
    def _a_condition(self) -> DeleteWhereIn:
        if not (self.where or self.kinds or self.occurred_after or self.occurred_before):
            raise ValueError(
                "at least one condition (where, kinds, occurred_after or occurred_before); "
                "a namespace's erasure is DELETE /v1/namespaces/{namespace}"
            )
        return self

    def options(self) -> dict[str, Any]:
        """Every option, as ``Memory.delete_where`` keyword arguments."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class DeletedOut(BaseModel):
    deleted: str
    namespace: str


class ErrorBody(BaseModel):
    code: str = Field(description="A stable error code (docs/server.md lists them).")
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


# -- working memory and context (docs/context.md) ----------------------------------------


class ContextIn(_In):
    """``Memory.context``'s arguments (``options.CONTEXT``)."""

    query: str = Field(min_length=1, json_schema_extra=_QUERY_RULE)
    session: str | None = Field(
        default=None, description=CONTEXT.help("session"), json_schema_extra=LABEL_RULE
    )
    budget_tokens: Integer = Field(
        default=1000, ge=1, le=1_000_000, description=CONTEXT.help("budget_tokens")
    )
    now: IsoTime | None = Field(default=None, description=CONTEXT.help("now"))
    where: Metadata | None = Field(
        default=None, description=CONTEXT.help("where"), json_schema_extra=optional_where
    )
    occurred_after: IsoTime | None = Field(default=None, description=CONTEXT.help("occurred_after"))
    occurred_before: IsoTime | None = Field(
        default=None, description=CONTEXT.help("occurred_before")
    )
    min_relevance: Number = Field(
        default=0.0, ge=0, le=1, description=CONTEXT.help("min_relevance")
    )

    def options(self) -> dict[str, Any]:
        """Every argument but the query, as ``Memory.context`` keyword arguments."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "query"}


class WorkingOut(BaseModel):
    namespace: str
    session: str
    turns: list[EngramOut]


# -- the server, its key and its audit log (docs/server.md, docs/dashboard.md) --------


class KeyOut(BaseModel):
    """The API key of the request (never its secret)."""

    id: str
    name: str
    access: Literal["read", "write", "admin"]
    namespaces: list[str] = Field(description="Its scope: names, and prefixes ending in *.")


class ScheduleOut(BaseModel):
    """What background consolidation has done since the server started."""

    every_s: float = Field(description="Seconds between passes; 0: off.")
    passes: int
    runs: int = Field(description="Namespaces consolidated (one run each).")
    failures: int
    episodes: int
    facts: int
    summaries: int
    last_run_at: UtcTime | None


class ServerOut(BaseModel):
    version: str
    encrypted: bool = Field(description="Whether the store is encrypted at rest.")
    key: KeyOut
    consolidation: ScheduleOut


class AuditEntryOut(BaseModel):
    """One audited action: who did what to which namespace and when (never content)."""

    at: UtcTime
    actor: str = Field(description="The API key id, or local, scheduler, mcp-stdio, unknown.")
    action: str
    namespace: str | None
    target: str | None = Field(description="The memory id the action named, if any.")
    status: int = Field(description="The HTTP status; 0 for a local command.")
    count: int | None = Field(description="How many memories a batch action wrote.")


class AuditOut(BaseModel):
    entries: list[AuditEntryOut] = Field(description="Newest first.")
    more: bool = Field(description="Whether older entries were left out by the limit.")
