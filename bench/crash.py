"""Crash benchmark: 1,000 SIGKILL cycles on one store, 0 acknowledged writes lost.

Runs the harness of ``engramdb.testing.crash`` (the same one the CI test runs
for 50 cycles): a writer process adds, adds in batches, updates, deletes and
forgets namespaces through ``Memory`` on one SQLite file store, logging each
acknowledged write with fsync; it is killed with SIGKILL at a random moment,
and the store is opened and audited after every kill. Writers embed with
``HashEmbedder`` (a deterministic stand-in for the model): the benchmark
exercises the store's transactions, not the embedding model.

    python bench/crash.py --cycles 1000 --out bench/results/crash.json

``--deferred``: writers add with ``embed="later"`` (docs/write-path.md), kills land
during the background embedder's catch-up too, and the run ends with one more open
that lets it finish: every memory must then have its vector and be found by it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb.config import EncryptionKey
from engramdb.security.crypto import generate_key
from engramdb.testing.crash import run_crash_cycles
from locomo import machine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-run-s",
        type=float,
        default=0.15,
        help="a writer is killed after a random 0..max-run-s of writing",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/crash.json"))
    parser.add_argument(
        "--encryption", action="store_true", help="an encrypted store (a fresh random key)"
    )
    parser.add_argument(
        "--deferred", action="store_true", help="writers leave vectors to the background embedder"
    )
    args = parser.parse_args(argv)
    key = EncryptionKey.from_text(generate_key()) if args.encryption else None
    with tempfile.TemporaryDirectory(prefix="engram-crash-") as workdir:
        report = run_crash_cycles(
            Path(workdir),
            args.cycles,
            seed=args.seed,
            max_run_s=args.max_run_s,
            key=key,
            deferred=args.deferred,
        )
    result = {
        "benchmark": "crash",
        "command": "python bench/crash.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "embedder": "HashEmbedder (engramdb.testing.fakes)",
        "deferred": args.deferred,
        **{k: v for k, v in asdict(report).items() if k != "problems"},
        "problems": list(report.problems),
        "writes_per_cycle": report.acknowledged / max(report.cycles, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"cycles {report.cycles}  acknowledged writes {report.acknowledged}  "
        f"lost {report.lost}  in flight applied/discarded {report.in_flight_applied}/"
        f"{report.in_flight_discarded}  kills while opening {report.early_kills}  "
        f"memories at end {report.memories}  time {report.seconds:.1f} s"
    )
    for problem in report.problems:
        print("PROBLEM:", problem)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
