"""``engram import`` of LoCoMo dev, timed as whole commands (docs/write-path.md).

    python bench/import_speed.py [--data PATH] [--out bench/results/import_speed.json]

1. ``engram import FILE --no-wait`` into a new store: the command's wall time
   (interpreter start and imports included) and its CPU time, then every turn is
   checked durable (counted in a fresh process) and lexically searchable (each
   turn found by a search for its own words, no vector needed);
2. the catch-up: a new process opens the store (the background embedder starts
   at open: model load included) and, while vectors are pending, asks the
   category 1-4 questions one after another, timing each search; the time until
   nothing is pending is the time to every vector;
3. baselines from the same run: ``engram import FILE`` (writes, then waits for
   every vector) and ``engram import FILE --embed now`` (each batch embedded
   before it is written, as before), each as a whole command.

Speeds on a shared machine are preliminary: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory
from engramdb.formats import locomo
from locomo import DEFAULT_DATA, machine, percentile, questions

ENGRAM = [sys.executable, "-m", "engramdb"]


def timed_command(argv: list[str]) -> dict[str, float]:
    """Run a command; its wall time and its CPU time (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def written(store: Path, conversations: list[locomo.Conversation]) -> dict[str, int]:
    """How many turns are stored, and how many a search for their own words finds."""
    stored = found = 0
    with Memory(str(store), read_only=True) as mem:
        for conv in conversations:
            stored += mem.stats(namespace=conv.sample_id).engrams
            for turn in conv.turns:
                hits = mem.store.lexical_search(conv.sample_id, turn["text"].split()[:12], 50)
                dia = {mem.get(h.id, namespace=conv.sample_id).metadata.get("dia_id") for h in hits}
                found += turn["metadata"]["dia_id"] in dia
    return {"stored": stored, "lexically_found": found}


def catch_up(store: Path, conversations: list[locomo.Conversation]) -> dict[str, Any]:
    """Open the store (the embedder starts), search while it catches up, time both."""
    asked = [(c, q.question) for c in conversations for q in questions(c)]
    latencies: list[float] = []
    start = time.perf_counter()
    with Memory(str(store)) as mem:
        names = [c.sample_id for c in conversations]
        i = 0
        while sum(mem.stats(namespace=n).pending_vectors for n in names):
            conv, question = asked[i % len(asked)]
            i += 1
            t0 = time.perf_counter()
            mem.search(
                question, namespace=conv.sample_id, now=conv.last_session_at, reinforce=False
            )
            latencies.append(time.perf_counter() - t0)
        mem.flush()
        every_vector_s = time.perf_counter() - start
    return {
        "every_vector_s": every_vector_s,
        "searches_during": len(latencies),
        "search_ms_during": {
            "p50": 1000 * percentile(latencies, 50) if latencies else None,
            "p95": 1000 * percentile(latencies, 95) if latencies else None,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("bench/results/import_speed.json"))
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args(argv)
    conversations = locomo.load(args.data)
    turns = sum(len(c.turns) for c in conversations)
    load_before = os.getloadavg()
    report: dict[str, Any] = {"turns": turns, "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="engram-import-") as tmp:
        store = Path(tmp) / "later"
        fast = timed_command(
            [*ENGRAM, "--store", str(store), "import", str(args.data), "--no-wait"]
        )
        report["no_wait"] = {**fast, "turns_per_s": turns / fast["wall_s"]}
        report["no_wait"]["turns_per_cpu_s"] = turns / fast["cpu_s"]
        report["durable"] = written(store, conversations)
        report["catch_up"] = catch_up(store, conversations)
        print(json.dumps(report, indent=2), flush=True)
        if not args.no_baselines:
            for name, extra in (("wait", []), ("embed_now", ["--embed", "now"])):
                where = Path(tmp) / name
                run = timed_command(
                    [*ENGRAM, "--store", str(where), "import", str(args.data), *extra]
                )
                report[name] = {**run, "turns_per_s": turns / run["wall_s"]}
                print(name, report[name], flush=True)
    report["loadavg_before"] = [round(x, 2) for x in load_before]
    report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
