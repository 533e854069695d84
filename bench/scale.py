"""Scale benchmark: latency, memory and quality as a namespace grows to a million memories.

Two commands, both printing their progress as they go:

    python bench/scale.py latency --sizes 10000 100000 --out bench/results/scale.json \\
        --plot docs/scale.png
    python bench/scale.py latency --sizes 1000000                  # one namespace
    python bench/scale.py latency --sizes 1000000 --namespaces 10000  # many users
    python bench/scale.py haystack --distractors 100000              # 2000 for a quick check
    python bench/scale.py plot R1.json R2.json ... --out docs/scale.png  # from earlier runs
    python bench/scale.py latency --sizes 10000 --store postgresql://user:pw@host/db \
        --out bench/results/scale-pg.json
    python bench/scale.py compare bench/results/scale.json bench/results/scale-pg.json

``latency`` writes ``n`` generated memories (``bench/scalegen.py``) with the
hash embedder (``engramdb.testing.fakes.HashEmbedder``, for ingest speed)
through ``add_many`` in batches of up to 1,000 of one namespace, then measures
in a new process, as a user opening the store would: open to first result;
search p50/p95/p99 with the query embedding taken out (a timing wrapper around
the embedder counts the seconds spent embedding inside each search); the real
model's query embedding cost, measured beside it; search right after another
process's ``add``; peak RSS of that process (with the real model loaded too);
the store's size on disk; near-verbatim probes found in the top 10; ``as_of``
and ``emotion`` filtered probes (found, and hits breaking the filter); and,
above ``ann_threshold``, the overlap of the top 10 with an exhaustive run
(``ann_threshold`` set above the namespace's size) and the recall@10 of the
vector index itself against an exact scan (the store's ``vector_search`` for
each probe's query vector, in both processes). The probes run twice: the
first pass meets each namespace for the first time in the many-users shape,
the latency figures are the second (warm) pass. Searches pass
``reinforce=False`` unless ``--reinforce``, so that every pass ranks the same
store and the exhaustive comparison is like for like.

``--store postgresql://...`` runs the same sizes and probes on PostgreSQL
(docs/postgres.md), each size in a new schema of that database dropped
afterwards (``bench/locomo.py``'s ``store_at``); its rows add PostgreSQL's own
RSS (the cluster's processes, read from ``/proc`` while the measuring process
is still connected) and give the disk size as ``pg_total_relation_size`` of
the schema's tables. ``compare`` prints the rows of result files side by
side, one column per file.

``haystack`` puts each LoCoMo dev conversation (``bench/locomo.py``'s data and
protocol) in a namespace that also holds ``--distractors`` generated memories
embedded with the real model, and reports Recall@10 against the same run
without them. Vectors of the real model are cached under ``bench/cache/``
(append-only, keyed by the text embedded), so the distractors are embedded
once and a larger run extends the cache of a smaller one.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scalegen
import scalepg
from engramdb import EncryptionKey, Hit, Memory, Settings
from engramdb.embed import Embedder, make_embedder
from engramdb.testing.fakes import HashEmbedder
from metrics import percentile
from scalepg import is_postgres

BATCH = 1_000
LIMIT = 10
CACHE = Path(__file__).resolve().parent / "cache"
KEY_ENV = "ENGRAMDB_MASTER_KEY"
LOCOMO_DEV = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class TimedEmbedder:
    """``inner`` with a running total of the seconds it spends embedding, so that a
    search's own time can be told from the time it spends embedding its query."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dims(self) -> int:
        return self.inner.dims

    def embed(self, texts: Sequence[str]) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - start


# -- latency: the parent writes the store, a child measures it ---------------------


def namespace_of(index: int, n: int, namespaces: int) -> str:
    """Contiguous blocks of the stream per namespace, so sessions stay together."""
    return "default" if namespaces == 1 else f"user-{index * namespaces // n:05d}"


def kept_key(work: Path) -> str:
    """The throwaway key of the encrypted stores kept in ``work``: made on the first run
    and written beside them (owner-only), so ``--reuse`` and ``bench/search_stages.py``
    can open them again; the key of a store that is not kept is never written."""
    path = work / "master.key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def settings_for(
    store: str | Path, *, encrypted: bool, ann_threshold: int | None = None
) -> Settings:
    """The store's settings; an encrypted one takes its key from ``ENGRAMDB_MASTER_KEY``,
    else from the ``master.key`` kept beside it (``kept_key``), and the candidate pool is
    ``ENGRAMDB_RECALL_POOL``'s when it is set (the default's otherwise), as a user's
    would be."""
    key = None
    if encrypted:
        kept = Path(store).parent / "master.key"
        environ = dict(os.environ)
        if KEY_ENV not in environ and not is_postgres(store) and kept.exists():
            environ[KEY_ENV] = kept.read_text().strip()
        key = EncryptionKey.from_env(environ)
    pool = Settings.from_env().recall_pool
    settings = Settings(path=str(store), encryption=key, recall_pool=pool)
    return settings if ann_threshold is None else replace(settings, ann_threshold=ann_threshold)


def ingest(
    store: str | Path, n: int, namespaces: int, seed: int, pool_size: int, *, encrypted: bool
) -> tuple[dict[str, float], list[scalegen.Generated]]:
    """Write ``n`` memories; returns the timings and the sampled pool for probes."""
    wanted = set(scalegen.sample(n, pool_size, seed))
    pool: list[scalegen.Generated] = []
    add_s = 0.0
    start = last = time.perf_counter()
    done = 0
    settings = settings_for(store, encrypted=encrypted)
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        for namespace, batch in batches(scalegen.generate(n, seed), n, namespaces):
            pool.extend(g for g in batch if g.index in wanted)
            t = time.perf_counter()
            mem.add_many([g.item for g in batch], namespace=namespace)
            add_s += time.perf_counter() - t
            done += len(batch)
            if time.perf_counter() - last > 10 or done == n:
                last = time.perf_counter()
                say(f"  ingest {done:,}/{n:,} ({done / add_s:,.0f}/s in add_many)")
    wall = time.perf_counter() - start
    return {"add_many_s": add_s, "wall_s": wall, "per_s": n / add_s, "wall_per_s": n / wall}, pool


def batches(
    stream: Iterator[scalegen.Generated], n: int, namespaces: int
) -> Iterator[tuple[str, list[scalegen.Generated]]]:
    batch: list[scalegen.Generated] = []
    current = ""
    for g in stream:
        namespace = namespace_of(g.index, n, namespaces)
        if batch and (namespace != current or len(batch) == BATCH):
            yield current, batch
            batch = []
        current = namespace
        batch.append(g)
    if batch:
        yield current, batch


def disk_bytes(store: str | Path) -> int:
    if is_postgres(store):
        return scalepg.disk_bytes(str(store))
    path = Path(store)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files)


def plan_for(
    store: str | Path,
    n: int,
    namespaces: int,
    pool: list[scalegen.Generated],
    args: argparse.Namespace,
) -> dict[str, Any]:
    probes = scalegen.probes(pool, args.queries, args.seed, filtered=args.filtered)
    questions = scalegen.questions(args.questions, args.seed)
    # each question asks the namespace of a sampled memory, so it never finds an empty one
    questions = [replace(q, index=pool[i % len(pool)].index) for i, q in enumerate(questions)]
    return {
        "store": str(store),
        "n": n,
        "namespaces": namespaces,
        "seed": args.seed,
        "now": (scalegen.END + timedelta(days=1)).isoformat(),
        "reinforce": args.reinforce,
        "encrypted": args.encrypted,
        "writes": args.writes,
        "real_model_queries": args.real_model_queries,
        "probes": [
            {
                "query": p.query,
                "ref": p.ref,
                "kind": p.kind,
                "namespace": namespace_of(p.index, n, namespaces),
                "as_of": None if p.as_of is None else p.as_of.isoformat(),
                "emotion": p.emotion,
            }
            for p in [*probes, *questions]
        ],
    }


def child(command: str, plan_path: Path, out: Path) -> dict[str, Any]:
    """Run ``command`` of this script in a new process; its progress shows as it goes."""
    spawned = time.time()
    subprocess.run(
        [sys.executable, __file__, command, str(plan_path), str(out), f"{spawned:.6f}"],
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def search_probe(mem: Memory, probe: dict[str, Any], now: datetime, reinforce: bool) -> list[Hit]:
    return mem.search(
        probe["query"],
        namespace=probe["namespace"],
        limit=LIMIT,
        now=now,
        reinforce=reinforce,
        as_of=None if probe["as_of"] is None else datetime.fromisoformat(probe["as_of"]),
        emotion=probe["emotion"],
    )


def nearest_ids(mem: Memory, probes: Sequence[dict[str, Any]], k: int = LIMIT) -> list[list[str]]:
    """The store's own ``k`` nearest memories to each probe's query vector: the vector
    index alone (approximate above ``ann_threshold``, exact below), for recall@10."""
    embedder = HashEmbedder()
    store = mem._store  # the benchmark reads the index directly: Memory has no k-NN API
    return [
        [c.id for c in store.vector_search(p["namespace"], embedder.embed([p["query"]])[0], k)]
        for p in probes
    ]


def refs(hits: Sequence[Hit]) -> list[str]:
    return [str(h.engram.metadata.get("ref")) for h in hits]


def measure(plan_path: Path, out: Path, spawned: float) -> None:
    """The child: open the store, search, and write what it measured to ``out``."""
    plan = json.loads(plan_path.read_text())
    store, now = plan["store"], datetime.fromisoformat(plan["now"])
    probes, reinforce = plan["probes"], plan["reinforce"]
    embedder = TimedEmbedder(HashEmbedder())
    start = time.perf_counter()
    mem = Memory(settings=settings_for(store, encrypted=plan["encrypted"]), embedder=embedder)
    first = search_probe(mem, probes[0], now, reinforce)
    open_s = time.perf_counter() - start
    result: dict[str, Any] = {
        "open_to_first_result_s": open_s,
        "process_to_first_result_s": time.time() - spawned,
        "first_result_nonempty": bool(first),
    }
    say(f"  child: open -> first result {open_s:.2f} s ({len(probes)} probes, 2 passes)")
    for name in ("first_pass", "warm"):
        total, excluded, top = [], [], []
        for probe in probes:
            embedded, t = embedder.seconds, time.perf_counter()
            hits = search_probe(mem, probe, now, reinforce)
            elapsed = time.perf_counter() - t
            total.append(elapsed)
            excluded.append(elapsed - (embedder.seconds - embedded))
            top.append(hits)
        result[name] = {"search_ms": quantiles(total), "search_excl_embed_ms": quantiles(excluded)}
        say(f"  child: {name}: search p50 {result[name]['search_excl_embed_ms']['p50']:.1f} ms")
    if is_postgres(store):  # while this process's backend is still connected
        result["postgres_rss"] = scalepg.postgres_rss(mem)
    result["quality"] = quality(probes, top)
    result["top10"] = [refs(hits) for hits in top]
    result["rss_after_search_mb"] = peak_rss_mb()
    result["after_write"] = after_write(mem, plan, now, reinforce)
    result["nearest10"] = nearest_ids(mem, probes)  # after the writes, as the exact run sees
    # loaded while the searched namespace is still held, as in a process that embeds queries
    queries = [p["query"] for p in probes][: plan["real_model_queries"]]
    result["real_model"] = real_model_cost(queries)
    result["peak_rss_with_real_model_mb"] = peak_rss_mb()
    mem.close()
    out.write_text(json.dumps(result, indent=2))


def quantiles(seconds: Sequence[float]) -> dict[str, float]:
    return {f"p{q}": 1000 * percentile(seconds, q) for q in (50, 95, 99)} | {
        "mean": 1000 * float(np.mean(seconds)),
        "n": len(seconds),
    }


def quality(probes: Sequence[dict[str, Any]], top: Sequence[Sequence[Hit]]) -> dict[str, Any]:
    """Per probe kind: how often the source is in the top 10, and hits that break the filter."""
    out: dict[str, Any] = {}
    for kind in ("verbatim", "as_of", "emotion"):
        rows = [(p, hits) for p, hits in zip(probes, top, strict=True) if p["kind"] == kind]
        if not rows:
            continue
        found = sum(1 for p, hits in rows if p["ref"] in refs(hits))
        broken = 0
        for p, hits in rows:
            if kind == "as_of":
                as_of = datetime.fromisoformat(p["as_of"])
                broken += sum(1 for h in hits if h.engram.occurred_at > as_of)
            elif kind == "emotion":
                broken += sum(1 for h in hits if h.engram.emotion != p["emotion"])
        out[kind] = {"found": found, "of": len(rows), "rate": found / len(rows)}
        if kind != "verbatim":
            out[kind]["hits_breaking_filter"] = broken
    return out


def after_write(
    mem: Memory, plan: dict[str, Any], now: datetime, reinforce: bool
) -> dict[str, Any]:
    """Another process adds one memory; then this one searches the same namespace."""
    probe = plan["probes"][0]
    searches, adds = [], []
    for k in range(plan["writes"]):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "_add", plan["store"], probe["namespace"], str(k)],
            check=True,
            env=os.environ,
        )
        adds.append(time.perf_counter() - t)
        t = time.perf_counter()
        search_probe(mem, probe, now, reinforce)
        searches.append(time.perf_counter() - t)
        say(f"  child: search after another process's add: {1000 * searches[-1]:.1f} ms")
    return {
        "search_ms": [1000 * s for s in searches],
        "writer_process_s": adds,
        "median_search_ms": 1000 * percentile(searches, 50) if searches else None,
    }


def add_one(store: str, namespace: str, k: int) -> None:
    """The writer process: one generated memory, marked so rankings can leave it out."""
    g = next(scalegen.generate(1, seed=10_000 + k))
    item = g.item | {"metadata": g.item["metadata"] | {"ref": f"write-{k}"}}
    kept = not is_postgres(store) and (Path(store).parent / "master.key").exists()
    encrypted = bool(os.environ.get(KEY_ENV)) or kept
    with Memory(settings=settings_for(store, encrypted=encrypted), embedder=HashEmbedder()) as mem:
        mem.add(**item, namespace=namespace)


def real_model_cost(queries: Sequence[str]) -> dict[str, Any]:
    """The packaged model's cost per query (distinct texts, so its cache never answers)."""
    embedder = make_embedder(Settings())
    start = time.perf_counter()
    embedder.embed(["load the model and warm it up"])
    load_s = time.perf_counter() - start
    seconds = []
    for query in dict.fromkeys(queries):
        t = time.perf_counter()
        embedder.embed([query])
        seconds.append(time.perf_counter() - t)
    return {"model_id": embedder.model_id, "load_s": load_s, "query_ms": quantiles(seconds)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def exhaustive(plan_path: Path, out: Path, spawned: float) -> None:
    """The child for the comparison: the same probes with ANN off (exact vector scan)."""
    del spawned
    plan = json.loads(plan_path.read_text())
    now = datetime.fromisoformat(plan["now"])
    settings = settings_for(plan["store"], encrypted=plan["encrypted"], ann_threshold=2**62)
    top = []
    with Memory(settings=settings, embedder=HashEmbedder()) as mem:
        for probe in plan["probes"]:
            hits = mem.search(
                probe["query"],
                namespace=probe["namespace"],
                limit=LIMIT + plan["writes"],
                now=now,
                reinforce=False,
                as_of=None if probe["as_of"] is None else datetime.fromisoformat(probe["as_of"]),
                emotion=probe["emotion"],
            )
            top.append([r for r in refs(hits) if not r.startswith("write-")][:LIMIT])
        nearest = nearest_ids(mem, plan["probes"])
    out.write_text(json.dumps({"top10": top, "nearest10": nearest}))


def overlap(found: Sequence[Sequence[str]], exact: Sequence[Sequence[str]]) -> float:
    shares = [len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True) if e]
    return float(np.mean(shares)) if shares else 0.0


def run_size(
    n: int, work: Path, args: argparse.Namespace, location: str | None = None
) -> dict[str, Any]:
    """One size on a new SQLite store in ``work``, or on ``location`` (a PostgreSQL
    schema's URL)."""
    namespaces = args.namespaces
    store: str | Path = location or work / f"store-{n}-{namespaces}"
    shape = f"{n:,} memories in {namespaces:,} namespace{'s' if namespaces > 1 else ''}"
    say(f"{shape}: ingest with the hash embedder, add_many batches of up to {BATCH:,}")
    pool_size = 4 * (args.queries + 2 * args.filtered) + args.questions
    plan_path = work / f"plan-{n}-{namespaces}.json"
    ingested = work / f"ingest-{n}-{namespaces}.json"
    if args.reuse and (location is not None or Path(store).exists()):
        if not (plan_path.exists() and ingested.exists()):
            raise SystemExit(f"--reuse: {work} holds a store but not its plan and ingest figures")
        say(f"{shape}: reusing the store and plan kept in {work} (ingest figures of that run)")
        ingest_stats = json.loads(ingested.read_text())
        plan = json.loads(plan_path.read_text())
        args.encrypted = bool(plan["encrypted"])  # the kept store's, whatever the flag says
        if plan["store"] != str(store):  # a copy of the work dir measures the copy
            plan_path.write_text(json.dumps(plan | {"store": str(store)}))
    else:
        if location is not None and scalepg.holds_store(location):
            raise SystemExit("the schema the URL names holds a store already: --reuse measures it")
        ingest_stats, pool = ingest(
            store, n, namespaces, args.seed, pool_size, encrypted=args.encrypted
        )
        ingested.write_text(json.dumps(ingest_stats))
        plan_path.write_text(json.dumps(plan_for(store, n, namespaces, pool, args)))
    size = disk_bytes(store)
    say(f"{shape}: {size / 2**20:,.1f} MiB on disk; measuring in a new process")
    measured = child("_measure", plan_path, work / f"measured-{n}.json")
    per_namespace = n // namespaces
    if per_namespace > Settings().ann_threshold:
        say(f"{shape}: the same probes with the exact vector scan (new process)")
        exact = child("_exact", plan_path, work / f"exact-{n}.json")
        ann: dict[str, Any] = {
            "top10_overlap_with_exhaustive": overlap(measured["top10"], exact["top10"]),
            "index_recall_at_10": overlap(measured["nearest10"], exact["nearest10"]),
        }
    else:
        ann = {
            "top10_overlap_with_exhaustive": None,
            "index_recall_at_10": None,
            "note": "namespace below ann_threshold: the index is exact",
        }
    del measured["top10"], measured["nearest10"]
    row = {
        "store": "postgresql" if is_postgres(store) else "sqlite",
        "n": n,
        "namespaces": namespaces,
        "encrypted": args.encrypted,
        "recall_pool": settings_for(store, encrypted=False).recall_pool,
        "ingest": ingest_stats,
        "disk_mb": size / 2**20,
        "ann": ann,
        **measured,
    }
    real = measured["real_model"]["query_ms"]["p50"]
    warm = measured["warm"]["search_excl_embed_ms"]
    row["search_with_real_model_query_p50_ms"] = warm["p50"] + real
    print(summary(row), flush=True)
    if not args.keep and isinstance(store, Path):
        shutil.rmtree(store, ignore_errors=True)
    return row


def summary(row: dict[str, Any]) -> str:
    warm = row["warm"]["search_excl_embed_ms"]
    q = row["quality"]
    verbatim = q.get("verbatim", {"found": 0, "of": 0})
    overlap_value = row["ann"]["top10_overlap_with_exhaustive"]
    index_recall = row["ann"]["index_recall_at_10"]
    return (
        f"n={row['n']:,} namespaces={row['namespaces']:,}"
        f"{' (encrypted)' if row['encrypted'] else ''}: ingest {row['ingest']['per_s']:,.0f}/s;"
        f" open->first result {row['open_to_first_result_s']:.2f} s; search excl. embedding"
        f" p50/p95/p99 {warm['p50']:.1f}/{warm['p95']:.1f}/{warm['p99']:.1f} ms;"
        f" real-model query {row['real_model']['query_ms']['p50']:.1f} ms;"
        f" after another process's add {row['after_write']['median_search_ms']:.1f} ms;"
        f" peak RSS {row['rss_after_search_mb']:.0f} MB"
        f" ({row['peak_rss_with_real_model_mb']:.0f} MB with the real model);"
        f"{scalepg.rss_note(row.get('postgres_rss'))}"
        f" disk {row['disk_mb']:.1f} MiB;"
        f" near-verbatim top-10 {verbatim['found']}/{verbatim['of']};"
        f" ANN top-10 overlap {'n/a' if overlap_value is None else f'{overlap_value:.3f}'},"
        f" index recall@10 {'exact' if index_recall is None else f'{index_recall:.3f}'}"
    )


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Latency and memory against size, one line per namespace count (one namespace
    against many: the many-users shape)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4.5))
    shapes = sorted({r["namespaces"] for r in rows})
    for shape, style in zip(shapes, ("-", ":", "-.", "--"), strict=False):
        group = sorted((r for r in rows if r["namespaces"] == shape), key=lambda r: r["n"])
        sizes = [r["n"] for r in group]
        where = f"{shape:,} ns"
        for q, marker in (("p50", "o"), ("p95", "^"), ("p99", "v")):
            ms = [r["warm"]["search_excl_embed_ms"][q] for r in group]
            lat.plot(sizes, ms, marker + style, label=f"search {q}, {where}")
        opened = [1000 * r["open_to_first_result_s"] for r in group]
        lat.plot(sizes, opened, "s" + style, label=f"open→first, {where}")
        mem.plot(sizes, [r["peak_rss_with_real_model_mb"] for r in group], "o" + style,
                 label=f"peak RSS with the model, {where}")  # fmt: skip
        mem.plot(sizes, [r["disk_mb"] for r in group], "s" + style, label=f"disk, {where}")
    lat.set(xscale="log", yscale="log", xlabel="memories", ylabel="ms")
    lat.set_title("search (query embedding excluded)")
    lat.legend(fontsize=7)
    mem.set(xscale="log", yscale="log", xlabel="memories", ylabel="MB")
    mem.set_title("memory and disk")
    mem.legend(fontsize=7)
    fig.suptitle("engramdb at scale (bench/scale.py)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def replot(args: argparse.Namespace) -> None:
    """The plot from the rows of earlier runs' result files (each size may come from
    its own run: the 1M runs are separate commands)."""
    rows = [row for result in args.results for row in json.loads(result.read_text())["rows"]]
    plot(rows, args.out)
    say(f"plot of {len(rows)} runs written to {args.out}")


def latency(args: argparse.Namespace) -> dict[str, Any]:
    if args.store is not None:
        if not is_postgres(args.store):
            raise SystemExit("--store takes a postgresql:// URL")
        named = scalepg.names_schema(args.store)
        if (args.keep or args.reuse) and not named:
            raise SystemExit("--keep and --reuse with --store need a URL that names a schema")
        if named and len(args.sizes) > 1:
            raise SystemExit("a named schema holds one size: give one --sizes")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="engram-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.encrypted:
        os.environ.setdefault(KEY_ENV, kept_key(work) if args.keep else secrets.token_hex(32))
    say(f"stores and plans go to {work}{' (kept)' if args.keep else ''}")
    rows = []
    try:
        for n in args.sizes:
            if args.namespaces > n:
                raise SystemExit(f"--namespaces {args.namespaces} is more than --sizes {n}")
            if args.store is None:
                rows.append(run_size(n, work, args))
                continue
            # a new schema, dropped afterwards; a schema the URL names is used and kept
            with scalepg.store_at(args.store) as location:
                rows.append(run_size(n, work, args, location))
    finally:
        if not args.keep and args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.plot:
        plot(rows, args.plot)
        say(f"plot written to {args.plot}")
    return {"rows": rows}


# -- haystack: LoCoMo among distractors embedded with the real model ----------------


class VectorCache:
    """The real model behind an append-only cache on disk, keyed by the text embedded.

    A vector found here is the one the model returned when the text was first
    embedded (the same bytes), so a store built from the cache holds the real
    model's vectors. ``model_id`` and ``dims`` are the model's.
    """

    def __init__(self, directory: Path) -> None:
        self.model = make_embedder(Settings())
        stem = directory / hashlib.sha256(self.model.model_id.encode()).hexdigest()[:12]
        self.vectors_path, self.keys_path = stem.with_suffix(".f32"), stem.with_suffix(".keys")
        directory.mkdir(parents=True, exist_ok=True)
        keys = self.keys_path.read_text().split() if self.keys_path.exists() else []
        raw = np.fromfile(self.vectors_path, dtype=np.float32) if keys else np.zeros(0, "f4")
        rows = min(len(keys), raw.size // self.dims)  # a run cut short may leave a part row
        self.vectors = [raw.reshape(-1, self.dims)[:rows]]
        self.row = {key: i for i, key in enumerate(keys[:rows])}
        self.stored = rows
        self.misses = 0

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def dims(self) -> int:
        return self.model.dims

    def embed(self, texts: Sequence[str]) -> Any:
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.row))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            fresh = np.ascontiguousarray(self.model.embed([text_of[k] for k in missing]))
            with self.vectors_path.open("ab") as f:  # vectors first: keys name whole rows only
                f.write(fresh.tobytes())
            with self.keys_path.open("a") as f:
                f.write("".join(f"{k}\n" for k in missing))
            for k in missing:
                self.row[k] = self.stored
                self.stored += 1
            self.vectors.append(fresh)
            self.misses += len(missing)
        if len(self.vectors) > 1:
            self.vectors = [np.concatenate(self.vectors)]
        return self.vectors[0][[self.row[k] for k in keys]]


def haystack(args: argparse.Namespace) -> dict[str, Any]:
    import locomo as locomo_bench  # its loader and question filter: the same protocol
    from metrics import score_run

    conversations = locomo_bench.locomo.load(args.data)
    cache = VectorCache(args.cache_dir)
    say(f"vector cache: {cache.stored:,} vectors in {cache.vectors_path}")
    work = Path(tempfile.mkdtemp(prefix="engram-haystack-"))
    try:
        base = work / "base.db"
        if args.distractors:
            build_distractors(base, cache, args.distractors, args.seed)
        evidence = [list(q.evidence) for c in conversations for q in locomo_bench.questions(c)]
        categories = [q.category for c in conversations for q in locomo_bench.questions(c)]
        runs: dict[str, Any] = {}
        pools = args.pools or [Settings().recall_pool]
        plans = [(f"with (pool {p:,})" if len(pools) > 1 else "with", base, p) for p in pools]
        plans = plans if args.distractors else []
        for label, source, pool in [*plans, ("without", None, pools[0])]:
            rankings, crowded = [], []
            for conv in conversations:
                ranked = run_conversation(conv, work, source, cache, locomo_bench.questions, pool)
                rankings.extend(r for r, _ in ranked)
                crowded.extend(c for _, c in ranked)
            scores = score_run(rankings, evidence, categories)
            runs[label] = {
                "recall_pool": pool,
                "scores": scores,
                "distractors_in_top10_mean": float(np.mean(crowded)) if crowded else 0.0,
            }
            say(f"{label} distractors: Recall@10 {scores['all']['R@10']:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(haystack_table(runs), flush=True)
    return {
        "distractors": args.distractors,
        "questions": len(evidence),
        "runs": runs,
    }


def build_distractors(base: Path, cache: VectorCache, n: int, seed: int) -> None:
    say(f"distractors: {n:,} generated memories, real-model vectors (cached)")
    start = last = time.perf_counter()
    done = 0
    with Memory(str(base.with_suffix("")), embedder=cache) as mem:
        for _, batch in batches(scalegen.generate(n, seed), n, 1):
            mem.add_many([g.item for g in batch], namespace="haystack")
            done += len(batch)
            if time.perf_counter() - last > 10 or done == n:
                last = time.perf_counter()
                rate = done / (last - start)
                say(
                    f"  distractors {done:,}/{n:,} ({rate:,.0f}/s; {cache.misses:,} newly embedded)"
                )
        mem.backup(base)  # one consistent file, copied for each conversation


def run_conversation(
    conv: Any, work: Path, base: Path | None, cache: VectorCache, questions: Any, pool: int
) -> list[tuple[list[str], int]]:
    """Each question's ranking (dia_ids; a distractor shows as its ref) and how many
    of its top 10 are distractors."""
    path = work / f"{conv.sample_id}.db"
    path.unlink(missing_ok=True)
    if base is not None:
        shutil.copyfile(base, path)
    out = []
    with Memory(settings=Settings(path=str(path), recall_pool=pool), embedder=cache) as mem:
        mem.add_many(list(conv.turns), namespace="haystack")
        for q in questions(conv):
            hits = mem.search(
                q.question,
                namespace="haystack",
                limit=20,
                now=conv.last_session_at,
                reinforce=False,  # as bench/locomo.py: no question changes a later ranking
            )
            ranked = [
                str(h.engram.metadata.get("dia_id", h.engram.metadata.get("ref"))) for h in hits
            ]
            out.append((ranked, sum(1 for h in hits[:LIMIT] if "ref" in h.engram.metadata)))
    path.unlink(missing_ok=True)
    say(f"  {conv.sample_id}: {len(out)} questions ({'with' if base else 'without'} distractors)")
    return out


def haystack_table(runs: dict[str, Any]) -> str:
    head = f"{'run':<28} group   n   R@1   R@5  R@10  R@20  distractors in top 10"
    lines = [head]
    for label, run in runs.items():
        for group, m in run["scores"].items():
            lines.append(
                f"{label + ' distractors':<28} {group:<5} {int(m['n']):>4} {m['R@1']:.3f} "
                f"{m['R@5']:.3f} {m['R@10']:.3f} {m['R@20']:.3f}  "
                f"{run['distractors_in_top10_mean']:.2f}"
            )
    return "\n".join(lines)


# -- entry point ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    internal = {"_measure": measure, "_exact": exhaustive}
    if argv and argv[0] in internal:
        internal[argv[0]](Path(argv[1]), Path(argv[2]), float(argv[3]))
        return 0
    if argv and argv[0] == "_add":
        add_one(argv[1], argv[2], int(argv[3]))
        return 0
    args = parser().parse_args(argv)
    started = time.perf_counter()
    if args.command == "plot":
        replot(args)
        return 0
    if args.command == "compare":
        print(scalepg.compare(args.results), flush=True)
        return 0
    report = latency(args) if args.command == "latency" else haystack(args)
    from locomo import redacted  # a postgresql:// URL's password stays out of the report

    report["command"] = " ".join(["python", "bench/scale.py", *map(redacted, argv)])
    report.setdefault("machine", machine())
    report["elapsed_s"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    say(f"results written to {args.out}")
    return 0


def machine() -> dict[str, Any]:
    from locomo import machine as describe

    flags: set[str] = set()
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text()
        flags = set(re.findall(r"\b(avx2|avx512f|avx512_vnni|avx_vnni|amx_tile)\b", text))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return describe() | {"cpu_flags": sorted(flags), "load_average_1m_at_end": load}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    lat = sub.add_parser("latency", help="latency, memory and size by namespace size")
    lat.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    lat.add_argument("--namespaces", type=int, default=1, help="spread each size over this many")
    lat.add_argument("--queries", type=int, default=200, help="near-verbatim probes")
    lat.add_argument("--filtered", type=int, default=20, help="as_of and emotion probes, each")
    lat.add_argument("--questions", type=int, default=50, help="question-shaped queries")
    lat.add_argument("--writes", type=int, default=3, help="searches after another's add")
    lat.add_argument("--real-model-queries", type=int, default=100)
    lat.add_argument("--reinforce", action="store_true", help="searches reinforce their hits")
    lat.add_argument("--encrypted", action="store_true", help="an encrypted store (fresh key)")
    lat.add_argument("--seed", type=int, default=0)
    lat.add_argument("--work-dir", help="where the stores go (default: a temporary directory)")
    lat.add_argument("--keep", action="store_true", help="keep the stores")
    lat.add_argument(
        "--reuse",
        action="store_true",
        help="measure again the store, plan and ingest figures kept in --work-dir by --keep",
    )
    lat.add_argument(
        "--store",
        help="a postgresql:// URL: each size in a new schema of its database, dropped "
        "afterwards, or in the schema the URL names (?schema=: kept, for --reuse; one size) "
        "(default: a SQLite store in --work-dir)",
    )
    lat.add_argument("--plot", type=Path, help="write a PNG of latency and RSS by size")
    lat.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    comp = sub.add_parser("compare", help="rows of result files side by side (e.g. two stores)")
    comp.add_argument("results", type=Path, nargs="+", help="files written by latency --out")
    replot_ = sub.add_parser("plot", help="the plot from result files of earlier runs")
    replot_.add_argument("results", type=Path, nargs="+", help="files written by latency --out")
    replot_.add_argument("--out", type=Path, default=Path("docs/scale.png"))
    hay = sub.add_parser("haystack", help="LoCoMo Recall@10 among distractor memories")
    hay.add_argument("--distractors", type=int, default=100_000)
    hay.add_argument("--data", type=Path, default=LOCOMO_DEV)
    hay.add_argument("--cache-dir", type=Path, default=CACHE)
    hay.add_argument("--seed", type=int, default=0)
    hay.add_argument(
        "--pools", type=int, nargs="+", help="candidate pool sizes to run with distractors"
    )
    hay.add_argument("--out", type=Path, default=Path("bench/results/scale-haystack.json"))
    return p


if __name__ == "__main__":
    raise SystemExit(main())
