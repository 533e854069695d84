"""Why near-verbatim probes miss their memory: the source's rank and what outranked it.

Reads a store kept by ``python bench/scale.py latency --keep --work-dir W`` (its
plan names the store, the stream's seed and the probes) and searches each
near-verbatim probe as ``bench/scale.py`` does (shipped weights, ``now`` of the
plan, ``reinforce=False``). For each probe whose source is not in the top 10 it
lists the source's rank among the candidates (or that it is not among them),
the memories ranked above it, and each signal's contribution (value times
weight, ``Hit.explain``) to the source and to each of them; then, over all
misses, by how many logits each signal put the memories above the source ahead
of it on average: the signals that lose the source its place.

    python bench/misses.py W                      # the plan's probes (those reported)
    python bench/misses.py W --probe-seed 1       # fresh probes of the same store
    python bench/misses.py W --json misses.json   # every miss in full

``--probe-seed`` makes new near-verbatim probes from the same generated stream
(``bench/scalegen.py``; the stream is generated again up to the store's size),
so that ranking changes can be tuned on one set of probes and reported on
another (the plan's). The store may have been copied: it is looked for in W
under the name ``bench/scale.py`` gives it, whatever path the plan recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalegen
from engramdb import Hit, Memory
from engramdb.testing.fakes import HashEmbedder
from scale import namespace_of, say, search_probe, settings_for

TOP = 10


def plan_in(work: Path) -> tuple[dict[str, Any], Path]:
    """The plan kept in ``work`` and the store beside it."""
    plans = sorted(work.glob("plan-*.json"))
    if len(plans) != 1:
        raise SystemExit(f"{work}: expected one plan-*.json, found {len(plans)}")
    plan = json.loads(plans[0].read_text())
    store = work / f"store-{plan['n']}-{plan['namespaces']}"
    if not store.exists():
        raise SystemExit(f"{work}: no store {store.name} beside {plans[0].name}")
    return plan, store


def fresh_probes(plan: dict[str, Any], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` near-verbatim probes for ``seed`` over the plan's stream, as the plan's
    own are made (a sample of the stream, then ``scalegen.probes``)."""
    n, namespaces = plan["n"], plan["namespaces"]
    wanted = set(scalegen.sample(n, 4 * count, seed))
    pool = [g for g in scalegen.generate(n, plan["seed"]) if g.index in wanted]
    return [
        {
            "query": p.query,
            "ref": p.ref,
            "kind": p.kind,
            "namespace": namespace_of(p.index, n, namespaces),
            "as_of": None,
            "emotion": None,
        }
        for p in scalegen.probes(pool, count, seed)
    ]


def contributions(hit: Hit) -> dict[str, float]:
    """Each signal's logits for this hit (value times weight; salience as faded)."""
    return {c.signal: c.value * c.weight for c in hit.explain.contributions}


def describe(hit: Hit) -> dict[str, Any]:
    e = hit.engram
    return {
        "rank": hit.rank,
        "ref": e.metadata.get("ref"),
        "text": e.text,
        "speaker": e.speaker,
        "stability_days": hit.explain.stability_days,
        "score": sum(contributions(hit).values()),
        "signals": contributions(hit),
    }


def examine(mem: Memory, probe: dict[str, Any], now: datetime, depth: int) -> dict[str, Any]:
    """The probe's top 10, and when its source is not there, its rank within ``depth``."""
    hits = search_probe(mem, probe, now, reinforce=False)
    refs = [h.engram.metadata.get("ref") for h in hits]
    if probe["ref"] in refs:
        return {"found": True, "rank": refs.index(probe["ref"]) + 1}
    deep = mem.search(
        probe["query"], namespace=probe["namespace"], limit=depth, now=now, reinforce=False
    )
    source = next((h for h in deep if h.engram.metadata.get("ref") == probe["ref"]), None)
    return {
        "found": False,
        "query": probe["query"],
        "rank": None if source is None else source.rank,
        "source": None if source is None else describe(source),
        "above": [describe(h) for h in deep[: TOP if source is None else source.rank - 1]],
    }


def gaps(misses: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Per signal, the mean of (memory above - source) over every memory ranked above a
    source in the top 10: positive where the signal put the twins ahead."""
    total: dict[str, float] = defaultdict(float)
    pairs = 0
    for miss in misses:
        source = miss["source"]
        if source is None:
            continue
        for above in miss["above"][:TOP]:
            pairs += 1
            for signal in set(above["signals"]) | set(source["signals"]):
                gain = above["signals"].get(signal, 0.0) - source["signals"].get(signal, 0.0)
                total[signal] += gain
    return {s: v / pairs for s, v in sorted(total.items(), key=lambda kv: -kv[1])} if pairs else {}


def show(miss: dict[str, Any], winners: int) -> str:
    source = miss["source"]
    lines = [f"- query: {miss['query']!r}"]
    if source is None:
        lines.append("  source: not among the candidates")
        return "\n".join(lines)
    lines.append(
        f"  source (rank {miss['rank']}, {source['speaker']}, S {source['stability_days']:.1f} d,"
        f" score {source['score']:.2f}): {source['text']}"
    )
    for above in miss["above"][:winners]:
        ahead = {
            s: above["signals"].get(s, 0.0) - source["signals"].get(s, 0.0)
            for s in set(above["signals"]) | set(source["signals"])
        }
        named = sorted(ahead.items(), key=lambda kv: -abs(kv[1]))[:6]
        lines.append(
            f"  #{above['rank']} ({above['speaker']}, S {above['stability_days']:.1f} d,"
            f" +{above['score'] - source['score']:.2f}): {above['text']}\n"
            "      ahead by " + ", ".join(f"{s} {v:+.2f}" for s, v in named)
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("work_dir", type=Path, help="a --work-dir kept by bench/scale.py --keep")
    p.add_argument("--probe-seed", type=int, help="fresh probes for this seed (default: plan's)")
    p.add_argument("--queries", type=int, default=200, help="fresh probes to make")
    p.add_argument("--depth", type=int, default=500, help="how deep to look for a source")
    p.add_argument("--winners", type=int, default=3, help="memories above the source to print")
    p.add_argument("--json", type=Path, help="write every miss in full here")
    args = p.parse_args(argv)
    plan, store = plan_in(args.work_dir)
    if args.probe_seed is None:
        probes = [q for q in plan["probes"] if q["kind"] == "verbatim"]
    else:
        say(f"making {args.queries} probes for seed {args.probe_seed} from the stream")
        probes = fresh_probes(plan, args.queries, args.probe_seed)
    now = datetime.fromisoformat(plan["now"])
    started = time.perf_counter()
    settings = settings_for(store, encrypted=plan["encrypted"])
    results = []
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        for i, probe in enumerate(probes, 1):
            results.append(examine(mem, probe, now, args.depth))
            if i % 50 == 0:
                say(f"  {i}/{len(probes)} probes")
    misses = [r for r in results if not r["found"]]
    for miss in misses:
        print(show(miss, args.winners))
    found = len(results) - len(misses)
    outside = sum(1 for m in misses if m["source"] is None)
    ranks = [m["rank"] for m in misses if m["rank"] is not None]
    print(
        f"\n{plan['n']:,} memories, {'plan' if args.probe_seed is None else 'seed'}"
        f" {plan['seed'] if args.probe_seed is None else args.probe_seed} probes:"
        f" {found}/{len(results)} in the top {TOP}; {len(misses)} misses, {outside} not among"
        f" the first {args.depth}, median rank of the others"
        f" {float(np.median(ranks)) if ranks else float('nan'):.0f}"
        f" ({time.perf_counter() - started:.0f} s)"
    )
    print("logits by which the memories above a missed source led it, mean per signal:")
    for signal, gain in gaps(misses).items():
        if abs(gain) >= 0.01:
            print(f"  {signal:<20} {gain:+.2f}")
    if args.json:
        args.json.write_text(json.dumps({"found": found, "of": len(results), "misses": misses}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
