"""The values engramdb hands out: frozen dataclasses, never dicts.

``Engram`` is one memory as it is now; ``Version`` one state of it in its
history; ``Hit`` one search result with its ``Explanation``. Nothing here talks
to a store or computes a score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "DEFAULT_IMPORTANCE",
    "DEFAULT_STABILITY_DAYS",
    "Budget",
    "Concept",
    "ConsolidationReport",
    "ContextBundle",
    "ContextItem",
    "Contribution",
    "Deletion",
    "Engram",
    "Experience",
    "ExperienceHit",
    "Explanation",
    "Fact",
    "Feedback",
    "Hit",
    "Mood",
    "NamespaceStats",
    "NamespaceWeights",
    "Page",
    "ProfileEntry",
    "ProfileProposal",
    "SignalWeight",
    "Version",
]

#: Dynamics of a memory written without them (older stores, other writers):
#: about what ``engramdb.dynamics.retention.initial_stability`` gives importance 0.5.
DEFAULT_IMPORTANCE = 0.5
DEFAULT_STABILITY_DAYS = 12.0


@dataclass(frozen=True, slots=True)
class Engram:
    """One memory, in its current version.

    ``occurred_at`` is when the event happened (event time), ``recorded_at``
    when engramdb first stored it (ingest time), ``valid_from`` when the
    current version was written. ``kind`` is ``"episode"`` for what was added;
    consolidation adds other kinds.

    Dynamics (docs/dynamics.md): ``importance`` in [0, 1];
    ``stability_days`` the forgetting curve's stability S; ``valence`` in
    [-1, 1], ``arousal`` in [0, 1] and ``emotion`` a label; ``recalls`` how
    often search returned it, ``last_recalled_at`` when last; ``dormant`` when
    it was put aside (budget, faded): left out of default search, never deleted.

    ``expires_at``: when the memory expires (docs/expiry.md); from then on no read
    returns it, and a purge erases it. None: it never expires.

    ``repeated`` is True only on what an ``add`` returned instead of storing a
    copy: the memory already held the same experience, or the same idempotency
    key (docs/repetition.md). A memory read any other way says False.
    """

    id: str
    namespace: str
    text: str
    occurred_at: datetime
    recorded_at: datetime
    valid_from: datetime
    session: str | None = None
    speaker: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "episode"
    version: int = 1
    importance: float = DEFAULT_IMPORTANCE
    stability_days: float = DEFAULT_STABILITY_DAYS
    valence: float = 0.0
    arousal: float = 0.0
    emotion: str = "neutral"
    recalls: int = 0
    last_recalled_at: datetime | None = None
    dormant: bool = False
    repeated: bool = False
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        """Whether the memory has expired at ``now`` (docs/expiry.md)."""
        return self.expires_at is not None and self.expires_at <= now

    @property
    def last_used_at(self) -> datetime:
        """Where its forgetting curve starts: the event, or the latest recall if later."""
        if self.last_recalled_at is not None and self.last_recalled_at > self.occurred_at:
            return self.last_recalled_at
        return self.occurred_at


@dataclass(frozen=True, slots=True)
class Version:
    """One state of a memory; ``valid_to`` is None for the current one."""

    engram_id: str
    version: int
    text: str
    speaker: str | None
    metadata: Mapping[str, Any]
    occurred_at: datetime
    valid_from: datetime
    valid_to: datetime | None

    @property
    def is_current(self) -> bool:
        return self.valid_to is None


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one signal added to a hit's score.

    ``value`` is the signal as measured (e.g. cosine similarity), ``weight``
    the ranker's weight for it, ``share`` its part of the total absolute
    contribution (the shares of one explanation sum to 1).
    """

    signal: str
    value: float
    weight: float
    share: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a memory was recalled: each signal's contribution, largest first.

    The memory's dynamics at search time ride along (docs/dynamics.md): ``retention`` is
    R(now) on its forgetting curve, ``stability_days`` its S, ``importance``
    and ``emotion`` as stored; None where the search did not compute them.
    ``without_vector``: the memory was ranked before its vector arrived, by
    everything but its meaning (docs/write-path.md).
    """

    contributions: tuple[Contribution, ...]
    paths: tuple[str, ...] = ()
    retention: float | None = None
    stability_days: float | None = None
    importance: float | None = None
    emotion: str | None = None
    without_vector: bool = False

    @property
    def shares(self) -> dict[str, float]:
        return {c.signal: c.share for c in self.contributions}

    def __str__(self) -> str:
        top = [c for c in self.contributions if c.share >= 0.005][:5]
        parts = ", ".join(f"{c.signal} {c.share:.0%}" for c in top)
        found = f" (found by {', '.join(self.paths)})" if self.paths else ""
        dynamics = ""
        if self.retention is not None and self.stability_days is not None:
            dynamics = f" [R {self.retention:.2f}, S {self.stability_days:.1f} d"
            if self.importance is not None:
                dynamics += f", importance {self.importance:.2f}"
            if self.emotion is not None:
                dynamics += f", {self.emotion}"
            dynamics += "]"
        pending = " (ranked without its vector)" if self.without_vector else ""
        return parts + found + dynamics + pending


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result.

    ``score`` is the memory's attention weight among the candidates of this
    search (a softmax; scores of all candidates sum to 1), ``rank`` its
    1-based position. ``neighbours`` holds the turns just before and after it
    in the same session when ``search(..., neighbours=n)`` asked for them.
    ``relevance`` is the calibrated probability that the memory is relevant to
    the query: unlike ``score`` it does not say which memory is best but
    whether this one is any good, so ``search(..., min_relevance=...)`` can
    answer with nothing (docs/recall.md, "Relevance"). A hit built without
    one (an older server's) counts as relevant: 1.0. ``search_id`` names the
    search that returned it, which ``feedback`` refers to (docs/learning.md).
    """

    engram: Engram
    score: float
    rank: int
    explain: Explanation
    neighbours: tuple[Engram, ...] = ()
    relevance: float = 1.0
    search_id: str = ""


@dataclass(frozen=True, slots=True)
class NamespaceStats:
    """Counts for one namespace."""

    namespace: str
    engrams: int
    versions: int
    sessions: int
    first_occurred_at: datetime | None
    last_occurred_at: datetime | None
    # memories whose vector has not arrived yet (docs/write-path.md)
    pending_vectors: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a namespace's memories: ``mem.list``'s answer (docs/scopes.md, "Listing").

    ``engrams`` come in the listing's order; ``next_cursor`` is where the next page
    starts (pass it back as ``cursor=``, with the same namespace, filters, kinds and
    order), None on the last page. A cursor is opaque: it holds the position of the
    page's last memory, not a count, so memories written or deleted meanwhile never
    make a page repeat or skip one that was there all along.
    """

    namespace: str
    engrams: tuple[Engram, ...]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """The most active memories (and/or text bytes) a namespace keeps; None: no bound.

    ``Memory.set_budget`` stores one and ``Memory.budget`` reads it back
    (docs/dynamics.md); over it, the least retained memories go dormant.
    """

    max_memories: int | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_memories", "max_bytes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ValueError(f"{name} must be a non-negative integer or None")


@dataclass(frozen=True, slots=True)
class Deletion:
    """What ``Memory.delete_where`` deleted, or with ``dry_run`` would delete
    (docs/security.md, "Delete by filter").

    ``ids`` are the memories the filter matched, in the order they were
    written; ``derived`` the facts and summaries taken along with them, as
    ``delete`` takes them (every fact and summary derived from a deleted memory,
    transitively). ``count`` is both together.
    """

    namespace: str
    ids: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def count(self) -> int:
        return len(self.ids) + len(self.derived)


@dataclass(frozen=True, slots=True)
class Fact:
    """One consolidated fact: who (``subject``) has what (``attribute``) = ``value``.

    Facts are bi-temporal. ``valid_from`` / ``valid_to`` are event time: when
    the value became true in the world and when a newer value replaced it
    (None while it still holds). ``recorded_at`` is when consolidation wrote
    the fact, ``invalidated_at`` when it closed its validity (record time).
    ``status`` is ``"current"``, ``"superseded"`` (a newer value replaced it)
    or ``"stale"`` (a fact it was derived from was superseded). ``engram_id``
    is the fact's memory (kind ``"fact"``); ``sources`` the ids it came from
    (episodes, or facts for a derived fact). Nothing here is ever deleted by
    consolidation.
    """

    engram_id: str
    namespace: str
    subject: str
    attribute: str
    value: str
    text: str
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    invalidated_at: datetime | None
    status: str
    superseded_by: str | None = None
    sources: tuple[str, ...] = ()

    def holds_at(self, when: datetime) -> bool:
        """Whether the fact was true at event time ``when`` (stale facts never hold)."""
        if self.status == "stale" and self.valid_to is None:
            return False
        return self.valid_from <= when and (self.valid_to is None or when < self.valid_to)


@dataclass(frozen=True, slots=True)
class ConsolidationReport:
    """What one ``Memory.consolidate`` run did in one namespace.

    ``episodes`` is how many episodes it read (0 when nothing was new: runs are
    idempotent); ``facts`` how many new facts it wrote, ``merged`` how many
    extracted facts were merged into an existing one (a new provenance link),
    ``superseded`` how many facts a newer value closed, ``stale`` how many
    derived facts that made stale, ``duplicates`` how many episodes it linked
    to a near-duplicate earlier episode, ``summaries`` how many session
    summaries it wrote or refreshed, ``batches`` how many transactions it
    committed; ``seconds`` its wall time.
    """

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

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Mood:
    """How a namespace's recent memories feel: ``mem.mood`` (docs/context.md).

    ``valence`` in [-1, 1] is the arousal-weighted mean valence of the
    episodes that occurred in ``[start, end]``, ``arousal`` in [0, 1] their
    mean arousal, ``emotion`` the label that carries the most arousal
    ("neutral" when none); ``memories`` how many episodes were read and
    ``drivers`` the ones that move the mood most (|valence| x arousal), strongest first.
    """

    namespace: str
    start: datetime
    end: datetime
    valence: float
    arousal: float
    emotion: str
    memories: int
    drivers: tuple[Engram, ...] = ()

    def describe(self) -> str:
        tone = "neutral"
        if abs(self.valence) > 0.1:
            tone = "positive" if self.valence > 0 else "negative"
        return (
            f"recent mood: {tone} (valence {self.valence:+.2f}, arousal {self.arousal:.2f}, "
            f"mostly {self.emotion}) over {self.memories} memories"
        )


@dataclass(frozen=True, slots=True)
class ContextItem:
    """One labelled piece of a packed context.

    ``kind`` is ``"profile"`` (a pinned entry, ``key: text``), ``"note"`` (which
    pinned entries the budget left out), ``"working"`` (a recent turn of the
    session), ``"episode"`` (a recalled memory), ``"fact"`` or ``"summary"``
    (consolidated memories) or ``"mood"``; ``source_id`` the memory it shows
    (None for the profile, a note and the mood);
    ``score`` its value to the query (attention weight; what packing spends
    tokens on); ``tokens`` the tokens of its ``line()``.
    """

    kind: str
    text: str
    tokens: int
    score: float
    source_id: str | None = None
    occurred_at: datetime | None = None
    speaker: str | None = None
    session: str | None = None

    def line(self) -> str:
        """The item as one prompt line: ``[kind time] speaker: text``."""
        when = "" if self.occurred_at is None else f" {self.occurred_at:%Y-%m-%d %H:%M}"
        who = f" {self.speaker}:" if self.speaker else ""
        return f"[{self.kind}{when}]{who} {self.text}"


@dataclass(frozen=True, slots=True)
class ContextBundle:
    """What to put in a prompt now: ``mem.context``'s answer (docs/context.md).

    ``items`` are ordered for reading: the pinned profile (by key), mood,
    facts, summaries, recalled episodes (oldest first), then the session's
    working memory (oldest first, so the latest turn is last). ``tokens`` is
    what ``render()`` counts, never more than ``budget_tokens``.
    ``profile_left_out`` names the pinned entries the budget had no room for
    (empty when the whole profile is shown; docs/profile.md); the rendered text
    says so too, in a last line, when that line fits.
    """

    query: str
    namespace: str
    session: str | None
    budget_tokens: int
    tokens: int
    items: tuple[ContextItem, ...]
    mood: Mood | None = None
    profile_left_out: tuple[str, ...] = ()

    def render(self) -> str:
        """The bundle as prompt text, one labelled line per item."""
        return "\n".join(item.line() for item in self.items)

    def of_kind(self, kind: str) -> tuple[ContextItem, ...]:
        return tuple(item for item in self.items if item.kind == kind)


@dataclass(frozen=True, slots=True)
class Feedback:
    """One judgement of a search hit, as recorded (``Memory.feedback``, docs/learning.md).

    ``reward`` is in [-1, 1] (useful 1, not useful -1); a later judgement of the same
    hit of the same search replaces it. ``learned`` says whether the namespace's
    ranker weights changed with it: False when the replay guard refused the new
    weights (they ordered the earlier feedback worse) or when nothing was judged
    against it yet.
    """

    search_id: str
    engram_id: str
    reward: float
    recorded_at: datetime
    learned: bool = False


@dataclass(frozen=True, slots=True)
class SignalWeight:
    """One ranker signal's weight in a namespace, beside the prior's (the shipped one);
    ``shift`` is how far feedback moved it (``weight - prior``)."""

    signal: str
    weight: float
    prior: float
    shift: float = 0.0


@dataclass(frozen=True, slots=True)
class NamespaceWeights:
    """A namespace's ranker weights (``Memory.weights``, docs/learning.md).

    ``learned`` is False while the namespace ranks with the prior; ``feedback``
    counts the judgements recorded, ``updates`` the weight changes made from
    them and ``rejected`` those the replay guard refused.
    """

    namespace: str
    signals: tuple[SignalWeight, ...]
    learned: bool = False
    feedback: int = 0
    updates: int = 0
    rejected: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Experience:
    """What was done in a situation and how it turned out: procedural memory
    (``mem.record_experience``, docs/learning.md).

    ``reward`` in [-1, 1] says how well ``action`` worked (1: it did, -1: it
    failed); ``outcome`` is what happened, in words. An experience is a memory
    of kind ``"experience"`` (``id`` is its memory's id), so it fades and is
    strengthened by recall like any memory: ``stability_days``, ``recalls`` and
    ``last_recalled_at`` are its dynamics (docs/dynamics.md).
    """

    id: str
    namespace: str
    situation: str
    action: str
    outcome: str
    reward: float
    occurred_at: datetime
    recorded_at: datetime
    stability_days: float = DEFAULT_STABILITY_DAYS
    recalls: int = 0
    last_recalled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExperienceHit:
    """One experience ``mem.recall_experiences`` returned, best first.

    ``similarity`` is the cosine of its situation to the one asked about,
    ``retention`` its R(now) on its forgetting curve, and ``score`` what ranks
    it: similarity plus the reward, weighed by how well it is retained
    (docs/learning.md, "What worked last time").
    """

    experience: Experience
    score: float
    similarity: float
    retention: float
    rank: int


@dataclass(frozen=True, slots=True)
class Concept:
    """A concept taught from examples (``mem.teach``, docs/learning.md).

    ``examples`` are the texts it was taught with, oldest first; its prototype
    is the mean of their normalised embeddings. A memory belongs to it
    (``search(..., concept=name)``) when its cosine to the prototype is at
    least ``threshold`` and within the margin of its nearest concept's;
    ``tagged`` is how many memories of the namespace belong now. ``id`` is the
    concept's own memory (kind ``"concept"``), ``taught_at`` when its latest
    examples were given.
    """

    name: str
    namespace: str
    id: str
    examples: tuple[str, ...]
    threshold: float
    tagged: int
    taught_at: datetime


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One version of a pinned profile entry: what an agent always sees (docs/profile.md).

    ``key`` names the entry in its namespace (``"name"``, ``"diet"``); ``text`` is
    what it says. Pinning a key again writes ``version + 1`` and closes this one's
    ``valid_to`` (record time: when it stopped being pinned), as ``unpin`` does;
    nothing is overwritten. ``source_id`` is the fact it was accepted from
    (``Memory.profile_proposals``), None when written by hand.
    """

    key: str
    text: str
    version: int
    valid_from: datetime
    valid_to: datetime | None = None
    source_id: str | None = None

    def held_at(self, when: datetime) -> bool:
        """Whether this version was the pinned one at record time ``when``."""
        return self.valid_from <= when and (self.valid_to is None or when < self.valid_to)


@dataclass(frozen=True, slots=True)
class ProfileProposal:
    """A profile entry consolidation proposes from a stable fact (docs/profile.md).

    Accept it with ``pin(key, text, source_id=fact_id)``; nothing is pinned
    until then. ``pinned`` is the key's current text when it is pinned already
    (with other text): accepting would supersede it.
    """

    key: str
    text: str
    fact_id: str
    pinned: str | None = None
