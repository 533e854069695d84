"""Vector index benchmark: exact numpy scan against the HNSW index, by namespace size.

Measures what ``VectorIndex`` does on its two paths (exact below
``ann_threshold``, hnswlib above it): build time, query latency p50/p95 and
recall@10 of HNSW against the exact answer. Vectors are embedding-like (real
MiniLM embeddings of LoCoMo turns, perturbed), since HNSW recall on i.i.d.
random vectors says nothing about real use.

    python bench/vector_index.py --sizes 5000 20000 100000 --out bench/results/vector_index.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Settings
from engramdb.embed import make_embedder
from engramdb.formats import locomo
from engramdb.store.vectors import VectorIndex
from locomo import DEFAULT_DATA, machine
from metrics import percentile


def embedding_like(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    picks = base[rng.integers(0, len(base), n)]
    noise = rng.normal(0, 1.0 / np.sqrt(base.shape[1]), size=picks.shape).astype(np.float32)
    out = picks + 0.7 * noise
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def measure(vectors: np.ndarray, queries: np.ndarray, threshold: int) -> dict[str, float]:
    start = time.perf_counter()
    index = VectorIndex(vectors.shape[1], ann_threshold=threshold)
    index.add(list(range(len(vectors))), vectors)
    build_s = time.perf_counter() - start
    latencies, found = [], []
    for q in queries:
        t = time.perf_counter()
        hits = index.search(q, 10)
        latencies.append(time.perf_counter() - t)
        found.append([key for key, _ in hits])
    return {
        "build_s": build_s,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "found": found,  # type: ignore[dict-item]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("bench/results/vector_index.json"))
    args = parser.parse_args(argv)

    rng = np.random.default_rng(7)
    texts = [t["text"] for c in locomo.load(DEFAULT_DATA) for t in c.turns]
    base = make_embedder(Settings()).embed(texts)
    rows = []
    print("size     path   build_s  p50_ms  p95_ms  recall@10")
    for size in args.sizes:
        vectors = embedding_like(base, size, rng)
        queries = embedding_like(base, args.queries, rng)
        exact = measure(vectors, queries, threshold=size + 1)
        ann = measure(vectors, queries, threshold=1)
        recall = float(
            np.mean(
                [
                    len(set(a) & set(e)) / 10
                    for a, e in zip(ann["found"], exact["found"], strict=True)
                ]
            )
        )
        for name, m, r in (("exact", exact, 1.0), ("hnsw", ann, recall)):
            print(
                f"{size:<8} {name:<6} {m['build_s']:7.2f} {m['p50_ms']:7.2f} "
                f"{m['p95_ms']:7.2f}  {r:.3f}"
            )
            rows.append(
                {
                    "size": size,
                    "path": name,
                    "build_s": m["build_s"],
                    "p50_ms": m["p50_ms"],
                    "p95_ms": m["p95_ms"],
                    "recall_at_10": r,
                }
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
