"""How long pending vectors take to arrive with one and with several processes catching
up on one PostgreSQL store (docs/scaling.md, "Pending vectors from several servers").

For each count in ``--servers``: a fresh schema of the database ``--store`` names
(default: ``ENGRAMDB_TEST_POSTGRES``), ``--memories`` notes written with
``embed="later"`` and no embedder running, then that many real processes, each a
``Memory`` with the packaged model (loaded and warmed before the start), open the
store at one instant and ``flush``. It prints the seconds from that instant until the
last process's flush returned and how many vectors each process wrote (their sum is
``--memories`` when no memory was embedded twice), as JSON lines.

    nice -n 19 python bench/pending_servers.py --memories 2000 --servers 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

import psycopg
from psycopg import sql

from engramdb import Memory, Settings

_CHILD = """
import json, sys, time
from engramdb import Memory, Settings
from engramdb.embed import make_embedder

model = make_embedder(Settings())
model.embed(["warm up"])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
with Memory(sys.argv[1], embedder=model) as mem:
    mem.flush()
    done = time.time()
    print(json.dumps({"embedded": mem._catchup.embedded, "done": done}))
"""


def run(url: str, memories: int, servers: int) -> dict[str, object]:
    load = os.getloadavg()[0]
    schema = f"bench_pending_{uuid.uuid4().hex[:10]}"
    at = f"{url}{'&' if '?' in url else '?'}schema={schema}"
    try:
        with Memory(settings=Settings(path=at, background_embedder=False)) as mem:
            for start in range(0, memories, 500):
                mem.add_many(
                    [
                        {"text": f"note {i}: the meeting about project {i % 53} moved"}
                        for i in range(start, min(memories, start + 500))
                    ],
                    namespace="bench",
                    embed="later",
                )
        go = time.time() + 30  # the model loads slowly on a busy machine
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, at, str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(servers)
        ]
        results = []
        for child in children:
            out, err = child.communicate()
            if child.returncode != 0:
                raise SystemExit(err)
            results.append(json.loads(out))
        return {
            "memories": memories,
            "servers": servers,
            "seconds": round(max(float(r["done"]) for r in results) - go, 2),
            "embedded_by_each": [r["embedded"] for r in results],
            "cpus": os.cpu_count(),
            "load_1min_before": load,
        }
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=os.environ.get("ENGRAMDB_TEST_POSTGRES", ""))
    parser.add_argument("--memories", type=int, default=2000)
    parser.add_argument("--servers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    if not args.store:
        raise SystemExit("no PostgreSQL: pass --store or set ENGRAMDB_TEST_POSTGRES")
    for servers in args.servers:
        print(json.dumps(run(args.store, args.memories, servers)), flush=True)


if __name__ == "__main__":
    main()
