"""A filtered listing of a 20,000-memory namespace on PostgreSQL (docs/scopes.md,
"Listing"; store.postgres.fields): the time to read every page of each filter.

It writes ``--n`` memories into a fresh schema of the database ``--store`` names
(default: ``ENGRAMDB_TEST_POSTGRES``) through ``Store.insert`` with one precomputed
vector (the listing is measured, not the model): speaker one of 10, session one of
200, ``metadata.topic`` one of 50, ``metadata.tags`` a list of two of 20 words,
``metadata.day`` an ISO date. Then for each filter it lists the namespace in event
time, pages of ``--page``, ``--repeat`` times, and prints the median seconds per
full listing and how many memories passed, as JSON lines. Run it with the
source of two revisions (``PYTHONPATH``) to compare them.

    nice -n 19 python bench/pg_listing.py --n 20000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

from engramdb.filters import parse
from engramdb.store.base import EngramRecord
from engramdb.store.paging import PageQuery
from engramdb.store.postgres import PostgresStore
from engramdb.testing.conformance import DIMS, EMBEDDER, T0, make_record

FILTERS: dict[str, dict[str, object]] = {
    "session (0.5%)": {"session": "s17"},
    "speaker (10%)": {"speaker": "p3"},
    "metadata.topic (2%)": {"metadata.topic": 7},
    "metadata.tags (10%)": {"metadata.tags": "w5"},
    "metadata.day >= (string order, 18%)": {"metadata.day": {"$gte": "2025-04-08"}},
    "speaker + metadata.topic (0.2%)": {"speaker": "p1", "metadata.topic": 11},
    "metadata.topic $ne (98%)": {"metadata.topic": {"$ne": 7}},
}


def _record(i: int, vector: npt.NDArray[np.float32]) -> EngramRecord:
    at = T0 + timedelta(minutes=30 * i)
    metadata = {
        "topic": i % 50,
        "tags": [f"w{i % 20}", f"w{(i * 7 + 5) % 20}"],
        "day": str(at.date()),
    }
    return make_record(
        "big", f"memory {i}", speaker=f"p{i % 10}", session=f"s{i % 200}",
        metadata=metadata, occurred_at=at, vector=vector,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=os.environ.get("ENGRAMDB_TEST_POSTGRES", ""))
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.store:
        raise SystemExit("no PostgreSQL: pass --store or set ENGRAMDB_TEST_POSTGRES")
    schema = f"bench_listing_{uuid.uuid4().hex[:10]}"
    store = PostgresStore(args.store, schema=schema, dims=DIMS)
    vector = EMBEDDER.embed(["one vector for every memory"])[0]
    try:
        for start in range(0, args.n, 2_000):
            store.insert([_record(i, vector) for i in range(start, min(args.n, start + 2_000))])
        print(json.dumps({"memories": args.n, "load_1min": os.getloadavg()[0]}), flush=True)
        for name, spec in FILTERS.items():
            where = parse(spec)
            times, passed = [], 0
            for _ in range(args.repeat):
                began, passed, after = time.perf_counter(), 0, None
                while True:
                    page = store.page(
                        PageQuery("big", "occurred_at", False, args.page, where=where, after=after)
                    )
                    passed += len(page)
                    if len(page) < args.page:
                        break
                    after = page[-1].key
                times.append(time.perf_counter() - began)
            result = {"filter": name, "passed": passed, "s": round(statistics.median(times), 3)}
            print(json.dumps(result), flush=True)
    finally:
        store.close()
        with psycopg.connect(args.store, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
