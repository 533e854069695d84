"""Concurrency benchmark: processes x threads writing and searching one SQLite store.

Each worker thread does a load in one shared namespace through ``Memory``:
``--search-share`` of the operations are searches (default 25%), the rest
writes (47% add, 20% add_many of 5, 20% update, 13% delete); each process
opens the store itself. After the run the store must hold exactly the
memories the workers were told were written (lost = 0), at the acknowledged
versions, and pass ``check()``. Workers embed with ``HashEmbedder`` (a
deterministic stand-in for the model), so the figures are the store's: with
the packaged model, embedding (about 40 ms per single add on 2 cores) dominates.

    python bench/concurrency.py --operations 300 --out bench/results/concurrency.json
    python bench/concurrency.py --search-share 0 --out bench/results/concurrency-writes.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb.testing.concurrency import run_load
from locomo import machine

SHAPES = ((1, 1), (2, 1), (4, 1), (1, 4), (4, 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=300, help="operations per thread")
    parser.add_argument("--search-share", type=float, default=0.25)
    parser.add_argument("--out", type=Path, default=Path("bench/results/concurrency.json"))
    args = parser.parse_args(argv)
    runs = []
    for processes, threads in SHAPES:
        with tempfile.TemporaryDirectory(prefix="engram-load-") as workdir:
            report = run_load(
                Path(workdir) / "store",
                processes=processes,
                threads=threads,
                operations=args.operations,
                search_share=args.search_share,
            )
        runs.append(
            {
                "processes": processes,
                "threads": threads,
                "operations": report.operations,
                "writes": report.writes,
                "searches": report.searches,
                "seconds": round(report.seconds, 2),
                "ops_per_s": round(report.ops_per_s, 1),
                "memories": report.found,
                "lost": report.lost,
                "unexplained": report.unexplained,
                "wrong_version": report.wrong_version,
                "check": list(report.problems),
            }
        )
        print(
            f"{processes} processes x {threads} threads: {report.operations} operations "
            f"({report.writes} writes, {report.searches} searches) in {report.seconds:.1f} s = "
            f"{report.ops_per_s:.0f} ops/s; memories {report.found}, lost {report.lost}, "
            f"unexplained {report.unexplained}, wrong version {report.wrong_version}, "
            f"check {'ok' if not report.problems else report.problems}"
        )
    result = {
        "benchmark": "concurrency",
        "command": "python bench/concurrency.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "embedder": "HashEmbedder (engramdb.testing.fakes)",
        "operations_per_thread": args.operations,
        "search_share": args.search_share,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    bad = [r for r in runs if r["lost"] or r["unexplained"] or r["wrong_version"] or r["check"]]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
