"""The consolidation run: pending episodes in, facts, links and summaries out.

``Consolidator.run`` takes a namespace's episodes not yet consolidated, oldest
first, in batches. For each batch it plans every write (extraction, the
facts' timelines in ``supersede.Ledger``, near-duplicate links, refreshed
session summaries), embeds the new derived memories, and hands the store
one ``ConsolidationBatch``: one transaction, which also marks the batch's
episodes consumed. So a run is incremental (only what is new), idempotent
(a second run finds nothing pending), resumable (a crash loses at most the
batch in flight, which the next run redoes; derived ids are deterministic, so
the result equals one clean run) and safe beside writers (new episodes wait
for the next run; a batch another consolidator took first is refused by the
store and planned again). It sees only ``store.base``, the ``Embedder`` and
the extractor; how memories are indexed is passed in by the facade.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engramdb.bounded import release_free_memory
from engramdb.consolidate.attribution import Lenders
from engramdb.consolidate.extract import Extraction, Extractor, RuleExtractor
from engramdb.consolidate.summarize import central_rows, near_duplicate, summary_text
from engramdb.consolidate.supersede import Ledger, derived_id, touched
from engramdb.embed.base import Embedder
from engramdb.errors import StoreError
from engramdb.model import ConsolidationReport, Engram, Fact
from engramdb.store.base import ConsolidationBatch, DerivedUpdate, EngramRecord, Link, Store

__all__ = ["Consolidator", "Progress"]

#: ``progress(done, total)``: episodes consolidated so far in this run, and the total.
Progress = Callable[[int, int], None]
Keys = Callable[[str, str | None, datetime, Mapping[str, Any]], str]
_CONFLICT_RETRIES = 8


@dataclass(frozen=True, slots=True)
class _Counts:
    facts: int = 0
    merged: int = 0
    superseded: int = 0
    stale: int = 0
    duplicates: int = 0
    summaries: int = 0


def _no_keys(text: str, speaker: str | None, at: datetime, metadata: Mapping[str, Any]) -> str:
    return speaker or ""


class Consolidator:
    """Consolidates one store's namespaces with one extractor and embedder."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        extractor: Extractor | None = None,
        keys: Keys = _no_keys,
        batch_size: int = 256,
        duplicate_cosine: float = 0.95,
        duplicate_jaccard: float = 0.6,
        summary_sentences: int = 3,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.extractor = extractor or RuleExtractor()
        self.keys = keys
        self.batch_size = batch_size
        self.duplicate_cosine = duplicate_cosine
        self.duplicate_jaccard = duplicate_jaccard
        self.summary_sentences = summary_sentences

    def run(
        self, namespace: str, now: datetime, progress: Progress | None = None
    ) -> ConsolidationReport:
        started = time.perf_counter()
        # Episodes added while this run goes on wait for the next one: a steady
        # writer cannot keep a run going for ever.
        total = self.store.pending_count(namespace)
        done = batches = conflicts = 0
        counts = _Counts()
        if progress is not None:
            progress(0, total)
        while done < total:
            episodes = self.store.pending_episodes(namespace, min(self.batch_size, total - done))
            if not episodes:
                break
            batch, step = self.plan(namespace, episodes, now)
            if not self.store.apply_consolidation(batch):
                conflicts += 1  # another run took (or a writer changed) these episodes
                if conflicts > _CONFLICT_RETRIES:
                    raise StoreError(
                        f"consolidation of {namespace!r} kept meeting concurrent changes; "
                        "nothing of the last batch was written, run it again"
                    )
                continue
            done += len(episodes)
            batches += 1
            counts = _Counts(*map(sum, zip(_astuple(counts), _astuple(step), strict=True)))
            if progress is not None:
                progress(done, total)
        if batches:
            # Whoever asked (Memory.consolidate, `engram consolidate`, the server's
            # schedule), a run's peak would stay resident: glibc keeps what it freed
            # (docs/limits.md, "Caches").
            release_free_memory()
        return ConsolidationReport(
            namespace=namespace,
            episodes=done,
            facts=counts.facts,
            merged=counts.merged,
            superseded=counts.superseded,
            stale=counts.stale,
            duplicates=counts.duplicates,
            summaries=counts.summaries,
            batches=batches,
            pending=self.store.pending_count(namespace),
            seconds=time.perf_counter() - started,
        )

    # -- one step -----------------------------------------------------------------

    def plan(
        self, namespace: str, episodes: Sequence[Engram], now: datetime
    ) -> tuple[ConsolidationBatch, _Counts]:
        """Everything one batch writes, computed without writing anything."""
        extracted = list(zip(episodes, self.extractor.extract(episodes), strict=True))
        ledger = Ledger(namespace, self._timelines(namespace, extracted))
        # A statement's sources are every episode whose words it holds, for erasure
        # to follow (consolidate/attribution.py); the rules read each episode alone.
        alone = getattr(self.extractor, "reads_one_episode_at_a_time", False)
        lenders = None if alone else Lenders(episodes)
        for episode, found in extracted:
            for extraction in found:
                ledger.record(
                    extraction,
                    episode.id,
                    extraction.occurred_at or episode.occurred_at,
                    also=() if lenders is None else lenders.of(extraction, episode),
                )
        new_facts = ledger.new_facts
        vectors = self.embedder.embed([f.text for f in new_facts])
        inserts = [
            EngramRecord(
                id=fact.engram_id,
                namespace=namespace,
                text=fact.text,
                occurred_at=fact.valid_from,
                recorded_at=now,
                session=None,  # facts stand outside sessions: no neighbours, no windows
                speaker=fact.subject,
                metadata={
                    "subject": fact.subject,
                    "attribute": fact.attribute,
                    "value": fact.value,
                },
                kind="fact",
                vector=vectors[i],
                model_id=self.embedder.model_id,
                keys=self.keys(fact.text, fact.subject, fact.valid_from, {}),
            )
            for i, fact in enumerate(new_facts)
        ]
        links = list(ledger.links)
        duplicates = self._duplicates(namespace, episodes)
        links.extend(duplicates)
        summaries, updates, summary_links = self._summaries(namespace, episodes, now)
        inserts.extend(summaries)
        links.extend(summary_links)
        batch = ConsolidationBatch(
            namespace=namespace,
            episodes=tuple((e.id, e.version) for e in episodes),
            now=now,
            inserts=tuple(inserts),
            facts=ledger.rows,
            changes=ledger.changes,
            links=tuple(links),
            updates=tuple(updates),
        )
        step = _Counts(
            facts=len(new_facts),
            merged=ledger.merged,
            superseded=ledger.superseded,
            stale=ledger.stale,
            duplicates=len(duplicates),
            summaries=len(summaries) + len(updates),
        )
        return batch, step

    def _timelines(
        self, namespace: str, extracted: Sequence[tuple[Engram, Sequence[Extraction]]]
    ) -> list[Fact]:
        """The facts a step may read or change, by index: the whole timeline of each
        subject / attribute its statements touch (``supersede.touched``), and the
        facts derived from those, transitively (they go stale with them)."""
        keys = touched(x for _, found in extracted for x in found)
        if not keys:
            return []
        known = {f.engram_id: f for f in self.store.facts_of(namespace, keys=sorted(keys))}
        frontier = set(known)
        while frontier:
            links = self.store.links_of(namespace, sorted(frontier))
            derived = sorted({k.derived_id for k in links if k.source_id in frontier} - set(known))
            found = self.store.facts_of(namespace, derived) if derived else []
            frontier = {f.engram_id for f in found} - set(known)
            known.update((f.engram_id, f) for f in found if f.engram_id in frontier)
        return list(known.values())

    def _duplicates(self, namespace: str, episodes: Sequence[Engram]) -> list[Link]:
        """Links from each episode to an earlier near-duplicate episode (nothing deleted)."""
        vectors = self.store.vectors(namespace, [e.id for e in episodes])
        found: list[tuple[Engram, list[tuple[str, float]]]] = []
        wanted: set[str] = set()
        for episode, vector in zip(episodes, vectors, strict=True):
            near = [
                (c.id, c.score)
                for c in self.store.vector_search(namespace, vector, 6)
                if c.id != episode.id and c.score >= self.duplicate_cosine
            ]
            found.append((episode, near))
            wanted.update(i for i, _ in near)
        known = self.store.get_many(namespace, sorted(wanted)) if wanted else {}
        links = []
        for episode, near in found:
            for other_id, score in near:
                other = known.get(other_id)
                if other is None or other.kind != "episode" or _order(other) >= _order(episode):
                    continue  # the later of two duplicates links to the earlier
                if near_duplicate(
                    episode.text,
                    other.text,
                    score,
                    threshold=self.duplicate_cosine,
                    jaccard=self.duplicate_jaccard,
                ):
                    links.append(Link(episode.id, other.id, "duplicate"))
                    break
        return links

    def _summaries(
        self, namespace: str, episodes: Sequence[Engram], now: datetime
    ) -> tuple[list[EngramRecord], list[DerivedUpdate], list[Link]]:
        """A new or refreshed extractive summary for each session this batch touched."""
        inserts: list[EngramRecord] = []
        updates: list[DerivedUpdate] = []
        links: list[Link] = []
        first: dict[str, Engram] = {}
        for episode in episodes:
            if episode.session is not None:
                first.setdefault(episode.session, episode)
        planned: list[tuple[str, str, dict[str, Any], datetime, bool]] = []
        for session, anchor in first.items():
            around = self.store.neighbours(namespace, anchor.id, 1_000_000, 1_000_000)
            turns = sorted(
                [anchor, *(e for e in around if e.kind == "episode")],
                key=lambda e: (e.occurred_at, e.recorded_at),
            )
            if len(turns) < 2 * self.summary_sentences:
                continue  # a short session is its own summary
            vectors = self.store.vectors(namespace, [e.id for e in turns])
            text = summary_text(session, turns, central_rows(vectors, self.summary_sentences))
            summary_id = derived_id("summary", namespace, session)
            links.extend(Link(summary_id, e.id, "summarizes") for e in turns)
            existing = self.store.get(namespace, summary_id)
            if existing is not None and existing.text == text:
                continue
            metadata: dict[str, Any] = {"session": session, "episodes": len(turns)}
            planned.append((summary_id, text, metadata, turns[0].occurred_at, existing is None))
        vectors = self.embedder.embed([text for _, text, _, _, _ in planned])
        for (summary_id, text, metadata, occurred, new), vector in zip(
            planned, vectors, strict=True
        ):
            keys = self.keys(text, None, occurred, metadata)
            if not new:
                updates.append(
                    DerivedUpdate(
                        summary_id, text, metadata, occurred, vector, self.embedder.model_id, keys
                    )
                )
                continue
            inserts.append(
                EngramRecord(
                    id=summary_id,
                    namespace=namespace,
                    text=text,
                    occurred_at=occurred,
                    recorded_at=now,
                    session=None,  # kept out of the session's turns (neighbours, windows)
                    speaker=None,
                    metadata=metadata,
                    kind="summary",
                    vector=vector,
                    model_id=self.embedder.model_id,
                    keys=keys,
                )
            )
        return inserts, updates, links


def _order(engram: Engram) -> tuple[datetime, datetime, str]:
    return engram.occurred_at, engram.recorded_at, engram.id


def _astuple(counts: _Counts) -> tuple[int, ...]:
    return (
        counts.facts,
        counts.merged,
        counts.superseded,
        counts.stale,
        counts.duplicates,
        counts.summaries,
    )
