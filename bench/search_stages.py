"""Where a search's time goes, by stage and by kind of query (docs/recall.md, "Two stages").

    python bench/scale.py latency --sizes 100000 --keep --work-dir W   # a store and its plan
    python bench/search_stages.py W/plan-100000-1.json --out bench/results/stages.json
    python bench/search_stages.py W/plan-100000-1.json --compare bench/results/stages.json

Opens the store of a ``bench/scale.py`` plan (its settings, the hash embedder),
searches each of the plan's probes as ``bench/scale.py`` does (limit 10,
``reinforce=False``) once to warm up and then ``--rounds`` times, and times each
stage of every search by wrapping the functions that do it: the time a stage
spends in itself, without the stages it calls, so the stages of a search add
up to it. The stages of a two-stage search (``recall.engine``,
``recall.candidates``):

- candidates: ``count`` (is the namespace larger than a pool), ``filter``
  (``Store.count_matching``, ``Store.matching``, ``Store.few_matching``: which
  memories pass ``where``/``as_of``), ``dense`` (``Store.vector_search``, and
  ``vector_search_within``, which checks the filter as it reads), ``lexical``
  (``Store.lexical_search``, ``lexical_search_within``), ``time``
  (``Store.occurred_between``), ``around`` (the turns around the strongest),
  ``links`` (``Store.links_of``), ``gather`` (the choosing itself);
- ``catalog`` (``Store.catalog_of``: the pool's rows, dynamics and vectors),
  ``view`` (``NamespaceView``: the pool's BM25 index, windows, sessions);
- ``features`` (``recall.features.signals``), ``eligible`` (which may be
  returned), ``ranker`` (``AttentionRanker.rank``), ``relevance``;
- ``fetch`` (``Store.get_many`` of the hits) and ``packing`` (the hits and
  explanations: what ``Recaller.search`` does itself);
- ``parse`` (``Query.parse``: time expressions, terms), ``embed`` (the query's
  embedding, left out of ``search``), ``other`` (the facade and the rest).

It prints, per probe kind (``verbatim``, ``as_of``, ``emotion``, ``question``)
and for all, each stage's p50 and p95 in ms (each stage's own percentiles: they
do not add up), the search's p50 / p95 / p99 with the embedding left out, and
the mean of each stage over the slowest 5% of searches (what the tail is made
of). Wall time on a shared machine moves with the load; the CPU time of the
process is given beside it.

``--out`` also keeps, per probe, a digest of what was ranked: the pool's ids,
every signal over it (bit for bit) and the hits with their scores. With
``--compare`` an earlier ``--out`` is read and the probes whose pool, signals or
hits differ are counted: a change that only makes a search cheaper leaves them
all equal.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale
from engramdb import Memory
from engramdb.recall import engine, features, ranker, relevance
from engramdb.testing.fakes import HashEmbedder
from metrics import percentile

KINDS = ("verbatim", "as_of", "emotion", "question")
STAGES = (
    "count",
    "filter",
    "dense",
    "lexical",
    "time",
    "around",
    "links",
    "gather",
    "catalog",
    "view",
    "features",
    "eligible",
    "ranker",
    "relevance",
    "fetch",
    "packing",
    "parse",
    "embed",
    "other",
)
_STORE_STAGES = {
    "count": "count",
    "matching": "filter",
    "count_matching": "filter",
    "vectors": "filter",
    "few_matching": "filter",
    "vector_search": "dense",
    "vector_search_within": "dense",
    "lexical_search": "lexical",
    "lexical_search_within": "lexical",
    "occurred_between": "time",
    "around": "around",
    "links_of": "links",
    "catalog_of": "catalog",
    "facts_of": "view",
    "get_many": "fetch",
    "neighbours": "fetch",
}


class Stages:
    """Self time per stage of the search in progress, wall and CPU (this thread's): each
    wrapped call's time less that of the wrapped calls inside it."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._stack: list[list[Any]] = []  # [stage, wall, cpu, wall inside, cpu inside]

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        frame: list[Any] = [name, time.perf_counter(), time.thread_time(), 0.0, 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            wall = time.perf_counter() - frame[1]
            cpu = time.thread_time() - frame[2]
            self.spent[name] = self.spent.get(name, 0.0) + wall - frame[3]
            self.cpu[name] = self.cpu.get(name, 0.0) + cpu - frame[4]
            if self._stack:
                self._stack[-1][3] += wall
                self._stack[-1][4] += cpu

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return function(*args, **kwargs)

        return wrapped

    def take(self) -> tuple[dict[str, float], dict[str, float]]:
        spent, cpu, self.spent, self.cpu = self.spent, self.cpu, {}, {}
        return spent, cpu


class Ranked:
    """What the last search ranked: its pool's ids and signals (kept for the digest)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.signals: dict[str, Any] = {}


def instrument(mem: Memory, stages: Stages, ranked: Ranked) -> None:
    """Wrap the functions of each stage (module globals, classes and the store's methods)."""
    store = mem._store  # the benchmark times the store's calls: Memory has no hook for it
    for method, name in _STORE_STAGES.items():
        if hasattr(store, method):  # (a version of the store may lack one)
            setattr(store, method, stages.wrap(name, getattr(store, method)))
    engine.gather = stages.wrap("gather", engine.gather)
    signals = features.signals

    def recorded(query: Any, view: Any, *args: Any) -> Any:
        with stages.stage("features"):
            out = signals(query, view, *args)
        ranked.ids, ranked.signals = list(view.catalog.ids), out
        return out

    engine.signals = recorded
    engine.names = stages.wrap("relevance", engine.names)
    engine._paths = stages.wrap("packing", engine._paths)
    view_init = features.NamespaceView.__init__
    features.NamespaceView.__init__ = stages.wrap("view", view_init)  # type: ignore[method-assign]
    parse = features.Query.parse.__func__  # type: ignore[attr-defined]
    features.Query.parse = classmethod(stages.wrap("parse", parse))  # type: ignore[assignment]
    recaller = engine.Recaller
    for attribute, name in (
        ("_eligible", "eligible"),
        ("search", "packing"),
        ("score", "features"),  # the pool's cosines
        ("_candidates", "gather"),
        ("_pool_view", "view"),
        ("_knowledge", "view"),
    ):
        setattr(recaller, attribute, stages.wrap(name, getattr(recaller, attribute)))
    attention = ranker.AttentionRanker
    attention.rank = stages.wrap("ranker", attention.rank)  # type: ignore[method-assign]
    calibration = relevance.Calibration
    calibration.relevance = stages.wrap("relevance", calibration.relevance)  # type: ignore[method-assign]


class StagedEmbedder(HashEmbedder):
    """The hash embedder, its time counted as the ``embed`` stage."""

    def __init__(self, stages: Stages) -> None:
        super().__init__()
        self.stages = stages

    def embed(self, texts: Any) -> Any:
        with self.stages.stage("embed"):
            return super().embed(texts)


def digest(ranked: Ranked, hits: list[Any]) -> dict[str, str]:
    """Digests of the pool, its signals bit for bit (each, and all), and the hits with
    their scores."""
    pool = hashlib.sha256("\n".join(ranked.ids).encode()).hexdigest()[:16]
    each = {
        name: hashlib.sha256(
            np.ascontiguousarray(ranked.signals[name], dtype=np.float64).tobytes()
        ).hexdigest()[:16]
        for name in sorted(ranked.signals)
    }
    signals = hashlib.sha256(json.dumps(each, sort_keys=True).encode()).hexdigest()[:16]
    found = "\n".join(f"{h.engram.id} {h.score!r} {h.relevance!r}" for h in hits)
    return {
        "pool": pool,
        "signals": signals,
        "hits": hashlib.sha256(found.encode()).hexdigest()[:16],
        "each": json.dumps(each, sort_keys=True),
    }


def run(plan_path: Path, rounds: int) -> dict[str, Any]:
    plan = json.loads(plan_path.read_text())
    store, now = Path(plan["store"]), datetime.fromisoformat(plan["now"])
    probes = plan["probes"]
    stages, ranked = Stages(), Ranked()
    settings = scale.settings_for(store, encrypted=plan["encrypted"])
    mem = Memory(settings=settings, embedder=StagedEmbedder(stages))
    instrument(mem, stages, ranked)
    samples: list[dict[str, Any]] = []
    digests: list[dict[str, str]] = []
    for round_ in range(rounds + 1):
        scale.say(f"round {round_} of {rounds} ({'warm-up' if round_ == 0 else 'measured'})")
        for probe in probes:
            stages.take()
            wall, cpu = time.perf_counter(), time.thread_time()
            hits = scale.search_probe(mem, probe, now, reinforce=False)
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            spent, spent_cpu = stages.take()
            embed, embed_cpu = spent.get("embed", 0.0), spent_cpu.get("embed", 0.0)
            spent["other"] = wall - sum(spent.values())
            spent_cpu["other"] = cpu - sum(spent_cpu.values())
            if round_ == 0:
                digests.append(digest(ranked, hits))
                continue
            samples.append(
                {
                    "kind": probe["kind"],
                    "search_s": wall - embed,
                    "cpu_s": cpu - embed_cpu,
                    "pool": len(ranked.ids),
                    "stages": spent,
                    "stages_cpu": spent_cpu,
                }
            )
    mem.close()
    return {"plan": str(plan_path), "n": plan["n"], "rounds": rounds} | {
        "families": {kind: family(samples, kind) for kind in (*KINDS, "all")},
        "digests": digests,
    }


def family(samples: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    rows = [s for s in samples if kind in ("all", s["kind"])]
    if not rows:
        return {"n": 0}
    out: dict[str, Any] = {"n": len(rows), "pool_mean": float(np.mean([s["pool"] for s in rows]))}
    for clock, total, staged in (("wall", "search_s", "stages"), ("cpu", "cpu_s", "stages_cpu")):
        totals = [s[total] for s in rows]
        cut = percentile(totals, 95)
        tail = [s for s in rows if s[total] >= cut]
        stages: dict[str, dict[str, float]] = {}
        for name in STAGES:
            values = [s[staged].get(name, 0.0) for s in rows]
            stages[name] = {
                "p50": 1000 * percentile(values, 50),
                "p95": 1000 * percentile(values, 95),
                "tail_mean": 1000 * float(np.mean([s[staged].get(name, 0.0) for s in tail])),
            }
        out[clock] = {
            "search_ms": {f"p{q}": 1000 * percentile(totals, q) for q in (50, 95, 99)},
            "stages_ms": stages,
        }
    return out


def table(result: dict[str, Any], clock: str) -> str:
    """The stages' p50 / p95 per kind of probe, by wall time or this thread's CPU time."""
    families = [k for k in (*KINDS, "all") if result["families"][k]["n"]]
    figures = {k: result["families"][k][clock] for k in families}
    head = f"| stage ({clock}, ms) | " + " | ".join(f"{k} p50 / p95" for k in families)
    lines = [head + " | all: slowest 5%, mean |", "|" + " --- |" * (len(families) + 2)]
    for name in STAGES:
        cells = [figures[k]["stages_ms"][name] for k in families]
        shown = " | ".join(f"{c['p50']:.1f} / {c['p95']:.1f}" for c in cells)
        tail = figures["all"]["stages_ms"][name]["tail_mean"]
        lines.append(f"| {name} | {shown} | {tail:.1f} |")
    searches = [figures[k]["search_ms"] for k in families]
    lines.append(
        "| **search** p50 / p95 / p99 | "
        + " | ".join(f"{s['p50']:.1f} / {s['p95']:.1f} / {s['p99']:.1f}" for s in searches)
        + " | |"
    )
    pools = [result["families"][k]["pool_mean"] for k in families]
    lines.append("| pool (mean) | " + " | ".join(f"{p:.0f}" for p in pools) + " | |")
    return "\n".join(lines)


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    pairs = list(zip(before["digests"], after["digests"], strict=True))
    differ = {
        key: sum(1 for b, a in pairs if b[key] != a[key]) for key in ("pool", "signals", "hits")
    }
    signals: dict[str, int] = {}
    for b, a in pairs:
        if "each" in b and "each" in a:
            before, after = json.loads(b["each"]), json.loads(a["each"])
            for name in sorted(set(before) | set(after)):
                if before.get(name) != after.get(name):
                    signals[name] = signals.get(name, 0) + 1
    which = ", ".join(f"{name} {count}" for name, count in signals.items())
    return (
        f"{len(pairs)} probes: pools differ in {differ['pool']}, signals in "
        f"{differ['signals']}{f' ({which})' if which else ''}, hits or scores in {differ['hits']}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("plan", type=Path, help="a plan written by bench/scale.py latency --keep")
    p.add_argument("--rounds", type=int, default=2, help="measured passes (0: digests only)")
    p.add_argument("--out", type=Path, help="write the figures and digests here (JSON)")
    p.add_argument("--compare", type=Path, help="an earlier --out: are pools and ranks equal?")
    args = p.parse_args(argv)
    result = run(args.plan, args.rounds) | {"machine": scale.machine()}
    if args.rounds > 0:  # (none: the warm-up's digests only)
        print(table(result, "wall") + "\n\n" + table(result, "cpu"), flush=True)
    if args.compare is not None:
        print(compare(json.loads(args.compare.read_text()), result), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
