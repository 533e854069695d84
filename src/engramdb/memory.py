"""The Memory facade: validate, route, orchestrate. No SQL and no maths here.

``Memory`` is the public entry point of the library. Each public method
validates its arguments once (``validation``), then calls the store, the
embedder and the recaller. Every write is one store transaction: a failure
leaves nothing behind.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from engramdb.clock import Clock, SystemClock, from_iso, to_iso
from engramdb.config import Settings
from engramdb.embed.base import Embedder
from engramdb.errors import InvalidInputError, LimitExceededError, NotFoundError, StoreError
from engramdb.model import Engram, Hit, NamespaceStats, Version
from engramdb.recall.engine import Recaller, SearchRequest
from engramdb.recall.enrich import embedding_text, index_keys
from engramdb.store import EngramRecord, Store, VersionRecord, open_store
from engramdb.validation import (
    check_id,
    check_label,
    check_limit,
    check_metadata,
    check_namespace,
    check_query,
    check_text,
    check_time,
)

__all__ = ["DEFAULT_NAMESPACE", "Memory"]

DEFAULT_NAMESPACE = "default"
_ITEM_KEYS = frozenset({"text", "session", "speaker", "occurred_at", "metadata"})


class Memory:
    """An engramdb memory: remember with ``add``, recall with ``search``.

    ``Memory()`` opens the embedded store at ``./engram-data``; ``Memory(path)``
    another directory or ``.db`` file; ``Memory(":memory:")`` a throwaway one.
    """

    def __init__(
        self,
        location: str | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings or Settings()
        if location is not None:
            self.settings = self.settings.with_path(str(location))
        self._clock = clock or SystemClock()
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._store = store or open_store(
            self.settings.path, ann_threshold=self.settings.ann_threshold
        )
        self._recaller: Recaller | None = None

    # -- lifecycle --------------------------------------------------------------

    def close(self) -> None:
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
        """The embedder, built on first use (loading a model takes a moment)."""
        with self._embedder_lock:
            if self._embedder is None:
                from engramdb.embed import make_embedder

                self._embedder = make_embedder(self.settings)
            stored = self._store.model_ids()
            if stored and stored != {self._embedder.model_id}:
                raise StoreError(
                    f"this store holds vectors of {sorted(stored)}, but the configured "
                    f"embedder is {self._embedder.model_id!r}; configure the same model"
                )
            return self._embedder

    def _recall(self) -> Recaller:
        if self._recaller is None:
            self._recaller = Recaller(self._store, self.embedder)
        return self._recaller

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
    ) -> Engram:
        """Remember one experience; returns it as stored."""
        item = {
            "text": text,
            "session": session,
            "speaker": speaker,
            "occurred_at": occurred_at,
            "metadata": metadata,
        }
        return self._add([item], namespace, single=True)[0]

    def add_many(
        self, items: Iterable[Mapping[str, Any]], *, namespace: str = DEFAULT_NAMESPACE
    ) -> list[Engram]:
        """Remember several experiences in one transaction (all or none)."""
        return self._add(items, namespace, single=False)

    def _add(
        self, items: Iterable[Mapping[str, Any]], namespace: str, *, single: bool
    ) -> list[Engram]:
        limits = self.settings.limits
        namespace = check_namespace(namespace, limits)
        if isinstance(items, (str, bytes, Mapping)):
            raise InvalidInputError("items must be an iterable of mappings (one per memory)")
        batch = list(items)
        if not batch:
            return []
        if len(batch) > limits.max_batch:
            raise LimitExceededError(
                f"batch holds {len(batch)} items; the limit is {limits.max_batch}"
            )
        now = self._clock.now()
        prepared = [
            self._prepare(item, None if single else i, namespace, now)
            for i, item in enumerate(batch)
        ]
        vectors = self.embedder.embed([embedding_text(p["text"], p["speaker"]) for p in prepared])
        model_id = self.embedder.model_id
        records = [
            EngramRecord(
                id=uuid.uuid4().hex,
                namespace=namespace,
                text=p["text"],
                occurred_at=p["occurred_at"],
                recorded_at=now,
                session=p["session"],
                speaker=p["speaker"],
                metadata=p["metadata"],
                kind="episode",
                vector=vectors[i],
                model_id=model_id,
                keys=index_keys(p["text"], p["speaker"], p["occurred_at"], p["metadata"]),
            )
            for i, p in enumerate(prepared)
        ]
        self._store.insert(records)
        return [
            Engram(
                id=r.id,
                namespace=r.namespace,
                text=r.text,
                occurred_at=r.occurred_at,
                recorded_at=r.recorded_at,
                valid_from=r.recorded_at,
                session=r.session,
                speaker=r.speaker,
                metadata=r.metadata,
                kind=r.kind,
                version=1,
            )
            for r in records
        ]

    def _prepare(
        self, item: object, index: int | None, namespace: str, now: datetime
    ) -> dict[str, Any]:
        """One item validated; errors name the item's position in a batch."""
        limits = self.settings.limits
        where = "the item" if index is None else f"item {index}"
        if not isinstance(item, Mapping):
            raise InvalidInputError(f"{where} must be a mapping, got {type(item).__name__}")
        unknown = set(item) - _ITEM_KEYS
        if unknown:
            raise InvalidInputError(
                f"{where} has unknown keys {sorted(map(str, unknown))}; "
                f"allowed: {sorted(_ITEM_KEYS)}"
            )
        try:
            occurred = item.get("occurred_at")
            return {
                "text": check_text(item.get("text"), limits),
                "session": check_label(item.get("session"), "session", limits),
                "speaker": check_label(item.get("speaker"), "speaker", limits),
                "occurred_at": now if occurred is None else check_time(occurred, "occurred_at"),
                "metadata": check_metadata(item.get("metadata"), limits),
            }
        except InvalidInputError as exc:
            if index is None:
                raise
            raise type(exc)(f"item {index}: {exc}") from exc

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
        current = self._store.get(namespace, engram_id)
        if current is None:
            raise NotFoundError(f"no memory {engram_id!r} in namespace {namespace!r}")
        new_text = current.text if text is None else check_text(text, limits)
        new_speaker = current.speaker if speaker is None else check_label(speaker, "speaker", limits)
        new_time = current.occurred_at if occurred_at is None else check_time(occurred_at, "occurred_at")
        new_meta = dict(current.metadata) if metadata is None else check_metadata(metadata, limits)
        at = self._clock.now() if now is None else check_time(now, "now")
        if at < current.valid_from:
            raise InvalidInputError(
                f"now ({at.isoformat()}) is before the current version's valid_from "
                f"({current.valid_from.isoformat()}); versions must not overlap"
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

    def delete(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> None:
        """Remove a memory with its whole history and index entries."""
        self._store.delete(check_namespace(namespace, self.settings.limits), check_id(id))

    def forget_namespace(self, namespace: str) -> int:
        """Erase a namespace entirely; returns how many memories it held."""
        return self._store.forget_namespace(check_namespace(namespace, self.settings.limits))

    # -- reads ------------------------------------------------------------------

    def get(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> Engram:
        namespace = check_namespace(namespace, self.settings.limits)
        engram = self._store.get(namespace, check_id(id))
        if engram is None:
            raise NotFoundError(f"no memory {id!r} in namespace {namespace!r}")
        return engram

    def history(self, id: str, *, namespace: str = DEFAULT_NAMESPACE) -> list[Version]:
        """Every version of a memory, oldest first, with validity intervals."""
        namespace = check_namespace(namespace, self.settings.limits)
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
    ) -> list[Hit]:
        """The memories most relevant to ``query``, best first, each explained."""
        limits = self.settings.limits
        if isinstance(neighbours, bool) or not isinstance(neighbours, int) or not 0 <= neighbours <= 20:
            raise InvalidInputError("neighbours must be an integer from 0 to 20")
        request = SearchRequest(
            query=check_query(query, limits),
            namespace=check_namespace(namespace, limits),
            limit=check_limit(limit, limits),
            now=self._clock.now() if now is None else check_time(now, "now"),
            neighbours=neighbours,
        )
        return self._recall().search(request)

    def neighbours(
        self, id: str, *, namespace: str = DEFAULT_NAMESPACE, before: int = 1, after: int = 1
    ) -> list[Engram]:
        """The turns around a memory in its session (not including it), in order."""
        namespace = check_namespace(namespace, self.settings.limits)
        engram_id = check_id(id)
        if self._store.get(namespace, engram_id) is None:
            raise NotFoundError(f"no memory {id!r} in namespace {namespace!r}")
        for name, value in (("before", before), ("after", after)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise InvalidInputError(f"{name} must be an integer from 0 to 100")
        return self._store.neighbours(namespace, engram_id, before, after)

    def namespaces(self) -> list[str]:
        return self._store.namespaces()

    def stats(self, *, namespace: str = DEFAULT_NAMESPACE) -> NamespaceStats:
        return self._store.stats(check_namespace(namespace, self.settings.limits))

    # -- maintenance, export and import ------------------------------------------

    def reindex(self, *, namespace: str | None = None) -> int:
        """Rebuild the derived indexes (lexical and vector) from the stored memories."""
        if namespace is not None:
            namespace = check_namespace(namespace, self.settings.limits)
        return self._store.reindex(namespace)

    def check(self) -> list[str]:
        """Problems found in the store's files and indexes; empty when sound."""
        return self._store.check()

    def export(self, *, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """Every memory with its full history, as JSON-ready dicts (lossless)."""
        if namespace is not None:
            namespace = check_namespace(namespace, self.settings.limits)
        for engram in self._store.iter_engrams(namespace):
            yield {
                "id": engram.id,
                "namespace": engram.namespace,
                "kind": engram.kind,
                "session": engram.session,
                "speaker": engram.speaker,
                "text": engram.text,
                "metadata": dict(engram.metadata),
                "occurred_at": to_iso(engram.occurred_at),
                "recorded_at": to_iso(engram.recorded_at),
                "versions": [
                    {
                        "version": v.version,
                        "text": v.text,
                        "speaker": v.speaker,
                        "metadata": dict(v.metadata),
                        "occurred_at": to_iso(v.occurred_at),
                        "valid_from": to_iso(v.valid_from),
                        "valid_to": None if v.valid_to is None else to_iso(v.valid_to),
                    }
                    for v in self._store.history(engram.namespace, engram.id)
                ],
            }

    def import_record(self, record: Mapping[str, Any]) -> Engram:
        """Restore one exported memory with its ids, times and history."""
        limits = self.settings.limits
        try:
            namespace = check_namespace(record["namespace"], limits)
            engram_id = check_id(record["id"])
            raw_versions = record["versions"]
            if not isinstance(raw_versions, list) or not raw_versions:
                raise InvalidInputError("versions must be a non-empty list")
            versions = [
                VersionRecord(
                    version=int(v["version"]),
                    text=check_text(v["text"], limits),
                    speaker=check_label(v.get("speaker"), "speaker", limits),
                    metadata=check_metadata(v.get("metadata"), limits),
                    occurred_at=_parse_time(v["occurred_at"], "occurred_at"),
                    valid_from=_parse_time(v["valid_from"], "valid_from"),
                    valid_to=None
                    if v.get("valid_to") is None
                    else _parse_time(v["valid_to"], "valid_to"),
                )
                for v in raw_versions
            ]
            current = versions[-1]
            if current.valid_to is not None:
                raise InvalidInputError("the last version must be current (valid_to null)")
            kind = record.get("kind", "episode")
            if not isinstance(kind, str) or not kind:
                raise InvalidInputError("kind must be a non-empty string")
            session = check_label(record.get("session"), "session", limits)
            recorded_at = _parse_time(record["recorded_at"], "recorded_at")
        except KeyError as exc:
            raise InvalidInputError(f"exported record lacks the field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InvalidInputError):
                raise
            raise InvalidInputError(f"exported record is malformed: {exc}") from exc
        if self._store.get(namespace, engram_id) is not None:
            raise InvalidInputError(f"memory {engram_id!r} already exists in {namespace!r}")
        vector = self.embedder.embed([embedding_text(current.text, current.speaker)])[0]
        self._store.restore(
            EngramRecord(
                id=engram_id,
                namespace=namespace,
                text=current.text,
                occurred_at=current.occurred_at,
                recorded_at=recorded_at,
                session=session,
                speaker=current.speaker,
                metadata=current.metadata,
                kind=kind,
                vector=vector,
                model_id=self.embedder.model_id,
                keys=index_keys(current.text, current.speaker, current.occurred_at, current.metadata),
            ),
            versions,
        )
        return self.get(engram_id, namespace=namespace)


def _parse_time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be an ISO 8601 string")
    try:
        return from_iso(value)
    except ValueError as exc:
        raise InvalidInputError(f"{name} {value!r} is not an ISO 8601 datetime: {exc}") from exc
