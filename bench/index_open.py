"""The vector index alone: opening a namespace and catching up after another process's add.

``bench/scale.py`` times whole searches, which also build recall's catalog of
the namespace; this times only the store's vector index (``SqliteStore``'s
``vector_search``), so the cost of loading, catching up or rebuilding the
index is seen on its own (BENCHMARKS.md, "Scale"). One process writes ``--size``
memories of ``bench/scalegen.py`` (hash embedder) into one namespace, as an
ingesting process does (its index loaded while it writes), and closes; then a
new process measures open → first vector search, the warm search, and a
search right after another process's ``insert`` of one memory (``--writes``
times; the writer's own time beside it).

    python bench/index_open.py --size 30000
    python bench/index_open.py --size 30000 --encrypted
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalegen
from engramdb import EncryptionKey
from engramdb.security.crypto import generate_key
from engramdb.store.sqlite import SqliteStore
from engramdb.testing.conformance import make_record
from metrics import percentile

KEY_ENV = "ENGRAMDB_BENCH_KEY"
NAMESPACE = "bench"


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def opened(path: str) -> SqliteStore:
    key = os.environ.get(KEY_ENV)
    return SqliteStore(path, encryption=None if key is None else EncryptionKey.from_text(key))


def fill(path: str, size: int) -> None:
    store = opened(path)
    texts = (g.item["text"] for g in scalegen.generate(size))
    store.vector_search(NAMESPACE, make_record(NAMESPACE, "warm up").vector, 1)
    batch: list[Any] = []
    for i, text in enumerate(texts, 1):
        batch.append(make_record(NAMESPACE, text))
        if len(batch) == 1_000 or i == size:
            store.insert(batch)
            batch = []
            if i % 5_000 == 0:
                say(f"  {i:,}/{size:,} written")
    start = time.perf_counter()
    store.close()
    say(f"  writer closed in {time.perf_counter() - start:.2f} s (peak RSS {peak_rss_mb():.0f} MB)")


def add_one(path: str, k: int) -> None:
    store = opened(path)
    text = f"another process wrote this, number {k}"
    store.insert([make_record(NAMESPACE, text, engram_id=uuid.uuid4().hex)])
    store.close()


def measure(path: str, writes: int) -> dict[str, Any]:
    probe = make_record(NAMESPACE, "we went hiking near the lake last summer").vector
    start = time.perf_counter()
    store = opened(path)
    store.vector_search(NAMESPACE, probe, 10)
    result: dict[str, Any] = {"open_to_first_vector_search_s": time.perf_counter() - start}
    warm = []
    for _ in range(50):
        t = time.perf_counter()
        store.vector_search(NAMESPACE, probe, 10)
        warm.append(time.perf_counter() - t)
    result["warm_vector_search_ms_p50"] = 1000 * percentile(warm, 50)
    after, writer = [], []
    for k in range(writes):
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "_add", path, str(k)], check=True)
        writer.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.vector_search(NAMESPACE, probe, 10)
        after.append(time.perf_counter() - t)
    result["vector_search_after_another_add_ms"] = [1000 * s for s in after]
    result["writer_process_s"] = writer
    result["peak_rss_mb"] = peak_rss_mb()  # of this process: the index, not a model
    store.close()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), file pages of a mapped index included."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    if sys.argv[1:2] == ["_add"]:
        add_one(sys.argv[2], int(sys.argv[3]))
        return 0
    if sys.argv[1:2] == ["_measure"]:
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=30_000)
    parser.add_argument("--writes", type=int, default=3)
    parser.add_argument("--encrypted", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.encrypted:
        os.environ[KEY_ENV] = generate_key()
    with tempfile.TemporaryDirectory(prefix="engram-index-") as work:
        path = str(Path(work) / "engram.db")
        say(f"writing {args.size:,} memories into one namespace")
        fill(path, args.size)
        saved = sorted(p.name for p in Path(work).iterdir() if ".ann-" in p.name)
        say(f"saved index files: {saved or 'none'}; measuring in a new process")
        child = subprocess.run(
            [sys.executable, __file__, "_measure", path, str(args.writes)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        result = {"size": args.size, "encrypted": args.encrypted, **json.loads(child.stdout)}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
