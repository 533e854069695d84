"""``MemoryAPI``: the methods ``Memory`` and ``Client`` share, as one typed contract.

``Memory`` (an embedded store) and ``Client`` (a server over HTTP) both declare
it (``class Memory(MemoryAPI)``), so mypy checks each of their methods against
the signature here, and code typed against ``MemoryAPI`` runs on either. It
holds every public member of ``Memory`` but the ``LOCAL_ONLY`` ones of
``engramdb.options`` (they act on the store's files, its keys or this
process's objects), as ``tests/test_api.py`` checks.

Defaults are written ``...``: ``Memory`` is the reference for their values
and ``tests/test_options.py`` holds ``Client`` to the same ones. Methods take
the options every surface offers: ``Memory.consolidate`` adds a ``progress``
callback, which a caller in the same process only can pass. The docstrings are
the methods' own, on ``Memory``. It owns no behaviour: a protocol only.
``AsyncMemory`` and ``AsyncClient`` have each of its methods as a coroutine
with the same parameters (docs/async.md), as ``tests/test_api.py`` checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from engramdb.model import (
    Budget,
    Concept,
    ConsolidationReport,
    ContextBundle,
    Deletion,
    Engram,
    Experience,
    ExperienceHit,
    Fact,
    Feedback,
    Hit,
    Mood,
    NamespaceStats,
    NamespaceWeights,
    Page,
    ProfileEntry,
    ProfileProposal,
    Version,
)

__all__ = ["MemoryAPI"]


@runtime_checkable
class MemoryAPI(Protocol):
    """What ``Memory`` and ``Client`` both offer, with the same signatures and results."""

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None: ...

    def __enter__(self) -> MemoryAPI: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    # -- writes -----------------------------------------------------------------

    def add(
        self,
        text: str,
        *,
        namespace: str = ...,
        session: str | None = ...,
        speaker: str | None = ...,
        occurred_at: datetime | None = ...,
        metadata: Mapping[str, Any] | None = ...,
        importance: float | None = ...,
        emotion: str | None = ...,
        idempotency_key: str | None = ...,
        embed: str | None = ...,
        expires_at: datetime | None = ...,
    ) -> Engram: ...

    def add_many(
        self, items: Iterable[Mapping[str, Any]], *, namespace: str = ..., embed: str | None = ...
    ) -> list[Engram]: ...

    def update(
        self,
        id: str,
        *,
        namespace: str = ...,
        text: str | None = ...,
        speaker: str | None = ...,
        occurred_at: datetime | None = ...,
        metadata: Mapping[str, Any] | None = ...,
        now: datetime | None = ...,
    ) -> Engram: ...

    def delete(self, id: str, *, namespace: str = ...) -> None: ...

    def delete_where(
        self,
        *,
        namespace: str = ...,
        where: Mapping[str, Any] | None = ...,
        kinds: str | Iterable[str] | None = ...,
        occurred_after: datetime | None = ...,
        occurred_before: datetime | None = ...,
        dry_run: bool = ...,
    ) -> Deletion: ...

    def forget_namespace(self, namespace: str) -> int: ...

    # -- reads ------------------------------------------------------------------

    def get(self, id: str, *, namespace: str = ...) -> Engram: ...

    def history(self, id: str, *, namespace: str = ...) -> list[Version]: ...

    def search(
        self,
        query: str,
        *,
        namespace: str = ...,
        limit: int = ...,
        now: datetime | None = ...,
        neighbours: int = ...,
        include_dormant: bool = ...,
        reinforce: bool = ...,
        emotion: str | Iterable[str] | None = ...,
        mood_congruent: bool = ...,
        context: Sequence[str] | str | None = ...,
        as_of: datetime | None = ...,
        kinds: str | Iterable[str] | None = ...,
        where: Mapping[str, Any] | None = ...,
        occurred_after: datetime | None = ...,
        occurred_before: datetime | None = ...,
        min_relevance: float = ...,
        concept: str | None = ...,
        namespaces: Iterable[str] | None = ...,
        namespace_prefix: str | None = ...,
    ) -> list[Hit]: ...

    def neighbours(
        self, id: str, *, namespace: str = ..., before: int = ..., after: int = ...
    ) -> list[Engram]: ...

    def namespaces(self) -> list[str]: ...

    def stats(self, *, namespace: str = ...) -> NamespaceStats: ...

    # -- consolidation (docs/consolidation.md) ----------------------------------

    def consolidate(
        self, *, namespace: str = ..., now: datetime | None = ...
    ) -> ConsolidationReport: ...

    def facts(
        self,
        *,
        namespace: str = ...,
        subject: str | None = ...,
        attribute: str | None = ...,
        as_of: datetime | None = ...,
    ) -> list[Fact]: ...

    # -- the pinned profile (docs/profile.md) -----------------------------------

    def pin(
        self, key: str, text: str, *, namespace: str = ..., source_id: str | None = ...
    ) -> ProfileEntry: ...

    def unpin(self, key: str, *, namespace: str = ...) -> ProfileEntry: ...

    def profile(
        self, *, namespace: str = ..., as_of: datetime | None = ..., history: bool = ...
    ) -> list[ProfileEntry]: ...

    def profile_proposals(self, *, namespace: str = ...) -> list[ProfileProposal]: ...

    # -- working memory and context (docs/context.md) ---------------------------

    def working(
        self,
        *,
        namespace: str = ...,
        session: str,
        max_turns: int = ...,
        max_tokens: int | None = ...,
    ) -> list[Engram]: ...

    def context(
        self,
        query: str,
        *,
        namespace: str = ...,
        session: str | None = ...,
        budget_tokens: int = ...,
        now: datetime | None = ...,
        where: Mapping[str, Any] | None = ...,
        occurred_after: datetime | None = ...,
        occurred_before: datetime | None = ...,
        min_relevance: float = ...,
    ) -> ContextBundle: ...

    def mood(
        self, *, namespace: str = ..., window: timedelta = ..., now: datetime | None = ...
    ) -> Mood: ...

    # -- memory dynamics (docs/dynamics.md) -------------------------------------

    def flush(self) -> int: ...

    def retention(self, id: str, *, namespace: str = ..., now: datetime | None = ...) -> float: ...

    def curve(
        self, id: str, *, namespace: str = ..., days: float = ..., points: int = ...
    ) -> tuple[list[datetime], list[float]]: ...

    def set_budget(
        self,
        *,
        namespace: str = ...,
        max_memories: int | None = ...,
        max_bytes: int | None = ...,
    ) -> None: ...

    def budget(self, *, namespace: str = ...) -> Budget | None: ...

    # -- expiry (docs/expiry.md) ------------------------------------------------

    def set_expiry(
        self, id: str, *, namespace: str = ..., expires_at: datetime | None
    ) -> Engram: ...

    def set_ttl(self, ttl: timedelta | None, *, namespace: str = ...) -> None: ...

    def ttl(self, *, namespace: str = ...) -> timedelta | None: ...

    def purge(self, *, namespace: str | None = ...) -> list[Deletion]: ...

    def fade(self, *, namespace: str = ..., now: datetime | None = ...) -> int: ...

    # -- learning (docs/learning.md) --------------------------------------------

    def feedback(
        self,
        hit: Hit | str,
        reward: float,
        *,
        namespace: str = ...,
        search_id: str | None = ...,
        now: datetime | None = ...,
    ) -> Feedback: ...

    def weights(self, *, namespace: str = ...) -> NamespaceWeights: ...

    def reset_weights(self, *, namespace: str = ...) -> NamespaceWeights: ...
    def record_experience(
        self,
        situation: str,
        action: str,
        outcome: str,
        reward: float,
        *,
        namespace: str = ...,
        occurred_at: datetime | None = ...,
    ) -> Experience: ...

    def recall_experiences(
        self,
        situation: str,
        *,
        namespace: str = ...,
        limit: int = ...,
        now: datetime | None = ...,
        reinforce: bool = ...,
    ) -> list[ExperienceHit]: ...

    def teach(self, concept: str, examples: Iterable[str], *, namespace: str = ...) -> Concept: ...

    def concepts(self, *, namespace: str = ...) -> list[Concept]: ...

    def retag(self, *, namespace: str = ...) -> list[Concept]: ...

    # -- listing (docs/scopes.md); last: below it, ``list`` would name this method -----

    def list(
        self,
        *,
        namespace: str = ...,
        where: Mapping[str, Any] | None = ...,
        occurred_after: datetime | None = ...,
        occurred_before: datetime | None = ...,
        kinds: str | Iterable[str] | None = ...,
        order: str = ...,
        descending: bool = ...,
        limit: int = ...,
        cursor: str | None = ...,
    ) -> Page: ...
