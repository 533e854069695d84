"""Search filters (docs/filters.md): the grammar, and every store agreeing with its reference.

``Filter.matches`` states the semantics; ``SqliteStore.matching`` answers from
the ``fields`` index in SQL, plaintext and encrypted, and must give the same
memories for the same filter, including after updates, deletes, erasure and
for namespaces written before the index existed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engramdb import EncryptionKey, Memory, Settings
from engramdb.errors import InvalidInputError
from engramdb.filters import Filter, equality_key, parse
from engramdb.security.crypto import generate_key
from engramdb.store.sqlite.store import SqliteStore
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _store(mem: Memory) -> SqliteStore:
    store = mem._store
    assert isinstance(store, SqliteStore)
    return store


def _reference(mem: Memory, namespace: str, where: Filter) -> list[str]:
    return [
        e.id
        for e in _store(mem).iter_engrams(namespace)
        if where.matches(
            speaker=e.speaker, session=e.session, metadata=e.metadata, occurred_at=e.occurred_at
        )
    ]


# -- the grammar -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("speaker", "must be a mapping"),
        ({"text": "x"}, "not filterable"),
        ({"metadata.": "x"}, "not filterable"),
        ({"metadata.a": {"$regex": "x"}}, "unknown operator"),
        ({"metadata.a": {}}, "holds no operator"),
        ({"metadata.a": {"$in": "abc"}}, "must be a list"),
        ({"metadata.a": {"$in": []}}, "at least one value"),
        ({"metadata.a": {"$in": list(range(300))}}, "the limit is 256"),
        ({"metadata.a": {"$gt": True}}, "not a boolean"),
        ({"metadata.a": float("nan")}, "finite"),
        ({"metadata.a": None}, "not NoneType"),
        ({"metadata.a": {"x": 1}}, "unknown operator"),
        ({"metadata.a": [1, 2]}, "not list"),
        ({"speaker": 3}, "speaker values are strings"),
        ({"session": {"$in": ["a", 1]}}, "session values are strings"),
        ({"speaker": "Ma\udfffya"}, "lone surrogate"),
        ({"metadata.a\x00": 1}, "NUL"),
        ({f"metadata.k{i}": i for i in range(40)}, "the limit is 32"),
        ({"metadata.a": {"$gt": 10**400}}, "beyond the range of numbers"),
    ],
)
def test_a_malformed_filter_is_refused_with_what_is_wrong(where: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse(where)


def test_time_bounds_must_be_in_order() -> None:
    with pytest.raises(InvalidInputError, match="earlier than occurred_before"):
        parse(None, occurred_after=T0, occurred_before=T0)
    assert not parse(None)
    assert parse(None, occurred_before=T0)


def test_equality_keeps_types_apart_and_numbers_together() -> None:
    assert equality_key(1) == equality_key(1.0)
    assert len({equality_key(v) for v in (1, "1", True, 1.5, "true", False, 0)}) == 7
    assert equality_key(2**60) != equality_key(2**60 + 1)


def test_the_reference_semantics_of_lists_missing_fields_and_ordering() -> None:
    where = parse({"metadata.tags": "work"})
    assert where.matches(speaker=None, session=None, metadata={"tags": ["home", "work"]},
                         occurred_at=T0)  # fmt: skip
    assert not where.matches(speaker=None, session=None, metadata={}, occurred_at=T0)
    missing = parse({"metadata.tags": {"$nin": ["work"]}, "speaker": {"$ne": "Tom"}})
    assert missing.matches(speaker=None, session=None, metadata={}, occurred_at=T0)
    ordered = parse({"metadata.n": {"$gte": 2, "$lt": 5}})
    assert ordered.matches(speaker=None, session=None, metadata={"n": 2}, occurred_at=T0)
    assert not ordered.matches(speaker=None, session=None, metadata={"n": "3"}, occurred_at=T0)
    assert not ordered.matches(speaker=None, session=None, metadata={"n": 5.0}, occurred_at=T0)


def test_a_metadata_integer_past_the_range_of_floats_is_stored_and_ordered(
    tmp_path: Path,
) -> None:
    # metadata takes any JSON integer; the index orders one past float's range as an
    # infinity, beyond every finite bound, where float() would raise OverflowError
    huge = parse({"metadata.n": {"$gt": 1e300}})
    assert huge.matches(speaker=None, session=None, metadata={"n": 10**400}, occurred_at=T0)
    assert not huge.matches(speaker=None, session=None, metadata={"n": -(10**400)},
                            occurred_at=T0)  # fmt: skip
    with Memory(str(tmp_path / "s"), embedder=HashEmbedder()) as mem:
        big = mem.add("big", namespace="ns", metadata={"n": 10**400})
        mem.add("small", namespace="ns", metadata={"n": -(10**400)})
        store = _store(mem)
        assert store.matching("ns", huge) == [big.id]


# -- the store agrees with the reference ---------------------------------------------

_SPEAKERS = ["Maya", "Tom", "Ana", None]
_TOPICS = ["work", "home", "travel"]
_FIELDS = ["speaker", "session", "metadata.topic", "metadata.tags", "metadata.score",
           "metadata.nested", "metadata.absent"]  # fmt: skip


def _items(rng: random.Random, n: int) -> list[dict[str, Any]]:
    items = []
    for i in range(n):
        metadata: dict[str, Any] = {"i": i}
        if rng.random() < 0.8:
            metadata["topic"] = rng.choice(_TOPICS)
        if rng.random() < 0.5:
            metadata["tags"] = rng.sample([*_TOPICS, 1, 2.5, True], rng.randint(0, 3))
        if rng.random() < 0.3:
            metadata["score"] = rng.choice([1, 2, 2.0, 3.5, "2", False])
        if rng.random() < 0.1:
            metadata["nested"] = {"topic": "work"}
        items.append(
            {
                "text": f"memory {i} about {metadata.get('topic', 'nothing')}",
                "speaker": rng.choice(_SPEAKERS),
                "session": rng.choice(["s1", "s2", None]),
                "occurred_at": T0 + timedelta(hours=i),
                "metadata": metadata,
            }
        )
    return items


def _filters(rng: random.Random, *, ordering: bool) -> list[Filter]:
    values: list[Any] = [*_TOPICS, 1, 2, 2.0, 2.5, "2", True, False, "x"]
    out = []
    for _ in range(60):
        where: dict[str, Any] = {}
        for _ in range(rng.randint(1, 3)):
            field = rng.choice(_FIELDS)
            ops = ["$eq", "$ne", "$in", "$nin"] + (["$gt", "$gte", "$lt", "$lte"] * ordering)
            op = rng.choice(ops)
            pool = (
                [s for s in _SPEAKERS if s] + ["s1", "s2"]
                if field in ("speaker", "session")
                else values
            )
            if op in ("$in", "$nin"):
                operand: Any = rng.sample(pool, rng.randint(1, 3))
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                operand = rng.choice([v for v in pool if not isinstance(v, bool)])
            else:
                operand = rng.choice(pool)
            where.setdefault(field, {})[op] = operand
        after = T0 + timedelta(hours=rng.randint(0, 60)) if rng.random() < 0.3 else None
        out.append(parse(where, occurred_after=after))
    return out


@pytest.mark.parametrize("encrypted", [False, True])
def test_the_store_returns_what_the_reference_semantics_keep(
    tmp_path: Path, encrypted: bool
) -> None:
    rng = random.Random(11)
    key = EncryptionKey("key", generate_key()) if encrypted else None
    with Memory(
        settings=Settings(path=str(tmp_path / "s"), encryption=key), embedder=HashEmbedder()
    ) as mem:
        added = mem.add_many(_items(rng, 80), namespace="ns")
        mem.add_many(_items(rng, 20), namespace="other")
        mem.update(added[0].id, namespace="ns", metadata={"topic": "travel", "tags": ["x"]})
        mem.delete(added[1].id, namespace="ns")
        store = _store(mem)
        checked = 0
        for where in _filters(rng, ordering=not encrypted):
            expected = _reference(mem, "ns", where)
            assert store.matching("ns", where) == expected, where
            some = [e.id for e in added[::3]]
            assert store.matching("ns", where, ids=some) == [i for i in expected if i in some]
            assert store.matching("ns", where, limit=2) == expected[:2]
            checked += bool(expected)
        assert checked > 20  # the filters are not all empty


def test_an_encrypted_namespace_refuses_ordering_and_keeps_no_value_readable(
    tmp_path: Path,
) -> None:
    key = EncryptionKey("key", generate_key())
    with Memory(
        settings=Settings(path=str(tmp_path / "s"), encryption=key), embedder=HashEmbedder()
    ) as mem:
        mem.add("hello", namespace="ns", speaker="Quillfenwick", metadata={"city": "Zorbaton"})
        store = _store(mem)
        with pytest.raises(InvalidInputError, match="encrypted namespace"):
            store.matching("ns", parse({"metadata.n": {"$gt": 1}}))
        assert len(store.matching("ns", parse({"metadata.city": "Zorbaton"}))) == 1
        assert store.matching("ns", parse({"metadata.city": "zorbaton"})) == []
        with store._read() as conn:
            dumped = repr(conn.execute("SELECT * FROM fields").fetchall())
        assert "Zorbaton" not in dumped
        assert "Quillfenwick" not in dumped
        assert "city" not in dumped


def test_a_namespace_written_before_the_index_is_filled_at_its_first_filter(
    tmp_path: Path,
) -> None:
    with Memory(str(tmp_path / "s"), embedder=HashEmbedder()) as mem:
        mem.add("one", namespace="ns", metadata={"topic": "work"})
        mem.add("two", namespace="ns", metadata={"topic": "home"})
        store = _store(mem)
        with store._db.write("test") as conn:  # as the migration leaves an older store
            conn.execute("DELETE FROM fields")
            conn.execute("INSERT INTO fields_pending VALUES ('ns')")
        found = store.matching("ns", parse({"metadata.topic": "work"}))
        assert [mem.get(i, namespace="ns").text for i in found] == ["one"]
        with store._read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM fields_pending").fetchone()[0] == 0


def test_erasure_takes_the_index_rows_along(tmp_path: Path) -> None:
    with Memory(str(tmp_path / "s"), embedder=HashEmbedder()) as mem:
        kept = mem.add("kept", namespace="a", metadata={"topic": "work"})
        gone = mem.add("gone", namespace="b", metadata={"topic": "work"})
        mem.delete(gone.id, namespace="b")
        mem.add("again", namespace="b", metadata={"topic": "work"})
        mem.forget_namespace("b")
        store = _store(mem)
        with store._read() as conn:
            left = {r[0] for r in conn.execute("SELECT namespace FROM fields")}
        assert left == {"a"}
        assert store.matching("a", parse({"metadata.topic": "work"})) == [kept.id]
