"""What a process pays at open for vectors another process left unsaved (store/sqlite/cache.py).

On a store kept by ``python bench/scale.py latency --keep --work-dir W``, one
process adds ``--unsaved`` memories and closes without saving the graph (its
``_CATCH_UP_MAX`` raised above them, as a close left up to a tenth of the graph
before that cap); then a new process opens the store and runs the plan's first
probe, which inserts each unsaved vector into the loaded graph again. It prints
that open-to-first-result time and the cache's counts; ``--unsaved 0`` on
another copy is the baseline. The store is written to: measure a copy each time.

    python bench/catch_up.py W/store-1000000-1 W/plan-1000000-1.json --unsaved 4000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale
from engramdb import Memory
from engramdb.store.sqlite import cache
from engramdb.testing.fakes import HashEmbedder


def open_to_first(store: Path, plan: dict) -> None:  # type: ignore[type-arg]
    """In this process: open, the first probe, print the time and the cache's counts."""
    start = time.perf_counter()
    memory = Memory(settings=scale.settings_for(store, encrypted=False), embedder=HashEmbedder())
    scale.search_probe(memory, plan["probes"][0], datetime.fromisoformat(plan["now"]), False)
    took = time.perf_counter() - start
    events = dict(memory._store._cache.events)  # type: ignore[attr-defined]
    memory.close()
    print(json.dumps({"open_to_first_result_s": round(took, 3), "events": events}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("plan", type=Path)
    parser.add_argument("--unsaved", type=int, default=4000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    plan = json.loads(args.plan.read_text())
    if args.child:
        open_to_first(args.store, plan)
        return
    namespace = plan["probes"][0]["namespace"]
    cache._CATCH_UP_MAX = max(cache._CATCH_UP_MAX, args.unsaved + 1)
    with Memory(
        settings=scale.settings_for(args.store, encrypted=False), embedder=HashEmbedder()
    ) as writer:
        for start in range(0, args.unsaved, 500):
            batch = range(start, min(start + 500, args.unsaved))
            writer.add_many([{"text": f"catch-up probe {i} by the lantern river"} for i in batch],
                            namespace=namespace)  # fmt: skip
    child = [sys.executable, __file__, str(args.store), str(args.plan), "--child"]
    print(f"{args.unsaved:,} unsaved vectors, then a new process:", flush=True)
    subprocess.run(child, check=True)


if __name__ == "__main__":
    main()
