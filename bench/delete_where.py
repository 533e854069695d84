"""Erasing many memories of a namespace: one ``delete_where`` against one ``delete`` each.

A SQLite store of ``--memories`` memories (one namespace, ten sessions, hash vectors:
no model) loses ``--gone`` of them, every memory of some sessions: once with
``delete_where(where={"session": {"$in": [...]}})``, once (on a copy made the same
way, the baseline) with one ``delete`` per memory. Both run the erasure's whole
scrub (docs/security.md, "Erasure that reaches the files"); it prints the wall and
CPU seconds of each, and of a dry run.

    python bench/delete_where.py --memories 5000 --gone 500
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engramdb import Memory
from engramdb.testing.fakes import HashEmbedder

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
SESSIONS = 10


def filled(path: Path, memories: int) -> Memory:
    memory = Memory(str(path), embedder=HashEmbedder())
    items = [
        {
            "text": f"note {i}: the garden, the bees and the {i % 97}th plum tree",
            "session": f"s{i % SESSIONS}",
            "occurred_at": T0 + timedelta(minutes=i),
        }
        for i in range(memories)
    ]
    for start in range(0, memories, 500):
        memory.add_many(items[start : start + 500], namespace="n")
    return memory


def timed(step: object) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=5000)
    parser.add_argument("--gone", type=int, default=500, help="a multiple of memories/10")
    args = parser.parse_args()
    sessions = [f"s{i}" for i in range(args.gone * SESSIONS // args.memories)]
    where = {"session": {"$in": sessions}}
    out: dict[str, object] = {"memories": args.memories, "sessions": sessions}
    with tempfile.TemporaryDirectory() as work:
        memory = filled(Path(work) / "by-filter", args.memories)
        wall, cpu, report = timed(
            lambda: memory.delete_where(namespace="n", where=where, dry_run=True)
        )
        out["dry_run"] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
        wall, cpu, report = timed(lambda: memory.delete_where(namespace="n", where=where))
        out["delete_where"] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
        out["deleted"] = report.count  # type: ignore[attr-defined]
        assert memory.check() == []
        memory.close()

        baseline = filled(Path(work) / "one-by-one", args.memories)
        doomed = [e.id for e in baseline.store.iter_engrams("n") if e.session in sessions]

        def each() -> None:
            for engram_id in doomed:
                baseline.delete(engram_id, namespace="n")

        wall, cpu, _ = timed(each)
        out["delete_each"] = {
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "calls": len(doomed),
        }
        assert baseline.check() == []
        baseline.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
