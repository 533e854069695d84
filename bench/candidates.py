"""Candidate recall: how much of a question's evidence the two-stage pool holds, by size and source.

The first stage of a two-stage search (``recall.candidates.gather``,
docs/recall.md) chooses at most ``recall_pool`` memories and the ranker
sees nothing else, so an evidence turn left out of the pool is lost
whatever the ranker does. For each LoCoMo dev question (``bench/locomo.py``'s
data and protocol: categories 1-4 with evidence, ``now`` = the last
session's date) this measures the share of its evidence turns that are

- in the pool, per pool size, and which step of ``gather`` brought them
  (``seed``: the fused dense and lexical seeds, ``context``/``time``,
  ``neighbour``, ``session``, ``link``, ``more``: further seeds);
- among the top ``size`` of each seed source alone (``Store.vector_search``,
  ``Store.lexical_search``), and among the pool's seeds (steps ``seed`` and
  ``more``);

with each conversation alone in its namespace (pools capped at shares of the
conversation: ``--fractions``) and among generated distractors in the same
namespace (``bench/scale.py haystack``'s: ``--distractors``, real-model
vectors from ``bench/cache/``). With ``--search`` it also runs the two-stage
search at each pool size and reports its Recall@10 (shipped weights) and its
cost, so that a pool size can be weighed against what it costs. Times are the
CPU time of the searching thread (p50), which a machine shared with other work
disturbs less than the clock; the question vectors come from the cache, so no
embedding is in them. ``--allocation`` compares shares of the pool per step
(``recall.candidates.Allocation``) on the same stores.

    python bench/candidates.py --distractors 2000 10000 --search \\
        --out bench/results/candidates.json
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import locomo as locomo_bench
import scale
from engramdb import Memory
from engramdb.formats import locomo
from engramdb.recall import engine
from engramdb.recall.candidates import ALLOCATION, Allocation, gather, gathered
from engramdb.recall.features import Query
from engramdb.recall.lexical import words
from metrics import percentile, recall_at

STEPS = ("seed", "context", "time", "neighbour", "session", "link", "more")


@dataclass
class Tally:
    """Evidence shares summed over questions, for one (setting, pool size)."""

    size: int = 0
    questions: int = 0
    pool: float = 0.0
    dense: float = 0.0
    lexical: float = 0.0
    fused: float = 0.0
    by_step: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STEPS, 0.0))
    recall_at_10: float = 0.0
    searched: int = 0
    gather_s: list[float] = field(default_factory=list)
    lexical_s: list[float] = field(default_factory=list)
    search_s: list[float] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        n = max(self.questions, 1)
        out: dict[str, Any] = {
            "pool_size": self.size,
            "questions": self.questions,
            "candidate_recall": self.pool / n,
            "dense_alone": self.dense / n,
            "lexical_alone": self.lexical / n,
            "seeds_in_pool": self.fused / n,
            "by_step": {step: share / n for step, share in self.by_step.items()},
            "gather_ms_p50": 1000 * percentile(self.gather_s, 50),
            "lexical_search_ms_p50": 1000 * percentile(self.lexical_s, 50),
        }
        if self.searched:
            out["recall_at_10"] = self.recall_at_10 / self.searched
            out["search_ms_p50"] = 1000 * percentile(self.search_s, 50)
            out["search_ms_p95"] = 1000 * percentile(self.search_s, 95)
        return out


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def measure(
    mem: Memory,
    conv: locomo.Conversation,
    namespace: str,
    sizes: Sequence[int],
    tallies: dict[tuple[Allocation, int], Tally],
    *,
    search: bool,
    allocations: Sequence[Allocation],
) -> None:
    """Add each question of ``conv`` to the tallies of each allocation and pool size."""
    store = mem.store
    dia = {e.id: str(e.metadata.get("dia_id", "")) for e in store.iter_engrams(namespace)}
    questions = locomo_bench.questions(conv)
    vectors = mem.embedder.embed([q.question for q in questions])
    for q, vector in zip(questions, vectors, strict=True):
        query = Query.parse(q.question, vector, conv.last_session_at)
        evidence = list(q.evidence)

        def share(ids: Sequence[str], evidence: list[str] = evidence) -> float:
            found = {dia[i] for i in ids if i in dia}
            return sum(e in found for e in evidence) / len(evidence)

        for size in sizes:
            dense = [c.id for c in store.vector_search(namespace, vector, size)]
            start = time.thread_time()
            lexical = [c.id for c in store.lexical_search(namespace, words(q.question), size)]
            lexical_s = time.thread_time() - start
            for allocation in allocations:
                tally = tallies.setdefault((allocation, size), Tally(size=size))
                start = time.thread_time()
                pool = gathered(store, namespace, query, size, allocation)
                tally.gather_s.append(time.thread_time() - start)
                tally.lexical_s.append(lexical_s)
                tally.questions += 1
                tally.pool += share(list(pool))
                tally.dense += share(dense)
                tally.lexical += share(lexical)
                tally.fused += share([i for i, step in pool.items() if step in ("seed", "more")])
                for step in STEPS:
                    tally.by_step[step] += share([i for i, s in pool.items() if s == step])
                if search:
                    ranked, seconds = searched(mem, conv, namespace, q.question, size, allocation)
                    tally.search_s.append(seconds)
                    tally.recall_at_10 += recall_at(ranked, evidence, 10)
                    tally.searched += 1


def searched(
    mem: Memory,
    conv: locomo.Conversation,
    namespace: str,
    question: str,
    size: int,
    allocation: Allocation,
) -> tuple[list[str], float]:
    """The two-stage search's top 10 (dia_ids) with a pool of ``size`` gathered with
    ``allocation``, and its CPU seconds."""
    recaller = mem._recall()
    exhaustive = recaller.exhaustive_up_to
    recaller.pool, recaller.exhaustive_up_to = size, 0
    engine.gather = partial(gather, allocation=allocation)  # type: ignore[attr-defined]  # benchmark hook
    try:
        start = time.thread_time()
        hits = mem.search(
            question, namespace=namespace, limit=10, now=conv.last_session_at, reinforce=False
        )
        seconds = time.thread_time() - start
    finally:
        recaller.pool, recaller.exhaustive_up_to = mem.settings.recall_pool, exhaustive
        engine.gather = gather  # type: ignore[attr-defined]
    return [str(h.engram.metadata.get("dia_id", "")) for h in hits], seconds


def alone(
    conversations: Sequence[locomo.Conversation],
    cache: scale.VectorCache,
    work: Path,
    fractions: Sequence[float],
    *,
    search: bool,
    allocations: Sequence[Allocation],
) -> list[dict[str, Any]]:
    """Each conversation in its own namespace, pools capped at ``fractions`` of it."""
    rows: dict[tuple[Allocation, float], list[Tally]] = {}
    with Memory(str(work / "alone"), embedder=cache) as mem:
        for conv in conversations:
            mem.add_many(list(conv.turns), namespace=conv.sample_id)
        for conv in conversations:
            sizes = [max(1, math.ceil(f * len(conv.turns))) for f in fractions]
            tallies: dict[tuple[Allocation, int], Tally] = {}
            measure(
                mem, conv, conv.sample_id, sizes, tallies, search=search, allocations=allocations
            )
            for allocation in allocations:
                for f, size in zip(fractions, sizes, strict=True):
                    rows.setdefault((allocation, f), []).append(tallies[allocation, size])
            say(f"  {conv.sample_id} alone: pools {sizes}")
    return [
        merged(f"{f:g} of each conversation", allocation, rows[allocation, f])
        for allocation in allocations
        for f in fractions
    ]


def among(
    conversations: Sequence[locomo.Conversation],
    cache: scale.VectorCache,
    work: Path,
    distractors: int,
    sizes: Sequence[int],
    seed: int,
    *,
    search: bool,
    allocations: Sequence[Allocation],
) -> list[dict[str, Any]]:
    """Each conversation in a namespace that also holds ``distractors`` generated memories."""
    base = work / f"base-{distractors}.db"
    scale.build_distractors(base, cache, distractors, seed)
    tallies: dict[tuple[Allocation, int], Tally] = {}
    for conv in conversations:
        path = work / f"{conv.sample_id}-{distractors}.db"
        shutil.copyfile(base, path)
        with Memory(str(path), embedder=cache) as mem:
            mem.add_many(list(conv.turns), namespace="haystack")
            measure(mem, conv, "haystack", sizes, tallies, search=search, allocations=allocations)
        path.unlink(missing_ok=True)
        say(f"  {conv.sample_id} among {distractors:,} distractors")
    base.unlink(missing_ok=True)
    return [
        merged(f"{distractors} distractors", allocation, [tallies[allocation, s]])
        for allocation in allocations
        for s in sizes
    ]


def merged(setting: str, allocation: Allocation, parts: Sequence[Tally]) -> dict[str, Any]:
    """One row from the tallies of several conversations (their pool sizes listed)."""
    total = Tally(size=parts[0].size)
    for part in parts:
        total.questions += part.questions
        total.pool += part.pool
        total.dense += part.dense
        total.lexical += part.lexical
        total.fused += part.fused
        for step in STEPS:
            total.by_step[step] += part.by_step[step]
        total.recall_at_10 += part.recall_at_10
        total.searched += part.searched
        total.gather_s += part.gather_s
        total.lexical_s += part.lexical_s
        total.search_s += part.search_s
    return {
        "setting": setting,
        "allocation": shares(allocation),
        "pool_sizes": [p.size for p in parts],
    } | total.report()


def shares(allocation: Allocation) -> str:
    return ",".join(
        f"{v:g}"
        for v in (allocation.seeds, allocation.extra, allocation.neighbours, allocation.sessions)
    )


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        f"{'setting':<26} {'allocation':<16} {'pool':>5} {'cand':>6} {'dense':>6} {'lex':>6} "
        f"{'seeds':>6} "
        + " ".join(f"{s[:5]:>6}" for s in STEPS)
        + f" {'R@10':>6} {'gather':>6} {'lexic':>6} {'search':>6}"
    )
    lines = [head]
    for r in rows:
        size = str(r["pool_size"]) if len(set(r["pool_sizes"])) == 1 else "var"
        lines.append(
            f"{r['setting']:<26} {r['allocation']:<16} {size:>5} {r['candidate_recall']:6.3f} "
            f"{r['dense_alone']:6.3f} {r['lexical_alone']:6.3f} {r['seeds_in_pool']:6.3f} "
            + " ".join(f"{r['by_step'][s]:6.3f}" for s in STEPS)
            + f" {r.get('recall_at_10', float('nan')):6.3f} {r['gather_ms_p50']:6.1f}"
            f" {r['lexical_search_ms_p50']:6.1f} {r.get('search_ms_p50', float('nan')):6.1f}"
        )
    return "\n".join(lines) + "\n(times: CPU ms of the searching thread, p50)"


def allocation_of(text: str) -> Allocation:
    """``0.4,0.5,0.7,0.9``: the shares of ``recall.candidates.Allocation``, in its order."""
    seeds, extra, neighbours, sessions = (float(v) for v in text.split(","))
    return Allocation(seeds=seeds, extra=extra, neighbours=neighbours, sessions=sessions)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=locomo_bench.DEFAULT_DATA)
    p.add_argument("--cache-dir", type=Path, default=scale.CACHE)
    p.add_argument("--fractions", type=float, nargs="*", default=[0.1, 0.2, 0.5])
    p.add_argument("--distractors", type=int, nargs="*", default=[2_000], help="0: only each alone")
    p.add_argument("--pools", type=int, nargs="+", default=[100, 200, 300, 500, 1_000])
    p.add_argument("--search", action="store_true", help="also the two-stage search's R@10")
    p.add_argument(
        "--allocation",
        nargs="+",
        default=[shares(ALLOCATION)],
        help="seeds,extra,neighbours,sessions shares of the pool (several: compared)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("bench/results/candidates.json"))
    args = p.parse_args(argv)
    allocations = [allocation_of(text) for text in args.allocation]
    started = time.perf_counter()
    conversations = locomo.load(args.data)
    cache = scale.VectorCache(args.cache_dir)
    say(f"vector cache: {cache.stored:,} vectors in {cache.vectors_path}")
    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="engram-candidates-"))
    try:
        if args.fractions:
            rows += alone(
                conversations, cache, work, args.fractions, search=args.search,
                allocations=allocations,
            )  # fmt: skip
        for n in (d for d in args.distractors if d > 0):
            rows += among(
                conversations, cache, work, n, args.pools, args.seed, search=args.search,
                allocations=allocations,
            )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows), flush=True)
    report = {
        "command": " ".join(["python", "bench/candidates.py", *(argv or sys.argv[1:])]),
        "data": str(args.data),
        "machine": scale.machine(),
        "rows": rows,
        "elapsed_s": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    say(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
