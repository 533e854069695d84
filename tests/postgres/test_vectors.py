"""Dense search in a PostgresStore above ``ann_threshold``: one HNSW index over every
namespace, filtered to one (docs/postgres.md, "Exact, then HNSW")."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from engramdb.store.postgres import PostgresStore
from engramdb.store.postgres.rows import vector_of
from engramdb.testing.conformance import DIMS, make_record


@pytest.fixture
def store(graph_only_url: str, schema: str) -> Iterator[PostgresStore]:
    """A store whose connection takes the HNSW index whenever a query can use it.

    At these sizes PostgreSQL's planner would read the namespace and sort it
    (cheaper than the graph, and exact); with sorting priced out, an ordered
    index scan is the plan left to the queries shaped for it."""
    opened = PostgresStore(graph_only_url, schema=schema, ann_threshold=50)
    yield opened
    opened.close()


def _unit(rng: np.random.Generator, n: int, centre: np.ndarray, spread: float) -> np.ndarray:
    raw = centre + spread * rng.standard_normal((n, DIMS)).astype(np.float32)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def test_a_namespace_far_from_the_query_still_gets_all_it_asks_for(
    store: PostgresStore,
) -> None:
    # The graph's nearest rows to the query are all another namespace's: a filter
    # applied after the graph's ef_search candidates would leave this one nearly
    # empty; the iterative scan reads on until it has the rows asked for.
    rng = np.random.default_rng(5)
    near, far = np.zeros(DIMS, dtype=np.float32), np.zeros(DIMS, dtype=np.float32)
    near[0], far[1] = 1.0, 1.0
    crowd = _unit(rng, 600, near, 0.02)
    few = _unit(rng, 60, far, 0.02)
    store.insert([make_record("crowd", f"c{i}", vector=v) for i, v in enumerate(crowd)])
    mine = [make_record("few", f"f{i}", vector=v) for i, v in enumerate(few)]
    store.insert(mine)
    with store._db.read() as conn:
        plan = conn.execute(
            "EXPLAIN SELECT id FROM engrams WHERE namespace = 'few' "
            "ORDER BY embedding <=> %s LIMIT 60",
            (vector_of(near),),
        ).fetchall()
    assert "engrams_embedding" in " ".join(row[0] for row in plan), "HNSW is not used"
    found = store.vector_search("few", near, 60)
    assert {c.id for c in found} == {r.id for r in mine}
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    exact = sorted((float(v @ near) for v in few), reverse=True)
    assert np.allclose([c.score for c in found], exact, atol=2e-3)


def test_the_nearest_of_what_the_graph_gathered_are_kept(store: PostgresStore) -> None:
    # The iterative scan hands rows over in relaxed order (after its first pass over
    # the crowd, this namespace's rows come as the graph reaches them), so a search
    # reads as many as it gathers (hnsw.ef_search: here every row of the namespace)
    # and keeps the nearest 10 of them, nearest first.
    rng = np.random.default_rng(11)
    near, far = np.zeros(DIMS, dtype=np.float32), np.zeros(DIMS, dtype=np.float32)
    near[0], far[1] = 1.0, 1.0
    crowd = _unit(rng, 600, near, 0.02)
    few = _unit(rng, 300, far, 1.0)
    store.insert([make_record("crowd", f"c{i}", vector=v) for i, v in enumerate(crowd)])
    mine = [make_record("few", f"f{i}", vector=v) for i, v in enumerate(few)]
    store.insert(mine)
    found = store.vector_search("few", near, 10)
    nearest = sorted(range(len(few)), key=lambda i: -float(few[i] @ near))[:10]
    assert [c.id for c in found] == [mine[i].id for i in nearest]
