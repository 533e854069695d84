"""What a lexical search costs as the index grows: ``Store.lexical_search`` against FTS5's bm25().

Builds (or reuses, ``--db``) a table laid out as the SQLite store's lexical
index (``engram_fts``: FTS5, porter/unicode61, columns ns/text/keys; and the
``engrams`` rows it names, id and namespace only) holding ``--rows``
generated memories of one namespace (``bench/scalegen.py``: the text, the
speaker as keys), written in batches as a store writes them, segments left
as FTS5's automerge leaves them. Then, per query (near-verbatim probes of
sampled memories and question-shaped queries, ``recall.lexical.words`` as
the search gets them), the CPU time of the searching thread for

- ``store/sqlite/lexical.py`` ``search`` (docs/recall.md, "Lexical seeds"), and
- the query it replaced: FTS5's ``bm25()`` over an OR of every term, confined
  to the namespace by its token (``--baseline``; slow on a large table),

with ``limit`` candidates, and the share of probes whose source is in the
top 10 / 100 / ``limit``.

    python bench/lexical_cost.py --rows 1000000 --db /tmp/fts-1m.db --baseline
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalegen
from engramdb.recall.lexical import words
from engramdb.security.crypto import PLAIN
from engramdb.store.base import Candidate
from engramdb.store.sqlite import lexical
from metrics import percentile

NAMESPACE = "default"
# The store's index (store/sqlite/schema.py) and the columns of ``engrams`` a search reads.
SCHEMA = """
CREATE TABLE engrams (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, namespace TEXT NOT NULL);
CREATE INDEX engrams_namespace ON engrams (namespace, rowid);
CREATE VIRTUAL TABLE engram_fts USING fts5 (
    ns, text, keys, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""
# FTS5's BM25 over every term, as the lexical search was written before it was bounded.
BASELINE = (
    "SELECT e.id, bm25(engram_fts, 0.0, 1.0, 0.6) AS rank FROM engram_fts "
    "JOIN engrams e ON e.rowid = engram_fts.rowid "
    "WHERE engram_fts MATCH ? ORDER BY rank LIMIT ?"
)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def build(path: Path, rows: int, seed: int) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" + SCHEMA)
    token = lexical.namespace_token(NAMESPACE)
    batch: list[scalegen.Generated] = []
    for g in scalegen.generate(rows, seed):
        batch.append(g)
        if len(batch) == 1_000 or g.index == rows - 1:
            with conn:
                conn.executemany(
                    "INSERT INTO engrams VALUES (?, ?, ?)",
                    [(b.index + 1, f"m{b.index}", NAMESPACE) for b in batch],
                )
                conn.executemany(
                    "INSERT INTO engram_fts (rowid, ns, text, keys) VALUES (?, ?, ?, ?)",
                    [
                        (b.index + 1, token, b.item["text"], b.item.get("speaker") or "")
                        for b in batch
                    ],
                )
            batch = []
            if (g.index + 1) % 100_000 == 0:
                say(f"  {g.index + 1:,} rows")
    conn.close()


def baseline(conn: sqlite3.Connection, terms: Sequence[str], limit: int) -> list[Candidate]:
    token = lexical.namespace_token(NAMESPACE)
    quoted = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    match = f'ns : "{token}" AND {{text keys}} : ({quoted})'
    return [Candidate(r[0], -float(r[1])) for r in conn.execute(BASELINE, (match, limit))]


def measure(
    search: Callable[[list[str]], list[Candidate]],
    queries: Sequence[tuple[str, str | None]],
    limit: int,
) -> dict[str, Any]:
    seconds: dict[str, list[float]] = {"probe": [], "question": []}
    found = {10: 0, 100: 0, limit: 0}
    for text, source in queries:
        start = time.thread_time()
        ids = [c.id for c in search(words(text))]
        seconds["probe" if source else "question"].append(time.thread_time() - start)
        for k in found:
            found[k] += source in ids[:k]
    probes = sum(1 for _, source in queries if source)
    return {kind: {q: 1000 * percentile(s, q) for q in (50, 95)} for kind, s in seconds.items()} | {
        "source_in_top": {str(k): v / probes for k, v in found.items()}
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--db", type=Path, help="the table's file, built when absent")
    p.add_argument("--probes", type=int, default=100)
    p.add_argument("--questions", type=int, default=50)
    p.add_argument("--limit", type=int, default=400, help="candidates asked for (the pool)")
    p.add_argument("--baseline", action="store_true", help="also FTS5's bm25() over every term")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("bench/results/lexical-cost.json"))
    args = p.parse_args(argv)
    path = args.db or Path(f"/tmp/engram-lexical-{args.rows}.db")
    if not path.exists():
        say(f"building {args.rows:,} rows in {path}")
        build(path, args.rows, args.seed)
    step = max(args.rows // args.probes, 1)
    rng = random.Random(1)
    queries: list[tuple[str, str | None]] = [
        (scalegen.near_verbatim(g.item["text"], rng), f"m{g.index}")
        for g in scalegen.generate(args.rows, args.seed)
        if g.index % step == 3
    ][: args.probes]
    queries += [(q.query, None) for q in scalegen.questions(args.questions, args.seed)]
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row  # as the store's connections read rows
    runs = {
        "lexical.search": measure(
            lambda terms: lexical.search(conn, PLAIN, NAMESPACE, terms, args.limit),
            queries,
            args.limit,
        )
    }
    if args.baseline:
        runs["fts5 bm25()"] = measure(
            lambda terms: baseline(conn, terms, args.limit), queries, args.limit
        )
    for name, run in runs.items():
        found = run["source_in_top"]
        say(
            f"{name}: probes p50/p95 {run['probe'][50]:.1f}/{run['probe'][95]:.1f} ms, "
            f"questions {run['question'][50]:.1f}/{run['question'][95]:.1f} ms (CPU); "
            "probe's source in the top " + ", ".join(f"{k}: {v:.2f}" for k, v in found.items())
        )
    report = {
        "command": " ".join(["python", "bench/lexical_cost.py", *(argv or sys.argv[1:])]),
        "rows": args.rows,
        "limit": args.limit,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
