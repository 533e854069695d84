"""Concurrent load on one SQLite file store: processes x threads writing and searching.

``run_load`` starts worker processes (``spawn``, so each opens the store
itself), each with worker threads; every thread adds, adds in batches, updates
and deletes its own memories in one shared namespace and searches between
writes. Each worker reports the memories it was told were written; the store
must then hold exactly their union, at the acknowledged versions, and pass
``check()``. Any error in a worker (a ``database is locked`` that escaped the
store's retries, say) is raised in the caller.

``watch_batches`` and ``write_batches`` prove that readers see only committed
data: a reader in another process never sees part of an ``add_many`` batch.

Used by ``tests/reliability/test_concurrency.py`` (small) and
``bench/concurrency.py`` (throughput). Workers embed with ``HashEmbedder``,
a fast stand-in for the model: the load is on the store, not on the embedder.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from engramdb.memory import Memory
from engramdb.testing.fakes import HashEmbedder

__all__ = [
    "LoadReport",
    "WorkerResult",
    "run_load",
    "run_process",
    "watch_batches",
    "write_batches",
]

NAMESPACE = "load"
_WORDS = [
    "apple", "brook", "cedar", "delta", "ember", "fjord", "grove", "heron", "inlet", "jasper",
    "kelp", "lilac", "maple", "nectar", "opal", "pine", "quill", "reed", "sage", "tundra",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """What one worker thread was told: its live memories (id -> version) and counts."""

    worker: str
    live: dict[str, int]
    writes: int
    searches: int
    seconds: float


@dataclass(frozen=True, slots=True)
class LoadReport:
    """The outcome of ``run_load``: counts, throughput, and what went missing."""

    processes: int
    threads: int
    operations_per_thread: int
    writes: int
    searches: int
    seconds: float
    expected: int
    found: int
    lost: int
    unexplained: int
    wrong_version: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def operations(self) -> int:
        return self.writes + self.searches

    @property
    def ops_per_s(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0


def _worker(
    mem: Memory, name: str, operations: int, seed: int, search_share: float = 0.25
) -> WorkerResult:
    rng = random.Random(seed)  # noqa: S311 - a workload, not security
    live: dict[str, int] = {}
    writes = searches = 0
    started = time.perf_counter()

    def text() -> str:
        return f"{name} " + " ".join(rng.choices(_WORDS, k=rng.randint(3, 12)))

    for _ in range(operations):
        if rng.random() < search_share:
            mem.search(" ".join(rng.choices(_WORDS, k=3)), namespace=NAMESPACE, limit=5)
            searches += 1
            continue
        roll = rng.random()  # the writes: 47% add, 20% add_many, 20% update, 13% delete
        if roll < 0.47 or not live:
            live[mem.add(text(), namespace=NAMESPACE).id] = 1
        elif roll < 0.67:
            for engram in mem.add_many([{"text": text()} for _ in range(5)], namespace=NAMESPACE):
                live[engram.id] = 1
        elif roll < 0.87:
            engram_id = rng.choice(sorted(live))
            live[engram_id] = mem.update(engram_id, namespace=NAMESPACE, text=text()).version
        else:
            engram_id = rng.choice(sorted(live))
            mem.delete(engram_id, namespace=NAMESPACE)
            del live[engram_id]
        writes += 1
    return WorkerResult(name, live, writes, searches, time.perf_counter() - started)


def run_process(
    store: str,
    name: str,
    threads: int,
    operations: int,
    seed: int,
    share_memory: bool = False,
    search_share: float = 0.25,
) -> list[WorkerResult]:
    """``threads`` workers in this process: each with its own ``Memory`` (own connection),
    or all on one shared ``Memory`` when ``share_memory``."""
    shared = Memory(store, embedder=HashEmbedder()) if share_memory else None
    results: list[WorkerResult | None] = [None] * threads
    errors: list[BaseException] = []

    def run(index: int) -> None:
        mem = shared or Memory(store, embedder=HashEmbedder())
        try:
            results[index] = _worker(
                mem, f"{name}t{index}", operations, seed * 1000 + index, search_share
            )
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)
        finally:
            if shared is None:
                mem.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if shared is not None:
        shared.close()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def run_load(
    store: Path,
    *,
    processes: int,
    threads: int,
    operations: int,
    seed: int = 0,
    share_memory: bool = False,
    search_share: float = 0.25,
) -> LoadReport:
    """Run the mixed load from ``processes`` x ``threads`` workers, then audit the store."""
    location = str(store)
    Memory(location, embedder=HashEmbedder()).close()  # create and migrate it first
    started = time.perf_counter()
    results: list[WorkerResult] = []
    if processes <= 1:
        results = run_process(location, "p0", threads, operations, seed, share_memory, search_share)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            futures = [
                pool.submit(
                    run_process,
                    location,
                    f"p{i}",
                    threads,
                    operations,
                    seed + i,
                    share_memory,
                    search_share,
                )
                for i in range(processes)
            ]
            for future in futures:
                results.extend(future.result())  # re-raises a worker's error here
    seconds = time.perf_counter() - started
    return _audit(location, results, processes, threads, operations, seconds)


def _audit(
    location: str,
    results: Sequence[WorkerResult],
    processes: int,
    threads: int,
    operations: int,
    seconds: float,
) -> LoadReport:
    expected: dict[str, int] = {}
    for result in results:
        expected.update(result.live)
    with Memory(location, embedder=HashEmbedder()) as mem:
        found = {e.id: e.version for e in mem.store.iter_engrams(NAMESPACE)}
        problems = tuple(mem.check())
    return LoadReport(
        processes=processes,
        threads=threads,
        operations_per_thread=operations,
        writes=sum(r.writes for r in results),
        searches=sum(r.searches for r in results),
        seconds=seconds,
        expected=len(expected),
        found=len(found),
        lost=len(set(expected) - set(found)),
        unexplained=len(set(found) - set(expected)),
        wrong_version=sum(1 for k, v in expected.items() if k in found and found[k] != v),
        problems=problems,
    )


def write_batches(store: str, batches: int, size: int, namespace: str = "atomic") -> int:
    """Add ``batches`` batches of ``size`` memories, each sharing a word ``batch<n>``."""
    with Memory(store, embedder=HashEmbedder()) as mem:
        for number in range(batches):
            mem.add_many(
                [{"text": f"batch{number} item {i} of {size}"} for i in range(size)],
                namespace=namespace,
            )
    return batches * size


def watch_batches(
    store: str, batches: int, size: int, timeout_s: float = 60.0, namespace: str = "atomic"
) -> tuple[int, list[str]]:
    """Read while ``write_batches`` writes: every view must hold whole batches only.

    Returns the number of distinct sizes seen (more than two shows the reader
    really watched the batches arrive) and the violations found.
    """
    violations: list[str] = []
    sizes: set[int] = set()
    embedder = HashEmbedder()
    deadline = time.monotonic() + timeout_s
    with Memory(store, embedder=embedder) as mem:
        rng = random.Random(0)  # noqa: S311
        while time.monotonic() < deadline:
            count = mem.stats(namespace=namespace).engrams
            sizes.add(count)
            if count % size:
                violations.append(f"stats saw {count} memories, not whole batches of {size}")
            catalog = mem.store.catalog(namespace)
            if len(catalog) % size:
                violations.append(f"catalog held {len(catalog)} memories")
            number = rng.randrange(batches)
            found = mem.store.lexical_search(namespace, [f"batch{number}"], 5 * size)
            if len(found) not in (0, size):
                violations.append(f"lexical search found {len(found)} of batch {number}")
            query = embedder.embed([f"batch{number} item 0 of {size}"])[0]
            near = mem.store.vector_search(namespace, query, 10 * batches * size)
            if len(near) % size:
                violations.append(f"vector search saw {len(near)} memories")
            if count == batches * size:
                break
    return len(sizes), violations
