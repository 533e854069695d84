"""``Memory``'s learning methods: experiences and concepts (docs/learning.md).

A mixin ``Memory`` inherits, so that the facade stays one thin module: each
method validates its arguments, then reads and writes memories through the
store as every facade method does. The maths is in ``engramdb.learn``.

Experiences and concepts are memories of their own kinds (``"experience"``,
``"concept"``), not tables of their own: they are stored, sealed on an
encrypted namespace, exported and imported, deleted and erased with their
namespace exactly as every memory is, and default searches leave them out
(``kinds`` defaults to episodes). A concept's memory holds its name as text
and its examples in its metadata; its prototype is computed from the
examples with the store's embedding model (so an imported concept, or one
read after a model change, is right at once) and kept in this process.

Feedback refines a concept (docs/learning.md, "Feedback on a concept's
hits"): ``Lessons`` extends ``Learning`` so that a judgement of a hit of a
search made with ``concept=`` also teaches the concept, the memory's text as
one more example when it was useful, the memory left out of the concept when
it was not; ``feedback`` does what ``Learning.feedback`` does first.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from engramdb.bounded import Bounded
from engramdb.clock import Clock
from engramdb.config import Settings
from engramdb.dynamics.keeper import DynamicsKeeper
from engramdb.dynamics.retention import retrievability_array
from engramdb.embed.base import Embedder
from engramdb.errors import InvalidInputError, LimitExceededError, NotFoundError
from engramdb.learn import experience
from engramdb.learn.concepts import Prototypes
from engramdb.learning import Learning
from engramdb.model import Concept, Engram, Experience, ExperienceHit, Feedback, Hit
from engramdb.recall.engine import SearchRequest
from engramdb.recall.indexing import index_keys
from engramdb.store import Store
from engramdb.store.base import EngramRecord
from engramdb.validation import (
    check_flag,
    check_label,
    check_limit,
    check_namespace,
    check_number,
    check_text,
    check_time,
)

__all__ = ["CONCEPT", "MAX_EXAMPLES", "Lessons"]

#: The kind of memory a concept is.
CONCEPT = "concept"
#: The most examples one concept keeps (docs/limits.md): its prototype needs few.
MAX_EXAMPLES = 1_000
#: Memories a concept may tag: what was added and what consolidation derived from it.
_TAGGABLE = frozenset({"episode", "fact", "summary"})
#: The concept searches whose hits feedback may refine their concept, latest kept.
CONCEPT_SEARCHES = 1_000

_Key = tuple[str, int, str]  # a concept memory's id, version and the model's id


class Lessons(Learning):
    """Experiences (``record_experience``, ``recall_experiences``) and concepts
    (``teach``, ``concepts``, ``retag``, and ``search(..., concept=...)``), with
    ``Learning``'s feedback, which refines a concept from its hits."""

    settings: Settings
    _store: Store
    _clock: Clock
    _read_only: bool
    _dynamics: Callable[[], DynamicsKeeper]

    _examples_cache: dict[str, dict[_Key, npt.NDArray[np.float32]]]
    _examples_lock: threading.Lock
    _concept_searches: Bounded[str, tuple[str, str]] | None = None

    if TYPE_CHECKING:  # Memory's

        @property
        def embedder(self) -> Embedder: ...

    # -- experiences --------------------------------------------------------------

    def record_experience(
        self,
        situation: str,
        action: str,
        outcome: str,
        reward: float,
        *,
        namespace: str = "default",
        occurred_at: datetime | None = None,
    ) -> Experience:
        """Remember that ``action`` was taken in ``situation`` with ``outcome`` and
        ``reward`` (-1: it failed, 1: it worked). The situation is what a later
        ``recall_experiences`` matches; a strong reward, good or bad, is remembered
        longer (docs/learning.md)."""
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        situation = check_text(situation, limits, "situation")
        action = check_text(action, limits, "action")
        outcome = "" if outcome == "" else check_text(outcome, limits, "outcome")
        value = check_number(reward, "reward", -1.0, 1.0)
        now = self._clock.now()
        at = now if occurred_at is None else check_time(occurred_at, "occurred_at")
        metadata = experience.metadata_of(action, outcome, value)
        importance, stability = experience.stability_of(value)
        model = self.embedder
        record = EngramRecord(
            id=uuid.uuid4().hex,
            namespace=namespace,
            text=situation,
            occurred_at=at,
            recorded_at=now,
            session=None,
            speaker=None,
            metadata=metadata,
            kind=experience.KIND,
            vector=model.embed([situation])[0],
            model_id=model.model_id,
            keys=index_keys(f"{situation} {action}", None, at, {}),
            importance=importance,
            stability_days=stability,
            arousal=abs(value),
        )
        return experience.experience_of(self._store.insert([record])[0])

    def recall_experiences(
        self,
        situation: str,
        *,
        namespace: str = "default",
        limit: int = 5,
        now: datetime | None = None,
        reinforce: bool = True,
    ) -> list[ExperienceHit]:
        """The experiences of situations like ``situation``, the most useful first: by
        similarity and by reward, an old reward counting less as it fades
        (docs/learning.md). The experiences returned count as recalled at ``now`` (their
        stability grows) unless ``reinforce=False``; faded (dormant) ones are left out."""
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        text = check_text(situation, limits, "situation")
        limit = check_limit(limit, limits)
        reinforce = check_flag(reinforce, "reinforce")
        at = self._clock.now() if now is None else check_time(now, "now")
        catalog = self._store.catalog(namespace)
        kinds = catalog.kinds or ("episode",) * len(catalog)
        rows = np.array([k == experience.KIND for k in kinds], dtype=bool)
        if catalog.dynamics is not None:
            rows &= ~catalog.dynamics.dormant
        rows = np.flatnonzero(rows)
        if not len(rows):
            return []
        ids = [catalog.ids[i] for i in rows]
        found = self._store.get_many(namespace, ids)
        query = self.embedder.embed([text])[0]
        similarity = (catalog.vectors[rows] @ query).astype(np.float64)
        engrams = [found.get(i) for i in ids]
        rewards = np.array([0.0 if e is None else _reward(e) for e in engrams])
        last_used = np.array(
            [at.timestamp() if e is None else e.last_used_at.timestamp() for e in engrams]
        )
        stability = np.array([1.0 if e is None else e.stability_days for e in engrams])
        retention = retrievability_array(experience.since(at, last_used), stability)
        score = experience.scores(similarity, rewards, retention)
        hits: list[ExperienceHit] = []
        for row in np.argsort(-score, kind="stable"):
            engram = engrams[int(row)]
            if engram is None:  # deleted since the catalog was read
                continue
            hits.append(
                ExperienceHit(
                    experience=experience.experience_of(engram),
                    score=float(score[row]),
                    similarity=float(similarity[row]),
                    retention=float(retention[row]),
                    rank=len(hits) + 1,
                )
            )
            if len(hits) == limit:
                break
        if reinforce and hits and not self._read_only:
            self._dynamics().recalled(namespace, [h.experience.id for h in hits], at)
        return hits

    # -- concepts -----------------------------------------------------------------

    def teach(
        self, concept: str, examples: Iterable[str], *, namespace: str = "default"
    ) -> Concept:
        """Teach ``concept`` from ``examples`` (texts: one is enough), or refine it with
        more: its prototype is the mean of all its examples' embeddings, and memories
        that belong to it are found by ``search(..., concept=...)`` (docs/learning.md)."""
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        name = _concept_name(concept, limits)
        if isinstance(examples, str) or not isinstance(examples, Iterable):
            raise InvalidInputError("examples must be a list of texts")
        given = [check_text(e, limits, "example") for e in examples]
        if not given:
            raise InvalidInputError("examples must hold at least one text")
        current = self._concept_memories(namespace).get(name)
        held = [] if current is None else list(_examples(current))
        taught = held + given
        if len(taught) > MAX_EXAMPLES:
            raise LimitExceededError(
                f"concept {name!r} would hold {len(taught)} examples; the limit is {MAX_EXAMPLES}"
            )
        excluded = [] if current is None else _excluded(current)
        self._write_concept(namespace, name, current, taught, excluded)
        return next(c for c in self.concepts(namespace=namespace) if c.name == name)

    def _write_concept(
        self,
        namespace: str,
        name: str,
        current: Engram | None,
        examples: list[str],
        excluded: list[str],
    ) -> None:
        """Write a concept's memory (a new version when it exists): its examples, the
        memories feedback left out of it, its prototype as its vector."""
        model = self.embedder
        prototype = Prototypes.of([(name, model.embed(examples))]).matrix[0]
        now = self._clock.now()
        metadata: dict[str, Any] = {"examples": examples}
        if excluded:
            metadata["excluded"] = excluded
        if current is None:
            record = EngramRecord(
                id=uuid.uuid4().hex,
                namespace=namespace,
                text=name,
                occurred_at=now,
                recorded_at=now,
                session=None,
                speaker=None,
                metadata=metadata,
                kind=CONCEPT,
                vector=prototype,  # what a similarity search for the concept meets
                model_id=model.model_id,
                importance=1.0,
                stability_days=experience.stability_of(1.0)[1],
            )
            self._store.insert([record])
            return
        self._store.update(
            namespace,
            current.id,
            text=name,
            speaker=None,
            metadata=metadata,
            occurred_at=current.occurred_at,
            vector=prototype,
            model_id=model.model_id,
            keys="",
            now=max(now, current.valid_from),
        )

    def concepts(self, *, namespace: str = "default") -> list[Concept]:
        """The namespace's concepts by name, each with its examples, threshold and how
        many memories belong to it now."""
        namespace = check_namespace(namespace, self.settings.limits)
        memories = self._concept_memories(namespace)
        if not memories:
            return []
        ids, member = self._membership(namespace, memories)
        counts = member.sum(axis=0)
        prototypes = self._prototypes(namespace, memories)
        return [
            Concept(
                name=name,
                namespace=namespace,
                id=engram.id,
                examples=_examples(engram),
                threshold=float(prototypes.thresholds[i]),
                tagged=int(counts[i]) if len(ids) else 0,
                taught_at=engram.valid_from,
            )
            for i, (name, engram) in enumerate(memories.items())
        ]

    def retag(self, *, namespace: str = "default") -> list[Concept]:
        """Compute every concept's prototype again from its examples with the store's
        embedding model, and which memories belong to it; returns ``concepts()``.
        Tags follow the stored vectors on their own (a new memory belongs as soon as
        its vector is stored): this is for after a change of model or an import."""
        namespace = check_namespace(namespace, self.settings.limits)
        with self._examples_lock:
            self._examples_cache.pop(namespace, None)
        return self.concepts(namespace=namespace)

    def _concept_filter(self, namespace: str, concept: object) -> dict[str, Any]:
        """``search(concept=...)``'s part of the request: the concept's memories, by name."""
        if concept is None:
            return {}
        name = _concept_name(concept, self.settings.limits)
        return {"among": self._concept_members(namespace, name), "concept": name}

    def _ranked(self, request: SearchRequest) -> list[Hit]:
        hits = super()._ranked(request)
        if request.concept is not None and hits and hits[0].search_id:
            with self._examples_lock:
                if self._concept_searches is None:
                    self._concept_searches = Bounded(CONCEPT_SEARCHES)
                self._concept_searches[hits[0].search_id] = (request.namespace, request.concept)
        return hits

    def feedback(
        self,
        hit: Hit | str,
        reward: float,
        *,
        namespace: str = "default",
        search_id: str | None = None,
        now: datetime | None = None,
    ) -> Feedback:
        """Judge a hit of a search: ``reward`` in [-1, 1] (useful 1, not useful -1).

        ``hit`` is a ``Hit`` that ``search`` returned, or a memory's id with the
        ``search_id`` of the search that returned it. The judgement is stored with
        the query and the signals of the hits the search showed, and the
        namespace's ranker weights are learned again from its feedback, held
        near the shipped weights; an update that orders the earlier feedback
        worse is refused (docs/learning.md). A search is remembered by the
        process that ran it, for its latest searches. A hit of a search made with
        ``concept=`` also refines the concept: useful (reward above 0), its text
        becomes an example; not useful (below 0), it no longer belongs.
        """
        judged = super().feedback(hit, reward, namespace=namespace, search_id=search_id, now=now)
        with self._examples_lock:
            searches = self._concept_searches
            searched = None if searches is None else searches.get(judged.search_id)
        ns = check_namespace(namespace, self.settings.limits)
        if searched is not None and searched[0] == ns and judged.reward != 0:
            self._refine(ns, searched[1], judged.engram_id, judged.reward)
        return judged

    def _refine(self, namespace: str, name: str, engram_id: str, reward: float) -> None:
        """A concept's hit judged: one more example (useful), or left out (not useful)."""
        current = self._concept_memories(namespace).get(name)
        memory = self._store.get(namespace, engram_id)
        if current is None or memory is None:  # deleted since the search
            return
        excluded = [e for e in _excluded(current) if e != engram_id]
        examples = list(_examples(current))
        if reward > 0:
            if memory.text in examples or len(examples) >= MAX_EXAMPLES:
                return
            examples.append(memory.text)
        else:
            excluded.append(engram_id)
        self._write_concept(namespace, name, current, examples, excluded)

    def _concept_members(self, namespace: str, concept: object) -> frozenset[str]:
        """The ids of the memories that belong to ``concept`` (``search(concept=...)``)."""
        name = _concept_name(concept, self.settings.limits)
        memories = self._concept_memories(namespace)
        if name not in memories:
            raise NotFoundError(f"no concept {name!r} in namespace {namespace!r}")
        ids, member = self._membership(namespace, memories)
        column = member[:, list(memories).index(name)]
        return frozenset(ids[i] for i in np.flatnonzero(column))

    def _membership(
        self, namespace: str, memories: dict[str, Engram]
    ) -> tuple[tuple[str, ...], npt.NDArray[np.bool_]]:
        """Which taggable memories belong to which concept (rows x ``memories``' order),
        less those feedback left out of a concept."""
        prototypes = self._prototypes(namespace, memories)
        ids, vectors = self._taggable(namespace)
        member = prototypes.membership(vectors)
        row = {engram_id: i for i, engram_id in enumerate(ids)}
        for column, engram in enumerate(memories.values()):
            for engram_id in _excluded(engram):
                if engram_id in row:
                    member[row[engram_id], column] = False
        return ids, member

    def _forget_concepts(self, namespace: str) -> None:
        """Erasure reaches the examples' vectors kept in this process (docs/security.md)."""
        with self._examples_lock:
            self._examples_cache.pop(namespace, None)

    def _concept_memories(self, namespace: str) -> dict[str, Engram]:
        """The namespace's concept memories by name, sorted by name."""
        catalog = self._store.catalog(namespace)
        ids = [i for i, k in zip(catalog.ids, catalog.kinds, strict=False) if k == CONCEPT]
        found = self._store.get_many(namespace, ids) if ids else {}
        return {e.text: e for e in sorted(found.values(), key=lambda e: e.text)}

    def _taggable(self, namespace: str) -> tuple[tuple[str, ...], npt.NDArray[np.float32]]:
        """The ids and stored vectors of the memories a concept may tag."""
        catalog = self._store.catalog(namespace)
        kinds = catalog.kinds or ("episode",) * len(catalog)
        rows = np.flatnonzero(np.array([k in _TAGGABLE for k in kinds], dtype=bool))
        return tuple(catalog.ids[i] for i in rows), catalog.vectors[rows]

    def _prototypes(self, namespace: str, memories: dict[str, Engram]) -> Prototypes:
        """The prototypes of ``memories`` (a namespace's concepts), from the vectors of
        their examples, embedded once a version and model in this process."""
        model = self.embedder
        with self._examples_lock:
            kept = self._examples_cache.setdefault(namespace, {})
            wanted = {(e.id, e.version, model.model_id): e for e in memories.values()}
            missing = [key for key in wanted if key not in kept]
        fresh = {key: model.embed(list(_examples(wanted[key]))) for key in missing}
        with self._examples_lock:
            kept = self._examples_cache.setdefault(namespace, {})
            for key in [k for k in kept if k not in wanted]:
                del kept[key]  # an older version's, or a deleted concept's
            kept.update(fresh)
            vectors = {key: kept.get(key, fresh.get(key)) for key in wanted}
        return Prototypes.of(
            [(e.text, v) for key, e in wanted.items() for v in [vectors[key]] if v is not None]
        )


def _concept_name(value: object, limits: Any) -> str:
    name = check_label(value, "concept", limits)
    if name is None or not name.strip():
        raise InvalidInputError("concept must be a non-empty name")
    return name


def _examples(engram: Engram) -> tuple[str, ...]:
    held = engram.metadata.get("examples", [])
    return tuple(str(e) for e in held) if isinstance(held, list) else ()


def _excluded(engram: Engram) -> list[str]:
    held = engram.metadata.get("excluded", [])
    return [str(e) for e in held] if isinstance(held, list) else []


def _reward(engram: Engram) -> float:
    value = engram.metadata.get("reward", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0
