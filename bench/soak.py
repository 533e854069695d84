"""Soak benchmark: resident memory of one long-running process over 100k mixed operations.

One ``Memory`` on a file store does adds, batch adds, updates, deletes and
searches (10%) over four namespaces, with the store held near ``--size`` memories
(deletes balance adds), and samples the process's RSS (VmRSS from
/proc/self/status) every 1% of the run. RSS should stay flat once the store
reaches its size: no cache, index or connection grows with the number of
operations. There is no server yet, so this measures the library in one
process (the server will reuse it).

``--embedder hash`` (default) uses ``HashEmbedder``, a deterministic stand-in,
so 100k operations take minutes; ``--embedder local`` uses the packaged model
(about 40 ms per embedding call on 2 cores), for a shorter run.

    python bench/soak.py --operations 100000 --out bench/results/soak.json
    python bench/soak.py --embedder local --operations 3000 --out bench/results/soak-local.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Memory, Settings
from engramdb.embed import make_embedder
from engramdb.testing.fakes import HashEmbedder
from locomo import machine

NAMESPACES = ("soak-0", "soak-1", "soak-2", "soak-3")
WORDS = [
    "river", "lantern", "orchard", "violin", "harbour", "meadow", "copper", "saffron", "glacier",
    "ember", "compass", "willow", "falcon", "marble", "thistle", "canyon", "velvet", "beacon",
    "juniper", "quartz", "Lisbon", "cello", "terrier", "job", "trip", "doctor", "flat", "balcony",
    "painting", "translation", "university", "birthday", "garden", "recipe", "marathon",
]  # fmt: skip


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def run(mem: Memory, operations: int, size: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    live: dict[str, list[str]] = {ns: [] for ns in NAMESPACES}
    counts = {"add": 0, "add_many": 0, "update": 0, "delete": 0, "search": 0}
    samples: list[tuple[int, float]] = [(0, rss_mib())]
    step = max(operations // 100, 1)
    started = time.perf_counter()

    def text() -> str:
        return " ".join(rng.choices(WORDS, k=rng.randint(4, 30)))

    for op in range(1, operations + 1):
        ns = rng.choice(NAMESPACES)
        total = sum(len(ids) for ids in live.values())
        roll = rng.random()
        if roll < 0.10:
            hits = mem.search(text(), namespace=ns, limit=10)
            assert len(hits) <= 10
            counts["search"] += 1
        elif roll < 0.35 and live[ns]:
            mem.update(rng.choice(live[ns]), namespace=ns, text=text())
            counts["update"] += 1
        elif (total > size or roll < 0.50) and live[ns]:
            victim = live[ns].pop(rng.randrange(len(live[ns])))
            mem.delete(victim, namespace=ns)
            counts["delete"] += 1
        elif roll < 0.95:
            live[ns].append(mem.add(text(), namespace=ns, session=f"s{op // 500}").id)
            counts["add"] += 1
        else:
            batch = mem.add_many([{"text": text()} for _ in range(5)], namespace=ns)
            live[ns].extend(e.id for e in batch)
            counts["add_many"] += 1
        if op % step == 0:
            samples.append((op, rss_mib()))
    seconds = time.perf_counter() - started

    def at(fraction: float) -> float:
        target = int(operations * fraction)
        return min(samples, key=lambda s: abs(s[0] - target))[1]

    return {
        "operations": operations,
        "counts": counts,
        "memories_at_end": sum(len(ids) for ids in live.values()),
        "seconds": round(seconds, 1),
        "ops_per_s": round(operations / seconds, 1),
        "rss_mib": {
            "before": round(samples[0][1], 1),
            "at_10pct": round(at(0.10), 1),
            "start_25pct": round(at(0.25), 1),
            "middle_50pct": round(at(0.50), 1),
            "end_100pct": round(at(1.0), 1),
            "max": round(max(s[1] for s in samples), 1),
        },
        "growth_25_to_100pct_mib": round(at(1.0) - at(0.25), 1),
        "samples": [(n, round(r, 1)) for n, r in samples],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=2_000, help="memories the store hovers at")
    parser.add_argument("--embedder", choices=["hash", "local"], default="hash")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/soak.json"))
    args = parser.parse_args(argv)
    embedder = HashEmbedder() if args.embedder == "hash" else make_embedder(Settings())
    with (
        tempfile.TemporaryDirectory(prefix="engram-soak-") as workdir,
        Memory(str(Path(workdir) / "store"), embedder=embedder) as mem,
    ):
        result = run(mem, args.operations, args.size, args.seed)
    result = {
        "benchmark": "soak",
        "command": "python bench/soak.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "embedder": "HashEmbedder (engramdb.testing.fakes)"
        if args.embedder == "hash"
        else "packaged all-MiniLM-L6-v2 int8",
        "measured": "the library in one process (no server exists yet)",
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    rss = result["rss_mib"]
    print(
        f"{args.operations} operations ({result['counts']}) in {result['seconds']} s "
        f"({result['ops_per_s']} ops/s), {result['memories_at_end']} memories at the end; "
        f"RSS MiB before {rss['before']}, 10% {rss['at_10pct']}, 25% {rss['start_25pct']}, "
        f"50% {rss['middle_50pct']}, 100% {rss['end_100pct']}, max {rss['max']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
