"""The wire shapes of the REST API and the MCP tools, as pydantic models.

Requests forbid unknown fields and take only timezone-aware datetimes, so a
typo or a naive time is a 422 before the library sees it; everything else
(empty text, metadata size, limits) is the library's to check, so the rules
live in one place. Responses are built from the library's frozen dataclasses
(``from_*``); datetimes go out as UTC ISO 8601 with a ``Z``, the form the
CLI's ``--json`` prints. Pydantic lives only under ``server/``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
)

from engramdb import ConsolidationReport, Engram, Explanation, Fact, Hit, NamespaceStats, Version
from engramdb.model import ContextBundle, ContextItem, Mood
from engramdb.options import ADD, CONSOLIDATE, CONTEXT, SEARCH

__all__ = [
    "BatchIn",
    "BatchOut",
    "BudgetIn",
    "BudgetOut",
    "ConsolidateIn",
    "ConsolidationOut",
    "ContextIn",
    "ContextItemOut",
    "ContextOut",
    "CurveOut",
    "DeletedOut",
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
    "FlushOut",
    "ForgetOut",
    "HistoryOut",
    "HitOut",
    "IsoTime",
    "Kind",
    "MoodOut",
    "NamespacesOut",
    "NeighboursOut",
    "RetentionOut",
    "SearchIn",
    "SearchOut",
    "StatsListOut",
    "StatsOut",
    "VersionOut",
    "WorkingOut",
]


def _utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _iso_only(value: object) -> object:
    # pydantic would also take a number as Unix time; the API takes ISO 8601 only.
    if isinstance(value, (int, float)):
        raise ValueError("a datetime must be an ISO 8601 string with a timezone")
    return value


UtcTime = Annotated[datetime, PlainSerializer(_utc, return_type=str)]
#: An ISO 8601 datetime with a timezone; a naive one is refused, never guessed.
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
Metadata = dict[str, Any]
Kind = Literal["episode", "fact", "summary"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EngramIn(_In):
    """One experience to remember (``Memory.add``'s arguments; help from ``options.ADD``)."""

    text: str = Field(min_length=1, description="What happened or was said.")
    session: str | None = Field(default=None, description=ADD.help("session"))
    speaker: str | None = Field(default=None, description=ADD.help("speaker"))
    occurred_at: IsoTime | None = Field(default=None, description=ADD.help("occurred_at"))
    metadata: Metadata | None = Field(default=None, description=ADD.help("metadata"))
    importance: float | None = Field(default=None, description=ADD.help("importance"))
    emotion: str | None = Field(default=None, description=ADD.help("emotion"))


class BatchIn(_In):
    """Several experiences, remembered in one transaction (all or none)."""

    items: list[EngramIn]


class EngramPatch(_In):
    """A new version of a memory: only the fields given change."""

    text: str | None = None
    speaker: str | None = None
    occurred_at: IsoTime | None = None
    metadata: Metadata | None = None
    now: IsoTime | None = Field(
        default=None, description="When the new version becomes valid (default: now)."
    )


class SearchIn(_In):
    """``Memory.search``'s options (``options.SEARCH``). A new library option is one field here."""

    query: str = Field(min_length=1)
    limit: StrictInt = Field(default=10, ge=1, description=SEARCH.help("limit"))
    now: IsoTime | None = Field(default=None, description=SEARCH.help("now"))
    neighbours: StrictInt = Field(default=0, ge=0, le=20, description=SEARCH.help("neighbours"))
    include_dormant: StrictBool = Field(default=False, description=SEARCH.help("include_dormant"))
    reinforce: StrictBool = Field(default=True, description=SEARCH.help("reinforce"))
    emotion: list[str] | str | None = Field(default=None, description=SEARCH.help("emotion"))
    mood_congruent: StrictBool = Field(default=False, description=SEARCH.help("mood_congruent"))
    context: list[str] | str | None = Field(default=None, description=SEARCH.help("context"))
    as_of: IsoTime | None = Field(default=None, description=SEARCH.help("as_of"))
    kinds: list[Kind] | None = Field(default=None, description=SEARCH.help("kinds"))

    def options(self) -> dict[str, Any]:
        """Every option but the query, as ``Memory.search`` keyword arguments."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "query"}


class ConsolidateIn(_In):
    """``Memory.consolidate``'s options (``options.CONSOLIDATE``; ``progress`` is local)."""

    now: IsoTime | None = Field(default=None, description=CONSOLIDATE.help("now"))


class ConsolidationOut(BaseModel):
    namespace: str
    episodes: int
    facts: int
    merged: int
    superseded: int
    stale: int
    duplicates: int
    summaries: int
    batches: int
    pending: int
    seconds: float

    @classmethod
    def from_report(cls, report: ConsolidationReport) -> ConsolidationOut:
        return cls(
            namespace=report.namespace,
            episodes=report.episodes,
            facts=report.facts,
            merged=report.merged,
            superseded=report.superseded,
            stale=report.stale,
            duplicates=report.duplicates,
            summaries=report.summaries,
            batches=report.batches,
            pending=report.pending,
            seconds=report.seconds,
        )


class FactOut(BaseModel):
    """One consolidated fact, every past value kept (``engramdb.Fact``, docs/consolidation.md)."""

    engram_id: str
    namespace: str
    subject: str
    attribute: str
    value: str
    text: str
    valid_from: UtcTime
    valid_to: UtcTime | None
    recorded_at: UtcTime
    invalidated_at: UtcTime | None
    status: str = Field(description="current, superseded or stale.")
    superseded_by: str | None
    sources: list[str]

    @classmethod
    def from_fact(cls, fact: Fact) -> FactOut:
        return cls(
            engram_id=fact.engram_id,
            namespace=fact.namespace,
            subject=fact.subject,
            attribute=fact.attribute,
            value=fact.value,
            text=fact.text,
            valid_from=fact.valid_from,
            valid_to=fact.valid_to,
            recorded_at=fact.recorded_at,
            invalidated_at=fact.invalidated_at,
            status=fact.status,
            superseded_by=fact.superseded_by,
            sources=list(fact.sources),
        )


class FactsOut(BaseModel):
    namespace: str
    as_of: UtcTime | None
    facts: list[FactOut]


# -- memory dynamics (docs/dynamics.md) ----------------------------------


class BudgetIn(_In):
    """``Memory.set_budget``'s bounds; both null (or absent) removes the budget."""

    max_memories: StrictInt | None = Field(
        default=None, description="The most active memories the namespace keeps (null: no bound)."
    )
    max_bytes: StrictInt | None = Field(
        default=None, description="The most text bytes its active memories hold (null: no bound)."
    )


class BudgetOut(BaseModel):
    """A namespace's stored budget; both bounds null when it has none."""

    namespace: str
    max_memories: int | None
    max_bytes: int | None


class FadeIn(_In):
    """``Memory.fade``'s options."""

    now: IsoTime | None = Field(
        default=None, description="The time retention is judged at (default: now)."
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


class EngramOut(BaseModel):
    id: str
    namespace: str
    text: str
    session: str | None
    speaker: str | None
    metadata: Metadata
    kind: str
    version: int
    occurred_at: UtcTime
    recorded_at: UtcTime
    valid_from: UtcTime
    importance: float = 0.5
    stability_days: float = 12.0
    valence: float = 0.0
    arousal: float = 0.0
    emotion: str = "neutral"
    recalls: int = 0
    last_recalled_at: UtcTime | None = None
    dormant: bool = False

    @classmethod
    def from_engram(cls, engram: Engram) -> EngramOut:
        return cls(
            id=engram.id,
            namespace=engram.namespace,
            text=engram.text,
            session=engram.session,
            speaker=engram.speaker,
            metadata=dict(engram.metadata),
            kind=engram.kind,
            version=engram.version,
            occurred_at=engram.occurred_at,
            recorded_at=engram.recorded_at,
            valid_from=engram.valid_from,
            importance=engram.importance,
            stability_days=engram.stability_days,
            valence=engram.valence,
            arousal=engram.arousal,
            emotion=engram.emotion,
            recalls=engram.recalls,
            last_recalled_at=engram.last_recalled_at,
            dormant=engram.dormant,
        )


class VersionOut(BaseModel):
    version: int
    text: str
    speaker: str | None
    metadata: Metadata
    occurred_at: UtcTime
    valid_from: UtcTime
    valid_to: UtcTime | None

    @classmethod
    def from_version(cls, version: Version) -> VersionOut:
        return cls(
            version=version.version,
            text=version.text,
            speaker=version.speaker,
            metadata=dict(version.metadata),
            occurred_at=version.occurred_at,
            valid_from=version.valid_from,
            valid_to=version.valid_to,
        )


class ContributionOut(BaseModel):
    signal: str
    value: float
    weight: float
    share: float


class ExplanationOut(BaseModel):
    summary: str
    contributions: list[ContributionOut]
    paths: list[str]
    retention: float | None = None
    stability_days: float | None = None
    importance: float | None = None
    emotion: str | None = None

    @classmethod
    def from_explanation(cls, explain: Explanation) -> ExplanationOut:
        return cls(
            summary=str(explain),
            contributions=[
                ContributionOut(signal=c.signal, value=c.value, weight=c.weight, share=c.share)
                for c in explain.contributions
            ],
            paths=list(explain.paths),
            retention=explain.retention,
            stability_days=explain.stability_days,
            importance=explain.importance,
            emotion=explain.emotion,
        )


class HitOut(BaseModel):
    rank: int
    score: float
    engram: EngramOut
    explain: ExplanationOut
    neighbours: list[EngramOut]

    @classmethod
    def from_hit(cls, hit: Hit) -> HitOut:
        return cls(
            rank=hit.rank,
            score=hit.score,
            engram=EngramOut.from_engram(hit.engram),
            explain=ExplanationOut.from_explanation(hit.explain),
            neighbours=[EngramOut.from_engram(n) for n in hit.neighbours],
        )


class SearchOut(BaseModel):
    query: str
    namespace: str
    now: UtcTime | None
    hits: list[HitOut]


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


class StatsOut(BaseModel):
    namespace: str
    engrams: int
    versions: int
    sessions: int
    first_occurred_at: UtcTime | None
    last_occurred_at: UtcTime | None

    @classmethod
    def from_stats(cls, stats: NamespaceStats) -> StatsOut:
        return cls(
            namespace=stats.namespace,
            engrams=stats.engrams,
            versions=stats.versions,
            sessions=stats.sessions,
            first_occurred_at=stats.first_occurred_at,
            last_occurred_at=stats.last_occurred_at,
        )


class StatsListOut(BaseModel):
    namespaces: list[StatsOut]


class NamespacesOut(BaseModel):
    namespaces: list[str]


class ForgetOut(BaseModel):
    namespace: str
    forgotten: int


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

    query: str = Field(min_length=1)
    session: str | None = Field(default=None, description=CONTEXT.help("session"))
    budget_tokens: StrictInt = Field(default=1000, ge=1, description=CONTEXT.help("budget_tokens"))
    now: IsoTime | None = Field(default=None, description=CONTEXT.help("now"))


class MoodOut(BaseModel):
    namespace: str
    start: UtcTime
    end: UtcTime
    valence: float
    arousal: float
    emotion: str
    memories: int
    drivers: list[EngramOut]

    @classmethod
    def from_mood(cls, mood: Mood) -> MoodOut:
        return cls(
            namespace=mood.namespace,
            start=mood.start,
            end=mood.end,
            valence=mood.valence,
            arousal=mood.arousal,
            emotion=mood.emotion,
            memories=mood.memories,
            drivers=[EngramOut.from_engram(e) for e in mood.drivers],
        )


class ContextItemOut(BaseModel):
    kind: str
    text: str
    tokens: int
    score: float
    source_id: str | None
    occurred_at: UtcTime | None
    speaker: str | None
    session: str | None

    @classmethod
    def from_item(cls, item: ContextItem) -> ContextItemOut:
        return cls(
            kind=item.kind,
            text=item.text,
            tokens=item.tokens,
            score=item.score,
            source_id=item.source_id,
            occurred_at=item.occurred_at,
            speaker=item.speaker,
            session=item.session,
        )


class ContextOut(BaseModel):
    query: str
    namespace: str
    session: str | None
    budget_tokens: int
    tokens: int
    items: list[ContextItemOut]
    mood: MoodOut | None
    text: str = Field(description="The context rendered for a prompt (``render()``).")

    @classmethod
    def from_bundle(cls, bundle: ContextBundle) -> ContextOut:
        return cls(
            query=bundle.query,
            namespace=bundle.namespace,
            session=bundle.session,
            budget_tokens=bundle.budget_tokens,
            tokens=bundle.tokens,
            items=[ContextItemOut.from_item(i) for i in bundle.items],
            mood=None if bundle.mood is None else MoodOut.from_mood(bundle.mood),
            text=bundle.render(),
        )


class WorkingOut(BaseModel):
    namespace: str
    session: str
    turns: list[EngramOut]
