"""Dense candidates of a plaintext PostgresStore: the SQL of its vector reads.

Below ``ann_threshold`` memories in a namespace a search is exact: one query
of one vector scans the namespace's vectors in PostgreSQL; a batch
(``scores``: the novelty of new memories, docs/dynamics.md) reads the
namespace's vectors once and takes one matrix product in process. At and
above it the HNSW index answers (docs/postgres.md, "Exact, then HNSW"), a
batch in one statement. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pgvector import HalfVector
from psycopg import sql

from engramdb.store.base import Candidate
from engramdb.store.postgres.database import Connection
from engramdb.store.postgres.rows import vector_of

__all__ = ["EF_SEARCH", "NOVELTY_EF_SEARCH", "bounded_count", "scores", "search"]

#: How many candidates HNSW gathers for a search (pgvector's ``hnsw.ef_search``; its
#: largest), of which the nearest are kept: on bench/scale.py's memories at 100,000
#: with the index's m = 16, ef_construction = 64, recall@10 against an exact scan
#: 0.96 to 0.97, against 0.89 to 0.90 at 100 (docs/postgres.md, "Exact, then HNSW").
#: pgvector 0.8's iterative scan goes on past it when the namespace's rows are too
#: few among them.
EF_SEARCH = 1_000
#: What a batch's novelty (each vector's single nearest) gathers through the graph.
NOVELTY_EF_SEARCH = 100
_MOST = 1_000  # pgvector's largest hnsw.ef_search
_BLOCK = 5_000  # stored vectors scored at a time by an exact batch


def bounded_count(conn: Connection, namespace: str, limit: int) -> int:
    """How many memories the namespace holds, counting no further than ``limit``."""
    row = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM engrams WHERE namespace = %s LIMIT %s) AS held",
        (namespace, limit),
    ).fetchone()
    return 0 if row is None else int(row[0])


def _through_the_graph(conn: Connection, ef_search: int) -> None:
    conn.execute(
        sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(min(ef_search, _MOST)))
    )
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")


def search(
    conn: Connection,
    namespace: str,
    vector: npt.NDArray[np.float32],
    limit: int,
    threshold: int,
    *,
    ef_search: int = EF_SEARCH,
) -> list[Candidate]:
    """The namespace's memories nearest ``vector``: exact below ``threshold`` memories,
    by the HNSW index (pgvector's iterative scan) at and above it. The graph's
    candidates come in relaxed order, so as many as it gathers (``ef_search``, at
    least ``limit``) are read and the nearest ``limit`` of them kept."""
    query = vector_of(vector)
    if bounded_count(conn, namespace, threshold) < threshold:
        # a materialized scan of the namespace: the planner cannot take the index
        found = conn.execute(
            "WITH near AS MATERIALIZED (SELECT rowid, id, embedding <=> %s AS distance "
            "FROM engrams WHERE namespace = %s AND embedding IS NOT NULL) "
            "SELECT id, 1 - distance FROM near ORDER BY distance, rowid LIMIT %s",
            (query, namespace, limit),
        ).fetchall()
    else:
        gathered = min(max(ef_search, limit), _MOST)
        _through_the_graph(conn, gathered)
        found = conn.execute(
            "WITH near AS MATERIALIZED (SELECT rowid, id, embedding <=> %s AS distance "
            "FROM engrams WHERE namespace = %s AND embedding IS NOT NULL "
            "ORDER BY embedding <=> %s LIMIT %s) "
            "SELECT id, 1 - distance FROM near ORDER BY distance, rowid LIMIT %s",
            (query, namespace, query, max(gathered, limit), limit),
        ).fetchall()
    return [Candidate(str(engram_id), float(score)) for engram_id, score in found]


def scores(
    conn: Connection, namespace: str, vectors: npt.NDArray[np.float32], threshold: int
) -> npt.NDArray[np.float64]:
    """Each of ``vectors``' similarity to its nearest memory of the namespace, as
    ``search(..., 1)`` scores it; 0 where the namespace has no vector."""
    out = np.zeros(len(vectors), dtype=np.float64)
    if not len(vectors):
        return out
    queries = [vector_of(v) for v in vectors]
    if bounded_count(conn, namespace, threshold) < threshold:
        q = np.stack([query.to_numpy() for query in queries]).astype(np.float32)
        q_norm = np.linalg.norm(q, axis=1)
        q_norm[q_norm == 0] = np.inf  # a zero vector is similar to none
        best = np.full(len(q), -np.inf, dtype=np.float32)
        with conn.cursor(binary=True) as cur:  # the vectors as float16, a block at a time
            cur.execute(
                "SELECT embedding FROM engrams WHERE namespace = %s AND embedding IS NOT NULL",
                (namespace,),
            )
            while block := cur.fetchmany(_BLOCK):
                np.maximum(best, _best_cosine(q, [row[0] for row in block]), out=best)
        if np.isfinite(best).all():  # -inf: the namespace has no vector yet
            out[:] = np.clip(best.astype(np.float64) / q_norm, -1.0, 1.0)
        return out
    _through_the_graph(conn, NOVELTY_EF_SEARCH)
    found = conn.execute(
        "SELECT q.i, n.score FROM unnest(%b::halfvec[]) WITH ORDINALITY AS q (v, i) "
        "CROSS JOIN LATERAL (SELECT 1 - (e.embedding <=> q.v) AS score FROM engrams e "
        "WHERE e.namespace = %s AND e.embedding IS NOT NULL "
        "ORDER BY e.embedding <=> q.v LIMIT 1) AS n",
        (queries, namespace),
    )
    for i, score in found:
        out[int(i) - 1] = float(score)
    return out


def _best_cosine(
    queries: npt.NDArray[np.float32], block: list[HalfVector]
) -> npt.NDArray[np.float32]:
    """Each query's largest dot product with a unit-scaled vector of ``block``: with the
    query's norm divided out, the cosine similarity pgvector computes of float16
    vectors (to float32 rounding)."""
    stored = np.stack([vector.to_numpy() for vector in block]).astype(np.float32)
    norms = np.linalg.norm(stored, axis=1)
    norms[norms == 0] = np.inf
    best: npt.NDArray[np.float32] = (queries @ (stored / norms[:, None]).T).max(axis=1)
    return best
