"""How ``add`` and ``add_many`` write: a new experience is stored, a repeated one is
recognised (docs/repetition.md).

Each checked memory's content identity (text, speaker, session, event time) and
idempotency key are digested (``store.identity``) and looked up in the namespace
with one indexed read. Then, item by item in the batch's order:

- a key the namespace holds: a replay of a write that already happened. The same
  content returns the memory it stored, untouched; other content is a
  ``ConflictError`` and nothing of the call is written;
- content the namespace holds: a repetition. The memory is returned, strengthened
  by the spacing rule (``DynamicsKeeper.repeated``) and its repetition counted;
- a key or content an earlier item of the same call carried: that item's memory;
- anything else is new: embedded, appraised and stored.

Only the new memories are embedded, in one call (with ``later``, not here: they are
stored without their vectors, which the background embedder adds, docs/write-path.md),
and written in one transaction
(the store yields to a writer that stored the same content since: one memory);
repetitions are recorded just before, in a transaction of their own. Every memory
returned for a repetition or replay says ``repeated=True``. Validation and
redaction are the facade's; this module neither checks arguments nor ranks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from engramdb.dynamics.keeper import DynamicsKeeper
from engramdb.embed.base import Embedder
from engramdb.errors import ConflictError, StoreError
from engramdb.model import Engram
from engramdb.recall.indexing import embedding_text, index_keys
from engramdb.store import EngramRecord, Store
from engramdb.store.base import NO_VECTOR, Held, Repetition
from engramdb.store.identity import content_identity, key_identity
from engramdb.validation import NewMemory

__all__ = ["write"]

#: What the facade lays over memories read from the store: its pending recalls.
Seen = Callable[[Iterable[Engram]], Mapping[str, Engram]]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What each item of a call is: new, or the memory it repeats or replays."""

    identities: list[str]
    keys: list[str | None]
    requests: list[str]  # what a key is checked against: the event time as given
    new: list[int]  # positions to store
    held: dict[int, Held]  # position -> the stored memory it repeats or replays
    repeats: list[int]  # positions (in ``held``) that strengthen their memory
    same: dict[int, int]  # position -> the earlier position of this call it repeats

    def repetition(self, i: int, engram_id: str, at: datetime) -> Repetition:
        """Item ``i`` recorded as a repetition of ``engram_id`` (its key, if new, too)."""
        return Repetition(
            engram_id, self.identities[i], at, key=self.keys[i], request=self.requests[i]
        )


def write(
    store: Store,
    keeper: Callable[[], DynamicsKeeper],
    embedder: Callable[[], Embedder],
    seen: Seen,
    namespace: str,
    items: list[NewMemory],
    now: datetime,
    *,
    later: bool = False,
) -> list[Engram]:
    """Write checked memories recorded at ``now``; what each item is now, in order.
    ``later``: store new memories without their vectors (docs/write-path.md)."""
    plan = _plan(store, namespace, items)
    out: dict[int, Engram] = {}
    repetitions = [
        (
            plan.held[i],
            plan.repetition(i, plan.held[i].engram_id, now),
        )
        for i in plan.repeats
    ]
    if repetitions:
        keeper().repeated(namespace, repetitions)
    if plan.new:
        written = _store_new(store, keeper, embedder, namespace, items, plan, now, later)
        out.update(zip(plan.new, written, strict=True))
    if plan.held:
        ids = [h.engram_id for h in plan.held.values()]
        found = seen(store.get_many(namespace, ids).values())
        for i, held in plan.held.items():
            engram = found.get(held.engram_id)
            if engram is None:
                raise StoreError(
                    f"memory {held.engram_id!r} was deleted while an add repeated it; retry"
                )
            out[i] = replace(engram, repeated=True)
    extra: list[Repetition] = []
    for i, first in sorted(plan.same.items()):
        out[i] = replace(out[first], repeated=True)
        extra.append(plan.repetition(i, out[first].id, now))
    store.repeat(namespace, extra)  # counted; no strengthening within one call
    return [out[i] for i in range(len(items))]


def _plan(store: Store, namespace: str, items: list[NewMemory]) -> _Plan:
    identities = [content_identity(m.text, m.speaker, m.session, m.occurred_at) for m in items]
    keys = [None if m.idempotency_key is None else key_identity(m.idempotency_key) for m in items]
    # a retry of a write that gave no event time comes later: the same request all the same
    requests = [
        content_identity(
            m.text, m.speaker, m.session, m.occurred_at if m.occurred_at_given else None
        )
        for m in items
    ]
    wanted = {*identities, *requests, *(k for k in keys if k)}
    held = store.identified(namespace, sorted(wanted))
    plan = _Plan(identities, keys, requests, [], {}, [], {})
    first: dict[str, int] = {}  # digest -> the first position of this call carrying it
    for i, (identity, key) in enumerate(zip(identities, keys, strict=True)):
        if key is not None and (key in held or key in first):
            given = held[key].content if key in held else requests[first[key]]
            if given != requests[i]:
                where = f"item {i}: " if len(items) > 1 else ""
                raise ConflictError(
                    f"{where}idempotency key {items[i].idempotency_key!r} was used for other "
                    f"content in namespace {namespace!r}; the earlier write stands "
                    "(docs/repetition.md)"
                )
            if key in held:
                plan.held[i] = held[key]  # a replay: nothing changes
            else:
                plan.same[i] = first[key]
        elif identity in first:
            plan.same[i] = first[identity]
        elif identity in held:
            plan.held[i] = held[identity]
            plan.repeats.append(i)
        else:
            plan.new.append(i)
        first.setdefault(identity, i)
        if key is not None:
            first.setdefault(key, i)
    return plan


def _store_new(
    store: Store,
    keeper: Callable[[], DynamicsKeeper],
    embedder: Callable[[], Embedder],
    namespace: str,
    items: list[NewMemory],
    plan: _Plan,
    now: datetime,
    later: bool,
) -> list[Engram]:
    new = [items[i] for i in plan.new]
    model = embedder()
    vectors = None if later else model.embed([embedding_text(m.text, m.speaker) for m in new])
    dynamics = keeper()
    initial = dynamics.initial(namespace, new, vectors)
    # the budget is held to after the write: read it before too, so that a damaged
    # one (a row that fails its checksum) refuses the write instead of following it
    dynamics.budget(namespace)
    written = store.insert(
        [
            EngramRecord(
                id=uuid.uuid4().hex,
                namespace=namespace,
                text=m.text,
                occurred_at=m.occurred_at,
                recorded_at=now,
                session=m.session,
                speaker=m.speaker,
                metadata=m.metadata,
                kind="episode",
                vector=NO_VECTOR if vectors is None else vectors[n],
                model_id=model.model_id,
                keys=index_keys(m.text, m.speaker, m.occurred_at, m.metadata),
                importance=initial[n].importance,
                stability_days=initial[n].stability_days,
                valence=initial[n].valence,
                arousal=initial[n].arousal,
                emotion=initial[n].emotion,
                identity=plan.identities[i],
                idempotency=plan.keys[i],
                request=plan.requests[i],
                importance_given=m.importance is not None,
                emotion_given=m.emotion is not None,
                expires_at=m.expires_at,
            )
            for n, (i, m) in enumerate(zip(plan.new, new, strict=True))
        ]
    )
    if dynamics.over_budget(namespace):
        dynamics.fade(namespace, max(m.occurred_at for m in new), room=True)
    return written
