"""``add_many`` of a batch on PostgreSQL: its time, and how often the change mark moved.

    python bench/pg_batch.py --store postgresql://... [--batch 1000] [--rounds 5]

Each round opens a new schema of the database (dropped afterwards), adds one
memory so that the store and its connections exist, then times
``Memory.add_many`` of ``--batch`` memories into a new namespace. The hash
embedder (``engramdb.testing.fakes.HashEmbedder``) stands in for the model, so
the time is the store's write: rows, versions, digests and the change mark.
The mark's moves are counted from the sequence that gives its values
(``namespace_change``, docs/scaling.md): how many new values the batch took.

Times on a shared machine are preliminary: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from psycopg import sql

from engramdb import Memory
from engramdb.testing.fakes import HashEmbedder
from scale import machine


def _last_value(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT last_value FROM {}.namespace_change").format(sql.Identifier(schema))
        ).fetchone()
    assert row is not None
    return int(row[0])


def one_round(url: str, batch: int, seed: int) -> dict[str, float]:
    schema = f"add_many_{uuid.uuid4().hex[:12]}"
    joiner = "&" if "?" in url else "?"
    start_at = datetime(2024, 1, 1, tzinfo=UTC)
    items = [
        {
            "text": f"Note {seed}-{i}: the parcel for flat {i % 97} came on day {i % 31}.",
            "session": f"s{i // 100}",
            "occurred_at": start_at + timedelta(minutes=i),
        }
        for i in range(batch)
    ]
    try:
        with Memory(f"{url}{joiner}schema={schema}", embedder=HashEmbedder()) as mem:
            mem.add("warm up", namespace="warm")
            before = _last_value(url, schema)
            started = time.perf_counter()
            mem.add_many(items, namespace="batch")
            seconds = time.perf_counter() - started
            moves = _last_value(url, schema) - before
            assert mem.stats(namespace="batch").engrams == batch
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return {"seconds": seconds, "mark_moves": moves}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", default=os.environ.get("ENGRAMDB_TEST_POSTGRES", ""))
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if not args.store.startswith(("postgresql://", "postgres://")):
        raise SystemExit("--store: a postgresql:// URL (or set ENGRAMDB_TEST_POSTGRES)")
    load_start = os.getloadavg()[0]
    rounds = [one_round(args.store, args.batch, seed) for seed in range(args.rounds)]
    seconds = [r["seconds"] for r in rounds]
    report: dict[str, Any] = {
        "batch": args.batch,
        "rounds": rounds,
        "median_s": statistics.median(seconds),
        "memories_per_s": args.batch / statistics.median(seconds),
        "mark_moves": sorted({int(r["mark_moves"]) for r in rounds}),
        "machine": machine() | {"load_average_1m_at_start": load_start},
    }
    print(
        f"add_many of {args.batch} on PostgreSQL, {args.rounds} rounds: "
        f"median {report['median_s']:.3f} s ({report['memories_per_s']:.0f} memories/s), "
        f"each {', '.join(f'{s:.3f}' for s in seconds)} s; "
        f"change mark moved {report['mark_moves']} times a batch; "
        f"load {load_start:.1f} -> {report['machine']['load_average_1m_at_end']:.1f}"
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
