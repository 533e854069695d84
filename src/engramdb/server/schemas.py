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
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
)

from engramdb import Engram, Explanation, Hit, NamespaceStats, Version

__all__ = [
    "BatchIn",
    "BatchOut",
    "DeletedOut",
    "EngramIn",
    "EngramOut",
    "EngramPatch",
    "ErrorBody",
    "ErrorOut",
    "ExplanationOut",
    "ForgetOut",
    "HistoryOut",
    "HitOut",
    "IsoTime",
    "NamespacesOut",
    "SearchIn",
    "SearchOut",
    "StatsListOut",
    "StatsOut",
    "VersionOut",
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


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EngramIn(_In):
    """One experience to remember (``Memory.add``'s arguments)."""

    text: str = Field(min_length=1, description="What happened or was said.")
    session: str | None = Field(default=None, description="Session label (one line).")
    speaker: str | None = Field(default=None, description="Who said or did it.")
    occurred_at: IsoTime | None = Field(
        default=None, description="When it happened, with a timezone (default: now)."
    )
    metadata: Metadata | None = Field(default=None, description="A JSON object kept as is.")


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
    """``Memory.search``'s options. A new library option is one field here."""

    query: str = Field(min_length=1)
    limit: StrictInt = Field(default=10, ge=1, description="How many hits at most.")
    now: IsoTime | None = Field(
        default=None,
        description="Reference time for recency and for 'last week' in the query (default: now).",
    )
    neighbours: StrictInt = Field(
        default=0,
        ge=0,
        le=20,
        description="Also return the N turns before and after each hit (0 to 20).",
    )

    def options(self) -> dict[str, Any]:
        """Every option but the query, as ``Memory.search`` keyword arguments."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "query"}


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

    @classmethod
    def from_explanation(cls, explain: Explanation) -> ExplanationOut:
        return cls(
            summary=str(explain),
            contributions=[
                ContributionOut(signal=c.signal, value=c.value, weight=c.weight, share=c.share)
                for c in explain.contributions
            ],
            paths=list(explain.paths),
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
