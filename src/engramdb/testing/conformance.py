"""The shared conformance suite every ``Store`` backend must pass.

Each ``check_*`` function takes a ``StoreFactory`` (a callable returning a
fresh, empty store of 384 dims; it must accept ``ann_threshold=``) and raises
``AssertionError`` on the first broken promise of the ``Store`` contract in
``engramdb.store.base``. ``ALL_CHECKS`` lists them all; a backend's test module
runs each one against each way the backend can be opened::

    @pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check, factory):
        check(factory)

The checks use only the public ``Store`` methods, never SQL, so they run
unchanged against any backend; behaviour that needs backend internals
(corrupting an index on purpose, pragmas, schema tables) is tested beside the
backend instead. A bug found in one backend becomes a check here. Vectors come
from ``HashEmbedder`` or a seeded generator: no model is loaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engramdb.errors import ConflictError, InvalidInputError, NotFoundError, StoreError
from engramdb.filters import Filter, parse
from engramdb.model import Engram, ProfileEntry
from engramdb.store.base import (
    NO_VECTOR,
    Active,
    Capability,
    ConsolidationBatch,
    DynamicsUpdate,
    EngramRecord,
    FactChange,
    FactRow,
    Learned,
    Link,
    Store,
    VectorArrival,
    VersionRecord,
)
from engramdb.store.identity import content_identity, key_identity
from engramdb.store.paging import PageQuery
from engramdb.testing.fakes import HashEmbedder

__all__ = [
    "ALL_CHECKS",
    "DIMS",
    "StoreFactory",
    "check_active_is_what_a_fade_weighs",
    "check_ann_search",
    "check_budget_round_trip",
    "check_catalog_dynamics_match_the_memories",
    "check_closed_store_raises",
    "check_consolidation_batch_is_one_transaction",
    "check_consolidation_round_trip",
    "check_deferred_vectors",
    "check_delete_removes_everything",
    "check_delete_takes_every_memory_derived_from_it",
    "check_dynamics_round_trip",
    "check_facts_of_reads_whole_timelines",
    "check_failed_insert_leaves_nothing",
    "check_forget_namespace",
    "check_insert_returns_what_it_wrote",
    "check_iter_engrams_order",
    "check_latest_episodes_reads_a_window_from_its_end",
    "check_learned_round_trip",
    "check_matching_is_the_reference_filter",
    "check_namespace_isolation",
    "check_nearest_scores_match_vector_search",
    "check_neighbours_order",
    "check_pending_episodes_follow_changes",
    "check_reindex_keeps_results",
    "check_restore_many_is_one_transaction",
    "check_restore_round_trip",
    "check_round_trip_every_field",
    "check_set_dynamics_is_partial_and_isolated",
    "check_sound_store_checks_clean",
    "check_special_characters_inert",
    "check_update_keeps_history",
    "check_usage_counts_active_memories",
    "check_vectors_round_trip",
    "make_record",
]

DIMS = 384
T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
EMBEDDER = HashEmbedder(DIMS)
F32 = npt.NDArray[np.float32]

# Inputs that mean something to SQL or to the FTS5 query language; each must be inert.
SPECIAL_TERMS: tuple[str, ...] = (
    "'",
    '"',
    '""',
    "*",
    "NEAR",
    "AND",
    "OR",
    "NOT",
    "^",
    ":",
    "(",
    ")",
    "-",
    "+",
    "{",
    "}",
    "'; DROP TABLE engrams; --",
    "NEAR(a b)",
    "ns : x",
    "text:x",
    "\x00",
    "%",
    "_",
    "ü",
    "🎉",
    "日本語",
)
SPECIAL_LABELS: tuple[str, ...] = (
    "it's",
    'say "hi"',
    "a*",
    "NEAR",
    "x AND y",
    "(paren",
    "-dash",
    "col:on",
    "^caret",
    "'; DROP TABLE engrams; --",
    "ns ü 🎉",
)


class StoreFactory(Protocol):
    """Makes a fresh, empty store of ``DIMS`` dimensions on every call."""

    def __call__(self, *, ann_threshold: int = 20_000) -> Store: ...


_ids = itertools.count(1)


def make_record(
    namespace: str,
    text: str,
    *,
    session: str | None = None,
    speaker: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    occurred_at: datetime = T0,
    recorded_at: datetime = T0,
    kind: str = "episode",
    keys: str = "",
    vector: F32 | None = None,
    engram_id: str | None = None,
) -> EngramRecord:
    """A record as the facade would hand it over; the vector defaults to ``HashEmbedder``'s."""
    return EngramRecord(
        id=engram_id or f"{next(_ids):032x}",
        namespace=namespace,
        text=text,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        session=session,
        speaker=speaker,
        metadata=dict(metadata or {}),
        kind=kind,
        vector=EMBEDDER.embed([text])[0] if vector is None else vector,
        model_id=EMBEDDER.model_id,
        keys=keys,
    )


@contextmanager
def _opened(factory: StoreFactory, **options: int) -> Iterator[Store]:
    store = factory(**options)
    try:
        yield store
    finally:
        store.close()


def _unit(rows: F32) -> F32:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _ids_of(found: Sequence[Any]) -> list[str]:
    return [c.id for c in found]


def _lexical(store: Store, namespace: str, term: str) -> list[str]:
    return _ids_of(store.lexical_search(namespace, [term], 50))


def _dense(store: Store, namespace: str, vector: F32, limit: int = 50) -> list[str]:
    return _ids_of(store.vector_search(namespace, vector, limit))


def _assert_engram_is(engram: Engram | None, record: EngramRecord) -> None:
    assert engram is not None, f"{record.id} was not found"
    expected = {
        "id": record.id,
        "namespace": record.namespace,
        "text": record.text,
        "occurred_at": record.occurred_at,
        "recorded_at": record.recorded_at,
        "valid_from": record.recorded_at,
        "session": record.session,
        "speaker": record.speaker,
        "metadata": dict(record.metadata),
        "kind": record.kind,
        "version": 1,
    }
    actual = {name: getattr(engram, name) for name in expected}
    actual["metadata"] = dict(engram.metadata)
    assert actual == expected, f"round trip changed the memory:\n{actual}\n!=\n{expected}"
    for name in ("occurred_at", "recorded_at", "valid_from"):
        assert getattr(engram, name).tzinfo is not None, f"{name} came back naive"


def _assert_sound(store: Store) -> None:
    problems = store.check()
    assert problems == [], f"check() found problems: {problems}"


# -- the checks ---------------------------------------------------------------


def check_round_trip_every_field(factory: StoreFactory) -> None:
    """Every field of a record comes back as written: unicode, big and nested metadata, Nones."""
    plus_two = timezone(timedelta(hours=2))
    records = [
        make_record(
            "ns-ü",
            "Grüße aus Köln 🎉 — naïve café, 日本語のテキスト",
            session="séance 🙂",
            speaker="Zoë O'Brien",
            metadata={
                "dia_id": "D1:3",
                "emoji": "🙂",
                "nested": {"list": [1, 2.5, True, None, "ü"], "deep": {"a": {"b": {"c": [[]]}}}},
            },
            occurred_at=datetime(2023, 5, 7, 9, 30, 1, 999999, tzinfo=plus_two),
            recorded_at=T0,
        ),
        make_record("ns-ü", "plain words", kind="fact", keys="hidden enrichment"),
        # metadata just under the facade's 64 KiB limit, mostly two-byte characters
        make_record("ns-ü", "big metadata", metadata={"blob": "é" * 32_000, "n": 1}),
    ]
    with _opened(factory) as store:
        store.insert(records)
        found = store.get_many("ns-ü", [r.id for r in records] + ["f" * 32])
        assert set(found) == {r.id for r in records}, "get_many returned the wrong ids"
        for record in records:
            _assert_engram_is(found[record.id], record)
            _assert_engram_is(store.get("ns-ü", record.id), record)
            (version,) = store.history("ns-ü", record.id)
            assert (version.version, version.text, version.speaker) == (
                1,
                record.text,
                record.speaker,
            )
            assert dict(version.metadata) == dict(record.metadata)
            assert (version.occurred_at, version.valid_from) == (
                record.occurred_at,
                record.recorded_at,
            )
            assert version.valid_to is None
            assert version.is_current
        assert store.get("ns-ü", "f" * 32) is None
        assert _lexical(store, "ns-ü", "enrichment") == [records[1].id], "keys are not searchable"
        assert store.namespaces() == ["ns-ü"]
        assert store.model_ids() == {EMBEDDER.model_id}
        stats = store.stats("ns-ü")
        assert (stats.engrams, stats.versions, stats.sessions) == (3, 3, 1)
        assert stats.first_occurred_at == records[0].occurred_at
        assert stats.last_occurred_at == T0
        _assert_sound(store)


def check_insert_returns_what_it_wrote(factory: StoreFactory) -> None:
    """``insert`` returns each memory as written, in input order across namespaces:
    version 1, valid from ``recorded_at``, the record's dynamics, never recalled;
    the same memory ``get`` then reads back."""
    plus_two = timezone(timedelta(hours=2))
    records = [
        make_record("b", "second namespace first", session="s1", speaker="Zoë"),
        replace(
            make_record(
                "a",
                "Grüße 🎉",
                metadata={"nested": {"list": [1, 2.5, None]}},
                occurred_at=datetime(2023, 5, 7, 9, 30, 1, 999, tzinfo=plus_two),
                recorded_at=T0 + timedelta(hours=1),
            ),
            importance=0.875,
            stability_days=42.25,
            valence=-0.5,
            arousal=0.75,
            emotion="sadness",
        ),
        make_record("b", "a fact", kind="fact", keys="hidden enrichment"),
    ]
    with _opened(factory) as store:
        empty = store.insert([])
        assert empty == [], f"insert([]) returned {empty!r}, not []"
        written = store.insert(records)
        assert isinstance(written, list), f"insert returned {type(written).__name__}, not a list"
        assert [e.id for e in written] == [r.id for r in records], "not in input order"
        for engram, record in zip(written, records, strict=True):
            assert engram == record.written(), f"insert returned {engram}, not {record}"
            assert (engram.version, engram.valid_from) == (1, record.recorded_at)
            assert (engram.recalls, engram.last_recalled_at, engram.dormant) == (0, None, False)
            assert engram == store.get(record.namespace, record.id), "get reads another memory"
        _assert_sound(store)


def check_restore_round_trip(factory: StoreFactory) -> None:
    """An imported memory keeps its id, times and every version as given."""
    t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    versions = [
        VersionRecord(1, "first text", "Ann", {"v": 1}, T0, T0, t1),
        VersionRecord(2, "second text", None, {}, T0, t1, t2),
        VersionRecord(3, "third text", "Bo", {"v": [3]}, t1, t2, None),
    ]
    record = make_record(
        "ns", "third text", speaker="Bo", metadata={"v": [3]}, occurred_at=t1, session="s"
    )
    with _opened(factory) as store:
        store.restore(record, versions)
        engram = store.get("ns", record.id)
        assert engram is not None
        assert (engram.text, engram.version, engram.valid_from) == ("third text", 3, t2)
        assert (engram.recorded_at, engram.occurred_at, engram.session) == (T0, t1, "s")
        history = store.history("ns", record.id)
        assert [(v.version, v.text, v.speaker, dict(v.metadata)) for v in history] == [
            (v.version, v.text, v.speaker, dict(v.metadata)) for v in versions
        ]
        assert [(v.valid_from, v.valid_to) for v in history] == [
            (v.valid_from, v.valid_to) for v in versions
        ]
        assert _lexical(store, "ns", "third") == [record.id]
        assert _lexical(store, "ns", "first") == [], "a past version's text is searchable"
        try:
            store.restore(record, versions)
        except StoreError:
            pass
        else:
            raise AssertionError("restoring an existing id did not raise StoreError")
        assert store.stats("ns").versions == 3, "a refused restore left versions behind"
        _assert_sound(store)


def check_restore_many_is_one_transaction(factory: StoreFactory) -> None:
    """A batch of imported memories is written whole, or not at all when one is refused."""
    t1 = T0 + timedelta(days=1)

    def item(
        namespace: str, text: str, engram_id: str | None = None
    ) -> tuple[EngramRecord, list[VersionRecord]]:
        record = make_record(namespace, text, engram_id=engram_id)
        return record, [
            VersionRecord(1, f"old {text}", None, {}, T0, T0, t1),
            VersionRecord(2, text, None, {}, T0, t1, None),
        ]

    with _opened(factory) as store:
        batch = [item("a", "apple pie"), item("b", "blue sky"), item("a", "acorn hat")]
        store.restore_many(batch)
        assert [store.stats(ns).engrams for ns in ("a", "b")] == [2, 1]
        assert [store.stats(ns).versions for ns in ("a", "b")] == [4, 2]
        assert _lexical(store, "a", "acorn") == [batch[2][0].id]
        assert _dense(store, "b", batch[1][0].vector, 1) == [batch[1][0].id]
        refused = [item("a", "walrus tusk"), item("b", "again", engram_id=batch[1][0].id)]
        try:
            store.restore_many(refused)
        except StoreError:
            pass
        else:
            raise AssertionError("restore_many of an existing id did not raise StoreError")
        assert _lexical(store, "a", "walrus") == [], "a refused batch left part of itself"
        assert [store.stats(ns).engrams for ns in ("a", "b")] == [2, 1]
        store.restore_many([])
        _assert_sound(store)


def check_namespace_isolation(factory: StoreFactory) -> None:
    """No read or write in one namespace sees or touches another, even for identical texts."""
    texts = ["the cat sat on the mat", "dogs bark loudly at night"]
    a = [make_record("a", t, session="s1", speaker="Ann") for t in texts]
    b = [make_record("b", t, session="s1", speaker="Ann") for t in texts]
    ids_a, ids_b = [r.id for r in a], [r.id for r in b]
    with _opened(factory) as store:
        store.insert(a + b)
        cat = a[0].vector
        assert store.get_many("b", ids_a) == {}
        assert store.history("b", ids_a[0]) == []
        assert store.neighbours("b", ids_a[0], 5, 5) == []
        assert [e.id for e in store.neighbours("a", ids_a[0], 5, 5)] == [ids_a[1]]
        assert _lexical(store, "a", "cat") == [ids_a[0]]
        assert set(_dense(store, "a", cat)) == set(ids_a)
        assert not store.vectors("b", ids_a).any(), "vectors() leaked another namespace"
        assert [e.id for e in store.iter_engrams("a")] == ids_a
        assert {e.id for e in store.iter_engrams()} == set(ids_a + ids_b)
        assert store.stats("a").engrams == store.stats("b").engrams == 2
        for write in (
            lambda: store.update(
                "b",
                ids_a[0],
                text="hijacked",
                speaker=None,
                metadata={},
                occurred_at=T0,
                vector=cat,
                model_id=EMBEDDER.model_id,
                keys="",
                now=T0 + timedelta(days=1),
            ),
            lambda: store.delete("b", ids_a[0]),
        ):
            try:
                write()
            except NotFoundError:
                pass
            else:
                raise AssertionError("a write reached a memory of another namespace")
        _assert_engram_is(store.get("a", ids_a[0]), a[0])
        # writes in "a" leave "b" exactly as it was
        store.update(
            "a",
            ids_a[0],
            text="a bird sang",
            speaker=None,
            metadata={},
            occurred_at=T0,
            vector=EMBEDDER.embed(["a bird sang"])[0],
            model_id=EMBEDDER.model_id,
            keys="",
            now=T0 + timedelta(days=1),
        )
        store.delete("a", ids_a[1])
        assert store.reindex("a") == 1
        for record in b:
            _assert_engram_is(store.get("b", record.id), record)
            assert len(store.history("b", record.id)) == 1
        assert _lexical(store, "b", "cat") == [ids_b[0]]
        assert _lexical(store, "b", "dogs") == [ids_b[1]]
        assert _dense(store, "b", cat)[0] == ids_b[0]
        assert _lexical(store, "a", "dogs") == []
        assert _lexical(store, "b", "bird") == []
        assert store.forget_namespace("a") == 1
        assert store.namespaces() == ["b"]
        assert [e.id for e in store.iter_engrams("b")] == ids_b
        stats = store.stats("b")
        assert (stats.engrams, stats.versions, stats.sessions) == (2, 2, 1)
        _assert_sound(store)


def check_update_keeps_history(factory: StoreFactory) -> None:
    """An update closes the old version where the new one starts; history is complete."""
    record = make_record(
        "ns", "alpha original words", session="s", speaker="Ann", metadata={"v": 1}
    )
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(days=3)
    edits = [
        ("beta second words", "Bo", {"v": 2}, T0 - timedelta(days=1), t1),
        ("gamma third words", None, {}, T0, t2),
    ]
    with _opened(factory) as store:
        store.insert([record])
        _dense(store, "ns", record.vector)  # load any derived index before the writes
        updated: Engram | None = None
        for text, speaker, metadata, occurred_at, now in edits:
            updated = store.update(
                "ns",
                record.id,
                text=text,
                speaker=speaker,
                metadata=metadata,
                occurred_at=occurred_at,
                vector=EMBEDDER.embed([text])[0],
                model_id=EMBEDDER.model_id,
                keys="",
                now=now,
            )
        assert updated is not None
        assert (updated.id, updated.text, updated.version, updated.valid_from) == (
            record.id,
            "gamma third words",
            3,
            t2,
        )
        assert (updated.recorded_at, updated.session, updated.speaker) == (T0, "s", None)
        assert store.get("ns", record.id) == updated
        history = store.history("ns", record.id)
        assert [v.version for v in history] == [1, 2, 3]
        assert [v.text for v in history] == [record.text, edits[0][0], edits[1][0]]
        assert [v.speaker for v in history] == ["Ann", "Bo", None]
        assert [dict(v.metadata) for v in history] == [{"v": 1}, {"v": 2}, {}]
        assert [v.occurred_at for v in history] == [T0, edits[0][3], T0]
        assert [v.valid_from for v in history] == [T0, t1, t2]
        assert [v.valid_to for v in history] == [t1, t2, None], "validity intervals not closed"
        assert _lexical(store, "ns", "alpha") == []
        assert _lexical(store, "ns", "beta") == []
        assert _lexical(store, "ns", "gamma") == [record.id]
        new_vector = EMBEDDER.embed(["gamma third words"])[0]
        (hit,) = store.vector_search("ns", new_vector, 5)
        assert hit.id == record.id
        assert hit.score > 0.999
        stats = store.stats("ns")
        assert (stats.engrams, stats.versions) == (1, 3)
        _assert_sound(store)


def check_delete_removes_everything(factory: StoreFactory) -> None:
    """A deleted memory leaves no version, vector or index entry behind."""
    turns = [
        make_record("ns", f"turn {word} here", session="s")
        for word in ("apple", "banana", "cherry")
    ]
    with _opened(factory) as store:
        store.insert(turns)
        _dense(store, "ns", turns[1].vector)  # load any derived index before the delete
        gone = turns[1]
        store.update(
            "ns",
            gone.id,
            text="turn banana split",
            speaker=None,
            metadata={},
            occurred_at=T0,
            vector=gone.vector,
            model_id=EMBEDDER.model_id,
            keys="",
            now=T0 + timedelta(hours=1),
        )
        store.delete("ns", gone.id)
        assert store.get("ns", gone.id) is None
        assert store.history("ns", gone.id) == []
        assert _lexical(store, "ns", "banana") == []
        assert gone.id not in _dense(store, "ns", gone.vector)
        assert not store.vectors("ns", [gone.id]).any()
        assert [e.id for e in store.iter_engrams("ns")] == [turns[0].id, turns[2].id]
        assert [e.id for e in store.neighbours("ns", turns[0].id, 0, 5)] == [turns[2].id]
        stats = store.stats("ns")
        assert (stats.engrams, stats.versions) == (2, 2)
        try:
            store.delete("ns", gone.id)
        except NotFoundError:
            pass
        else:
            raise AssertionError("deleting twice did not raise NotFoundError")
        _assert_sound(store)


def check_failed_insert_leaves_nothing(factory: StoreFactory) -> None:
    """A batch that fails part-way (duplicate id) writes nothing to any table or index."""
    first = make_record("ns", "existing memory", session="s")
    with _opened(factory) as store:
        store.insert([first])
        _dense(store, "ns", first.vector)  # load any derived index before the failure
        batches = [
            [
                make_record("ns", "zebra one", session="s"),
                make_record("other", "zebra two"),
                make_record("ns", "zebra three", engram_id=first.id),
            ],
            [
                make_record("ns", "zebra four", engram_id="e" * 32),
                make_record("ns", "zebra five", engram_id="e" * 32),
            ],
        ]
        for batch in batches:
            try:
                store.insert(batch)
            except StoreError:
                pass
            else:
                raise AssertionError("a batch with a duplicate id was accepted")
            for record in batch:
                if record.id == first.id:
                    continue
                assert store.get_many(record.namespace, [record.id]) == {}, "half a batch stayed"
                assert store.history(record.namespace, record.id) == []
                assert record.id not in _dense(store, record.namespace, record.vector)
        assert _lexical(store, "ns", "zebra") == []
        assert _lexical(store, "other", "zebra") == []
        assert [e.id for e in store.iter_engrams()] == [first.id]
        assert store.namespaces() == ["ns"]
        assert store.stats("other").engrams == 0
        stats = store.stats("ns")
        assert (stats.engrams, stats.versions, stats.sessions) == (1, 1, 1)
        assert store.history("ns", first.id)[0].text == first.text
        # sequence numbers were not consumed by the failed batch
        second = make_record("ns", "next turn", session="s")
        store.insert([second])
        assert [e.id for e in store.neighbours("ns", first.id, 0, 1)] == [second.id]
        _assert_sound(store)


def check_special_characters_inert(factory: StoreFactory) -> None:
    """SQL and FTS5 syntax in terms and labels is matched as text, never run."""
    text = "quote ' and \" NEAR AND OR NOT ^ : ( ) - * '; DROP TABLE engrams; -- ü 🎉 日本語"
    with _opened(factory) as store:
        records = [
            make_record(label, text, session=label, speaker=label) for label in SPECIAL_LABELS
        ]
        plain = make_record("x", "ordinary memory", session="x")
        store.insert([*records, plain])
        for record in records:
            engram = store.get(record.namespace, record.id)
            _assert_engram_is(engram, record)
            assert [e.id for e in store.iter_engrams(record.namespace)] == [record.id]
            for term in SPECIAL_TERMS:
                found = _lexical(store, record.namespace, term)
                assert set(found) <= {record.id}, f"term {term!r} crossed namespaces"
            assert _lexical(store, record.namespace, "NEAR") == [record.id]
            assert _lexical(store, record.namespace, "DROP") == [record.id]
            assert _dense(store, record.namespace, record.vector) == [record.id]
        assert store.lexical_search("x", list(SPECIAL_TERMS), 10) == []
        assert _lexical(store, "x", "ordinary") == [plain.id]
        assert store.namespaces() == sorted([*SPECIAL_LABELS, "x"])
        assert store.forget_namespace("'; DROP TABLE engrams; --") == 1
        assert store.stats("x").engrams == 1
        _assert_sound(store)


def check_reindex_keeps_results(factory: StoreFactory) -> None:
    """Rebuilding the derived indexes gives the same lexical and vector results."""
    words = ["river", "stone", "bread", "lamp", "cloud", "violin", "garden", "engine"]
    records = [
        make_record(ns, f"{words[i % 8]} {words[(i * 3) % 8]} {words[(i * 5 + 1) % 8]} {i}")
        for ns in ("a", "b")
        for i in range(12)
    ]
    probes = [EMBEDDER.embed([w])[0] for w in words[:4]] + [records[0].vector]

    def snapshot(store: Store) -> list[list[tuple[str, float]]]:
        results = [store.lexical_search(ns, [w], 50) for ns in ("a", "b") for w in words]
        results += [store.vector_search(ns, p, 50) for ns in ("a", "b") for p in probes]
        return [[(c.id, round(c.score, 5)) for c in found] for found in results]

    with _opened(factory) as store:
        store.insert(records)
        before = snapshot(store)
        assert store.reindex() == len(records)
        assert snapshot(store) == before, "reindex() changed search results"
        assert store.reindex("a") == 12
        assert snapshot(store) == before, "reindex(namespace) changed search results"
        assert store.reindex("nobody") == 0
        _assert_sound(store)


def check_sound_store_checks_clean(factory: StoreFactory) -> None:
    """``check()`` is empty on an empty store and after ordinary writes."""
    with _opened(factory) as store:
        _assert_sound(store)
        records = [make_record("ns", f"memory {i}", session="s") for i in range(5)]
        store.insert(records)
        store.delete("ns", records[2].id)
        _assert_sound(store)


def check_closed_store_raises(factory: StoreFactory) -> None:
    """Every method of a closed store raises ``StoreError``; closing twice is harmless."""
    store = factory()
    record = make_record("ns", "before closing", session="s")
    store.insert([record])
    store.close()
    store.close()
    rid, vector = record.id, record.vector
    calls: dict[str, Callable[[], object]] = {
        "insert": lambda: store.insert([make_record("ns", "after closing")]),
        "update": lambda: store.update(
            "ns",
            rid,
            text="x",
            speaker=None,
            metadata={},
            occurred_at=T0,
            vector=vector,
            model_id=EMBEDDER.model_id,
            keys="",
            now=T0,
        ),
        "delete": lambda: store.delete("ns", rid),
        "forget_namespace": lambda: store.forget_namespace("ns"),
        "restore": lambda: store.restore(
            make_record("ns", "x"), [VersionRecord(1, "x", None, {}, T0, T0, None)]
        ),
        "get_many": lambda: store.get_many("ns", [rid]),
        "get": lambda: store.get("ns", rid),
        "history": lambda: store.history("ns", rid),
        "neighbours": lambda: store.neighbours("ns", rid, 1, 1),
        "lexical_search": lambda: store.lexical_search("ns", ["closing"], 5),
        "vector_search": lambda: store.vector_search("ns", vector, 5),
        "vectors": lambda: store.vectors("ns", [rid]),
        "iter_engrams": lambda: list(store.iter_engrams()),
        "namespaces": store.namespaces,
        "stats": lambda: store.stats("ns"),
        "model_ids": store.model_ids,
        "reindex": store.reindex,
        "check": store.check,
    }
    for name, call in calls.items():
        try:
            call()
        except StoreError:
            continue
        raise AssertionError(f"{name}() on a closed store did not raise StoreError")


def check_neighbours_order(factory: StoreFactory) -> None:
    """Neighbours are the turns around a memory in its own session, in insertion order."""
    s1 = [make_record("ns", f"first session turn {i}", session="s1") for i in range(5)]
    s2 = [make_record("ns", f"second session turn {i}", session="s2") for i in range(2)]
    loose = make_record("ns", "no session at all")
    with _opened(factory) as store:
        # interleaved batches: order within a session is still insertion order
        store.insert([s1[0], s2[0], s1[1], loose])
        store.insert([s1[2], s2[1]])
        store.insert([s1[3], s1[4]])

        def around(record: EngramRecord, before: int, after: int) -> list[str]:
            return [e.id for e in store.neighbours("ns", record.id, before, after)]

        ids = [r.id for r in s1]
        assert around(s1[2], 1, 1) == [ids[1], ids[3]]
        assert around(s1[0], 2, 2) == ids[1:3]
        assert around(s1[4], 10, 0) == ids[:4]
        assert around(s1[2], 0, 0) == []
        assert around(s2[0], 5, 5) == [s2[1].id]
        assert around(loose, 5, 5) == []
        assert store.neighbours("ns", "f" * 32, 1, 1) == []


def check_vectors_round_trip(factory: StoreFactory) -> None:
    """``vectors()`` returns what was stored (int8 error only), in the order asked."""
    rng = np.random.default_rng(7)
    raw = rng.standard_normal((6, DIMS)).astype(np.float32)
    raw[0] = 0.0
    raw[0, 3] = 1.0  # a one-hot vector: quantisation must not distort it
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    records = [make_record("ns", f"vector {i}", vector=unit[i]) for i in range(6)]
    with _opened(factory) as store:
        store.insert(records)
        ids = [r.id for r in reversed(records)] + ["f" * 32]
        got = store.vectors("ns", ids)
        assert got.shape == (7, DIMS)
        assert got.dtype == np.float32
        assert not got[-1].any(), "an unknown id did not give a row of zeros"
        expected = unit[::-1]
        cosines = np.sum(got[:-1] * expected, axis=1) / np.linalg.norm(got[:-1], axis=1)
        assert float(cosines.min()) >= 0.999, f"stored vectors drifted: {cosines}"
        assert np.allclose(np.linalg.norm(got[:-1], axis=1), 1.0, atol=1e-3)
        assert store.vectors("ns", []).shape == (0, DIMS)


def check_iter_engrams_order(factory: StoreFactory) -> None:
    """``iter_engrams`` yields current memories in insertion order, across pages."""
    with _opened(factory) as store:
        order: list[EngramRecord] = []
        for start in range(0, 1_100, 275):
            batch = [make_record("ab"[i % 2], f"memory {i}") for i in range(start, start + 275)]
            store.insert(batch)
            order.extend(batch)
        assert [e.id for e in store.iter_engrams()] == [r.id for r in order]
        for ns in ("a", "b"):
            assert [e.id for e in store.iter_engrams(ns)] == [
                r.id for r in order if r.namespace == ns
            ]
        store.update(
            "a",
            order[0].id,
            text="changed",
            speaker=None,
            metadata={},
            occurred_at=T0,
            vector=order[0].vector,
            model_id=EMBEDDER.model_id,
            keys="",
            now=T0 + timedelta(hours=1),
        )
        first = next(iter(store.iter_engrams("a")))
        assert (first.id, first.text, first.version) == (order[0].id, "changed", 2)
        assert list(store.iter_engrams("nobody")) == []


def check_forget_namespace(factory: StoreFactory) -> None:
    """``forget_namespace`` removes all of one namespace, returns its count, spares the rest."""
    a = [make_record("a", f"alpha memory {i}", session="s") for i in range(3)]
    b = [make_record("b", f"alpha memory {i}", session="s") for i in range(2)]
    with _opened(factory) as store:
        store.insert(a + b)
        _dense(store, "a", a[0].vector)  # load any derived index before the erasure
        store.update(
            "a",
            a[0].id,
            text="alpha edited",
            speaker=None,
            metadata={},
            occurred_at=T0,
            vector=a[0].vector,
            model_id=EMBEDDER.model_id,
            keys="",
            now=T0 + timedelta(hours=1),
        )
        assert store.forget_namespace("a") == 3
        assert store.forget_namespace("a") == 0
        assert store.forget_namespace("nobody") == 0
        stats = store.stats("a")
        assert (stats.engrams, stats.versions, stats.sessions) == (0, 0, 0)
        assert stats.first_occurred_at is None
        assert stats.last_occurred_at is None
        assert list(store.iter_engrams("a")) == []
        assert _lexical(store, "a", "alpha") == []
        assert _dense(store, "a", a[0].vector) == []
        assert store.get_many("a", [r.id for r in a]) == {}
        assert store.namespaces() == ["b"]
        assert sorted(_lexical(store, "b", "alpha")) == sorted(r.id for r in b)
        assert set(_dense(store, "b", a[0].vector)) == {r.id for r in b}
        # the namespace can be used again and holds only what is new
        again = make_record("a", "alpha reborn", session="s")
        store.insert([again])
        assert _lexical(store, "a", "alpha") == [again.id]
        assert _dense(store, "a", a[1].vector) == [again.id]
        _assert_sound(store)


def check_ann_search(factory: StoreFactory) -> None:
    """Above the ANN threshold a stored vector still finds itself first; deletes stay gone;
    ``few_matching`` gives the stored vectors' directions."""
    rng = np.random.default_rng(11)
    raw = rng.standard_normal((90, DIMS)).astype(np.float32)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    records = [make_record("ns", f"point {i}", vector=unit[i]) for i in range(90)]
    small = make_record("other", "elsewhere", vector=unit[0])
    with _opened(factory, ann_threshold=50) as store:
        store.insert([*records[:60], small])
        assert _dense(store, "ns", unit[0], 5)[0] == records[0].id  # builds the index
        store.insert(records[60:])  # added to a built index
        for i in (0, 17, 59, 60, 89):
            (best, *_) = store.vector_search("ns", unit[i], 5)
            assert best.id == records[i].id, f"ANN missed point {i}"
            assert best.score > 0.99, f"point {i} scored {best.score} against itself"
        assert records[0].id not in _dense(store, "other", unit[0])
        for i in (17, 60):
            store.delete("ns", records[i].id)
            assert records[i].id not in _dense(store, "ns", unit[i], 10), "deleted id returned"
        moved = unit[5] * -1.0
        store.update(
            "ns",
            records[3].id,
            text="moved",
            speaker=None,
            metadata={},
            occurred_at=T0,
            vector=moved,
            model_id=EMBEDDER.model_id,
            keys="",
            now=T0 + timedelta(hours=1),
        )
        assert _dense(store, "ns", moved, 3)[0] == records[3].id
        assert _dense(store, "ns", unit[3], 1) != [records[3].id], "the old vector was kept"
        assert len(store.vector_search("ns", unit[1], 1_000)) == 88
        later = Filter(occurred_before=T0 + timedelta(minutes=1))
        few = store.few_matching("ns", later, 100)
        assert few is not None
        assert few[0] == store.matching("ns", later)
        assert np.allclose(_unit(few[1]), _unit(store.vectors("ns", few[0])), atol=1e-2)
        _assert_sound(store)


def check_nearest_scores_match_vector_search(factory: StoreFactory) -> None:
    """``nearest_scores`` gives each vector ``vector_search(..., 1)``'s score (0 in an
    empty namespace), below and above the ANN threshold, within its namespace only."""
    rng = np.random.default_rng(13)
    raw = rng.standard_normal((80, DIMS)).astype(np.float32)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    queries = np.concatenate([unit[:5], unit[5:10] + 0.3 * unit[10:15], -unit[20:22]])
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    with _opened(factory, ann_threshold=50) as store:
        assert not store.nearest_scores("ns", queries).any(), "an empty namespace scored"
        assert store.nearest_scores("ns", queries[:0]).shape == (0,)
        store.insert([make_record("other", "elsewhere", vector=queries[10])])
        for end in (30, 80):  # exact, then past the threshold
            start = store.stats("ns").engrams
            more = [make_record("ns", f"point {i}", vector=unit[i]) for i in range(start, end)]
            store.insert(more)
            expected = [store.vector_search("ns", q, 1)[0].score for q in queries]
            got = store.nearest_scores("ns", queries)
            assert got.shape == (len(queries),)
            assert np.allclose(got, expected, atol=1e-5), f"{got} != {expected}"
            assert float(got[0]) > 0.99, "a stored vector did not find itself"
            assert float(got[10]) < 0.9, "another namespace's memory was nearest"


# -- consolidation (docs/consolidation.md) ------------------------------------------------------

_DAY = timedelta(days=1)


def _fact_batch(
    namespace: str, episode: Engram, *, fact_id: str, value: str, at: datetime
) -> ConsolidationBatch:
    record = make_record(
        namespace, f"{episode.speaker} lives in {value}", speaker=episode.speaker,
        occurred_at=at, kind="fact", engram_id=fact_id,
    )  # fmt: skip
    return ConsolidationBatch(
        namespace=namespace,
        episodes=((episode.id, episode.version),),
        now=at,
        inserts=(record,),
        facts=(FactRow(fact_id, "Maya", "residence", value, at, None, "current"),),
        links=(Link(fact_id, episode.id, "extracted"),),
    )


def check_consolidation_round_trip(factory: StoreFactory) -> None:
    """A batch writes facts, links and marks at once; a batch already consumed is refused."""
    with _opened(factory) as store:
        first = make_record("ns", "I live in Boston", speaker="Maya")
        second = make_record("ns", "I moved to Denver", speaker="Maya", occurred_at=T0 + _DAY)
        store.insert([first, second])
        assert store.pending_count("ns") == 2
        assert [e.id for e in store.pending_episodes("ns", 10)] == [first.id, second.id]
        episode = store.get("ns", first.id)
        assert episode is not None
        batch = _fact_batch("ns", episode, fact_id="f" * 32, value="Boston", at=T0)
        assert store.apply_consolidation(batch) is True
        assert store.apply_consolidation(batch) is False  # consumed: nothing written twice
        assert [e.id for e in store.pending_episodes("ns", 10)] == [second.id]
        assert store.pending_count("ns") == 1
        later = store.get("ns", second.id)
        assert later is not None
        change = FactChange("f" * 32, T0 + _DAY, "superseded", "e" * 32)
        step = _fact_batch("ns", later, fact_id="e" * 32, value="Denver", at=T0 + _DAY)
        assert store.apply_consolidation(
            ConsolidationBatch(**{**_fields(step), "changes": (change,)})
        )
        facts = store.facts("ns", subject="Maya", attribute="residence")
        assert [(f.value, f.status, f.valid_to) for f in facts] == [
            ("Boston", "superseded", T0 + _DAY),
            ("Denver", "current", None),
        ]
        assert facts[0].sources == (first.id,)
        assert facts[0].superseded_by == "e" * 32
        assert facts[0].invalidated_at is not None
        assert facts[1].invalidated_at is None
        assert {(k.derived_id, k.source_id) for k in store.links("ns")} == {
            ("f" * 32, first.id),
            ("e" * 32, second.id),
        }
        assert store.get("ns", "f" * 32) is not None  # a fact is a memory
        assert store.facts("other") == []
        assert store.links("other") == []


def check_consolidation_batch_is_one_transaction(factory: StoreFactory) -> None:
    """A batch naming a memory that does not exist writes nothing, marks nothing."""
    with _opened(factory) as store:
        episode_record = make_record("ns", "I live in Boston", speaker="Maya")
        store.insert([episode_record])
        episode = store.get("ns", episode_record.id)
        assert episode is not None
        batch = _fact_batch("ns", episode, fact_id="f" * 32, value="Boston", at=T0)
        broken = ConsolidationBatch(
            **{**_fields(batch), "links": (*batch.links, Link("f" * 32, "9" * 32, "extracted"))}
        )
        try:
            store.apply_consolidation(broken)
        except StoreError:
            pass
        else:
            raise AssertionError("a batch linking to a missing memory must fail")
        assert store.get("ns", "f" * 32) is None
        assert store.facts("ns") == []
        assert store.links("ns") == []
        assert store.pending_count("ns") == 1


def check_consolidation_restores_into_another_store(factory: StoreFactory) -> None:
    """Facts, links and consumed marks read from one store and restored into another
    (after their memories) come back equal; a restore naming a missing memory
    writes nothing."""
    with _opened(factory) as source, _opened(factory) as target:
        first = make_record("ns", "I live in Boston", speaker="Maya")
        source.insert([first])
        episode = source.get("ns", first.id)
        assert episode is not None
        assert source.apply_consolidation(
            _fact_batch("ns", episode, fact_id="f" * 32, value="Boston", at=T0)
        )
        facts, links, consumed = source.facts("ns"), source.links("ns"), source.consumed("ns")
        assert consumed == {first.id: 1}
        copies = []
        for e in source.iter_engrams("ns"):
            record = make_record(
                "ns", e.text, speaker=e.speaker, metadata=e.metadata,
                occurred_at=e.occurred_at, kind=e.kind, engram_id=e.id,
            )  # fmt: skip
            versions = [
                VersionRecord(
                    version=v.version,
                    text=v.text,
                    speaker=v.speaker,
                    metadata=v.metadata,
                    occurred_at=v.occurred_at,
                    valid_from=v.valid_from,
                    valid_to=v.valid_to,
                )
                for v in source.history("ns", e.id)
            ]
            copies.append((record, versions))
        target.restore_many(copies)
        assert target.pending_count("ns") == 1  # not consumed until the marks come back
        try:
            target.restore_consolidation("ns", facts, [Link("f" * 32, "9" * 32, "extracted")], {})
        except StoreError:
            pass
        else:
            raise AssertionError("a restore naming a missing memory must fail")
        assert target.facts("ns") == []
        target.restore_consolidation("ns", facts, links, consumed)
        assert target.facts("ns") == facts
        assert target.links("ns") == links
        assert target.consumed("ns") == consumed
        assert target.pending_count("ns") == 0
        _assert_sound(target)


def check_delete_takes_every_memory_derived_from_it(factory: StoreFactory) -> None:
    """Deleting a source removes every fact and summary derived from it, transitively,
    even those that other memories back too (they may hold its words), never other
    episodes; the remaining episode sources of what went are pending again, those of a
    fact deleted by name are not (docs/security.md)."""
    with _opened(factory) as store:
        a = make_record("ns", "I live in Boston", speaker="Maya")
        b = make_record("ns", "Boston is my home", speaker="Maya")
        c = make_record("ns", "I work at Stripe", speaker="Maya")
        store.insert([a, b, c])
        ea, eb, ec = (store.get("ns", r.id) for r in (a, b, c))
        assert ea is not None
        assert eb is not None
        assert ec is not None
        shared = _fact_batch("ns", ea, fact_id="f" * 32, value="Boston", at=T0)
        job = _fact_batch("ns", ec, fact_id="e" * 32, value="Stripe", at=T0)
        situation = make_record("ns", "works at Stripe, lives in Boston", kind="fact")
        summary = make_record("ns", "summary", kind="summary", engram_id="5" * 32)
        store.apply_consolidation(
            ConsolidationBatch(
                **{
                    **_fields(shared),
                    "episodes": ((ea.id, ea.version), (eb.id, eb.version), (ec.id, ec.version)),
                    "inserts": (*shared.inserts, *job.inserts, situation, summary),
                    "facts": (
                        *shared.facts,
                        *job.facts,
                        FactRow(
                            situation.id, "Maya", "situation", situation.text, T0, None, "current"
                        ),
                    ),
                    "links": (
                        *shared.links,
                        Link("f" * 32, b.id, "extracted"),
                        *job.links,
                        Link(situation.id, "f" * 32, "derived"),
                        Link(situation.id, "e" * 32, "derived"),
                        Link("5" * 32, a.id, "summarizes"),
                        Link("5" * 32, b.id, "summarizes"),
                        Link(b.id, a.id, "duplicate"),
                    ),
                }
            )
        )
        assert store.pending_count("ns") == 0
        store.delete("ns", a.id)
        # b still backs the fact, the other fact backs the situation: both go anyway
        left = {e.id for e in store.iter_engrams("ns")}
        assert left == {b.id, c.id, "e" * 32}  # an episode is never taken along
        assert [f.engram_id for f in store.facts("ns")] == ["e" * 32]
        assert store.links("ns") == [Link("e" * 32, c.id, "extracted")]
        # b is consolidated again; c, whose fact stays, is not
        assert [e.id for e in store.pending_episodes("ns", 10)] == [b.id]
        assert store.pending_count("ns") == 1
        store.delete("ns", "e" * 32)  # a fact deleted by name: its source stays consumed
        assert store.pending_count("ns") == 1
        assert store.check() == []


def check_delete_many_is_one_delete_of_several(factory: StoreFactory) -> None:
    """``delete_many`` removes the given memories of the namespace and what they take
    along, as ``delete`` does one by one: the given ids first, in their order, then the
    derived; a fact derived from two of them goes with both. Ids of another namespace,
    unknown or repeated ids change nothing; ``dry_run`` returns the same list and
    removes nothing."""
    with _opened(factory) as store:
        a = make_record("ns", "I live in Boston", speaker="Maya")
        b = make_record("ns", "Boston is my home", speaker="Maya")
        c = make_record("ns", "I like tea", speaker="Maya")
        other = make_record("other", "I live in Boston", speaker="Maya")
        store.insert([a, b, c, other])
        ea, eb = store.get("ns", a.id), store.get("ns", b.id)
        assert ea is not None
        assert eb is not None
        fact = _fact_batch("ns", ea, fact_id="f" * 32, value="Boston", at=T0)
        store.apply_consolidation(
            ConsolidationBatch(
                **{
                    **_fields(fact),
                    "episodes": ((ea.id, ea.version), (eb.id, eb.version)),
                    "links": (*fact.links, Link("f" * 32, b.id, "extracted")),
                }
            )
        )
        asked = [b.id, other.id, "0" * 32, a.id, b.id]
        planned = store.delete_many("ns", asked, dry_run=True)
        assert planned == [b.id, a.id, "f" * 32]
        assert {e.id for e in store.iter_engrams("ns")} == {a.id, b.id, c.id, "f" * 32}
        assert store.delete_many("ns", asked) == planned
        assert [e.id for e in store.iter_engrams("ns")] == [c.id]
        assert store.get("other", other.id) is not None
        assert _lexical(store, "ns", "boston") == []
        assert store.facts("ns") == []
        assert store.delete_many("ns", [a.id]) == []
        assert store.delete_many("ns", []) == []
        _assert_sound(store)


def _fields(batch: ConsolidationBatch) -> dict[str, Any]:
    return {name: getattr(batch, name) for name in ConsolidationBatch.__dataclass_fields__}


def check_dynamics_round_trip(factory: StoreFactory) -> None:
    """A memory's dynamics come back as written, on the memory and in the catalog."""
    with _opened(factory) as store:
        plain = make_record("ns", "plain")
        strong = replace(
            make_record("ns", "strong"),
            importance=0.9,
            stability_days=123.5,
            valence=-0.5,
            arousal=0.75,
            emotion="sadness",
        )
        store.insert([plain, strong])
        got = store.get_many("ns", [plain.id, strong.id])
        p, s = got[plain.id], got[strong.id]
        assert (p.importance, p.stability_days, p.emotion) == (
            plain.importance,
            plain.stability_days,
            "neutral",
        )
        assert (s.importance, s.stability_days, s.valence, s.arousal, s.emotion) == (
            0.9,
            123.5,
            -0.5,
            0.75,
            "sadness",
        )
        assert (s.recalls, s.last_recalled_at, s.dormant) == (0, None, False)
        dynamics = store.catalog("ns").dynamics
        assert dynamics is not None, "the catalog carries no dynamics"
        row = store.catalog("ns").ids.index(strong.id)
        assert dynamics.stability_days[row] == 123.5
        assert dynamics.emotions[row] == "sadness"
        assert dynamics.last_used_at[row] == strong.occurred_at.timestamp()
        assert dynamics.sizes[row] == len(b"strong")
        assert not dynamics.dormant.any()


def check_active_is_what_a_fade_weighs(factory: StoreFactory) -> None:
    """``active`` gives the namespace's memories that are not dormant, in insertion
    order, each with its last use (the later of event and recall), stability,
    importance and text bytes: what the catalog says of them."""
    with _opened(factory) as store:
        records = [
            replace(make_record("ns", text, occurred_at=T0 + i * _DAY), importance=0.1 * i)
            for i, text in enumerate(("first", "twø", "third one", "fourth"))
        ]
        store.insert([*records, make_record("other", "elsewhere")])
        recalled = T0 + 10 * _DAY
        store.set_dynamics(
            "ns",
            [
                DynamicsUpdate(records[1].id, dormant=True),
                DynamicsUpdate(records[2].id, stability_days=40.0, last_recalled_at=recalled),
            ],
        )
        active = store.active("ns")
        assert active.ids == (records[0].id, records[2].id, records[3].id)
        assert list(active.last_used_at) == [
            T0.timestamp(),
            recalled.timestamp(),
            (T0 + 3 * _DAY).timestamp(),
        ]
        assert list(active.stability_days)[1] == 40.0
        assert np.allclose(active.importance, [0.0, 0.2, 0.3])
        assert list(active.sizes) == [len(b"first"), len(b"third one"), len(b"fourth")]
        expected = Active.of(store.catalog("ns"))
        assert active.ids == expected.ids
        for name in ("last_used_at", "stability_days", "importance", "sizes"):
            assert np.array_equal(getattr(active, name), getattr(expected, name)), name
        assert len(store.active("nobody")) == 0


def check_set_dynamics_is_partial_and_isolated(factory: StoreFactory) -> None:
    """set_dynamics changes only the given fields of the given namespace's memories."""
    with _opened(factory) as store:
        a, b = make_record("ns", "alpha"), make_record("ns", "beta")
        other = make_record("other", "alpha")
        store.insert([a, b, other])
        store.catalog("ns")  # a cached catalog must see the change too
        recalled = T0 + timedelta(days=3)
        changed = store.set_dynamics(
            "ns",
            [
                DynamicsUpdate(a.id, stability_days=40.0, recalls=2, last_recalled_at=recalled),
                DynamicsUpdate(b.id, dormant=True),
                DynamicsUpdate(other.id, dormant=True),  # another namespace: skipped
                DynamicsUpdate("f" * 32, dormant=True),  # unknown: skipped
            ],
        )
        assert changed == 2, f"set_dynamics reported {changed} changes, expected 2"
        got = store.get_many("ns", [a.id, b.id])
        assert (got[a.id].stability_days, got[a.id].recalls) == (40.0, 2)
        assert got[a.id].last_recalled_at == recalled
        assert not got[a.id].dormant
        assert got[a.id].importance == a.importance, "an unset field changed"
        assert got[b.id].dormant
        assert got[b.id].stability_days == b.stability_days
        assert not store.get_many("other", [other.id])[other.id].dormant, "namespace leaked"
        catalog = store.catalog("ns")
        assert catalog.dynamics is not None
        row = catalog.ids.index(a.id)
        assert catalog.dynamics.stability_days[row] == 40.0
        assert catalog.dynamics.last_used_at[row] == recalled.timestamp()
        assert catalog.dynamics.dormant[catalog.ids.index(b.id)]
        assert [e.text for e in store.iter_engrams("ns")] == ["alpha", "beta"], "a memory went"
        store.delete("ns", b.id)
        assert store.set_dynamics("ns", [DynamicsUpdate(b.id, dormant=False)]) == 0
        _assert_sound(store)


def check_catalog_dynamics_match_the_memories(factory: StoreFactory) -> None:
    """A cached catalog's dynamics, patched by ``set_dynamics`` or rebuilt, say what
    each memory says of itself; a recall before the event leaves the curve at the event."""
    with _opened(factory) as store:
        early = replace(
            make_record("ns", "early", occurred_at=T0 + timedelta(days=10)), emotion="joy"
        )
        records = [make_record("ns", "plain"), early, make_record("ns", "untouched")]
        store.insert(records)
        store.catalog("ns")  # cached before the change
        store.set_dynamics(
            "ns",
            [
                DynamicsUpdate(records[0].id, importance=0.25, last_recalled_at=T0 + timedelta(1)),
                DynamicsUpdate(early.id, recalls=3, last_recalled_at=T0, dormant=True),
            ],
        )
        store.insert([make_record("ns", "added after")])  # an insert after the patch
        catalog = store.catalog("ns")
        assert catalog.dynamics is not None, "the catalog carries no dynamics"
        engrams = store.get_many("ns", list(catalog.ids))
        for row, engram_id in enumerate(catalog.ids):
            e, d = engrams[engram_id], catalog.dynamics
            in_catalog = (
                float(d.stability_days[row]),
                float(d.importance[row]),
                float(d.valence[row]),
                float(d.arousal[row]),
                d.emotions[row],
                float(d.last_used_at[row]),
                int(d.recalls[row]),
                bool(d.dormant[row]),
            )
            on_memory = (
                e.stability_days,
                e.importance,
                e.valence,
                e.arousal,
                e.emotion,
                e.last_used_at.timestamp(),
                e.recalls,
                e.dormant,
            )
            assert in_catalog == on_memory, f"{e.text!r}: catalog {in_catalog} != {on_memory}"
        assert catalog.dynamics.last_used_at[catalog.ids.index(early.id)] == (
            early.occurred_at.timestamp()
        ), "a recall before the event moved the curve's start back"


def check_budget_round_trip(factory: StoreFactory) -> None:
    """A budget reads back as set, per namespace; both None or forget_namespace remove it."""
    with _opened(factory) as store:
        assert store.budget("a") is None, "a new namespace has a budget"
        store.set_budget("a", 3, None)
        store.set_budget("b", None, 1_000)
        assert store.budget("a") == (3, None)
        assert store.budget("b") == (None, 1_000)
        store.set_budget("a", 5, 2_048)  # replaces, never adds a second budget
        assert store.budget("a") == (5, 2_048)
        assert store.budget("b") == (None, 1_000), "a budget leaked into another namespace"
        store.set_budget("a", None, None)
        assert store.budget("a") is None, "both None did not remove the budget"
        store.set_budget("a", None, None)  # removing what is not there is no error
        store.set_budget("a", 0, 0)
        assert store.budget("a") == (0, 0)
        store.insert([make_record("b", "alpha")])
        store.forget_namespace("b")
        assert store.budget("b") is None, "forget_namespace left the budget behind"
        assert store.budget("a") == (0, 0)
        _assert_sound(store)


def check_expiry_round_trip(factory: StoreFactory) -> None:
    """Expiry (docs/expiry.md): a record's ``expires_at`` reads back as written,
    ``set_expiry`` moves or clears it without a new version, ``expired`` names what
    expired at a time (none of another namespace), every filtered read with
    ``unexpired_at`` leaves it out, and a TTL reads back, per namespace, until removed
    or the namespace is forgotten."""
    soon, later = T0 + timedelta(hours=1), T0 + timedelta(days=1)
    with _opened(factory) as store:
        a, b, c = (make_record("a", f"memory {n}") for n in ("one", "two", "three"))
        store.insert([replace(a, expires_at=soon), b, c])
        store.insert([replace(make_record("other", "elsewhere"), expires_at=soon)])
        assert store.get("a", a.id).expires_at == soon  # type: ignore[union-attr]
        assert store.get("a", b.id).expires_at is None  # type: ignore[union-attr]
        moved = store.set_expiry("a", b.id, later)
        assert (moved.expires_at, moved.version) == (later, 1)
        assert len(store.history("a", b.id)) == 1, "set_expiry wrote a version"
        assert store.expired("a", soon) == [a.id]
        assert store.expired("a", later) == [a.id, b.id]
        assert store.expired("a", later, 1) == [a.id]
        assert store.expired("a", T0) == []
        alive = Filter(unexpired_at=soon)
        assert store.matching("a", alive) == [b.id, c.id]
        assert store.count_matching("a", alive, 10) == 2
        assert [
            k.engram.id for k in store.page(PageQuery("a", "occurred_at", False, 10, alive))
        ] == [
            b.id,
            c.id,
        ]
        assert store.set_expiry("a", b.id, None).expires_at is None
        assert store.expired("a", later) == [a.id]
        try:
            store.set_expiry("a", "0" * 32, None)
        except NotFoundError:
            pass
        else:
            raise AssertionError("set_expiry of an unknown id raised nothing")
        assert store.ttl("a") is None
        store.set_ttl("a", 3_600.0)
        store.set_ttl("a", 7_200.0)  # replaces
        assert (store.ttl("a"), store.ttl("other")) == (7_200.0, None)
        store.set_ttl("a", None)
        assert store.ttl("a") is None
        store.set_ttl("other", 60.0)
        store.forget_namespace("other")
        assert store.ttl("other") is None, "forget_namespace left the TTL behind"
        _assert_sound(store)


def check_learned_round_trip(factory: StoreFactory) -> None:
    """What a namespace learned reads back by kind, oldest first; a key replaces its
    item; unlearn and forget_namespace remove it; no namespace sees another's."""
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    with _opened(factory) as store:
        assert store.learned("a", "feedback") == []
        store.insert([make_record("a", "alpha"), make_record("b", "beta")])
        later = Learned("feedback", "s1:m2", '{"reward": -1}', t0 + timedelta(seconds=1))
        store.learn("a", [later, Learned("feedback", "s1:m1", '{"reward": 1}', t0)])
        store.learn("a", [Learned("weights", "ranker", '{"dense": 2.0}', t0)])
        store.learn("b", [Learned("feedback", "s9:m9", '{"reward": 0.5}', t0)])
        got = store.learned("a", "feedback")
        assert [(i.key, i.value) for i in got] == [
            ("s1:m1", '{"reward": 1}'),
            ("s1:m2", '{"reward": -1}'),
        ]
        assert got[0].recorded_at == t0
        store.learn("a", [Learned("weights", "ranker", '{"dense": 3.0}', t0 + timedelta(1))])
        assert [i.value for i in store.learned("a", "weights")] == ['{"dense": 3.0}']
        assert [i.key for i in store.learned("b", "feedback")] == ["s9:m9"], "leaked"
        assert store.unlearn("a", ["weights"]) == 1
        assert store.learned("a", "weights") == []
        assert len(store.learned("a", "feedback")) == 2, "unlearn took another kind"
        store.forget_namespace("a")
        assert store.learned("a", "feedback") == [], "forget_namespace left what it learned"
        assert [i.key for i in store.learned("b", "feedback")] == ["s9:m9"]
        _assert_sound(store)


def check_usage_counts_active_memories(factory: StoreFactory) -> None:
    """``usage`` is a namespace's active memories and their texts' UTF-8 bytes through
    every write (insert, update, putting aside and waking, delete, restore, forget),
    what its catalog says, in each namespace apart."""
    texts = ["alpha", "bêta ünïcode 🙂", "gamma " * 20, "delta"]
    a = [make_record("a", text) for text in texts]
    size = [len(text.encode("utf-8")) for text in texts]
    with _opened(factory) as store:
        assert store.usage("a") == (0, 0)
        store.insert([*a, make_record("b", "elsewhere")])
        assert store.usage("a") == (4, sum(size))
        assert store.usage("b") == (1, 9)
        store.update(
            "a",
            a[0].id,
            text="alpha, now longer",
            speaker=None,
            metadata={},
            occurred_at=T0,
            vector=a[0].vector,
            model_id=EMBEDDER.model_id,
            keys="",
            now=T0 + timedelta(hours=1),
        )
        size[0] = len(b"alpha, now longer")
        assert store.usage("a") == (4, sum(size))
        store.set_dynamics("a", [DynamicsUpdate(a[1].id, dormant=True)])
        store.set_dynamics("a", [DynamicsUpdate(a[1].id, dormant=True, recalls=2)])  # again
        store.set_dynamics("a", [DynamicsUpdate(a[2].id, recalls=1, importance=0.9)])
        assert store.usage("a") == (3, size[0] + size[2] + size[3])
        store.delete("a", a[3].id)
        store.delete("a", a[1].id)  # dormant: it was not counted
        assert store.usage("a") == (2, size[0] + size[2])
        store.restore_many(
            [(make_record("a", "restored"), [VersionRecord(1, "restored", None, {}, T0, T0, None)])]
        )
        assert store.usage("a") == (3, size[0] + size[2] + 8)
        assert store.usage("a") == Store.usage(store, "a"), "the kept totals left the catalog's"
        assert store.usage("b") == (1, 9), "another namespace's writes moved this one"
        store.forget_namespace("a")
        assert store.usage("a") == (0, 0)
        store.insert([make_record("a", "again")])
        assert store.usage("a") == (1, 5)
        _assert_sound(store)


# -- candidates of a two-stage search (docs/recall.md) ------------------------


def check_catalog_of_matches_catalog(factory: StoreFactory) -> None:
    """``catalog_of`` holds the rows ``catalog`` holds for those ids, in insertion
    order; unknown ids and other namespaces' are left out; ``count`` stops at its limit."""
    with _opened(factory) as store:
        records = [
            make_record(
                "ns", f"turn {i} about topic{i}", session=("s1", "s2", None)[i % 3],
                speaker="Ann" if i % 2 else None, occurred_at=T0 + timedelta(hours=i),
                keys=f"key{i}",
            )
            for i in range(7)
        ]  # fmt: skip
        other = make_record("other", "elsewhere", session="s1")
        store.insert([*records, other])
        store.set_dynamics("ns", [DynamicsUpdate(records[4].id, importance=0.9, dormant=True)])
        full = store.catalog("ns")
        wanted = [records[5].id, records[4].id, records[1].id, other.id, "missing", records[0].id]
        sub = store.catalog_of("ns", wanted)
        expected = [records[i].id for i in (0, 1, 4, 5)]
        assert list(sub.ids) == expected, f"catalog_of gave {sub.ids}"
        rows = [full.ids.index(i) for i in expected]
        assert sub.documents == tuple(full.documents[r] for r in rows)
        kept = full.analyses or (None,) * len(full)  # what the backend keeps for recall
        assert (sub.analyses or (None,) * len(sub)) == tuple(kept[r] for r in rows)
        assert sub.speakers == tuple(full.speakers[r] for r in rows)
        assert list(sub.seq) == [int(full.seq[r]) for r in rows]
        assert list(sub.occurred_at) == [float(full.occurred_at[r]) for r in rows]
        kinds = full.kinds or ("episode",) * len(full)
        assert (sub.kinds or ("episode",) * len(sub)) == tuple(kinds[r] for r in rows)
        assert np.allclose(sub.vectors, full.vectors[rows], atol=1e-6), "vectors differ"
        same = [[a == b for b in sub.session] for a in sub.session]
        assert same == [[full.session[a] == full.session[b] for b in rows] for a in rows]
        assert [s < 0 for s in sub.session] == [full.session[r] < 0 for r in rows]
        assert sub.dynamics is not None
        assert full.dynamics is not None
        assert list(sub.dynamics.importance) == [full.dynamics.importance[r] for r in rows]
        assert list(sub.dynamics.dormant) == [full.dynamics.dormant[r] for r in rows]
        assert len(store.catalog_of("ns", [])) == 0
        assert store.catalog_of("ns", [other.id]).ids == ()
        twice = [records[2].id, records[2].id]
        assert store.catalog_of("ns", twice).ids == (records[2].id,), "an id read twice"
        assert [store.count("ns", n) for n in (0, 3, 7, 100)] == [0, 3, 7, 7]
        assert store.count("nobody", 10) == 0


def check_around_reads_session_turns(factory: StoreFactory) -> None:
    """``around`` gives the memories themselves and the turns within ``span`` of
    each in its session, in insertion order, and nothing of another session or
    namespace."""
    with _opened(factory) as store:
        a = [make_record("ns", f"a{i}", session="s1") for i in range(5)]
        b = [make_record("ns", f"b{i}", session="s2") for i in range(3)]
        alone = make_record("ns", "no session")
        elsewhere = [make_record("other", f"x{i}", session="s1") for i in range(3)]
        store.insert([a[0], b[0], a[1], a[2], b[1], alone, a[3], b[2], a[4], *elsewhere])
        order = [a[0], b[0], a[1], a[2], b[1], alone, a[3], b[2], a[4]]

        def around(seeds: Sequence[EngramRecord], span: int) -> list[str]:
            return store.around("ns", [r.id for r in seeds], span)

        def ids(*chosen: EngramRecord) -> list[str]:
            return [r.id for r in order if r in chosen]

        assert around([a[2]], 1) == ids(a[1], a[2], a[3])
        assert around([a[0], b[2]], 1) == ids(a[0], a[1], b[1], b[2])
        assert around([a[2]], 0) == ids(a[2])
        assert around([a[2]], 100) == ids(*a)
        assert around([alone], 5) == ids(alone)
        assert around([elsewhere[1]], 5) == []
        assert store.around("other", [elsewhere[1].id], 1) == [r.id for r in elsewhere]


def check_occurred_between_is_a_time_window(factory: StoreFactory) -> None:
    """``occurred_between`` gives a namespace's memories with ``start <= occurred_at
    < end``, earliest first, at most ``limit``."""
    with _opened(factory) as store:
        days = [make_record("ns", f"day {i}", occurred_at=T0 + i * _DAY) for i in (3, 0, 5, 1, 2)]
        store.insert([*days, make_record("other", "day 2 elsewhere", occurred_at=T0 + 2 * _DAY)])
        by_day = {int(r.text.split()[1]): r.id for r in days}
        found = store.occurred_between("ns", T0 + _DAY, T0 + 3 * _DAY, 10)
        assert found == [by_day[1], by_day[2]], "the window is [start, end), earliest first"
        twin = make_record("ns", "day 1 again", occurred_at=T0 + _DAY)
        store.insert([twin])
        found = store.occurred_between("ns", T0 + _DAY, T0 + 2 * _DAY, 10)
        assert found == [by_day[1], twin.id], "equal times: the earlier written first"
        assert store.occurred_between("ns", T0, T0 + 10 * _DAY, 2) == [by_day[0], by_day[1]]
        assert store.occurred_between("ns", T0 + 6 * _DAY, T0 + 9 * _DAY, 10) == []
        assert store.occurred_between("nobody", T0, T0 + 10 * _DAY, 10) == []


def check_links_of_reads_either_end(factory: StoreFactory) -> None:
    """``links_of`` gives the links with one of the ids as source or derived memory."""
    with _opened(factory) as store:
        first = make_record("ns", "I live in Boston", speaker="Maya")
        second = make_record("ns", "I moved to Denver", speaker="Maya", occurred_at=T0 + _DAY)
        store.insert([first, second])
        episode = store.get("ns", first.id)
        assert episode is not None
        store.apply_consolidation(
            _fact_batch("ns", episode, fact_id="f" * 32, value="Boston", at=T0)
        )
        link = Link("f" * 32, first.id, "extracted")
        assert store.links_of("ns", [first.id]) == [link]
        assert store.links_of("ns", ["f" * 32, second.id]) == [link]
        assert store.links_of("ns", [first.id, "f" * 32]) == [link], "a link at both ends twice"
        assert store.links_of("ns", [second.id]) == []
        assert store.links_of("other", [first.id]) == []


def _facts_written(store: Store, namespace: str, said: Sequence[tuple[str, str, str]]) -> list[str]:
    """One episode and one fact per (subject, attribute, value), a day apart; the
    facts' ids."""
    ids = []
    for i, (subject, attribute, value) in enumerate(said):
        at = T0 + i * _DAY
        episode = make_record(namespace, f"{subject}: {attribute} {value}", occurred_at=at)
        fact_id = f"{namespace}{i}".encode().hex().ljust(32, "0")
        fact = make_record(
            namespace, f"{subject} {attribute} {value}", kind="fact", engram_id=fact_id,
            occurred_at=at,
        )  # fmt: skip
        store.insert([episode])
        assert store.apply_consolidation(
            ConsolidationBatch(
                namespace=namespace,
                episodes=((episode.id, 1),),
                now=at,
                inserts=(fact,),
                facts=(FactRow(fact_id, subject, attribute, value, at, None, "current"),),
                links=(Link(fact_id, episode.id, "extracted"),),
            )
        )
        ids.append(fact_id)
    return ids


def check_facts_of_reads_whole_timelines(factory: StoreFactory) -> None:
    """``facts_of`` gives the facts of the ids given and every fact that shares a subject
    and attribute (casefolded, stripped) with one of them or with a key given, ordered
    as ``facts`` orders them: ``facts`` filtered the same way, sources included."""
    with _opened(factory) as store:
        said = [
            ("Maya", "residence", "Boston"),
            ("maya ", "Residence", "Denver"),
            ("Maya", "employer", "Google"),
            ("Tom", "residence", "Lisbon"),
        ]
        ids = _facts_written(store, "ns", said)
        _facts_written(store, "other", [("Maya", "residence", "Rome")])
        every = store.facts("ns")

        def expected(*keys: tuple[str, str]) -> list[Any]:
            return [
                f for f in every if (f.subject.casefold().strip(), f.attribute.casefold()) in keys
            ]

        home = ("maya", "residence")
        assert store.facts_of("ns", [ids[0]]) == expected(home)
        assert store.facts_of("ns", [ids[1]]) == expected(home)
        assert store.facts_of("ns", keys=[(" MAYA", "RESIDENCE")]) == expected(home)
        both = store.facts_of("ns", [ids[2]], keys=[("Tom", "residence")])
        assert both == expected(("maya", "employer"), ("tom", "residence"))
        assert store.facts_of("ns", ids) == every
        assert all(f.sources for f in every)
        episode = next(e for e in store.iter_engrams("ns") if e.kind == "episode")
        assert store.facts_of("ns", [episode.id, "9" * 32]) == []  # not facts, unknown
        assert store.facts_of("ns") == []
        assert store.facts_of("ns", keys=[("Ann", "residence")]) == []
        assert store.facts_of("other", ids) == []  # another namespace's facts
        assert [f.value for f in store.facts_of("other", keys=[("Maya", "residence")])] == ["Rome"]


def check_pending_episodes_follow_changes(factory: StoreFactory) -> None:
    """An episode consumed and then changed (a new version) is pending again; one
    written after the newest row was deleted (a place a store may reuse) is pending;
    the others stay consumed."""
    with _opened(factory) as store:
        records = [make_record("ns", f"turn {i}", occurred_at=T0 + i * _DAY) for i in range(4)]
        store.insert(records)

        def consume(*ids: str) -> None:
            found = store.get_many("ns", ids)
            episodes = tuple((found[i].id, found[i].version) for i in ids)
            assert store.apply_consolidation(ConsolidationBatch("ns", episodes, T0))

        consume(*[r.id for r in records])
        assert (store.pending_count("ns"), store.pending_episodes("ns", 10)) == (0, [])
        text = "turn 1, corrected"
        store.update(
            "ns", records[1].id, text=text, speaker=None, metadata={}, occurred_at=T0 + _DAY,
            vector=EMBEDDER.embed([text])[0], model_id=EMBEDDER.model_id, keys="",
            now=T0 + 9 * _DAY,
        )  # fmt: skip
        assert [e.id for e in store.pending_episodes("ns", 10)] == [records[1].id]
        assert store.pending_count("ns") == 1
        consume(records[1].id)
        assert store.pending_count("ns") == 0
        store.delete("ns", records[3].id)
        late = make_record("ns", "a late turn")
        store.insert([late])
        assert [e.id for e in store.pending_episodes("ns", 10)] == [late.id]
        assert store.pending_count("ns") == 1


def check_latest_episodes_reads_a_window_from_its_end(factory: StoreFactory) -> None:
    """``latest_episodes`` gives a namespace's episodes with ``start <= occurred_at <=
    end``, latest first (the later written first among equal times), at most ``limit``."""
    with _opened(factory) as store:
        days = [make_record("ns", f"day {i}", occurred_at=T0 + i * _DAY) for i in (3, 0, 5, 1, 2)]
        twin = make_record("ns", "day 2 again", occurred_at=T0 + 2 * _DAY)
        fact = make_record("ns", "a fact of day 2", occurred_at=T0 + 2 * _DAY, kind="fact")
        store.insert([*days, twin, fact])
        store.insert([make_record("other", "day 2 elsewhere", occurred_at=T0 + 2 * _DAY)])
        by_day = {int(r.text.split()[1]): r.id for r in days}
        found = store.latest_episodes("ns", T0 + _DAY, T0 + 3 * _DAY, 10)
        assert found == [by_day[3], twin.id, by_day[2], by_day[1]], "[start, end], latest first"
        assert store.latest_episodes("ns", T0, T0 + 10 * _DAY, 2) == [by_day[5], by_day[3]]
        assert store.latest_episodes("ns", T0 + 6 * _DAY, T0 + 9 * _DAY, 10) == []
        assert store.latest_episodes("ns", T0, T0 + 10 * _DAY, 0) == []
        assert store.latest_episodes("nobody", T0, T0 + 10 * _DAY, 10) == []


def check_matching_is_the_reference_filter(factory: StoreFactory) -> None:
    """``matching`` gives the memories ``Filter.matches`` passes, in insertion order: of
    the namespace, among ``ids`` (unknown and other namespaces' left out), at most
    ``limit``; with event-time bounds (after inclusive, before exclusive); ordering
    operators refused (``InvalidInputError``) by an encrypted store; ``count_matching``
    counts them up to its limit; ``few_matching`` gives them with vectors of the stored
    ones' directions, or None when more than its ``most`` pass; the filtered seeds
    (``vector_search_within``, ``lexical_search_within``) are the base class's. What a
    filtered two-stage search counts and keeps its candidates by (docs/filters.md)."""
    with _opened(factory) as store:
        records = [
            make_record(
                "ns", f"note {i}", session=f"s{i // 4}", speaker=("Ann", "Bo", None)[i % 3],
                metadata={"n": i, "tags": ["all", f"t{i % 2}"]}, occurred_at=T0 + i * _DAY,
            )
            for i in range(12)
        ]  # fmt: skip
        other = make_record("other", "note", session="s0", speaker="Ann", metadata={"n": 1})
        store.insert([*records, other])
        stored = list(store.iter_engrams("ns"))
        filters = [
            parse({"speaker": "Ann"}),
            parse({"session": {"$in": ["s1", "s2"]}, "metadata.tags": "t1"}),
            parse({"speaker": {"$ne": "Bo"}}),
            parse({"metadata.n": {"$gte": 3, "$lt": 9}}),
            parse({}, occurred_after=T0 + 2 * _DAY, occurred_before=T0 + 5 * _DAY),
            parse({"metadata.tags": {"$nin": ["t0"]}}, occurred_before=T0 + 6 * _DAY),
            Filter(occurred_after=T0 + 11 * _DAY),
        ]
        some = [records[9].id, other.id, "missing", records[2].id, records[3].id]
        for where in filters:
            if where.ordering and store.encrypted:  # tokens only compare equal
                try:
                    store.matching("ns", where)
                except InvalidInputError:
                    continue
                raise AssertionError(f"an encrypted store ordered by {where}")
            expected = [
                e.id
                for e in stored
                if where.matches(
                    speaker=e.speaker,
                    session=e.session,
                    metadata=e.metadata,
                    occurred_at=e.occurred_at,
                )
            ]
            assert store.matching("ns", where) == expected, where
            assert store.matching("ns", where, limit=2) == expected[:2], where
            assert store.matching("ns", where, ids=some) == [i for i in expected if i in some]
            assert store.matching("nobody", where) == []
            counts = [store.count_matching("ns", where, k) for k in (0, 2, len(expected) + 1)]
            assert counts == [0, min(2, len(expected)), len(expected)], where
            few = store.few_matching("ns", where, len(expected))
            assert few is not None, where
            assert few[0] == expected, where
            held, stored_vectors = _unit(few[1]), _unit(store.vectors("ns", expected))
            assert np.allclose(held, stored_vectors, atol=1e-2), where  # the same directions
            if expected:
                assert store.few_matching("ns", where, len(expected) - 1) is None, where
            for limit, deepest in ((2, 4), (3, 12), (12, 12)):  # a backend's own, as the base's
                vector = EMBEDDER.embed(["note 5"])[0]
                assert store.vector_search_within(
                    "ns", vector, limit, where, deepest
                ) == Store.vector_search_within(store, "ns", vector, limit, where, deepest), where
                assert store.lexical_search_within(
                    "ns", ["note"], limit, where, deepest
                ) == Store.lexical_search_within(store, "ns", ["note"], limit, where, deepest)


def check_deferred_vectors(factory: StoreFactory) -> None:
    """A memory written without its vector (docs/write-path.md) is stored and found by its
    words, pending until ``set_vectors`` writes the vector and what is derived from it.

    A backend without ``Capability.DEFERRED_VECTORS`` holds
    nothing pending and refuses arrivals: the facade embeds before it writes there."""
    with _opened(factory) as store:
        if Capability.DEFERRED_VECTORS not in store.capabilities:
            assert store.pending_vectors(10) == []
            assert store.set_vectors("ns", []) == 0
            return
        waiting = replace(make_record("ns", "a waiting zebra"), vector=NO_VECTOR)
        given = replace(make_record("ns", "a given yak"), vector=NO_VECTOR, importance_given=True)
        doomed = replace(make_record("ns", "a doomed gnu"), vector=NO_VECTOR)
        done = make_record("ns", "a done okapi")
        store.insert([waiting, given, doomed, done])
        assert _lexical(store, "ns", "zebra") == [waiting.id]
        assert _dense(store, "ns", EMBEDDER.embed(["a waiting zebra"])[0]) == [done.id]
        assert not store.vectors("ns", [waiting.id]).any(), "a pending memory has a vector"
        assert waiting.id in store.catalog("ns").ids
        some = store.catalog_of("ns", [done.id, waiting.id])
        assert some.ids == (waiting.id, done.id)
        assert not some.vectors[0].any(), "a pending memory's vector is not a row of zeros"
        assert some.vectors[1].any()
        pending = store.pending_vectors(10)
        assert [p.engram.id for p in pending] == [waiting.id, given.id, doomed.id]
        assert [p.importance_given for p in pending] == [False, True, False]
        assert store.stats("ns").pending_vectors == 3
        _assert_sound(store)
        store.delete("ns", doomed.id)
        vector = EMBEDDER.embed(["a waiting zebra"])[0]
        arrival = VectorArrival(
            waiting.id, vector, EMBEDDER.model_id, importance=0.9, stability_days=7.5, emotion="joy"
        )
        gone = VectorArrival(doomed.id, vector, EMBEDDER.model_id)
        assert store.set_vectors("ns", [arrival, gone]) == 1
        assert store.set_vectors("ns", [arrival]) == 0, "an arrival for a memory not pending"
        assert _dense(store, "ns", vector, 1) == [waiting.id]
        arrived = store.get("ns", waiting.id)
        assert arrived is not None
        assert (arrived.importance, arrived.stability_days, arrived.emotion) == (0.9, 7.5, "joy")
        assert [p.engram.id for p in store.pending_vectors(10)] == [given.id]
        store.update(
            "ns",
            given.id,
            text="a given yak, changed",
            speaker=None,
            metadata={},
            occurred_at=T0,
            vector=EMBEDDER.embed(["a given yak, changed"])[0],
            model_id=EMBEDDER.model_id,
            keys="",
            now=T0 + timedelta(hours=1),
        )
        assert store.pending_vectors(10) == [], "an update wrote no vector"
        assert store.stats("ns").pending_vectors == 0
        _assert_sound(store)


def check_insert_yields_to_held_digests(factory: StoreFactory) -> None:
    """Repetition (docs/repetition.md): an insert whose content identity or idempotency
    key the namespace holds writes nothing and returns the holder marked ``repeated``,
    also within one batch; a key held for other content is a ``ConflictError`` with
    nothing written; another namespace holds its own; a delete gives them up."""
    content = content_identity("I adopted a dog.", "Maya", "s1", T0)
    key = key_identity("request-1")

    def said(namespace: str, identity: str, idempotency: str | None = None) -> EngramRecord:
        record = make_record(namespace, "I adopted a dog.", session="s1", speaker="Maya")
        return replace(record, identity=identity, idempotency=idempotency)

    with _opened(factory) as store:
        first, again = store.insert(
            [said("ns", identity=content, idempotency=key), said("ns", identity=content)]
        )
        assert not first.repeated
        assert again.repeated
        assert again.id == first.id
        assert set(store.identified("ns", [content, key])) == {content, key}
        assert store.identified("ns", [content])[content].engram_id == first.id
        (replayed,) = store.insert([said("ns", identity=content, idempotency=key)])
        assert (replayed.id, replayed.repeated) == (first.id, True)
        other = key_identity("other content")
        try:
            store.insert([said("ns", identity=other, idempotency=key)])
        except ConflictError:
            pass
        else:
            raise AssertionError("a key held for other content was taken")
        (elsewhere,) = store.insert([said("other", identity=content, idempotency=key)])
        assert not elsewhere.repeated
        assert store.stats("ns").engrams == 1
        store.delete("ns", first.id)
        assert store.identified("ns", [content, key]) == {}
        (anew,) = store.insert([said("ns", identity=content, idempotency=key)])
        assert not anew.repeated
        _assert_sound(store)


def check_profile_versions(factory: StoreFactory) -> None:
    """The pinned profile (docs/profile.md): a pin of a pinned key supersedes with a
    validity interval, the same text changes nothing, an unpin closes; a refusing
    ``admit`` writes nothing; namespaces are apart; restore writes versions as they
    are and refuses one held; forget_namespace erases every version."""
    t0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
    t1, t2 = t0 + timedelta(days=1), t0 + timedelta(days=2)
    seen: list[list[ProfileEntry]] = []

    def admit(entries: list[ProfileEntry]) -> None:
        seen.append(entries)

    def refuse(entries: list[ProfileEntry]) -> None:
        raise InvalidInputError("over the limit")

    with _opened(factory) as store:
        assert store.profile("a") == [], "a new namespace has a profile"
        first = store.pin("a", "name", "Maya 🌿 'Lopez'; -- not SQL", None, t0, admit)
        assert first == ProfileEntry("name", "Maya 🌿 'Lopez'; -- not SQL", 1, t0)
        assert seen[-1] == [first], "admit did not see the profile as it would be"
        assert store.pin("a", "name", first.text, None, t1, admit) == first, "a repeat wrote"
        second = store.pin("a", "name", "Maya", None, t1, admit)
        assert (second.version, second.valid_from, second.valid_to) == (2, t1, None)
        store.pin("a", "diet", "vegetarian", "f" * 32, t1, admit)
        assert [e.key for e in seen[-1]] == ["diet", "name"]
        try:
            store.pin("a", "job", "nurse", None, t2, refuse)
        except InvalidInputError:
            pass
        else:
            raise AssertionError("a refusing admit did not stop the pin")
        store.pin("b", "name", "Tom", None, t0, admit)
        closed = store.unpin("a", "diet", t2)
        assert closed == ProfileEntry("diet", "vegetarian", 1, t1, t2, "f" * 32)
        assert store.unpin("a", "diet", t2) is None, "unpinned twice"
        assert store.unpin("a", "missing", t2) is None
        expected = [closed, replace(first, valid_to=t1), second]
        assert store.profile("a") == expected, "versions of a differ"
        assert [e.text for e in store.profile("b")] == ["Tom"], "the profile leaked"
        assert store.profiled() == ["a", "b"]
        try:
            store.restore_profile("b", [ProfileEntry("name", "Tom", 1, t0)])
        except InvalidInputError:
            pass
        else:
            raise AssertionError("restore wrote over a version the namespace holds")
        with _opened(factory) as other:
            other.restore_profile("a", expected)
            assert other.profile("a") == expected, "restore changed the versions"
        store.insert([make_record("b", "alpha")])
        store.forget_namespace("b")
        store.forget_namespace("a")  # a namespace with a profile and no memory
        assert store.profile("a") == store.profile("b") == [], "forget_namespace left a pin"
        assert store.profiled() == []
        _assert_sound(store)


ALL_CHECKS: tuple[Callable[[StoreFactory], None], ...] = (
    check_round_trip_every_field,
    check_insert_returns_what_it_wrote,
    check_restore_round_trip,
    check_restore_many_is_one_transaction,
    check_namespace_isolation,
    check_update_keeps_history,
    check_delete_removes_everything,
    check_failed_insert_leaves_nothing,
    check_special_characters_inert,
    check_reindex_keeps_results,
    check_sound_store_checks_clean,
    check_closed_store_raises,
    check_neighbours_order,
    check_vectors_round_trip,
    check_iter_engrams_order,
    check_forget_namespace,
    check_ann_search,
    check_nearest_scores_match_vector_search,
    check_consolidation_round_trip,
    check_consolidation_batch_is_one_transaction,
    check_consolidation_restores_into_another_store,
    check_delete_takes_every_memory_derived_from_it,
    check_delete_many_is_one_delete_of_several,
    check_dynamics_round_trip,
    check_set_dynamics_is_partial_and_isolated,
    check_catalog_dynamics_match_the_memories,
    check_budget_round_trip,
    check_expiry_round_trip,
    check_learned_round_trip,
    check_usage_counts_active_memories,
    check_catalog_of_matches_catalog,
    check_around_reads_session_turns,
    check_occurred_between_is_a_time_window,
    check_links_of_reads_either_end,
    check_facts_of_reads_whole_timelines,
    check_pending_episodes_follow_changes,
    check_latest_episodes_reads_a_window_from_its_end,
    check_active_is_what_a_fade_weighs,
    check_matching_is_the_reference_filter,
    check_deferred_vectors,
    check_insert_yields_to_held_digests,
    check_profile_versions,
)
