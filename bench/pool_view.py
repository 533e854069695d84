"""What a two-stage search pays to read its candidates (docs/recall.md, "What a search reads").

    python bench/pool_view.py --size 60000 --store /tmp/p60k.db
    python bench/pool_view.py --size 200000 --store /tmp/p200k.db --out bench/results/x.json
    python bench/pool_view.py --size 20000 --store /tmp/e20k.db --key-file /tmp/e20k.key

Opens a store of ``--size`` generated memories in one namespace (``bench/scalegen.py``,
the hash embedder; written first with ``add_many`` in batches of 1,000 when the file
is not there; ``--key-file``: encrypted with the key in that file, made when it is
not there) and measures, in this process: open to first result; 100 near-verbatim
searches (``reinforce=False``), p50 and p95; then, for the candidates each of those
searches gathered, ``Store.catalog_of`` alone and ``Recaller._pool_view`` (catalog
and view) ``--repeat`` times. Each figure is given as wall time and as this
process's CPU time: on a machine other work shares, CPU time is the steadier of the
two. To compare two versions, run the same command on copies of one store with
``PYTHONPATH`` pointing at each version's ``src`` (a store a newer version migrated
does not open in an older one).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalegen
from engramdb import EncryptionKey, Memory, Settings
from engramdb.recall.candidates import gather
from engramdb.recall.engine import SearchRequest
from engramdb.security.crypto import generate_key
from engramdb.testing.fakes import HashEmbedder

NAMESPACE = "default"


def _write(settings: Settings, size: int) -> None:
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        batch: list[dict[str, object]] = []
        for generated in scalegen.generate(size, 7):
            batch.append(generated.item)
            if len(batch) == 1000:
                mem.add_many(batch, namespace=NAMESPACE)
                batch = []
        if batch:
            mem.add_many(batch, namespace=NAMESPACE)


def _timed(call: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def _summary(times: Sequence[tuple[float, float]]) -> dict[str, float]:
    def percentile(values: list[float], share: float) -> float:
        values = sorted(values)
        return round(values[min(int(len(values) * share), len(values) - 1)] * 1000, 2)

    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    return {
        "wall_p50_ms": percentile(wall, 0.5),
        "wall_p95_ms": percentile(wall, 0.95),
        "cpu_p50_ms": percentile(cpu, 0.5),
        "cpu_p95_ms": percentile(cpu, 0.95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--store", required=True, help="the store's file (written if absent)")
    parser.add_argument("--key-file", type=Path, help="an encrypted store's key (made if absent)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    key = None
    if args.key_file is not None:
        if not args.key_file.exists():
            args.key_file.touch(mode=0o600)
            args.key_file.write_text(generate_key())
        key = EncryptionKey.from_file(args.key_file)
    settings = Settings(path=args.store, encryption=key)
    if not Path(args.store).exists():
        _write(settings, args.size)
    step = max(args.size // 100, 1)
    sources = [g for g in scalegen.generate(args.size, 7) if g.index % step == 3]
    rng = random.Random(1)
    queries = [scalegen.near_verbatim(g.item["text"], rng) for g in sources]

    started = time.perf_counter()
    mem = Memory(settings=settings, embedder=HashEmbedder())
    mem.search(queries[0], namespace=NAMESPACE, reinforce=False)
    open_to_first = time.perf_counter() - started
    for query in queries[:10]:  # warm
        mem.search(query, namespace=NAMESPACE, reinforce=False)
    searches = [
        _timed(lambda q=q: mem.search(q, namespace=NAMESPACE, reinforce=False)) for q in queries
    ]
    recaller = mem._recall()
    now = datetime.now(timezone.utc)
    pools = []
    for text in queries:
        request = SearchRequest(text, NAMESPACE, 10, now)
        parsed = recaller._query(request, text, recaller.embedder.embed([text])[0], None)
        pools.append(gather(recaller.store, NAMESPACE, parsed, recaller.pool))
    catalogs, views = [], []
    for _ in range(args.repeat):
        for ids in pools:
            catalogs.append(_timed(lambda ids=ids: recaller.store.catalog_of(NAMESPACE, ids)))
            views.append(_timed(lambda ids=ids: recaller._pool_view(NAMESPACE, ids)))
    mem.close()
    result = {
        "size": args.size,
        "encrypted": key is not None,
        "open_to_first_s": round(open_to_first, 2),
        "pool_mean": sum(map(len, pools)) / len(pools),
        "search": _summary(searches),
        "catalog_of": _summary(catalogs),
        "pool_view": _summary(views),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
