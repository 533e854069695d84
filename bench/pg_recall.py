"""Recall@10 of the PostgreSQL store's HNSW candidates against an exact scan, by
``hnsw.ef_search`` (docs/postgres.md, "Exact, then HNSW").

``bench/scale.py``'s generated memories (hash embedder) are written once into one
namespace of a schema of their own (kept: a later run with the same ``--schema``
and ``--n`` reuses them), its HNSW index built after the rows with the given ``m``
and ``ef_construction`` (``--rebuild`` makes it again with others). Each of
``scale.py latency``'s probe queries (near-verbatim, filtered and question-shaped)
is then searched for its 10 nearest exactly and through the graph at each
``--ef-search``: the share of the exact 10 the graph found, and each search's
latency.

    nice -n 19 python bench/pg_recall.py --store "$ENGRAMDB_TEST_POSTGRES" \\
        --n 100000 --ef-search 40 100 200 400
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))

import scalegen
from engramdb.store.base import EngramRecord
from engramdb.store.postgres import PostgresStore, nearest
from engramdb.testing.fakes import HashEmbedder

NAMESPACE = "recall"
K = 10
CHUNK = 2_000


def record(g: scalegen.Generated, vector: np.ndarray[Any, Any]) -> EngramRecord:
    item = g.item
    return EngramRecord(
        id=f"m{g.index:08d}",
        namespace=NAMESPACE,
        text=item["text"],
        occurred_at=item["occurred_at"],
        recorded_at=item["occurred_at"],
        session=item.get("session"),
        speaker=item.get("speaker"),
        metadata={"ref": g.ref},
        kind="episode",
        vector=vector,
        model_id="hash",
    )


def build(store: PostgresStore, n: int, seed: int) -> None:
    """Write the ``n`` memories without the HNSW index (it is built after)."""
    with store._db.write("drop the index") as conn:
        conn.execute("DROP INDEX IF EXISTS engrams_embedding")
    embedder = HashEmbedder()
    chunk: list[scalegen.Generated] = []
    start = time.perf_counter()
    for g in scalegen.generate(n, seed):
        chunk.append(g)
        if len(chunk) == CHUNK:
            vectors = embedder.embed([c.item["text"] for c in chunk])
            store.insert([record(c, v) for c, v in zip(chunk, vectors, strict=True)])
            chunk = []
            print(f"  {g.index + 1:,} rows, {time.perf_counter() - start:.0f} s", flush=True)
    if chunk:
        vectors = embedder.embed([c.item["text"] for c in chunk])
        store.insert([record(c, v) for c, v in zip(chunk, vectors, strict=True)])


def index(store: PostgresStore, m: int, ef_construction: int) -> float:
    start = time.perf_counter()
    with store._db.write("build the index") as conn:
        conn.execute("DROP INDEX IF EXISTS engrams_embedding")
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        conn.execute(
            sql.SQL(
                "CREATE INDEX engrams_embedding ON engrams USING hnsw "
                "(embedding halfvec_cosine_ops) WITH (m = {}, ef_construction = {})"
            ).format(sql.Literal(m), sql.Literal(ef_construction))
        )
        conn.execute("ANALYZE engrams")
    return time.perf_counter() - start


def queries(n: int, seed: int) -> list[scalegen.Probe]:
    """``scale.py latency``'s probe queries at its defaults (200 near-verbatim, 20 of
    each filtered kind, 50 questions), drawn from the same pool."""
    wanted = set(scalegen.sample(n, 4 * (200 + 2 * 20) + 50, seed))
    pool = [g for g in scalegen.generate(n, seed) if g.index in wanted]
    probes = scalegen.probes(pool, 200, seed, filtered=20)
    return [*probes, *scalegen.questions(50, seed)]


def measure(store: PostgresStore, vectors: np.ndarray[Any, Any], ef: int | None) -> dict[str, Any]:
    """Each query's 10 nearest (``ef`` None: exactly) and the seconds of each search."""
    found, seconds = [], []
    for v in vectors:
        start = time.perf_counter()
        with store._db.read() as conn:
            if ef is None:
                hits = nearest.search(conn, NAMESPACE, v, K, threshold=sys.maxsize)
            else:
                hits = nearest.search(conn, NAMESPACE, v, K, threshold=0, ef_search=ef)
        seconds.append(time.perf_counter() - start)
        found.append([(h.id, h.score) for h in hits])
    ms = np.array(seconds) * 1000
    return {
        "found": found,
        "ms": {q: float(np.percentile(ms, p)) for q, p in (("p50", 50), ("p95", 95))},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="a PostgreSQL URL")
    ap.add_argument("--schema", default="bench_recall")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--rebuild", action="store_true", help="build the index again")
    ap.add_argument("--ef-search", type=int, nargs="+", default=[100, 200, 400])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    store = PostgresStore(args.store, schema=args.schema)
    try:
        held = store.count(NAMESPACE, args.n)
        built = None
        if held != args.n:
            if held:
                raise SystemExit(f"schema {args.schema} holds {held:,} memories, not {args.n:,}")
            print(f"writing {args.n:,} memories to schema {args.schema}", flush=True)
            build(store, args.n, args.seed)
        if held != args.n or args.rebuild:
            built = index(store, args.m, args.ef_construction)
            print(f"index m={args.m} ef_construction={args.ef_construction}: {built:.0f} s")
        probes = queries(args.n, args.seed)
        vectors = HashEmbedder().embed([p.query for p in probes])
        exact = measure(store, vectors, None)
        print(f"exact: p50 {exact['ms']['p50']:.1f} ms, p95 {exact['ms']['p95']:.1f} ms")
        rows: dict[str, Any] = {"exact_ms": exact["ms"], "index_build_s": built}
        for ef in args.ef_search:
            got = measure(store, vectors, ef)
            shares = [
                len({i for i, _ in a} & {i for i, _ in e}) / K
                for a, e in zip(got["found"], exact["found"], strict=True)
            ]
            # a memory as near as the exact 10th (a tie it broke otherwise) is as good
            tied = [
                sum(score >= e[-1][1] - 1e-6 for _, score in a) / K
                for a, e in zip(got["found"], exact["found"], strict=True)
            ]
            recall = float(np.mean(shares))
            kinds = {
                kind: float(
                    np.mean([r for r, p in zip(shares, probes, strict=True) if p.kind == kind])
                )
                for kind in dict.fromkeys(p.kind for p in probes)
            }
            rows[str(ef)] = {
                "recall_at_10": recall,
                "by_kind": kinds,
                "ties_counted": float(np.mean(tied)),
                "ms": got["ms"],
            }
            print(
                f"ef_search {ef}: recall@10 {recall:.3f} "
                f"({', '.join(f'{k} {v:.3f}' for k, v in kinds.items())}; "
                f"ties counted {np.mean(tied):.3f}), "
                f"p50 {got['ms']['p50']:.1f} ms, p95 {got['ms']['p95']:.1f} ms",
                flush=True,
            )
        if args.out:
            args.out.write_text(json.dumps(rows, indent=2))
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
