"""What the row checksums cost the store (docs/reliability.md, "Row checksums").

The embedder is ``HashEmbedder`` (fast, deterministic), so the figures are the
store's own. For a plaintext store and an encrypted one (fresh random key), with
``--memories`` memories in one namespace, CPU time of this process (less
sensitive to other work on a shared machine than wall time), each the median of
``--repeats`` runs:

- ``add_many``: writing the memories in batches of 500 (per memory);
- ``get``: reading every memory back by id from the store, 100 ids a call (per memory);
- ``history``: the versions of 300 memories, one call each (per call);
- ``update``: 200 updates (per update);
- ``reinforce``: a search's write-back, the dynamics of 10 memories in one
  ``set_dynamics`` (per call, 100 calls);
- ``search``: a search of 10 hits, its reinforcement written at once (per call,
  50 calls);
- ``check``: one whole ``check()`` (per call).

Run it on the code before and after a change with the same arguments and compare
the labelled reports:

    python bench/row_checksums.py --label after --out bench/results/row_checksums-after.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import EncryptionKey, Memory, Settings
from engramdb.security.crypto import generate_key
from engramdb.store.base import DynamicsUpdate
from engramdb.testing.fakes import HashEmbedder
from locomo import machine

WORDS = ("market", "river", "museum", "guitar", "garden", "recipe", "train", "coffee")


def _items(n: int) -> list[dict[str, Any]]:
    return [
        {
            "text": f"I went to the {WORDS[i % 8]} with {WORDS[(i * 3) % 8]} on day {i} "
            f"and talked about the {WORDS[(i * 5) % 8]} for a while",
            "speaker": ("Maya", "Tom")[i % 2],
            "session": f"s{i // 20}",
            "metadata": {"i": i},
        }
        for i in range(n)
    ]


def _cpu(step: Callable[[], object]) -> float:
    start = time.process_time()
    step()
    return time.process_time() - start


def measure(memories: int, key: EncryptionKey | None) -> dict[str, float]:
    settings = Settings(encryption=key)
    items = _items(memories)
    with (
        tempfile.TemporaryDirectory(prefix="engram-checksums-") as tmp,
        Memory(tmp, settings=settings, embedder=HashEmbedder()) as mem,
    ):
        ids: list[str] = []

        def add() -> None:
            for at in range(0, memories, 500):
                ids.extend(e.id for e in mem.add_many(items[at : at + 500], namespace="n"))

        add_s = _cpu(add)

        def get() -> None:
            for at in range(0, len(ids), 100):
                mem.store.get_many("n", ids[at : at + 100])

        get_s = _cpu(get)
        history_s = _cpu(lambda: [mem.history(i, namespace="n") for i in ids[:300]])
        update_s = _cpu(
            lambda: [mem.update(i, namespace="n", text=f"revised {i}") for i in ids[:200]]
        )

        def reinforce() -> None:
            for call in range(100):
                chosen = ids[(call * 10) % len(ids) :][:10]
                mem.store.set_dynamics(
                    "n",
                    [DynamicsUpdate(i, stability_days=20.0 + call, recalls=call) for i in chosen],
                )

        reinforce_s = _cpu(reinforce)

        def search() -> None:
            for call in range(50):
                mem.search(f"the {WORDS[call % 8]} on day {call}", namespace="n", limit=10)
                mem.flush()

        search_s = _cpu(search)
        check_s = _cpu(mem.check)
    return {
        "add_many_us_per_memory": 1e6 * add_s / memories,
        "get_us_per_memory": 1e6 * get_s / memories,
        "history_us_per_call": 1e6 * history_s / 300,
        "update_us_per_update": 1e6 * update_s / 200,
        "reinforce_us_per_call": 1e6 * reinforce_s / 100,
        "search_us_per_call": 1e6 * search_s / 50,
        "check_ms": 1e3 * check_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, default=Path("bench/results/row_checksums.json"))
    args = parser.parse_args(argv)
    kinds = {"plaintext": None, "encrypted": EncryptionKey.from_text(generate_key())}
    results: dict[str, dict[str, float]] = {}
    for kind, key in kinds.items():
        runs = [measure(args.memories, key) for _ in range(args.repeats)]
        results[kind] = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
    print(f"{args.label:24} {'plaintext':>10} {'encrypted':>10}")
    for name in results["plaintext"]:
        print(f"{name:24} {results['plaintext'][name]:10.1f} {results['encrypted'][name]:10.1f}")
    report = {
        "command": " ".join(["python", "bench/row_checksums.py", *(argv or sys.argv[1:])]),
        "label": args.label,
        "machine": machine(),
        "memories": args.memories,
        "repeats": args.repeats,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
