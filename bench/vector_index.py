"""Vector index benchmark: engramdb's own index by namespace size, and the ANN libraries.

Two commands. Vectors are embedding-like (real MiniLM embeddings of LoCoMo turns,
perturbed), since HNSW recall on i.i.d. random vectors says nothing about real use;
recall@10 is measured against an exact scan of the vectors as the store keeps them
(int8 codes, dequantised), which is what the exact path below ``ann_threshold``
answers.

``index`` (the default) measures ``VectorIndex`` on its two paths (exact below
``ann_threshold``, the graph above it): build time, query p50/p95 and recall@10:

    python bench/vector_index.py --sizes 5000 20000 100000 --out bench/results/vector_index.json

``libraries`` compares the candidate ANN libraries head to head at one namespace
size (BENCHMARKS.md, "Vector index at a million"): build time on the machine's
cores, query p50/p95 one query at a time on one thread, recall@10 at a few search
widths, the saved file's size, and, in a fresh process, the time to load the file
and the peak RSS after 1,000 queries (``ru_maxrss``, beside the same process's
RSS before loading); then adding and removing 1,000 vectors. Libraries that are
not installed are skipped (install them in a scratch venv to compare):

    python bench/vector_index.py libraries --size 200000 \\
        --libraries hnswlib usearch-i8 usearch-f16 faiss-sq8 --work /tmp/annbench
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from metrics import percentile  # noqa: E402

BASE_CACHE = HERE / "cache" / "locomo_turns_minilm.npy"
WIDTHS = (64, 128, 256)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def base_vectors() -> np.ndarray:
    """MiniLM vectors of the LoCoMo turns (embedded once, cached under bench/cache/)."""
    if BASE_CACHE.is_file():
        return np.load(BASE_CACHE)
    from engramdb import Settings
    from engramdb.embed import make_embedder
    from engramdb.formats import locomo
    from locomo import DEFAULT_DATA

    texts = [t["text"] for c in locomo.load(DEFAULT_DATA) for t in c.turns]
    say(f"embedding {len(texts):,} LoCoMo turns with the real model (cached afterwards)")
    base = np.asarray(make_embedder(Settings()).embed(texts), dtype=np.float32)
    BASE_CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.save(BASE_CACHE, base)
    return base


def embedding_like(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):  # in blocks: the noise of 1M rows at once is 3 GB
        m = min(100_000, n - start)
        picks = base[rng.integers(0, len(base), m)]
        noise = rng.normal(0, 1.0 / np.sqrt(base.shape[1]), size=picks.shape)
        block = picks + 0.7 * noise.astype(np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def stored(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The store's int8 codes of ``vectors`` and the unit vectors they dequantise to."""
    from engramdb.store.vectors import dequantize_many, quantize_many

    codes = np.empty(vectors.shape, dtype=np.int8)
    unit = np.empty(vectors.shape, dtype=np.float32)
    for start in range(0, len(vectors), 100_000):
        block, scales = quantize_many(vectors[start : start + 100_000])
        codes[start : start + len(block)] = block
        unit[start : start + len(block)] = dequantize_many(block, scales)
    return codes, unit


def exact_top(unit: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The exact top ``k`` rows of each query (blocks of rows, a running best ``k``)."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(unit), 100_000):
        scores = queries @ unit[start : start + 100_000].T
        rows = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, rows, 1)], 1)
        merged_rows = np.concatenate([best_rows, rows + start], 1)
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(merged_scores, keep, 1)
        best_rows = np.take_along_axis(merged_rows, keep, 1)
    return best_rows


def recall(found: list[list[int]], exact: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(e.tolist())) / 10 for f, e in zip(found, exact, strict=True)])
    )


# -- the libraries, each behind the same five operations ----------------------


class Library:
    """One ANN library: build, search one query, save, load (in a fresh process),
    add and remove. ``keys`` are row numbers (the store's rowids in real use)."""

    name = ""
    removes = True

    def build(self, codes: np.ndarray, unit: np.ndarray, threads: int) -> None:
        raise NotImplementedError

    def width(self, ef: int) -> None:
        raise NotImplementedError

    def search(self, query: np.ndarray, k: int) -> list[int]:
        raise NotImplementedError

    def save(self, path: Path) -> None:
        raise NotImplementedError

    def load(self, path: Path, view: bool) -> None:
        raise NotImplementedError

    def add(self, keys: np.ndarray, codes: np.ndarray, unit: np.ndarray) -> None:
        raise NotImplementedError

    def remove(self, keys: np.ndarray) -> None:
        raise NotImplementedError


class Hnswlib(Library):
    """hnswlib 0.8 (today's index): float32 vectors, inner product, M=16, ef_construction=100."""

    name = "hnswlib"

    def build(self, codes: np.ndarray, unit: np.ndarray, threads: int) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=unit.shape[1])
        self.index.init_index(max_elements=len(unit) + 2_000, ef_construction=100, M=16)
        self.index.add_items(unit, np.arange(len(unit)), num_threads=threads)

    def width(self, ef: int) -> None:
        self.index.set_ef(ef)

    def search(self, query: np.ndarray, k: int) -> list[int]:
        labels, _ = self.index.knn_query(query, k=k, num_threads=1)
        return [int(x) for x in labels[0]]

    def save(self, path: Path) -> None:
        self.index.save_index(str(path))

    def load(self, path: Path, view: bool) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=384)
        self.index.load_index(str(path), max_elements=0)

    def add(self, keys: np.ndarray, codes: np.ndarray, unit: np.ndarray) -> None:
        self.index.resize_index(self.index.get_current_count() + len(keys))
        self.index.add_items(unit, keys, num_threads=1)

    def remove(self, keys: np.ndarray) -> None:
        for key in keys:
            self.index.mark_deleted(int(key))


class Usearch(Library):
    """usearch 2.x: cosine over int8 (the store's own codes, queries quantised the same
    way) or float16; connectivity 16, expansion_add 128; a saved file can be viewed
    (memory-mapped) instead of loaded."""

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self.name = f"usearch-{dtype}"

    def _vectors(self, codes: np.ndarray, unit: np.ndarray) -> np.ndarray:
        return codes if self.dtype == "i8" else unit

    def build(self, codes: np.ndarray, unit: np.ndarray, threads: int) -> None:
        from usearch.index import Index

        self.index = Index(
            ndim=codes.shape[1], metric="cos", dtype=self.dtype, connectivity=16, expansion_add=128
        )
        self.index.add(np.arange(len(codes)), self._vectors(codes, unit), threads=threads)

    def width(self, ef: int) -> None:
        self.index.expansion_search = ef

    def search(self, query: np.ndarray, k: int) -> list[int]:
        if self.dtype == "i8":
            from engramdb.store.vectors import quantize_many

            query = quantize_many(query[None])[0][0]
        return [int(x) for x in self.index.search(query, k, threads=1).keys]

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    def load(self, path: Path, view: bool) -> None:
        from usearch.index import Index

        self.index = Index.restore(str(path), view=view)

    def add(self, keys: np.ndarray, codes: np.ndarray, unit: np.ndarray) -> None:
        self.index.add(keys, self._vectors(codes, unit), threads=1)

    def remove(self, keys: np.ndarray) -> None:
        self.index.remove(keys)


class FaissSQ8(Library):
    """faiss IndexHNSWSQ with an 8-bit scalar quantiser (trained on the first 100k
    vectors), inner product, M=16, efConstruction=100. Its HNSW cannot remove."""

    name = "faiss-sq8"
    removes = False

    def build(self, codes: np.ndarray, unit: np.ndarray, threads: int) -> None:
        import faiss

        faiss.omp_set_num_threads(threads)
        index = faiss.IndexHNSWSQ(
            unit.shape[1], faiss.ScalarQuantizer.QT_8bit, 16, faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = 100
        index.train(unit[:100_000])
        index.add(unit)
        faiss.omp_set_num_threads(1)
        self.index = index

    def width(self, ef: int) -> None:
        self.index.hnsw.efSearch = ef

    def search(self, query: np.ndarray, k: int) -> list[int]:
        _, labels = self.index.search(query[None], k)
        return [int(x) for x in labels[0]]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    def load(self, path: Path, view: bool) -> None:
        import faiss

        faiss.omp_set_num_threads(1)
        flags = faiss.IO_FLAG_MMAP_IFC if view else 0
        self.index = faiss.read_index(str(path), flags)

    def add(self, keys: np.ndarray, codes: np.ndarray, unit: np.ndarray) -> None:
        self.index.add(unit)  # faiss numbers rows itself, in order

    def remove(self, keys: np.ndarray) -> None:
        raise NotImplementedError


class Engramdb(Library):
    """engramdb's own ``VectorIndex`` above its threshold: the usearch int8 graph, the
    float32 query's rescoring of twice the candidates, a saved form opened in place."""

    name = "engramdb"

    def build(self, codes: np.ndarray, unit: np.ndarray, threads: int) -> None:
        from engramdb.store.vectors import VectorIndex

        self.index = VectorIndex(unit.shape[1], ann_threshold=1)
        self.index.add(list(range(len(unit))), unit)

    def width(self, ef: int) -> None:
        from engramdb.store import graph

        graph.EXPANSION_SEARCH = ef

    def search(self, query: np.ndarray, k: int) -> list[int]:
        return [key for key, _ in self.index.search(query, k)]

    def save(self, path: Path) -> None:
        self.index.save(path)

    def load(self, path: Path, view: bool) -> None:
        import mmap

        from engramdb.store.vectors import VectorIndex

        with path.open("rb") as file:
            mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        self.index = VectorIndex.opened(384, 1, memoryview(mapping), view=view)

    def add(self, keys: np.ndarray, codes: np.ndarray, unit: np.ndarray) -> None:
        self.index.add(keys.tolist(), unit)

    def remove(self, keys: np.ndarray) -> None:
        self.index.remove(keys.tolist())


LIBRARIES: dict[str, Callable[[], Library]] = {
    "engramdb": Engramdb,
    "hnswlib": Hnswlib,
    "usearch-i8": lambda: Usearch("i8"),
    "usearch-f16": lambda: Usearch("f16"),
    "faiss-sq8": FaissSQ8,
}
MODULES = {"hnswlib": "hnswlib", "usearch": "usearch", "faiss": "faiss", "engramdb": "usearch"}


def installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(MODULES[name.split("-")[0]]) is not None


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: ``ru_maxrss`` of a child also counts the parent
    it was forked from, on Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_searches(lib: Library, queries: np.ndarray) -> tuple[list[list[int]], list[float]]:
    found, seconds = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(lib.search(q, 10))
        seconds.append(time.perf_counter() - t)
    return found, seconds


def build_one(name: str, work: Path, threads: int) -> dict[str, Any]:
    """In its own process: build, measure searches at each width, save."""
    codes = np.load(work / "codes.npy", mmap_mode="r")
    unit = np.load(work / "unit.npy", mmap_mode="r")
    queries = np.load(work / "queries.npy")
    exact = np.load(work / "exact.npy")
    lib = LIBRARIES[name]()
    start = time.perf_counter()
    lib.build(np.ascontiguousarray(codes), np.ascontiguousarray(unit), threads)
    result: dict[str, Any] = {"build_s": time.perf_counter() - start}
    result["build_peak_rss_mb"] = peak_rss_mb()
    gc.collect()
    for ef in WIDTHS:
        lib.width(ef)
        found, seconds = timed_searches(lib, queries)
        result[f"ef{ef}"] = {
            "p50_ms": 1000 * percentile(seconds, 50),
            "p95_ms": 1000 * percentile(seconds, 95),
            "recall_at_10": recall(found, exact),
        }
    path = work / f"{name}.index"
    start = time.perf_counter()
    lib.save(path)
    result["save_s"] = time.perf_counter() - start
    result["file_mb"] = path.stat().st_size / 1e6
    return result


def load_one(name: str, work: Path, view: bool, ef: int) -> dict[str, Any]:
    """In a fresh process: load (or view) the saved file, run the 1,000 queries,
    then add and remove 1,000 vectors."""
    queries = np.load(work / "queries.npy")
    exact = np.load(work / "exact.npy")
    extra_codes = np.load(work / "extra_codes.npy")
    extra_unit = np.load(work / "extra_unit.npy")
    size = int(np.load(work / "codes.npy", mmap_mode="r").shape[0])
    lib = LIBRARIES[name]()
    import importlib

    module = MODULES[name.split("-")[0]]
    importlib.import_module(module + (".index" if module == "usearch" else ""))
    import engramdb.store.vectors  # noqa: F401  (the usearch queries are quantised with it)

    before = rss_mb()
    start = time.perf_counter()
    lib.load(work / f"{name}.index", view)
    result: dict[str, Any] = {"view": view, "load_s": time.perf_counter() - start}
    result["rss_before_load_mb"] = before
    result["rss_after_load_mb"] = rss_mb()
    lib.width(ef)
    found, seconds = timed_searches(lib, queries)
    result["ef"] = ef
    result["p50_ms"] = 1000 * percentile(seconds, 50)
    result["p95_ms"] = 1000 * percentile(seconds, 95)
    result["recall_at_10"] = recall(found, exact)
    result["rss_after_queries_mb"] = rss_mb()
    result["peak_rss_mb"] = peak_rss_mb()
    result["index_rss_mb"] = result["peak_rss_mb"] - before
    if view:
        return result
    keys = np.arange(size, size + len(extra_codes))
    start = time.perf_counter()
    lib.add(keys, extra_codes, extra_unit)
    result["add_1000_s"] = time.perf_counter() - start
    if lib.removes:
        start = time.perf_counter()
        lib.remove(np.arange(0, 2 * len(extra_codes), 2))
        result["remove_1000_s"] = time.perf_counter() - start
    else:
        result["remove_1000_s"] = None
    return result


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def prepare(work: Path, size: int, queries: int) -> None:
    marker = work / f"prepared-{size}-{queries}"
    if marker.exists():
        say(f"vectors and exact answers for {size:,} already in {work}")
        return
    rng = np.random.default_rng(7)
    base = base_vectors()
    say(f"making {size:,} embedding-like vectors and {queries:,} queries")
    codes, unit = stored(embedding_like(base, size, rng))
    query_vectors = embedding_like(base, queries, rng)
    extra_codes, extra_unit = stored(embedding_like(base, 1_000, rng))
    say("exact top 10 of each query (the store's exact path)")
    exact = exact_top(unit, query_vectors)
    for name, array in (
        ("codes", codes),
        ("unit", unit),
        ("queries", query_vectors),
        ("exact", exact),
        ("extra_codes", extra_codes),
        ("extra_unit", extra_unit),
    ):
        np.save(work / f"{name}.npy", array)
    for old in work.glob("prepared-*"):
        old.unlink()
    marker.touch()


def compare(args: argparse.Namespace) -> dict[str, Any]:
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    prepare(work, args.size, args.queries)
    report: dict[str, Any] = {"size": args.size, "queries": args.queries, "threads": args.threads}
    for name in args.libraries:
        if not installed(name):
            say(f"{name}: not installed, skipped")
            continue
        say(f"{name}: building {args.size:,} on {args.threads} threads")
        row = child("_build", name, str(work), str(args.threads))
        say(f"{name}: built in {row['build_s']:.0f} s, file {row['file_mb']:.0f} MB; {row}")
        for view in (False, True):
            if view and name == "hnswlib":
                continue  # hnswlib has no memory-mapped form
            loaded = child("_load", name, str(work), str(int(view)), str(args.ef))
            say(f"{name}: {'viewed' if view else 'loaded'}: {loaded}")
            row["viewed" if view else "loaded"] = loaded
        report[name] = row
        (work / f"{name}.index").unlink(missing_ok=True)
    return report


def measure_index(vectors: np.ndarray, queries: np.ndarray, threshold: int) -> dict[str, Any]:
    from engramdb.store.vectors import VectorIndex

    start = time.perf_counter()
    index = VectorIndex(vectors.shape[1], ann_threshold=threshold)
    index.add(list(range(len(vectors))), vectors)
    build_s = time.perf_counter() - start
    latencies, found = [], []
    for q in queries:
        t = time.perf_counter()
        hits = index.search(q, 10)
        latencies.append(time.perf_counter() - t)
        found.append([key for key, _ in hits])
    return {
        "build_s": build_s,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "found": found,
    }


def index_sizes(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    base = base_vectors()
    rows = []
    print("size     path   build_s  p50_ms  p95_ms  recall@10")
    for size in args.sizes:
        _, vectors = stored(embedding_like(base, size, rng))
        queries = embedding_like(base, args.queries, rng)
        exact = measure_index(vectors, queries, threshold=size + 1)
        ann = measure_index(vectors, queries, threshold=1)
        truth = np.array(exact["found"])
        for name, m, r in (("exact", exact, 1.0), ("ann", ann, recall(ann["found"], truth))):
            print(
                f"{size:<8} {name:<6} {m['build_s']:7.2f} {m['p50_ms']:7.2f} "
                f"{m['p95_ms']:7.2f}  {r:.3f}"
            )
            rows.append(
                {"size": size, "path": name, "recall_at_10": r}
                | {k: m[k] for k in ("build_s", "p50_ms", "p95_ms")}
            )
    return {"rows": rows}


def machine() -> dict[str, Any]:
    cpu, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split()) & {"avx2", "avx512f", "avx512_vnni"}
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_flags": sorted(flags),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_build"]:
        print(json.dumps(build_one(argv[1], Path(argv[2]), int(argv[3]))))
        return 0
    if argv[:1] == ["_load"]:
        print(json.dumps(load_one(argv[1], Path(argv[2]), argv[3] == "1", int(argv[4]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    sizes = commands.add_parser("index", help="VectorIndex: exact against the graph")
    sizes.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000, 100_000])
    sizes.add_argument("--queries", type=int, default=200)
    sizes.add_argument("--out", type=Path, default=HERE / "results" / "vector_index.json")
    libs = commands.add_parser("libraries", help="the ANN libraries head to head")
    libs.add_argument("--size", type=int, default=200_000)
    libs.add_argument("--queries", type=int, default=1_000)
    libs.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=list(LIBRARIES))
    libs.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    libs.add_argument("--ef", type=int, default=128, help="search width in the fresh process")
    libs.add_argument("--work", type=Path, default=Path("/tmp/engram-ann-bench"))
    libs.add_argument("--out", type=Path)
    if not argv or argv[0].startswith("-"):
        argv = ["index", *argv]  # the original form: python bench/vector_index.py --sizes ...
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = index_sizes(args) if args.command == "index" else compare(args)
    result = {"machine": machine(), "seconds": time.perf_counter() - started, **result}
    out = args.out
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
