"""The write path as a namespace grows: what one ``add_many`` of 1,000 costs, and where.

``bench/scale.py latency`` times ingest as a whole; this looks inside it
(BENCHMARKS.md, "Scale", "Ingest"). Two commands:

    python bench/ingest.py build 200000 /tmp/ingest/s200k.db      # the curve while writing
    python bench/ingest.py batch /tmp/ingest/s200k.db --batches 3  # one size, by part
    python bench/ingest.py batch new --real-model                  # the packaged model

``build`` writes ``n`` memories of ``bench/scalegen.py`` (hash embedder) into
one namespace through ``add_many`` in batches of 1,000, as ``scale.py`` does,
and prints every 5,000 the rate of the last five batches: by the clock and by
the process's CPU time (``time.process_time``, hnswlib's threads included),
which a loaded machine distorts far less. ``batch`` copies a store (its saved
vector index too), writes one warm batch of other memories (the index is
loaded), then ``--batches`` more, and prints the CPU and clock time of each
part of the write per 1,000 memories: validation, embedding, the emotion
appraisal, the novelty query, the index keys, the SQL of the rows (and of
each table), the vector index's insert. ``--real-model`` embeds with the
packaged model instead, into a new store (a store's vectors are of one model).
The parts are timed by wrapping the functions that do them, here only: the
library is not changed.

Run with ``OPENBLAS_NUM_THREADS=1`` for figures comparable with BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalegen
from engramdb import Memory, Settings
from engramdb.embed import Embedder, make_embedder
from engramdb.testing.fakes import HashEmbedder

BATCH = 1_000
NAMESPACE = "default"


def build(n: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cpu_start = time.process_time()
    done = 0
    wall = cpu = 0.0
    with Memory(settings=Settings(path=str(path)), embedder=HashEmbedder()) as mem:
        batch: list[dict[str, Any]] = []
        for g in scalegen.generate(n, 7):
            batch.append(g.item)
            if len(batch) < BATCH:
                continue
            t, c = time.perf_counter(), time.process_time()
            mem.add_many(batch, namespace=NAMESPACE)
            wall += time.perf_counter() - t
            cpu += time.process_time() - c
            done += len(batch)
            batch = []
            if done % 5_000 == 0:
                print(f"{done:>9,}  {5_000 / wall:6.0f}/s  {5_000 / cpu:6.0f}/cpu-s", flush=True)
                wall = cpu = 0.0
        if batch:
            mem.add_many(batch, namespace=NAMESPACE)
    print(
        f"{n:,} memories in {time.perf_counter() - start:.0f} s "
        f"({time.process_time() - cpu_start:.0f} CPU-s)"
    )


class Parts:
    """CPU and clock seconds spent in wrapped functions, by label."""

    def __init__(self) -> None:
        self.labels: list[str] = []  # in the order wrapped
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self.wall: defaultdict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        inner: Callable[..., Any] | None = getattr(owner, name, None)
        if inner is None:  # an older engramdb (a "before" run): that part is not timed
            return
        self.labels.append(label)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.cpu[label] += time.process_time() - c
                self.wall[label] += time.perf_counter() - t

        setattr(owner, name, timed)

    def clear(self) -> None:
        self.cpu.clear()
        self.wall.clear()


def wrapped() -> Parts:
    import engramdb.memory as facade
    from engramdb.dynamics import emotion, keeper
    from engramdb.store.sqlite import cache, dynamics, lexical, rows, store
    from engramdb.store.vectors import VectorIndex

    parts = Parts()
    parts.wrap(facade, "check_item", "validation")
    parts.wrap(HashEmbedder, "embed", "embedding (hash)")
    parts.wrap(emotion.EmotionTagger, "appraise", "emotion appraisal")
    parts.wrap(keeper, "nearest_similarities", "novelty query")
    parts.wrap(facade, "index_keys", "index keys")
    parts.wrap(store.SqliteStore, "insert", "store.insert (the transaction)")
    parts.wrap(rows, "insert", "  rows")
    parts.wrap(dynamics, "insert", "    dynamics row")
    parts.wrap(rows, "_write_vector", "    vector row (quantised)")
    parts.wrap(lexical, "index_text", "    FTS5 row")
    parts.wrap(rows, "insert_version", "  version rows")
    parts.wrap(cache.NamespaceCache, "added", "  loaded index: added")
    parts.wrap(VectorIndex, "_hnsw_add", "    hnswlib add_items")
    return parts


def batch(source: Path | None, batches: int, real_model: bool) -> None:
    parts = wrapped()
    embedder: Embedder = HashEmbedder()
    if real_model:
        embedder = make_embedder(Settings())
        embedder.embed(["warm up"])
        parts.wrap(type(embedder), "embed", "embedding (packaged model)")
    items = [g.item for g in scalegen.generate(BATCH * (batches + 1), 99)]
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy.db"
        for file in [] if source is None else source.parent.glob(source.name + "*"):
            shutil.copy(file, Path(scratch) / file.name.replace(source.name, copy.name))
        with Memory(settings=Settings(path=str(copy)), embedder=embedder) as mem:
            size = mem.store.count(NAMESPACE, 10**9)
            mem.add_many(items[:BATCH], namespace=NAMESPACE)  # loads the index
            parts.clear()
            start, cpu_start = time.perf_counter(), time.process_time()
            for k in range(1, batches + 1):
                mem.add_many(items[BATCH * k : BATCH * (k + 1)], namespace=NAMESPACE)
            wall = (time.perf_counter() - start) / batches
            cpu = (time.process_time() - cpu_start) / batches
    print(
        f"{size:,} memories before: per 1,000 written, {cpu * 1e3:.0f} CPU-ms "
        f"({BATCH / cpu:.0f}/cpu-s), {wall * 1e3:.0f} ms by the clock ({BATCH / wall:.0f}/s)"
    )
    for label in (label for label in parts.labels if label in parts.wall):  # those called
        print(
            f"  {label:34s} {parts.cpu[label] / batches * 1e3:7.0f} CPU-ms"
            f"  {parts.wall[label] / batches * 1e3:7.0f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="write n memories, printing the rate")
    make.add_argument("n", type=int)
    make.add_argument("path", type=Path)
    one = commands.add_parser("batch", help="time the parts of a write at one size")
    one.add_argument("store", help="a store to copy, or 'new' to start from an empty one")
    one.add_argument("--batches", type=int, default=3)
    one.add_argument(
        "--real-model", action="store_true", help="embed with the packaged model (a new store)"
    )
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.n, args.path)
    else:
        batch(None if args.store == "new" else Path(args.store), args.batches, args.real_model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
