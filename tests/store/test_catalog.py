"""The catalog a store extends after its own inserts equals one rebuilt from the table."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engramdb import Memory
from engramdb.store.base import Catalog
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
WORDS = ["river", "museum", "guitar", "lisbon", "dog", "cello", "garden", "train"]

operation = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 3), st.sampled_from(WORDS)),
    st.tuples(st.just("add_many"), st.integers(1, 4), st.sampled_from(WORDS)),
    st.tuples(st.just("update"), st.integers(0, 50), st.sampled_from(WORDS)),
    st.tuples(st.just("delete"), st.integers(0, 50), st.sampled_from(WORDS)),
    st.tuples(st.just("search"), st.integers(0, 3), st.sampled_from(WORDS)),
    st.tuples(st.just("consolidate"), st.just(0), st.just("")),
)


def _same(live: Catalog, fresh: Catalog) -> None:
    assert live.ids == fresh.ids
    assert live.documents == fresh.documents
    assert live.speakers == fresh.speakers
    assert live.kinds == fresh.kinds
    for name in ("session", "seq", "occurred_at"):
        np.testing.assert_array_equal(getattr(live, name), getattr(fresh, name), err_msg=name)
    np.testing.assert_allclose(live.vectors, fresh.vectors, atol=1e-6)
    assert live.dynamics is not None
    assert fresh.dynamics is not None
    assert live.dynamics.emotions == fresh.dynamics.emotions
    for name in ("stability_days", "importance", "valence", "arousal", "last_used_at"):
        np.testing.assert_allclose(
            getattr(live.dynamics, name), getattr(fresh.dynamics, name), err_msg=name
        )
    for name in ("recalls", "dormant", "sizes"):
        np.testing.assert_array_equal(
            getattr(live.dynamics, name), getattr(fresh.dynamics, name), err_msg=name
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=3, max_size=30))
def test_extended_catalog_equals_a_rebuilt_one(operations: list[tuple[str, int, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.db"
        with Memory(str(path), embedder=HashEmbedder()) as mem:
            ids: list[str] = []
            for step, (op, n, word) in enumerate(operations, start=1):
                at = T0 + timedelta(hours=step)
                session = f"s{n % 3}" if n else None
                if op == "add":
                    ids.append(
                        mem.add(
                            f"a {word} {step}", session=session, speaker="Maya", occurred_at=at
                        ).id
                    )
                elif op == "add_many":
                    items = [{"text": f"{word} {step}.{i}", "session": "s1"} for i in range(n)]
                    ids += [e.id for e in mem.add_many(items)]
                elif op == "update" and ids:
                    mem.update(ids[n % len(ids)], text=f"now {word} {step}")
                elif op == "delete" and ids:
                    mem.delete(ids.pop(n % len(ids)))
                elif op == "search":
                    mem.search(word, limit=3)
                elif op == "consolidate":
                    mem.consolidate()
                mem.store.catalog("default")  # built, then extended by the next write
            mem.flush()
            live = mem.store.catalog("default")
            fresh_store = SqliteStore(path)
            try:
                _same(live, fresh_store.catalog("default"))
            finally:
                fresh_store.close()
