"""The background embedder: the vectors of memories written without them
(docs/write-path.md).

A write with ``embed="later"`` is committed without its vector: durable, found
by its words and everything but its meaning at once. ``CatchUp`` runs one
thread per ``Memory`` that claims a round of the store's pending set
(``Store.claim_vectors``, oldest first: a store several processes write splits
the pending set between their catch-ups), embeds the round in one call
and writes each namespace's share in one transaction (``Store.set_vectors``)
with what is derived from the vector: the emotion label, the novelty that
importance reads, and the initial stability that follows from both
(``derived``). Nothing is held only in memory: the store's pending set is the
queue, so a crash loses no memory, and the next process to open the store
for writing resumes where this one stopped.

The facade decides when to start it, waits for it (``flush``) and stops it
(``close``); validation and ranking are not here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from engramdb.dynamics.keeper import DynamicsKeeper
from engramdb.dynamics.retention import initial_stability
from engramdb.embed.base import Embedder
from engramdb.recall.indexing import embedding_text
from engramdb.store.base import Capability, PendingVector, Store, VectorArrival
from engramdb.validation import check_embed

__all__ = ["LEASE_S", "POLL_S", "ROUND", "CatchUp", "derived"]

#: Pending memories embedded per round (one embedding call, one transaction per
#: namespace): small enough that ``close`` waits a fraction of a second for the
#: round in flight, large enough that the per-round reads and writes cost little
#: next to the embedding (BENCHMARKS.md, "Ingest").
ROUND = 128

#: How long a round's claim holds (``Store.claim_vectors``): other processes leave
#: its memories alone until then, and take them after it if this one died. Far
#: longer than a round takes (seconds on a CPU), so a live claimer keeps its round.
LEASE_S = 300.0

#: How long the thread waits, when every pending memory is claimed by other
#: processes, before it looks again: ``flush`` returns once nothing is pending.
POLL_S = 0.25

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Item:
    """What ``DynamicsKeeper.initial`` reads of a pending memory: its text, and the
    importance and emotion the caller gave (None: derive them)."""

    text: str
    importance: float | None
    emotion: str | None


def derived(
    keeper: DynamicsKeeper,
    namespace: str,
    pending: Sequence[PendingVector],
    vectors: npt.NDArray[np.float32],
    model_id: str,
) -> list[VectorArrival]:
    """The arrivals of one namespace's pending memories, with what their vectors
    change: the emotion (label, valence, arousal) and importance the caller did not
    give (``initial``: novelty against the namespace's vectors and the round's
    earlier ones), and the stability scaled by the new initial stability over the
    stated one, so that a repetition that strengthened it while it waited keeps
    its share."""
    matrix = np.asarray(vectors, dtype=np.float32)
    items = [
        _Item(
            p.engram.text,
            p.engram.importance if p.importance_given else None,
            p.engram.emotion if p.emotion_given else None,
        )
        for p in pending
    ]
    initial = keeper.initial(namespace, items, matrix)
    out = []
    for p, row, now in zip(pending, matrix, initial, strict=True):
        e = p.engram
        stability = None  # both given: the stability they set stands
        if not (p.importance_given and p.emotion_given):
            scale = initial_stability(now.importance, now.arousal) / initial_stability(
                e.importance, e.arousal
            )
            stability = e.stability_days * scale
        out.append(
            VectorArrival(
                id=e.id,
                vector=row,
                model_id=model_id,
                importance=None if p.importance_given else now.importance,
                stability_days=stability,
                emotion=None if p.emotion_given else now.emotion,
                valence=now.valence,
                arousal=now.arousal,
            )
        )
    return out


class CatchUp:
    """One thread that embeds a store's pending memories, ``ROUND`` at a time.

    ``wake`` starts it (or wakes it after a write without vectors); it sleeps
    when nothing is pending. ``flush`` waits until nothing is pending and
    raises what stopped the thread, if anything did (an embedder that fails,
    a store that refuses): nothing is lost then, the memories stay pending.
    ``close`` stops it after the round in flight and leaves the rest pending
    for the next open.
    """

    def __init__(
        self,
        store: Store,
        embedder: Callable[[], Embedder],
        keeper: Callable[[], DynamicsKeeper],
        idle: bool = False,
        *,
        round_size: int = ROUND,
        lease_s: float = LEASE_S,
    ) -> None:
        """``idle`` (a read-only store, ``Settings.background_embedder`` False): never
        started, and ``flush`` does not wait; else started at once when the store
        holds pending memories (a run before this one stopped, or crashed, before them)."""
        self._store = store
        self._embedder = embedder
        self._keeper = keeper
        self._round = round_size
        self._lease = lease_s
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._work = False  # a write since the thread last found nothing pending
        self._idle = True  # nothing pending when last looked, and no work since
        self._stopping = False
        self._error: BaseException | None = None
        #: vectors this process has written since it opened the store
        self.embedded = 0
        self._idle_only = idle
        if not idle and store.pending_vectors(1):
            self.wake()

    def later(self, embed: str) -> bool:
        """Whether a write with ``embed`` (checked here) leaves its vectors to this thread:
        "later" in a store that keeps memories without them."""
        when = check_embed(embed)
        return when == "later" and Capability.DEFERRED_VECTORS in self._store.capabilities

    def woken(self, later: bool, result: T) -> T:
        """``result``, after waking the thread if a write left vectors to it (``later``)."""
        if later:
            self.wake()
        return result

    def wake(self) -> None:
        """Something may be pending: start the thread, or wake it."""
        with self._lock:
            if self._stopping or self._idle_only:
                return
            self._work, self._idle = True, False
            if self._thread is None or not self._thread.is_alive():
                self._error = None
                self._thread = threading.Thread(
                    target=self._run, name="engramdb-catch-up", daemon=True
                )
                self._thread.start()
            self._lock.notify_all()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until nothing is pending; False if ``timeout_s`` passed first."""
        if self._idle_only:
            return True
        self.wake()
        with self._lock:
            done = self._lock.wait_for(
                lambda: self._idle or self._error is not None or self._thread is None,
                timeout=timeout_s,
            )
            if self._error is not None:
                raise self._error
        return done

    def close(self) -> None:
        """Stop after the round in flight; what is still pending stays so."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._work and not self._stopping:
                        self._lock.wait()
                    if self._stopping:
                        return
                    self._work = False
                while self._step():
                    with self._lock:
                        if self._stopping:
                            return
                with self._lock:
                    if not self._work:
                        self._idle = True
                        self._lock.notify_all()
        # a thread's edge: what stopped it is kept for flush to raise (never logged and
        # dropped), and the memories stay pending
        except Exception as exc:
            with self._lock:
                self._error = exc
                self._lock.notify_all()
        finally:
            with self._lock:
                self._thread = None
                self._lock.notify_all()

    def _step(self) -> bool:
        """Embed one round; False when nothing was pending. When all that is pending is
        claimed by other processes, wait ``POLL_S`` (or a wake) and say True: a claim
        whose process died runs out, and this thread takes its round then."""
        pending = self._store.claim_vectors(self._round, self._lease)
        if not pending:
            if not self._store.pending_vectors(1):
                return False
            with self._lock:
                if not self._stopping:
                    self._lock.wait(POLL_S)
            return True
        try:
            self._embed(pending)
        except BaseException:
            # the round failed: its memories stay pending, and unclaimed, for the next
            self._store.release_vectors([p.engram.id for p in pending])
            raise
        return True

    def _embed(self, pending: Sequence[PendingVector]) -> None:
        """Embed a claimed round and write each namespace's share."""
        model = self._embedder()
        vectors = model.embed([embedding_text(p.engram.text, p.engram.speaker) for p in pending])
        keeper = self._keeper()
        by_namespace: dict[str, list[int]] = {}
        for i, p in enumerate(pending):
            by_namespace.setdefault(p.engram.namespace, []).append(i)
        for namespace, rows in by_namespace.items():
            arrivals = derived(
                keeper,
                namespace,
                [pending[i] for i in rows],
                vectors[rows],
                model.model_id,
            )
            self.embedded += self._store.set_vectors(namespace, arrivals)
