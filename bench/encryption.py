"""What encryption at rest costs the store (docs/security.md), plaintext and encrypted in one run.

The embedder is ``HashEmbedder`` (fast, deterministic), so the figures are the
store's and recall's own: sealing on write, opening on read. For each of a
plaintext store and an encrypted one (fresh random key, vectors sealed), with
``--memories`` memories in one namespace (default 10,000, below the ANN
threshold):

- ``add_many`` throughput, batches of 1,000;
- steady search latency (no writes in between), p50 and p95 of 200 queries;
- the dense candidates alone (``Store.vector_search``, 50 of them), p50 of the
  same queries: pgvector on a plaintext PostgreSQL store, the index in the
  process on an encrypted one;
- after one write: the catalog rebuild alone, and a whole search;
- open the store and search once (the vector index is loaded and opened).

``--store postgresql://...`` measures a PostgreSQL store instead, each run in a
new schema of that database, dropped afterwards: plaintext searches go to
pgvector, encrypted ones to the index in the process (docs/postgres.md,
"Encryption at rest").

    python bench/encryption.py --out bench/results/encryption.json
    python bench/encryption.py --store "$ENGRAMDB_TEST_POSTGRES" \
        --out bench/results/encryption-postgres.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import EncryptionKey, Memory, Settings
from engramdb.security.crypto import generate_key
from engramdb.testing.fakes import HashEmbedder
from metrics import percentile
from scale import machine

WORDS = [
    "market",
    "apples",
    "friend",
    "river",
    "museum",
    "guitar",
    "garden",
    "recipe",
    "train",
    "concert",
    "painting",
    "soccer",
    "novel",
    "puppy",
    "beach",
    "mountain",
    "coffee",
    "birthday",
    "school",
    "office",
    "doctor",
    "holiday",
]


def _items(n: int) -> list[dict[str, Any]]:
    return [
        {
            "text": f"I went to the {WORDS[i % len(WORDS)]} with {WORDS[(i * 7) % len(WORDS)]} "
            f"friends on day {i} and talked about the {WORDS[(i * 3) % len(WORDS)]}",
            "speaker": ("Maya", "Tom")[i % 2],
            "session": f"s{i // 20}",
        }
        for i in range(n)
    ]


@contextmanager
def _place(store: str | None) -> Iterator[str]:
    """A new store location: a temporary directory, or a new schema of ``store``."""
    if store is None:
        with tempfile.TemporaryDirectory(prefix="engram-enc-") as tmp:
            yield tmp
        return
    import psycopg
    from psycopg import sql

    schema = f"bench_enc_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{store}{'&' if '?' in store else '?'}schema={schema}"
    finally:
        with psycopg.connect(store, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def measure(memories: int, key: EncryptionKey | None, store: str | None = None) -> dict[str, float]:
    settings = Settings(encryption=key)
    items = _items(memories)
    queries = [f"what about the {WORDS[i % len(WORDS)]} on day {i * 13}" for i in range(200)]
    with _place(store) as tmp:
        with Memory(tmp, settings=settings, embedder=HashEmbedder()) as mem:
            start = time.perf_counter()
            for at in range(0, memories, 1000):
                mem.add_many(items[at : at + 1000], namespace="n")
            add_s = time.perf_counter() - start
            mem.search("warm up", namespace="n", reinforce=False)
            steady = []
            for q in queries:
                start = time.perf_counter()
                mem.search(q, namespace="n", reinforce=False)
                steady.append(time.perf_counter() - start)
            dense = []
            for vector in HashEmbedder().embed(queries):
                start = time.perf_counter()
                mem.store.vector_search("n", vector, 50)
                dense.append(time.perf_counter() - start)
            rebuild, after_write = [], []
            for i in range(5):
                mem.add(f"one more note {i}", namespace="n", session="s0")
                start = time.perf_counter()
                mem.store.catalog("n")
                rebuild.append(time.perf_counter() - start)
                mem.add(f"and another {i}", namespace="n", session="s0")
                start = time.perf_counter()
                mem.search(queries[i], namespace="n", reinforce=False)
                after_write.append(time.perf_counter() - start)
        start = time.perf_counter()
        with Memory(tmp, settings=settings, embedder=HashEmbedder()) as mem:
            mem.search(queries[0], namespace="n", reinforce=False)
            cold = time.perf_counter() - start
    return {
        "add_many_per_s": memories / add_s,
        "search_p50_ms": 1000 * percentile(steady, 50),
        "search_p95_ms": 1000 * percentile(steady, 95),
        "dense_p50_ms": 1000 * percentile(dense, 50),
        "catalog_rebuild_ms": 1000 * statistics.median(rebuild),
        "search_after_write_ms": 1000 * statistics.median(after_write),
        "open_and_search_ms": 1000 * cold,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--store", help="a postgresql:// URL: measure a PostgreSQL store")
    parser.add_argument("--out", type=Path, default=Path("bench/results/encryption.json"))
    args = parser.parse_args(argv)
    key = EncryptionKey.from_text(generate_key())
    results = {
        "plaintext": measure(args.memories, None, args.store),
        "encrypted": measure(args.memories, key, args.store),
    }
    print(f"{'':22} {'plaintext':>10} {'encrypted':>10}")
    for name in results["plaintext"]:
        print(f"{name:22} {results['plaintext'][name]:10.1f} {results['encrypted'][name]:10.1f}")
    shown = ["<postgresql URL>" if a == args.store else a for a in (argv or sys.argv[1:])]
    report = {
        "command": " ".join(["python", "bench/encryption.py", *shown]),
        "store": "postgresql" if args.store else "sqlite",
        "machine": machine(),
        "memories": args.memories,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
