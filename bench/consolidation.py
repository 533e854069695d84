"""Consolidation at scale: throughput as a namespace grows, and a stopped run resumed
(docs/consolidation.md, "At scale").

Writes ``--size`` generated memories (``bench/scalegen.py``, the hash embedder,
batches of 1,000) into one namespace of a new store at ``--store`` (or opens
the store already there, written so), then
consolidates it, printing episodes per second for each 5,000 so that a rate
that falls as the namespace fills shows: per second of wall time and per
second of this process's CPU time (which other processes on a busy machine
change much less). ``--stop-after S`` stops the run
after S seconds (as Ctrl-C does) and resumes it in a new ``Memory``, timing
the first batch after the restart.

    python bench/consolidation.py --size 50000 --store /tmp/c50.db [--stop-after 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalegen
from engramdb import Memory, Settings
from engramdb.testing.fakes import HashEmbedder

NAMESPACE = "default"
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


class _Stopped(Exception):
    pass


def build(path: str, size: int) -> float:
    started = time.perf_counter()
    with Memory(settings=Settings(path=path), embedder=HashEmbedder()) as mem:
        batch: list[dict[str, Any]] = []
        for generated in scalegen.generate(size, 7):
            batch.append(generated.item)
            if len(batch) == 1_000:
                mem.add_many(batch, namespace=NAMESPACE)
                batch = []
        if batch:
            mem.add_many(batch, namespace=NAMESPACE)
    return time.perf_counter() - started


def consolidate(path: str, stop_after: float | None) -> dict[str, Any]:
    started, cpu_started = time.perf_counter(), time.process_time()
    marks: list[tuple[int, float, float]] = [(0, 0.0, 0.0)]

    def step(done: int, total: int) -> None:
        now, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        last, last_at, last_cpu = marks[-1]
        if done and (done - last >= 5_000 or done == total):
            wall_rate = (done - last) / max(now - last_at, 1e-9)
            cpu_rate = (done - last) / max(cpu - last_cpu, 1e-9)
            print(
                f"  {done:>9,} / {total:,} episodes at {now:7.1f} s: "
                f"{wall_rate:.0f}/s, {cpu_rate:.0f}/CPU s",
                flush=True,
            )
            marks.append((done, now, cpu))
        if stop_after is not None and now > stop_after:
            raise _Stopped

    with Memory(settings=Settings(path=path), embedder=HashEmbedder()) as mem:
        try:
            report = mem.consolidate(namespace=NAMESPACE, now=NOW, progress=step)
        except _Stopped:
            return {"stopped_at_s": time.perf_counter() - started, "marks": marks}
    return {
        "episodes": report.episodes,
        "seconds": report.seconds,
        "cpu_seconds": time.process_time() - cpu_started,
        "episodes_per_s": report.episodes / max(report.seconds, 1e-9),
        "facts": report.facts,
        "summaries": report.summaries,
        "duplicates": report.duplicates,
        "batches": report.batches,
        "marks": marks,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--store", required=True, help="a new or existing store's path")
    parser.add_argument("--stop-after", type=float, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"size": args.size}
    if not Path(args.store).exists():
        result["build_s"] = build(args.store, args.size)
    if args.stop_after is not None:
        result["first_run"] = consolidate(args.store, args.stop_after)
        print(f"stopped; resuming in a new Memory: {result['first_run']['stopped_at_s']:.1f} s")
    result["run"] = consolidate(args.store, None)
    print(json.dumps({k: v for k, v in result["run"].items() if k != "marks"}))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
