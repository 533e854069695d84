"""Export records: what ``Memory.export`` writes and ``Memory.import_records`` restores.

An export record is one memory as JSON with everything needed to restore it
in another store: its id, namespace, kind and times, every version of its
history, its dynamics (docs/dynamics.md) and what consolidation knows of it
(docs/consolidation.md): a fact's structure, the memories it came from, the
version of an episode consolidation consumed. After the memories come the
pinned profile's versions (docs/profile.md), one record each: ``{"namespace":
..., "profile_entry": <a ProfileEntry's JSON form>}``, and each namespace's default
time to live (docs/expiry.md): ``{"namespace": ..., "ttl_s": <seconds>}``. A memory's
``expires_at`` travels in its record; one already expired is exported and imported
as stored, and left out of reads and erased by a purge as in the store it came from.
Restoring checks every record before anything is written, then writes in batches,
each embedded in one call and written in one transaction.

This module owns the record's shape, both ways. It opens no store and no file
(``cli/transfer.py`` reads and writes JSONL files of records); ``Memory``
checks its own arguments before it calls here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engramdb import wire
from engramdb.config import Limits
from engramdb.embed.base import Embedder
from engramdb.errors import InvalidInputError
from engramdb.learn.feedback import KINDS
from engramdb.model import Fact, ProfileEntry
from engramdb.recall.indexing import embedding_text, index_keys
from engramdb.store import EngramRecord, Store, VersionRecord
from engramdb.store.base import NO_VECTOR, DynamicsUpdate, Learned, Link
from engramdb.validation import (
    MAX_WINDOW,
    check_emotion,
    check_id,
    check_key,
    check_label,
    check_many,
    check_metadata,
    check_namespace,
    check_text,
    check_time,
    check_ttl,
)

__all__ = ["PROFILE_ENTRY", "TTL", "export_records", "import_records", "parse_record"]

#: The key of a profile record: a pinned entry's version, not a memory.
PROFILE_ENTRY = "profile_entry"
#: The key of a namespace's default time to live, in seconds (docs/expiry.md).
TTL = "ttl_s"


#: The keys of a record taken from its memory's JSON form (``engramdb.wire``), in order;
#: ``versions`` (each a ``Version``'s JSON form) and ``dynamics`` follow.
_RECORD = (
    "id",
    "namespace",
    "kind",
    "session",
    "speaker",
    "text",
    "metadata",
    "occurred_at",
    "recorded_at",
    "expires_at",
)
#: A record's ``dynamics`` (docs/dynamics.md), from the same form.
_DYNAMICS = (
    "importance",
    "stability_days",
    "valence",
    "arousal",
    "emotion",
    "recalls",
    "last_recalled_at",
    "dormant",
)
#: A fact's structure and validity (docs/consolidation.md), from its JSON form.
_FACT = (
    "subject",
    "attribute",
    "value",
    "valid_from",
    "valid_to",
    "recorded_at",
    "invalidated_at",
    "status",
    "superseded_by",
)


def export_records(store: Store, namespace: str | None) -> Iterator[dict[str, Any]]:
    """Every memory in ``namespace`` (every namespace when None) as an export record,
    then what each namespace learned (docs/learning.md), one record per item, then
    each namespace's pinned profile (docs/profile.md), one record per version."""
    derived: dict[str, _Consolidation] = {}
    yield from _memory_records(store, namespace, derived)
    for name in [namespace] if namespace is not None else store.namespaces():
        for kind in KINDS:
            for item in store.learned(name, kind):
                yield {
                    "learned": item.kind,
                    "namespace": name,
                    "key": item.key,
                    "value": item.value,
                    "recorded_at": wire.time_to_json(item.recorded_at),
                }
    for name in [namespace] if namespace is not None else store.namespaces():
        ttl = store.ttl(name)
        if ttl is not None:
            yield {"namespace": name, TTL: ttl}
    profiled = store.profiled()
    for held in profiled if namespace is None else [namespace] if namespace in profiled else []:
        for entry in store.profile(held):
            yield {"namespace": held, PROFILE_ENTRY: wire.to_json(entry)}


def _memory_records(
    store: Store, namespace: str | None, derived: dict[str, _Consolidation]
) -> Iterator[dict[str, Any]]:
    for engram in store.iter_engrams(namespace):
        known = derived.get(engram.namespace)
        if known is None:
            known = derived[engram.namespace] = _Consolidation.of(store, engram.namespace)
        memory = wire.to_json(engram)
        yield {
            **{key: memory[key] for key in _RECORD},
            "versions": [wire.to_json(v) for v in store.history(engram.namespace, engram.id)],
            "dynamics": {key: memory[key] for key in _DYNAMICS},
            **known.fields(engram.id),
        }


def import_records(
    store: Store,
    embedder: Callable[[], Embedder],
    limits: Limits,
    records: Iterable[Mapping[str, Any]],
    batch_size: int,
    later: bool = False,
) -> int:
    """Restore export records into ``store``; returns how many, memories and profile
    versions (``Memory.import_records``).

    ``embedder`` is called when the first batch is embedded, so an import with
    nothing to write never loads a model. ``later``: the memories are written
    without their vectors, which the background embedder adds (docs/write-path.md);
    their dynamics are the record's and stay.
    """
    records = check_many(records, "records", "exported records")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError("batch_size must be a positive integer")
    parsed = []
    learned: dict[str, list[Learned]] = {}
    pinned: dict[str, list[ProfileEntry]] = {}
    ttls: dict[str, float] = {}
    for position, record in enumerate(records):
        try:
            if isinstance(record, Mapping) and TTL in record:
                name, seconds = _parse_ttl(record, limits)
                ttls[name] = seconds
            elif isinstance(record, Mapping) and "learned" in record:
                name, lesson = _parse_learned(record, limits)
                learned.setdefault(name, []).append(lesson)
            elif isinstance(record, Mapping) and PROFILE_ENTRY in record:
                held, entry = parse_profile_record(record, limits)
                pinned.setdefault(held, []).append(entry)
            else:
                parsed.append(parse_record(record, limits))
        except InvalidInputError as exc:
            raise type(exc)(f"record {position}: {exc}") from exc
    _check_profiles(store, pinned)
    seen: set[tuple[str, str]] = set()
    for item in parsed:
        if (item.namespace, item.id) in seen:
            raise InvalidInputError(f"memory {item.id!r} appears twice in {item.namespace!r}")
        seen.add((item.namespace, item.id))
    _check_references(store, parsed)
    for start in range(0, len(parsed), batch_size):
        _import_batch(store, embedder(), parsed[start : start + batch_size], later)
    by_namespace: dict[str, list[_Exported]] = {}
    for item in parsed:
        by_namespace.setdefault(item.namespace, []).append(item)
    for namespace, items in by_namespace.items():
        store.restore_consolidation(
            namespace,
            [item.fact for item in items if item.fact is not None],
            [link for item in items for link in item.sources],
            {item.id: item.consolidated for item in items if item.consolidated is not None},
        )
    for name, lessons in learned.items():  # after the memories they name
        store.learn(name, lessons)
    for namespace, entries in pinned.items():
        store.restore_profile(namespace, entries)
    for namespace, seconds in ttls.items():
        store.set_ttl(namespace, seconds)
    taught = sum(len(lessons) for lessons in learned.values())
    return len(parsed) + taught + sum(map(len, pinned.values()))


def _parse_ttl(record: Mapping[str, Any], limits: Limits) -> tuple[str, float]:
    """A namespace's default time to live: its namespace and seconds (docs/expiry.md)."""
    seconds = record[TTL]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidInputError(f"{TTL} must be a number of seconds")
    within = math.isfinite(seconds) and abs(seconds) <= MAX_WINDOW.total_seconds()
    ttl = check_ttl(timedelta(seconds=float(seconds)) if within else None)
    return check_namespace(record.get("namespace"), limits), ttl.total_seconds()


def _parse_learned(record: Mapping[str, Any], limits: Limits) -> tuple[str, Learned]:
    """A record of what a namespace learned: its kind, key, JSON value and time."""
    kind = record["learned"]
    if kind not in KINDS:
        raise InvalidInputError(f"learned must be one of {', '.join(KINDS)}, got {kind!r}")
    key, value = record.get("key"), record.get("value")
    if not isinstance(key, str) or not key or not isinstance(value, str):
        raise InvalidInputError("a learned record needs a key and a value, both strings")
    try:
        json.loads(value)
    except ValueError as exc:
        raise InvalidInputError(f"a learned record's value is not JSON: {exc}") from exc
    namespace = check_namespace(record.get("namespace"), limits)
    return namespace, Learned(kind, key, value, _time(record.get("recorded_at"), "recorded_at"))


def parse_profile_record(record: Mapping[str, Any], limits: Limits) -> tuple[str, ProfileEntry]:
    """Check one profile record: its namespace, and the entry's key, text and times."""
    try:
        namespace = check_namespace(record["namespace"], limits)
    except KeyError as exc:
        raise InvalidInputError("profile record lacks the field 'namespace'") from exc
    entry = wire.from_json(ProfileEntry, record[PROFILE_ENTRY])
    check_key(entry.key)
    check_text(entry.text, limits)
    if isinstance(entry.version, bool) or entry.version < 1:
        raise InvalidInputError("a profile entry's version must be a positive integer")
    _time(wire.time_to_json(entry.valid_from), "valid_from")
    if entry.valid_to is not None and entry.valid_to < entry.valid_from:
        raise InvalidInputError("a profile entry's valid_to is before its valid_from")
    if entry.source_id is not None:
        check_id(entry.source_id)
    return namespace, entry


def _check_profiles(store: Store, pinned: Mapping[str, list[ProfileEntry]]) -> None:
    """No profile version is imported twice or over one the store holds, and a key has
    one current version at most: checked before anything is written."""
    for namespace, entries in pinned.items():
        seen = {(e.key, e.version) for e in store.profile(namespace)}
        current = {e.key for e in store.profile(namespace) if e.valid_to is None}
        for entry in entries:
            if (entry.key, entry.version) in seen:
                raise InvalidInputError(
                    f"profile entry {entry.key!r} version {entry.version} is in namespace "
                    f"{namespace!r} already, or twice in the records"
                )
            if entry.valid_to is None and entry.key in current:
                raise InvalidInputError(
                    f"profile entry {entry.key!r} is pinned in namespace {namespace!r} already"
                )
            seen.add((entry.key, entry.version))
            if entry.valid_to is None:
                current.add(entry.key)


def _check_references(store: Store, parsed: list[_Exported]) -> None:
    """Every memory a record's ``sources`` names is imported too, or already stored:
    checked before anything is written."""
    imported = {(item.namespace, item.id) for item in parsed}
    wanted: dict[str, set[str]] = {}
    for item in parsed:
        for link in item.sources:
            if (item.namespace, link.source_id) not in imported:
                wanted.setdefault(item.namespace, set()).add(link.source_id)
    for namespace, ids in wanted.items():
        absent = ids - store.get_many(namespace, sorted(ids)).keys()
        if absent:
            raise InvalidInputError(
                f"a record's sources name {sorted(absent)[0]!r}, which is neither imported "
                f"nor stored in {namespace!r}"
            )


def _import_batch(store: Store, embedder: Embedder, batch: list[_Exported], later: bool) -> None:
    by_namespace: dict[str, list[str]] = {}
    for item in batch:
        by_namespace.setdefault(item.namespace, []).append(item.id)
    for namespace, ids in by_namespace.items():
        existing = store.get_many(namespace, ids)
        if existing:
            raise InvalidInputError(
                f"memory {sorted(existing)[0]!r} already exists in {namespace!r}"
            )
    texts = [embedding_text(item.current.text, item.current.speaker) for item in batch]
    vectors = None if later else embedder.embed(texts)
    model_id = embedder.model_id
    store.restore_many(
        [
            (
                EngramRecord(
                    id=item.id,
                    namespace=item.namespace,
                    text=item.current.text,
                    occurred_at=item.current.occurred_at,
                    recorded_at=item.recorded_at,
                    session=item.session,
                    speaker=item.current.speaker,
                    metadata=item.current.metadata,
                    kind=item.kind,
                    vector=NO_VECTOR if vectors is None else vectors[i],
                    model_id=model_id,
                    keys=index_keys(
                        item.current.text,
                        item.current.speaker,
                        item.current.occurred_at,
                        item.current.metadata,
                    ),
                    **item.strength,
                    expires_at=item.expires_at,
                    importance_given=True,  # the record's dynamics stand
                    emotion_given=True,
                ),
                item.versions,
            )
            for i, item in enumerate(batch)
        ]
    )
    for item in batch:  # recalls and dormancy are dynamics state, not record fields
        if item.recalled is not None:
            store.set_dynamics(item.namespace, [item.recalled])


_RELATIONS = ("extracted", "derived", "summarizes", "duplicate")


@dataclass(frozen=True, slots=True)
class _Consolidation:
    """What one namespace's consolidation knows, as export fields per memory."""

    facts: dict[str, Fact]
    sources: dict[str, list[Link]]
    consumed: dict[str, int]

    @classmethod
    def of(cls, store: Store, namespace: str) -> _Consolidation:
        sources: dict[str, list[Link]] = {}
        for link in store.links(namespace):
            sources.setdefault(link.derived_id, []).append(link)
        return cls(
            facts={f.engram_id: f for f in store.facts(namespace)},
            sources=sources,
            consumed=store.consumed(namespace),
        )

    def fields(self, engram_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        fact = self.facts.get(engram_id)
        if fact is not None:
            structure = wire.to_json(fact)
            out["fact"] = {key: structure[key] for key in _FACT}
        links = self.sources.get(engram_id)
        if links:
            out["sources"] = [{"id": k.source_id, "relation": k.relation} for k in links]
        if engram_id in self.consumed:
            out["consolidated"] = self.consumed[engram_id]
        return out


@dataclass(frozen=True, slots=True)
class _Exported:
    """One exported record, checked: what ``import_records`` writes."""

    id: str
    namespace: str
    kind: str
    session: str | None
    recorded_at: datetime
    versions: list[VersionRecord]
    # exported dynamics (docs/dynamics.md): the record's fields, and its recall state
    strength: dict[str, Any] = field(default_factory=dict)
    recalled: DynamicsUpdate | None = None
    # exported consolidation (docs/consolidation.md): fact structure, provenance, consumed mark
    fact: Fact | None = None
    sources: list[Link] = field(default_factory=list)
    consolidated: int | None = None
    expires_at: datetime | None = None  # docs/expiry.md

    @property
    def current(self) -> VersionRecord:
        return self.versions[-1]


def _time(value: object, name: str) -> datetime:
    """A time of a record: wire's form, within the range every caller's time keeps
    (docs/limits.md), so no import stores a time that later arithmetic overflows."""
    return check_time(wire.time_from_json(value, name), name)


def parse_record(record: object, limits: Limits) -> _Exported:
    """Check one exported record (as ``Memory.export`` writes it) field by field."""
    if not isinstance(record, Mapping):
        raise InvalidInputError(
            f"an exported record must be a mapping, got {type(record).__name__}"
        )
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
                occurred_at=_time(v["occurred_at"], "occurred_at"),
                valid_from=_time(v["valid_from"], "valid_from"),
                valid_to=None if v.get("valid_to") is None else _time(v["valid_to"], "valid_to"),
            )
            for v in raw_versions
        ]
        if versions[-1].valid_to is not None:
            raise InvalidInputError("the last version must be current (valid_to null)")
        kind = record.get("kind", "episode")
        if not isinstance(kind, str) or not kind:
            raise InvalidInputError("kind must be a non-empty string")
        session = check_label(record.get("session"), "session", limits)
        recorded_at = _time(record["recorded_at"], "recorded_at")
        expires = record.get("expires_at")
        expires_at = None if expires is None else _time(expires, "expires_at")
    except KeyError as exc:
        raise InvalidInputError(f"exported record lacks the field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"exported record is malformed: {exc}") from exc
    strength, recalled = _parse_dynamics(engram_id, record.get("dynamics"))
    fact, sources, consolidated = _parse_consolidation(engram_id, namespace, record)
    return _Exported(
        id=engram_id,
        namespace=namespace,
        kind=kind,
        session=session,
        recorded_at=recorded_at,
        versions=versions,
        strength=strength,
        recalled=recalled,
        fact=fact,
        sources=sources,
        consolidated=consolidated,
        expires_at=expires_at,
    )


def _parse_consolidation(
    engram_id: str, namespace: str, record: Mapping[str, Any]
) -> tuple[Fact | None, list[Link], int | None]:
    """An exported record's ``fact``, ``sources`` and ``consolidated`` (all optional)."""
    try:
        fact = None
        raw = record.get("fact")
        if raw is not None:
            if not isinstance(raw, Mapping):
                raise InvalidInputError("fact must be an object")
            status = raw["status"]
            if status not in ("current", "superseded", "stale"):
                raise InvalidInputError(f"fact status {status!r} is not current/superseded/stale")
            superseded_by = raw.get("superseded_by")
            if superseded_by is not None:
                superseded_by = check_id(superseded_by)

            def when(name: str) -> datetime | None:
                value = raw.get(name)
                return None if value is None else _time(value, f"fact.{name}")

            fact = Fact(
                engram_id=engram_id,
                namespace=namespace,
                subject=_fact_text(raw["subject"], "subject"),
                attribute=_fact_text(raw["attribute"], "attribute"),
                value=_fact_text(raw["value"], "value"),
                text="",
                valid_from=_time(raw["valid_from"], "fact.valid_from"),
                valid_to=when("valid_to"),
                recorded_at=_time(raw["recorded_at"], "fact.recorded_at"),
                invalidated_at=when("invalidated_at"),
                status=status,
                superseded_by=superseded_by,
            )
        raw_sources = record.get("sources") or []
        if not isinstance(raw_sources, list):
            raise InvalidInputError("sources must be a list")
        sources = []
        for source in raw_sources:
            relation = source["relation"]
            if relation not in _RELATIONS:
                raise InvalidInputError(f"source relation {relation!r} is not one of {_RELATIONS}")
            sources.append(Link(engram_id, check_id(source["id"]), relation))
        consolidated = record.get("consolidated")
        if consolidated is not None and not (_is_int(consolidated) and consolidated >= 1):
            raise InvalidInputError("consolidated must be a version number (1 or more)")
    except KeyError as exc:
        raise InvalidInputError(f"exported record lacks the field {exc.args[0]!r}") from exc
    except TypeError as exc:
        raise InvalidInputError(f"exported record is malformed: {exc}") from exc
    return fact, sources, consolidated


def _fact_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"fact.{name} must be a non-empty string")
    return value


def _parse_dynamics(engram_id: str, raw: object) -> tuple[dict[str, Any], DynamicsUpdate | None]:
    """An exported record's ``dynamics`` (optional: older exports have none)."""
    if raw is None:
        return {}, None
    if not isinstance(raw, Mapping):
        raise InvalidInputError("dynamics must be an object")

    def number(name: str, low: float, high: float) -> float:
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInputError(f"dynamics.{name} must be a number")
        if not low <= float(value) <= high:
            raise InvalidInputError(f"dynamics.{name} must be from {low} to {high}")
        return float(value)

    strength = {
        "importance": number("importance", 0.0, 1.0),
        "stability_days": number("stability_days", 1e-6, 1e9),
        "valence": number("valence", -1.0, 1.0),
        "arousal": number("arousal", 0.0, 1.0),
        "emotion": check_emotion(raw.get("emotion")) or "neutral",
    }
    recalls = raw.get("recalls", 0)
    if isinstance(recalls, bool) or not isinstance(recalls, int) or recalls < 0:
        raise InvalidInputError("dynamics.recalls must be a non-negative integer")
    last = raw.get("last_recalled_at")
    dormant = raw.get("dormant", False)
    if not isinstance(dormant, bool):
        raise InvalidInputError("dynamics.dormant must be true or false")
    recalled = None
    if recalls or last is not None or dormant:
        recalled = DynamicsUpdate(
            id=engram_id,
            recalls=recalls,
            last_recalled_at=None if last is None else _time(last, "last_recalled_at"),
            dormant=dormant,
        )
    return strength, recalled


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
