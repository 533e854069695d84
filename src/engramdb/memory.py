"""The Memory facade: validate, route, orchestrate. No SQL and no maths here.

``Memory`` is the public entry point of the library. Each public method
validates its arguments once (``validation``), then calls the store, the
embedder and the recaller. Every write is one store transaction: a failure
leaves nothing behind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from engramdb import repetition, transfer, wire
from engramdb.api import MemoryAPI
from engramdb.catchup import CatchUp
from engramdb.clock import Clock, SystemClock
from engramdb.config import EncryptionKey, Settings
from engramdb.consolidate import Consolidator, Progress
from engramdb.consolidate.extractors import make_extractor
from engramdb.dynamics.keeper import DynamicsKeeper
from engramdb.dynamics.mood import WINDOW as MOOD_WINDOW
from engramdb.dynamics.mood import window_mood
from engramdb.dynamics.reinforce import applied
from engramdb.dynamics.retention import curve, elapsed_days, retrievability
from engramdb.embed.base import Embedder
from engramdb.errors import InvalidInputError, LimitExceededError, NotFoundError, StoreError
from engramdb.expiry import Expiry
from engramdb.lessons import Lessons
from engramdb.lifecycle import DEFAULT_NAMESPACE, Lifecycle
from engramdb.model import (
    Budget,
    ConsolidationReport,
    ContextBundle,
    Engram,
    Fact,
    Hit,
    Mood,
    Version,
)
from engramdb.pinned import ProfileMixin
from engramdb.recall import prompt
from engramdb.recall.engine import Recaller, SearchRequest
from engramdb.recall.followup import Turn, parse_turn
from engramdb.recall.indexing import embedding_text, index_keys
from engramdb.recall.lexical import stored_analysis
from engramdb.recall.tokens import default_counter
from engramdb.scopes import Scopes
from engramdb.security.redact import redacted
from engramdb.store import Capability, Store, open_store
from engramdb.store.base import DynamicsUpdate
from engramdb.validation import (
    NewMemory,
    check_budget,
    check_context,
    check_emotions,
    check_filter,
    check_flag,
    check_id,
    check_int,
    check_item,
    check_kinds,
    check_label,
    check_limit,
    check_many,
    check_metadata,
    check_namespace,
    check_new_memory,
    check_number,
    check_query,
    check_text,
    check_time,
    check_window,
)

__all__ = ["DEFAULT_NAMESPACE", "Memory"]

#: Working memory (docs/context.md): default and largest number of turns a session holds.
WORKING_TURNS = 20
WORKING_MAX_TURNS = 200
#: How many recalled memories ``context`` considers before packing.
CONTEXT_POOL = 60

Items = Iterable[Mapping[str, Any]]  # what add_many and import_records take


class Memory(Lessons, Lifecycle, Expiry, Scopes, ProfileMixin, MemoryAPI):
    """An engramdb memory: remember with ``add``, recall with ``search``.

    ``Memory()`` opens the embedded store at ``./engram-data``; ``Memory(path)``
    another directory or ``.db`` file; ``Memory(":memory:")`` a throwaway one.
    ``read_only=True`` opens an existing store for reads: every write raises
    ``StoreError`` and nothing on disk changes (``NotFoundError`` names the path
    when there is no store). A store created here is readable by its owner only.
    """

    def __init__(
        self,
        location: str | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
        read_only: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        if location is not None:
            self.settings = self.settings.with_path(str(location))
        self._clock = clock or SystemClock()
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._model_checked = False  # the stored vectors are known to be the embedder's
        self._store = store or open_store(
            self.settings.path,
            ann_threshold=self.settings.ann_threshold,
            read_only=read_only,
            encryption=self.settings.encryption,
            encrypt_vectors=self.settings.encrypt_vectors,
            analyser=stored_analysis,  # what a search reads, kept with each memory
            pool_size=self.settings.postgres_pool_size,
        )
        self._recaller: Recaller | None = None
        self._consolidator: Consolidator | None = None
        self._consolidation_lock = threading.Lock()
        self._read_only = read_only
        self._keeper: DynamicsKeeper | None = None
        self._keeper_lock = threading.Lock()
        self._examples_cache, self._examples_lock = {}, threading.Lock()  # concepts' (lessons)
        idle = read_only or not self.settings.background_embedder  # docs/write-path.md
        self._catchup = CatchUp(self._store, lambda: self.embedder, self._dynamics, idle)

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
        self._catchup.close()
        if self._keeper is not None and not self._read_only:
            try:
                self._keeper.flush()  # queued recalls are written, not lost
            except StoreError as exc:  # refused: dropped (docs/reliability.md, "Read-only stores")
                if "the store is read-only" not in str(exc):
                    raise
        self._store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def store(self) -> Store:
        return self._store

    @property
    def embedder(self) -> Embedder:
        """The embedder, built on first use (loading a model takes a moment), checked
        against the stored vectors' models until the store holds some: a scan of every
        vector, not repeated at each write (every writer is checked the same way)."""
        with self._embedder_lock:
            if self._embedder is None:
                from engramdb.embed import make_embedder

                self._embedder = make_embedder(self.settings)
            if not self._model_checked:
                stored = self._store.model_ids()
                if stored and stored != {self._embedder.model_id}:
                    raise StoreError(
                        f"this store holds vectors of {sorted(stored)}, but the configured "
                        f"embedder is {self._embedder.model_id!r}; configure the same model"
                    )
                self._model_checked = bool(stored)
            return self._embedder

    def _dynamics(self) -> DynamicsKeeper:
        with self._keeper_lock:
            if self._keeper is None:
                self._keeper = DynamicsKeeper(
                    self._store,
                    self.embedder,
                    flush_every=self.settings.recall_flush_every,
                    dormant_below=self.settings.dormant_below,
                )
            return self._keeper

    def _recall(self) -> Recaller:
        if self._recaller is None:
            self._recaller = Recaller(
                self._store,
                self.embedder,
                pool=self.settings.recall_pool,
                exhaustive_up_to=self.settings.recall_exhaustive,
                overlay=self._overlay,
            )
        return self._recaller

    def _overlay(self, namespace: str) -> list[DynamicsUpdate]:
        """Reinforcement of the namespace not yet written (docs/dynamics.md)."""
        return [] if self._keeper is None else self._keeper.overlay(namespace)

    def _seen(self, namespace: str, engrams: Iterable[Engram]) -> dict[str, Engram]:
        """Memories read from the store as this process sees them (with its recalls), by id."""
        pending = {u.id: u for u in self._overlay(namespace)}
        return {e.id: applied(e, pending.get(e.id)) for e in engrams}

    # -- writes -----------------------------------------------------------------

    def add(
        self,
        text: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        session: str | None = None,
        speaker: str | None = None,
        occurred_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        importance: float | None = None,
        emotion: str | None = None,
        idempotency_key: str | None = None,
        embed: str | None = None,
        expires_at: datetime | None = None,
    ) -> Engram:
        """Remember one experience; returns it as stored.

        ``importance`` (0 to 1) and ``emotion`` (a label of ``EMOTIONS``)
        replace what engramdb would estimate from the text (docs/dynamics.md).
        The same text, speaker, session and ``occurred_at`` as a memory of the
        namespace, or an ``idempotency_key`` used before, returns that memory
        with ``repeated=True`` instead of storing a copy (docs/repetition.md).
        ``embed="later"`` returns before the vector is computed (docs/write-path.md).
        ``expires_at`` (after now) is when it expires; without one, the namespace's TTL
        from now, if it has one (docs/expiry.md).
        """
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        now = self._clock.now()
        new = check_new_memory(
            limits,
            now,
            text=text,
            session=session,
            speaker=speaker,
            occurred_at=occurred_at,
            metadata=metadata,
            importance=importance,
            emotion=emotion,
            idempotency_key=idempotency_key,
            expires_at=expires_at,
        )
        return self._write(namespace, [new], now, embed)[0]

    def add_many(
        self, items: Items, *, namespace: str = DEFAULT_NAMESPACE, embed: str | None = None
    ) -> list[Engram]:
        """Remember several experiences in one transaction (all or none); an item repeating
        a memory (or an earlier item) returns it (docs/repetition.md); ``embed`` as add's."""
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        batch = list(check_many(items, "items", "mappings (one per memory)"))
        if not batch:
            return []
        if len(batch) > limits.max_batch:
            raise LimitExceededError(
                f"batch holds {len(batch)} items; the limit is {limits.max_batch}"
            )
        now = self._clock.now()
        checked = [check_item(item, i, limits, now) for i, item in enumerate(batch)]
        return self._write(namespace, checked, now, embed)

    def _write(
        self, namespace: str, items: list[NewMemory], now: datetime, embed: str | None
    ) -> list[Engram]:
        """Write checked memories recorded at ``now``; returns what each is now."""
        if namespace in self.settings.redact_namespaces:
            items = [item.redacted() for item in items]
        items = self._expiring(namespace, items, now)
        if self._store.expired(namespace, now, 1):  # never repeated, they go first
            self.purge(namespace=namespace)
        later = self._catchup.later(self.settings.embed if embed is None else embed)
        written = repetition.write(
            self._store,
            self._dynamics,
            lambda: self.embedder,
            lambda engrams: self._seen(namespace, engrams),
            namespace,
            items,
            now,
            later=later,
        )
        return self._catchup.woken(later, written)

    def update(
        self,
        id: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        text: str | None = None,
        speaker: str | None = None,
        occurred_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Engram:
        """Write a new version; the old one stays in ``history`` with its validity closed."""
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        engram_id = check_id(id)
        current = self._live(namespace, engram_id)
        new_text = current.text if text is None else check_text(text, limits)
        new_speaker = (
            current.speaker if speaker is None else check_label(speaker, "speaker", limits)
        )
        new_time = (
            current.occurred_at if occurred_at is None else check_time(occurred_at, "occurred_at")
        )
        new_meta = dict(current.metadata) if metadata is None else check_metadata(metadata, limits)
        if text is not None and namespace in self.settings.redact_namespaces:
            new_text, new_meta = redacted(new_text, new_meta)
        at = self._clock.now() if now is None else check_time(now, "now")
        if at < current.valid_from:
            raise InvalidInputError(
                f"now ({wire.time_to_json(at)}) is before the current version's valid_from "
                f"({wire.time_to_json(current.valid_from)}); versions must not overlap"
            )
        vector = self.embedder.embed([embedding_text(new_text, new_speaker)])[0]
        return self._store.update(
            namespace,
            engram_id,
            text=new_text,
            speaker=new_speaker,
            metadata=new_meta,
            occurred_at=new_time,
            vector=vector,
            model_id=self.embedder.model_id,
            keys=index_keys(new_text, new_speaker, new_time, new_meta),
            now=at,
        )

    # -- reads ------------------------------------------------------------------

    def get(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> Engram:
        namespace = check_namespace(namespace, self.settings.limits)
        engram = self._live(namespace, check_id(id))
        return self._seen(namespace, [engram])[engram.id]

    def history(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> list[Version]:
        """Every version of a memory, oldest first, with validity intervals."""
        namespace = check_namespace(namespace, self.settings.limits)
        self._live(namespace, check_id(id))
        versions = self._store.history(namespace, check_id(id))
        if not versions:
            raise NotFoundError(f"no memory {id!r} in namespace {namespace!r}")
        return versions

    def search(
        self,
        query: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        limit: int = 10,
        now: datetime | None = None,
        neighbours: int = 0,
        include_dormant: bool = False,
        reinforce: bool = True,
        emotion: str | Iterable[str] | None = None,
        mood_congruent: bool = False,
        context: Sequence[str] | str | None = None,
        as_of: datetime | None = None,
        kinds: str | Iterable[str] | None = None,
        where: Mapping[str, Any] | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        min_relevance: float = 0.0,
        concept: str | None = None,
        namespaces: Iterable[str] | None = None,
        namespace_prefix: str | None = None,
    ) -> list[Hit]:
        """The memories most relevant to ``query``, best first, each explained.

        ``as_of`` answers with what was true at that event time: memories of
        later events are left out and consolidated facts count by whether they
        held then (docs/consolidation.md). ``kinds`` picks what to return:
        ``"episode"`` (the default: what was added, with consolidated facts and
        summaries as extra keys), ``"fact"``, ``"summary"``, or several. ``where``,
        ``occurred_after`` and ``occurred_before`` filter before ranking (docs/filters.md);
        ``min_relevance`` keeps the hits at least that likely to be relevant (docs/recall.md);
        ``concept`` only the memories that belong to a taught concept (docs/learning.md).

        Dormant memories are left out unless ``include_dormant``. The hits count
        as recalled at ``now`` (their stability grows, written in batches)
        unless ``reinforce=False``. ``emotion`` keeps only memories with that
        label (or labels); ``mood_congruent`` nudges recall toward memories of
        the query's own tone (docs/dynamics.md). ``namespaces`` or ``namespace_prefix``
        search several namespaces as one, by relevance (docs/scopes.md).
        """
        limits = self.settings.limits
        neighbours = check_int(neighbours, "neighbours", 0, 20)
        include_dormant = check_flag(include_dormant, "include_dormant")
        reinforce = check_flag(reinforce, "reinforce")
        mood_congruent = check_flag(mood_congruent, "mood_congruent")
        text = check_query(query, limits)
        keeper = self._dynamics()
        mood = keeper.mood_of(text) if mood_congruent else None
        scope = self._scope(namespace, namespaces, namespace_prefix)
        namespace = scope[0] if scope else check_namespace(namespace, limits)
        request = SearchRequest(
            query=text,
            namespace=namespace,
            limit=check_limit(limit, limits),
            now=self._clock.now() if now is None else check_time(now, "now"),
            neighbours=neighbours,
            include_dormant=include_dormant,
            dormant_below=self.settings.dormant_below,
            emotions=check_emotions(emotion),
            mood=mood,
            context=self._context_turns(context, namespace),
            as_of=None if as_of is None else check_time(as_of, "as_of"),
            kinds=check_kinds(kinds),
            where=check_filter(where, occurred_after, occurred_before),
            min_relevance=check_number(min_relevance, "min_relevance", 0.0, 1.0),
            **self._concept_filter(namespace, concept),
            unexpired_at=self._clock.now(),
        )
        hits = self._searched(request, scope, context)
        if reinforce and hits and not self._read_only:
            self._reinforced(hits, request.now)
        return hits

    # -- consolidation (docs/consolidation.md) ---------------------------

    def consolidate(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> ConsolidationReport:
        """Turn the namespace's new episodes into facts and summaries; idempotent.

        Only episodes not consolidated before are read, in batches of one
        transaction each, so a crash loses at most the batch in flight and a
        second run with nothing new changes nothing. ``now`` is the record
        time of what it writes; ``progress(done, total)`` is called after each
        batch. Needs no network unless an LLM extractor is configured.
        """
        namespace = check_namespace(namespace, self.settings.limits)
        at = self._clock.now() if now is None else check_time(now, "now")
        with self._consolidation_lock:
            if self._consolidator is None:
                self._consolidator = Consolidator(
                    self._store,
                    self.embedder,
                    extractor=make_extractor(self.settings),
                    keys=index_keys,
                    batch_size=self.settings.consolidation_batch,
                )
            # one runner a namespace across processes sharing the store (docs/scaling.md)
            with self._store.consolidating(namespace):
                return self._consolidator.run(namespace, at, progress)

    def facts(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        subject: str | None = None,
        attribute: str | None = None,
        as_of: datetime | None = None,
    ) -> list[Fact]:
        """Consolidated facts, every past value included, oldest first per subject
        and attribute; with ``as_of``, only those that held at that event time."""
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        subject = check_label(subject, "subject", limits)
        attribute = check_label(attribute, "attribute", limits)
        found = self._store.facts(namespace, subject=subject, attribute=attribute)
        if as_of is not None:
            when = check_time(as_of, "as_of")
            found = [f for f in found if f.holds_at(when)]
        return found

    # -- working memory and context (docs/context.md) -----------------------

    def working(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        session: str,
        max_turns: int = WORKING_TURNS,
        max_tokens: int | None = None,
    ) -> list[Engram]:
        """The session's latest turns, oldest first: at most ``max_turns`` turns and
        ``max_tokens`` tokens of text. A view over the episodic store, not a copy."""
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        label = check_label(session, "session", limits)
        if label is None:
            raise InvalidInputError("session is required")
        max_turns = check_int(max_turns, "max_turns", 0, WORKING_MAX_TURNS)
        if max_tokens is not None:
            max_tokens = check_int(max_tokens, "max_tokens", 0, 1_000_000)
        turns = self._unexpired(self._store.session_tail(namespace, label, max_turns))
        return prompt.bounded(turns, max_turns, max_tokens, default_counter().count)

    def _context_turns(self, context: object, namespace: str) -> tuple[Turn, ...]:
        """``search(context=...)``: a session id (its working memory) or recent turns."""
        checked = check_context(context, self.settings.limits, WORKING_MAX_TURNS)
        if isinstance(checked, str):
            working = self.working(namespace=namespace, session=checked, max_turns=10)
            return tuple(Turn(text=e.text, speaker=e.speaker) for e in working)
        return tuple(parse_turn(t) for t in checked or ())

    def context(
        self,
        query: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        session: str | None = None,
        budget_tokens: int = 1_000,
        now: datetime | None = None,
        where: Mapping[str, Any] | None = None,
        occurred_after: datetime | None = None,
        occurred_before: datetime | None = None,
        min_relevance: float = 0.0,
    ) -> ContextBundle:
        """What to put in a prompt for ``query`` now, within ``budget_tokens``.

        The pinned profile first (docs/profile.md), then the session's working memory,
        recalled memories and the last week's mood by value per token; recalls here do not
        reinforce; filters and ``min_relevance`` as ``search``'s (docs/context.md).
        """
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        text = check_query(query, limits)
        budget = check_int(budget_tokens, "budget_tokens", 1, 1_000_000)
        at = self._clock.now() if now is None else check_time(now, "now")
        count = default_counter().count
        turns = [] if session is None else self.working(namespace=namespace, session=session)
        hits = self.search(
            text,
            namespace=namespace,
            limit=min(CONTEXT_POOL, limits.max_limit),
            now=at,
            reinforce=False,
            context=[f"{t.speaker}: {t.text}" if t.speaker else t.text for t in turns] or None,
            kinds=("episode", "fact", "summary"),  # current facts and summaries compete too
            where=where,
            occurred_after=occurred_after,
            occurred_before=occurred_before,
            min_relevance=min_relevance,
        )
        # the provenance of what is shown, and its facts and those stated by it, to mark
        # what no longer holds "(until DATE)" (docs/context.md): not the namespace's
        shown = [h.engram.id for h in hits] + [t.id for t in turns]
        links = self._store.links_of(namespace, shown)
        return prompt.bundle(
            text,
            namespace,
            session,
            budget,
            turns=turns,
            hits=hits,
            links=links,
            mood=self.mood(namespace=namespace, window=MOOD_WINDOW, now=at),
            count=count,
            facts=self._store.facts_of(namespace, [*shown, *(k.derived_id for k in links)]),
            profile=self.profile(namespace=namespace),
        )

    def mood(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        window: timedelta = timedelta(days=7),
        now: datetime | None = None,
    ) -> Mood:
        """Valence and arousal of the episodes of the last ``window`` before ``now``,
        with the memories that drive them (from the emotion tags, docs/dynamics.md)."""
        namespace = check_namespace(namespace, self.settings.limits)
        window = check_window(window)
        end = self._clock.now() if now is None else check_time(now, "now")
        start = end - window
        hidden = set(self._store.expired(namespace, self._clock.now()))  # docs/expiry.md
        return window_mood(
            self._store, namespace, start, end, lambda e: self._seen(namespace, e), hidden
        )

    # -- memory dynamics (docs/dynamics.md) ---------------------------------------------------

    def flush(self) -> int:
        """Wait for pending vectors (docs/write-path.md; ``close`` leaves them to the next
        open), then write the queued recalls that searches write every
        ``Settings.recall_flush_every`` hits and at ``close``; returns memories updated."""
        self._catchup.flush()
        return self._dynamics().flush()

    def set_budget(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        max_memories: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        """Bound a namespace's active memories (count and/or text bytes).

        The budget is stored: it outlives this ``Memory`` and every process
        opening the store honours it. When an ``add`` takes the namespace over
        it, the least retained memories turn dormant (never deleted). Both None
        removes the budget.
        """
        namespace = check_namespace(namespace, self.settings.limits)
        bounds = check_budget(max_memories, max_bytes)  # both None deletes the stored budget
        self._store.set_budget(namespace, *bounds)

    def budget(self, *, namespace: str = DEFAULT_NAMESPACE) -> Budget | None:
        """The namespace's stored budget, or None when it has none."""
        stored = self._store.budget(check_namespace(namespace, self.settings.limits))
        return None if stored is None else Budget(*stored)

    def fade(self, *, namespace: str = DEFAULT_NAMESPACE, now: datetime | None = None) -> int:
        """Make dormant what has faded below ``Settings.dormant_below`` at ``now``, and
        what exceeds the namespace's budget; returns how many memories turned dormant."""
        at = self._clock.now() if now is None else check_time(now, "now")
        return self._dynamics().fade(check_namespace(namespace, self.settings.limits), at)

    def retention(
        self, id: str, *, namespace: str = DEFAULT_NAMESPACE, now: datetime | None = None
    ) -> float:
        """R(now) of a memory on its forgetting curve (1 right after use, falling)."""
        engram = self.get(id, namespace=namespace)
        at = self._clock.now() if now is None else check_time(now, "now")
        return retrievability(elapsed_days(engram.last_used_at, at), engram.stability_days)

    def curve(
        self,
        id: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        days: float = 365.0,
        points: int = 200,
    ) -> tuple[list[datetime], list[float]]:
        """A memory's forgetting curve from its last use over ``days``: times and R values."""
        engram = self.get(id, namespace=namespace)
        days = check_number(days, "days", 0, 36_500, low_included=False)
        points = check_int(points, "points", 2, 10_000)
        start = engram.last_used_at
        return curve(engram.stability_days, start, start, start + timedelta(days=days), points)

    def neighbours(
        self, id: str, *, namespace: str = DEFAULT_NAMESPACE, before: int = 1, after: int = 1
    ) -> list[Engram]:
        """The turns around a memory in its session (not including it), in order."""
        namespace = check_namespace(namespace, self.settings.limits)
        engram_id = check_id(id)
        self._live(namespace, engram_id)
        before = check_int(before, "before", 0, 100)
        after = check_int(after, "after", 0, 100)
        found = self._unexpired(self._store.neighbours(namespace, engram_id, before, after))
        return list(self._seen(namespace, found).values())

    # -- maintenance, export and import ------------------------------------------

    def reindex(self, *, namespace: str | None = None) -> int:
        """Rebuild the derived indexes (lexical and vector) from the stored memories, and
        keep recall's analysis of each (docs/recall.md, "What a search reads")."""
        if namespace is not None:
            namespace = check_namespace(namespace, self.settings.limits)
        return self._store.reindex(namespace)

    def check(self) -> list[str]:
        """Problems found in the store's files and indexes; empty when sound."""
        return self._store.check()

    def export(self, *, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """Every memory with its full history, as JSON-ready dicts (lossless): text, history,
        dynamics, and what consolidation knows of it (a fact's structure and validity
        ``fact``, the ``sources`` of a fact or summary, the version of an episode it
        ``consolidated``), so an imported store goes on consolidating where this one stopped."""
        if namespace is not None:
            namespace = check_namespace(namespace, self.settings.limits)
        yield from transfer.export_records(self._store, namespace)

    def import_record(self, record: Mapping[str, Any]) -> Engram:
        """Restore one exported memory with its ids, times and history."""
        parsed = transfer.parse_record(record, self.settings.limits)
        self.import_records([record])
        return self.get(parsed.id, namespace=parsed.namespace)

    def import_records(
        self, records: Iterable[Mapping[str, Any]], *, batch_size: int = 256, embed: str = "later"
    ) -> int:
        """Restore exported records (``export``'s dicts) in batches; returns how many.

        Every record is checked before anything is written; then each batch of
        ``batch_size`` is written in one transaction (all of the batch or none), its
        vectors left to the background embedder (``embed="now"``: embedded first;
        docs/write-path.md). An id that already exists, or appears twice, raises
        ``InvalidInputError``; batches written before a failing one stay.
        """
        later = self._catchup.later(embed)
        count = transfer.import_records(
            self._store, lambda: self.embedder, self.settings.limits, records, batch_size, later
        )
        return self._catchup.woken(later, count)

    def backup(self, path: str | Path) -> Path:
        """Write a consistent copy of the whole store to the file ``path``, online.

        Other threads and processes may keep writing; the copy holds exactly
        what was committed when it began, and is checked before it replaces
        ``path``. Restore it with ``restore_backup`` (``engram restore``).
        """
        if Capability.BACKUP not in self._store.capabilities:
            raise StoreError(f"{type(self._store).__name__} does not support backup")
        return self._store.backup(path)

    @property
    def encrypted(self) -> bool:
        """Whether the store is encrypted at rest (docs/security.md)."""
        return self._store.encrypted

    def encrypt(self, key: EncryptionKey) -> int:
        """Encrypt this plaintext store in place under the master key ``key``: every memory,
        version, fact, emotion and (unless ``settings.encrypt_vectors`` is False) vector
        sealed in one transaction, the lexical index made blind, the file compacted so no
        plaintext stays in free pages. It opens only with ``key`` from then on. Returns the
        number of memories sealed."""
        if self._read_only:
            raise StoreError("cannot encrypt: the store is read-only")
        count = self._store.encrypt(key, encrypt_vectors=self.settings.encrypt_vectors)
        self.settings = replace(self.settings, encryption=key)
        if self._recaller is not None:
            for namespace in self._store.namespaces():
                self._recaller.forget(namespace)
        return count

    def rotate_master_key(self, new: EncryptionKey) -> int:
        """Re-wrap every namespace's data key under the master key ``new``.

        Content is not re-encrypted, so it is fast at any size; from now on the
        store opens only with ``new``. Backups taken before keep the old key.
        Returns the number of data keys re-wrapped (one per namespace).
        """
        if self._read_only:
            raise StoreError("cannot rotate the master key: the store is read-only")
        count = self._store.rotate_master_key(new)
        self.settings = replace(self.settings, encryption=new)
        return count

    def restore_backup(self, path: str | Path, *, force: bool = False) -> int:
        """Replace this store's content with the backup file at ``path``; returns memories.

        The backup is verified (integrity and index checks) before anything
        changes. A store that already holds memories is refused unless
        ``force=True``, which replaces everything in it.
        """
        if Capability.BACKUP not in self._store.capabilities:
            raise StoreError(f"{type(self._store).__name__} does not support restore")
        held = self._store.namespaces()
        if held and not force:
            raise InvalidInputError(
                f"the store is not empty (namespaces: {', '.join(held[:5])}); "
                "restoring would replace everything in it: pass force=True (--force)"
            )
        count = self._store.restore_backup(path)
        self._recaller = None  # nothing cached from the old content survives
        self._model_checked = False  # nor what its vectors were
        if self._keeper is not None:
            self._keeper.discard()
        return count
