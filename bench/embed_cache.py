"""The embedding cache's memory: bytes an entry, and the whole cache at its bound.

Fills ``CachedEmbedder`` with distinct texts (a stand-in embedder hands out
random float32 vectors of the packaged model's 384 dimensions, so no model
runs) and reads what the cache holds with ``tracemalloc`` (numpy's buffers
included), after the texts and the returned arrays are gone.

    python bench/embed_cache.py --texts 60000
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import tracemalloc
from collections.abc import Sequence

import numpy as np

from engramdb.embed import CachedEmbedder
from engramdb.embed.base import Vectors


class RandomEmbedder:
    model_id = "random-384"
    dims = 384

    def __init__(self) -> None:
        self._rng = np.random.default_rng(7)

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self._rng.standard_normal((len(texts), self.dims), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=60_000, help="distinct texts to embed")
    parser.add_argument("--batch", type=int, default=16, help="texts a call")
    args = parser.parse_args()
    inner = RandomEmbedder()
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    cached = CachedEmbedder(inner)
    for start in range(0, args.texts, args.batch):
        end = min(start + args.batch, args.texts)
        cached.embed([f"soak text number {i} about something new" for i in range(start, end)])
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    entries = len(cached)
    report = {
        "texts": args.texts,
        "entries": entries,
        "cache_bytes": held - before,
        "bytes_per_entry": round((held - before) / entries),
        "traced_peak_bytes": peak - before,
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
