"""Filters at scale: do filtered searches of a large namespace find what passes the filter?

    python bench/filters.py --n 100000 --probes 100 --out bench/results/filters.json

Writes ``--n`` generated memories (``bench/scalegen.py``, hash embedder, batches
of 1,000, one namespace) into ``--store`` (kept, so a second run measures the
same store without writing it again), then asks near-verbatim probes of
sampled memories, and loose ones (three of its longer words), under filters
built from each source memory: selective ones
(its session, its speaker, its ``metadata.ref``, an hour around its event
time) and broad ones (its topic, its channel, a year around its event time,
``as_of`` an hour after it, every speaker but two others). Each probe is
searched twice on the same warm store: *before*, with the filter kept out of
candidate generation (the pool gathered as for an unfiltered query, then cut
to what passes: what recall did before filters seeded the pool), and
*after*, as the library searches now (docs/filters.md, "Large namespaces").

Reported per filter: how many memories pass it (median over the first ten
probes), the share of probes whose source is in the top 10 (near-verbatim and
loose), the share of searches that return as many hits as they can (10, or
all that pass when fewer do), hits that break the filter (must be 0), and
search p50/p95 in ms over every search (query embedding included:
the hash embedder costs well under a millisecond). The machine's load and
CPU flags go with the figures: take latency as preliminary on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalegen
from engramdb import Memory, Settings
from engramdb.filters import Filter, parse
from engramdb.recall import engine
from engramdb.testing.fakes import HashEmbedder
from metrics import percentile

NAMESPACE = "default"
BATCH = 1_000
LIMIT = 10
CACHE = Path(__file__).resolve().parent / "cache"
NOW = scalegen.END + timedelta(days=1)

Options = dict[str, Any]
#: name -> (selective?, the search options built from a source memory and a random draw)
FILTERS: dict[str, tuple[bool, Callable[[dict[str, Any], random.Random], Options]]] = {
    "none": (False, lambda m, rng: {}),
    "session": (True, lambda m, rng: {"where": {"session": m["session"]}}),
    "speaker": (True, lambda m, rng: {"where": {"speaker": m["speaker"]}}),
    "metadata.ref": (True, lambda m, rng: {"where": {"metadata.ref": m["metadata"]["ref"]}}),
    "hour": (
        True,
        lambda m, rng: {
            "occurred_after": m["occurred_at"] - timedelta(minutes=30),
            "occurred_before": m["occurred_at"] + timedelta(minutes=30),
        },
    ),
    "topic": (False, lambda m, rng: {"where": {"metadata.topic": m["metadata"]["topic"]}}),
    "channel": (False, lambda m, rng: {"where": {"metadata.channel": m["metadata"]["channel"]}}),
    "year": (
        False,
        lambda m, rng: {
            "occurred_after": m["occurred_at"] - timedelta(days=182),
            "occurred_before": m["occurred_at"] + timedelta(days=183),
        },
    ),
    "as_of": (False, lambda m, rng: {"as_of": m["occurred_at"] + timedelta(hours=1)}),
    "speaker $nin": (
        False,
        lambda m, rng: {
            "where": {
                "speaker": {"$nin": rng.sample([n for n in scalegen.NAMES if n != m["speaker"]], 2)}
            }
        },
    ),
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(path: Path, n: int, seed: int) -> None:
    """Write the ``n`` generated memories, unless the store already holds them."""
    settings = Settings(path=str(path))
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        held = mem.stats(namespace=NAMESPACE).engrams
        if held == n:
            say(f"store {path} holds {n:,} memories")
            return
        if held:
            raise SystemExit(f"{path} holds {held:,} memories, not {n:,}: remove it")
        start = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for g in scalegen.generate(n, seed):
            batch.append(g.item)
            if len(batch) == BATCH or g.index == n - 1:
                mem.add_many(batch, namespace=NAMESPACE)
                batch = []
                if (g.index + 1) % 10_000 == 0 or g.index == n - 1:
                    rate = (g.index + 1) / (time.perf_counter() - start)
                    say(f"  ingest {g.index + 1:,}/{n:,} ({rate:,.0f}/s)")


@contextmanager
def before_filters_seeded() -> Iterator[None]:
    """Candidate generation without the filter: the pool of the unfiltered query, cut
    afterwards (the engine's eligibility mask still applies the filter)."""
    within = engine._within
    engine._within = lambda request: None
    try:
        yield
    finally:
        engine._within = within


def reference(options: Options) -> Filter:
    """The filter a search's options make, with ``as_of`` as its event-time bound."""
    before = options.get("occurred_before")
    if options.get("as_of") is not None:
        before = options["as_of"] + timedelta(microseconds=1)
    return parse(
        options.get("where"), occurred_after=options.get("occurred_after"), occurred_before=before
    )


def loose(text: str, rng: random.Random) -> str:
    """Three of the longer words of ``text``, lower case: a query that names the memory
    without saying it again."""
    words = [w.strip(".,!?;:'\"").lower() for w in text.split()]
    longer = [w for w in words if len(w) > 3] or words
    return " ".join(rng.sample(longer, min(3, len(longer))))


def run(mem: Memory, probes: list[tuple[str, str, Options, int]]) -> dict[str, Any]:
    found = full = broken = 0
    seconds: list[float] = []
    for query, ref, options, most in probes:
        start = time.perf_counter()
        hits = mem.search(
            query, namespace=NAMESPACE, limit=LIMIT, now=NOW, reinforce=False, **options
        )
        seconds.append(time.perf_counter() - start)
        found += any(h.engram.metadata.get("ref") == ref for h in hits)
        full += len(hits) == most
        check = reference(options)
        broken += sum(
            not check.matches(
                speaker=h.engram.speaker,
                session=h.engram.session,
                metadata=h.engram.metadata,
                occurred_at=h.engram.occurred_at,
            )
            for h in hits
        )
    return {
        "found": found / max(len(probes), 1),
        "full": full / max(len(probes), 1),
        "broken": broken,
        "p50_ms": 1000 * percentile(seconds, 50),
        "p95_ms": 1000 * percentile(seconds, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=100, help="probes per filter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", type=Path, help="default: bench/cache/filters-N.db")
    parser.add_argument("--filters", nargs="*", default=list(FILTERS), choices=list(FILTERS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    path = args.store or CACHE / f"filters-{args.n}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    build(path, args.n, args.seed)
    picked = set(scalegen.sample(args.n, args.probes, args.seed + 1))
    memories = [g for g in scalegen.generate(args.n, args.seed) if g.index in picked]
    rng = random.Random(f"filters:{args.seed}")
    rows: dict[str, Any] = {}
    with Memory(settings=Settings(path=str(path)), embedder=HashEmbedder()) as mem:
        start = time.perf_counter()
        mem.search("warm up", namespace=NAMESPACE, now=NOW, reinforce=False)
        say(f"first search {time.perf_counter() - start:.1f} s")
        for g in memories[:20]:
            mem.search(g.item["text"], namespace=NAMESPACE, now=NOW, reinforce=False)
        store = mem._store  # how many pass: the store's own filter index
        for name in args.filters:
            selective, make = FILTERS[name]
            made = [(g, make(g.item, rng)) for g in memories]
            most = [
                len(store.matching(NAMESPACE, reference(o), limit=LIMIT)) if reference(o) else LIMIT
                for _, o in made
            ]
            verbatim = [
                (scalegen.near_verbatim(g.item["text"], rng), g.ref, o, k)
                for (g, o), k in zip(made, most, strict=True)
            ]
            loosely = [
                (loose(g.item["text"], rng), g.ref, o, k)
                for (g, o), k in zip(made, most, strict=True)
            ]
            passing = sorted(
                len(store.matching(NAMESPACE, reference(o))) if reference(o) else args.n
                for _, o in made[:10]
            )
            row: dict[str, Any] = {"selective": selective, "passing_median": passing[5]}
            for kind, probes in (("verbatim", verbatim), ("loose", loosely)):
                with before_filters_seeded():
                    old = run(mem, probes)
                new = run(mem, probes)
                row[kind] = {"before": old, "after": new}
                say(
                    f"{name:>13} {kind:>8}: {passing[5]:>7,} pass; found in top {LIMIT} "
                    f"{old['found']:.2f} -> {new['found']:.2f}; full {old['full']:.2f} -> "
                    f"{new['full']:.2f}; broken {old['broken']}/{new['broken']}; p50 "
                    f"{old['p50_ms']:.0f} -> {new['p50_ms']:.0f} ms, p95 {old['p95_ms']:.0f} "
                    f"-> {new['p95_ms']:.0f} ms"
                )
            rows[name] = row
    report = {
        "n": args.n,
        "probes": args.probes,
        "seed": args.seed,
        "load": os.getloadavg(),
        "filters": rows,
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
