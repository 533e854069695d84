"""engramdb next to the memory layers a user would pick instead, in one run.

    make bench-peers        # the peers' own virtualenv (.venv-peers), then this run
    python bench/peers.py --peers-python .venv-peers/bin/python --out bench/results/peers.json

LoCoMo dev (the protocol of ``bench/locomo.py``): every turn of each
conversation is written to its own namespace (or collection, or user) one call
at a time, and in a second run of the batching systems one call per session;
then every question of categories 1-4 searches it for 20 results, scored by
Recall@1/5/10/20 and NDCG@10 of the evidence turns (``bench/metrics.py``).

Each system runs in its own process, one after another, so the CPU time, peak
RSS and disk of each are its own:

- ``engramdb``: ``Memory.add`` per turn; ``engramdb-batch``: ``add_many`` per
  session (the default write path: every vector embedded before the call returns);
- ``mem0``: mem0's open-source library in raw mode (``infer=False``: no LLM
  call; the client for one is built anyway, so a dummy key is set; telemetry off)
  over its local Qdrant, with engramdb's packaged model as its embedder;
- ``chroma``, ``chroma-batch``: a ``PersistentClient`` collection per
  conversation, cosine space, given the same model's vectors;
- ``numpy``: the exact floor, the same model's vectors in a matrix, cosine.

Every system embeds with the same model (all-MiniLM-L6-v2 int8, engramdb's
packaged one) and pays for it inside its timed calls; the peers index each turn
as "Speaker: text" (``peer_text``), engramdb the turn with its speaker. Reported per system:
quality, add and search latency p50/p95 (wall), process CPU per add and per
search (``time.process_time`` around each call), peak RSS, disk, versions.
The peers install into their own virtualenv: they are not part of the core
install or CI (``make bench-peers``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import percentile, score_run

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared/data/locomo/locomo_dev.json"
DEPTH = 20
SYSTEMS = ("engramdb", "engramdb-batch", "mem0", "chroma", "chroma-batch", "numpy")
PEERS = {"mem0", "chroma", "chroma-batch"}  # need the peers' virtualenv
VERSIONS = ("engramdb", "mem0ai", "qdrant-client", "chromadb", "onnxruntime", "numpy")


# -- the child: one system, timed ------------------------------------------------


class Timer:
    """Wall and process CPU time of each call, and the items it carried."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.items = 0

    def __call__(self, items: int = 1) -> Any:
        return _timed(self, items)

    def summary(self) -> dict[str, float]:
        wall_s = float(sum(self.wall))
        return {
            "calls": len(self.wall),
            "items": self.items,
            "wall_s": wall_s,
            "per_s": self.items / wall_s if wall_s else 0.0,
            "ms_p50": 1000 * percentile(self.wall, 50),
            "ms_p95": 1000 * percentile(self.wall, 95),
            "cpu_ms_p50": 1000 * percentile(self.cpu, 50),
            "cpu_ms_per_item": 1000 * float(sum(self.cpu)) / max(self.items, 1),
        }


class _timed:
    def __init__(self, timer: Timer, items: int) -> None:
        self.timer, self.items = timer, items

    def __enter__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.timer.wall.append(time.perf_counter() - self.wall)
        self.timer.cpu.append(time.process_time() - self.cpu)
        self.timer.items += self.items


def peer_text(turn: dict[str, Any]) -> str:
    """What a peer indexes of a turn: "Speaker: text", the form that gives a dense or
    BM25 index its best LoCoMo figures (raw text takes dense from about 0.40 to 0.30
    Recall@10: BENCHMARKS.md, "LoCoMo retrieval"). engramdb is given the turn itself."""
    speaker = turn.get("speaker")
    return f"{speaker}: {turn['text']}" if speaker else str(turn["text"])


def sessions(turns: tuple[dict[str, Any], ...]) -> Iterator[list[dict[str, Any]]]:
    """The conversation's turns, a session at a time, in order."""
    batch: list[dict[str, Any]] = []
    for turn in turns:
        if batch and turn.get("session") != batch[-1].get("session"):
            yield batch
            batch = []
        batch.append(turn)
    if batch:
        yield batch


def run_child(system: str, data: Path, work: Path) -> dict[str, Any]:
    from engramdb.formats import locomo  # the repository's code, in either virtualenv

    conversations = locomo.load(data)
    batched = system.endswith("-batch")
    adds, searches = Timer(), Timer()
    start = time.perf_counter()
    write, search = _open(system.removesuffix("-batch"), work)
    load_s = time.perf_counter() - start
    for conv in conversations:
        groups = list(sessions(conv.turns)) if batched else [[t] for t in conv.turns]
        for group in groups:
            with adds(len(group)):
                write(conv.sample_id, group)
    rankings: list[list[str]] = []
    evidence: list[list[str]] = []
    categories: list[int] = []
    for conv in conversations:
        for q in conv.questions:
            if q.category == 5 or not q.evidence:  # left out, as bench/locomo.py does
                continue
            with searches():
                found = search(conv.sample_id, q.question, conv.last_session_at)
            rankings.append(found)
            evidence.append(list(q.evidence))
            categories.append(q.category)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    disk = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
    versions = {}
    for name in VERSIONS:
        with contextlib.suppress(package_metadata.PackageNotFoundError):
            versions[name] = package_metadata.version(name)
    return {
        "system": system,
        "rankings": rankings,
        "evidence": evidence,
        "categories": categories,
        "add": adds.summary(),
        "search": searches.summary(),
        "open_s": load_s,
        "peak_rss_mb": peak_kb / 1024,
        "disk_mb": disk / 2**20,
        "versions": versions,
    }


Write = Callable[[str, list[dict[str, Any]]], None]
Search = Callable[[str, str, Any], list[str]]


def _open(kind: str, work: Path) -> tuple[Write, Search]:
    if kind == "engramdb":
        return _engramdb(work)
    embedder = _embedder()
    if kind == "mem0":
        return _mem0(work, embedder)
    if kind == "chroma":
        return _chroma(work, embedder)
    if kind == "numpy":
        return _numpy(embedder)
    raise SystemExit(f"unknown system {kind!r}")


def _embedder() -> Callable[[list[str]], np.ndarray]:
    from engramdb import Settings
    from engramdb.embed import make_embedder

    model = make_embedder(Settings())
    model.embed(["warm up the model"])
    return lambda texts: np.asarray(model.embed(texts), dtype=np.float32)


def _engramdb(work: Path) -> tuple[Write, Search]:
    from engramdb import Memory, Settings

    mem = Memory(settings=Settings(path=str(work / "engram")))
    mem.embedder.embed(["warm up the model"])

    def write(namespace: str, turns: list[dict[str, Any]]) -> None:
        if len(turns) == 1:
            mem.add(**turns[0], namespace=namespace)
        else:
            mem.add_many(turns, namespace=namespace)

    def search(namespace: str, query: str, now: Any) -> list[str]:
        # reinforce=False, as bench/locomo.py: each question sees the store as written
        hits = mem.search(query, namespace=namespace, limit=DEPTH, now=now, reinforce=False)
        return [str(h.engram.metadata.get("dia_id")) for h in hits]

    return write, search


def _mem0(work: Path, embed: Callable[[list[str]], np.ndarray]) -> tuple[Write, Search]:
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("OPENAI_API_KEY", "sk-unused")  # built eagerly, never called
    from mem0 import Memory as Mem0

    config = {
        "vector_store": {
            "provider": "qdrant",
            "config": {
                "path": str(work / "qdrant"),
                "collection_name": "locomo",
                "embedding_model_dims": 384,
                "on_disk": True,
            },
        },
        "llm": {"provider": "openai", "config": {"api_key": "sk-unused"}},
        "embedder": {"provider": "openai", "config": {"api_key": "sk-unused"}},
        "history_db_path": str(work / "history.db"),
    }
    mem = Mem0.from_config(config)

    class Packaged:  # mem0's embedder interface, over the same model as the others
        def embed(self, text: str, memory_action: str | None = None) -> list[float]:
            return [float(x) for x in embed([text])[0]]

        def embed_batch(self, texts: list[str], memory_action: str = "add") -> list[list[float]]:
            return [[float(x) for x in row] for row in embed(texts)]

    mem.embedding_model = Packaged()
    dia: dict[str, str] = {}

    def write(namespace: str, turns: list[dict[str, Any]]) -> None:
        for turn in turns:  # infer=False embeds and stores message by message anyway
            message = {"role": "user", "content": peer_text(turn), "name": turn.get("speaker")}
            added = mem.add(
                [message], user_id=namespace, infer=False, metadata=turn.get("metadata") or {}
            )
            for item in added.get("results", []):
                dia[item["id"]] = str((turn.get("metadata") or {}).get("dia_id"))

    def search(namespace: str, query: str, now: Any) -> list[str]:
        found = mem.search(query, top_k=DEPTH, filters={"user_id": namespace}, threshold=0.0)
        return [dia.get(r["id"], "") for r in found.get("results", [])]

    return write, search


def _chroma(work: Path, embed: Callable[[list[str]], np.ndarray]) -> tuple[Write, Search]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(work / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collections: dict[str, Any] = {}

    def collection(namespace: str) -> Any:
        if namespace not in collections:
            collections[namespace] = client.get_or_create_collection(
                namespace, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        return collections[namespace]

    def write(namespace: str, turns: list[dict[str, Any]]) -> None:
        texts = [peer_text(t) for t in turns]
        metas = [{"dia_id": str((t.get("metadata") or {}).get("dia_id"))} for t in turns]
        collection(namespace).add(
            ids=[m["dia_id"] for m in metas],
            embeddings=embed(texts).tolist(),
            documents=texts,
            metadatas=metas,
        )

    def search(namespace: str, query: str, now: Any) -> list[str]:
        found = collection(namespace).query(
            query_embeddings=embed([query]).tolist(), n_results=DEPTH, include=["metadatas"]
        )
        return [str(m["dia_id"]) for m in found["metadatas"][0]]

    return write, search


def _numpy(embed: Callable[[list[str]], np.ndarray]) -> tuple[Write, Search]:
    rows: dict[str, list[np.ndarray]] = {}
    ids: dict[str, list[str]] = {}

    def write(namespace: str, turns: list[dict[str, Any]]) -> None:
        vectors = embed([peer_text(t) for t in turns])
        rows.setdefault(namespace, []).extend(vectors)
        ids.setdefault(namespace, []).extend(
            str((t.get("metadata") or {}).get("dia_id")) for t in turns
        )

    def search(namespace: str, query: str, now: Any) -> list[str]:
        matrix = np.vstack(rows[namespace])
        scores = matrix @ embed([query])[0]
        best = np.argsort(-scores, kind="stable")[:DEPTH]
        return [ids[namespace][int(i)] for i in best]

    return write, search


# -- the parent: every system in its own process, one table -----------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OPENBLAS_NUM_THREADS="1")
    for system in args.systems:
        python = args.peers_python if system in PEERS else Path(sys.executable)
        if python is None or not Path(python).exists():
            print(f"{system}: skipped, no peers virtualenv (make bench-peers)", flush=True)
            continue
        work = Path(tempfile.mkdtemp(prefix=f"peers-{system}-"))
        out = work / "result.json"
        command = [str(python), __file__, "child", system, "--data", str(args.data)]
        print(f"{system}: running", flush=True)
        try:
            subprocess.run(
                [*command, "--work", str(work / "store"), "--out", str(out)], check=True, env=env
            )
            child = json.loads(out.read_text())
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rankings, evidence = child.pop("rankings"), child.pop("evidence")
        child["quality"] = score_run(rankings, evidence, child.pop("categories"))
        results[system] = child
        print(line(child), flush=True)
    import scale  # bench/scale.py: the CPU, its flags and the load, as the others report them

    return {"systems": results, "machine": scale.machine()}


def line(row: dict[str, Any]) -> str:
    q, add, search = row["quality"]["all"], row["add"], row["search"]
    return (
        f"{row['system']}: R@10 {q['R@10']:.3f}; add {add['per_s']:.1f} items/s, "
        f"{add['cpu_ms_per_item']:.1f} CPU-ms/item; search p50/p95 {search['ms_p50']:.1f}/"
        f"{search['ms_p95']:.1f} ms, {search['cpu_ms_p50']:.1f} CPU-ms; "
        f"peak RSS {row['peak_rss_mb']:.0f} MB; disk {row['disk_mb']:.1f} MiB"
    )


def table(result: dict[str, Any]) -> str:
    rows = result["systems"]
    base = rows.get("engramdb")
    head = (
        "| system | R@1 | R@5 | R@10 | R@20 | NDCG@10 | add/s | add p50 / p95 ms | add CPU-ms/item "
        "| search p50 / p95 ms | search CPU-ms p50 | peak RSS MB | disk MiB |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    out = [head]
    for name, row in rows.items():
        q, a, s = row["quality"]["all"], row["add"], row["search"]
        out.append(
            f"| {name} | {q['R@1']:.3f} | {q['R@5']:.3f} | {q['R@10']:.3f} | {q['R@20']:.3f} "
            f"| {q['NDCG@10']:.3f} | {a['per_s']:.1f} | {a['ms_p50']:.1f} / {a['ms_p95']:.1f} "
            f"| {a['cpu_ms_per_item']:.1f} | {s['ms_p50']:.1f} / {s['ms_p95']:.1f} "
            f"| {s['cpu_ms_p50']:.1f} | {row['peak_rss_mb']:.0f} | {row['disk_mb']:.1f} |"
        )
    if base is not None:
        out += ["", "Each against engramdb (one add per turn): its figure over engramdb's.", ""]
        out.append("| system | search p95 | add/s | add CPU/item | search CPU | peak RSS | R@10 |")
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for name, row in rows.items():
            if name == "engramdb":
                continue
            out.append(
                f"| {name} | {_ratio(row['search']['ms_p95'], base['search']['ms_p95'])} "
                f"| {_ratio(row['add']['per_s'], base['add']['per_s'])} "
                f"| {_ratio(row['add']['cpu_ms_per_item'], base['add']['cpu_ms_per_item'])} "
                f"| {_ratio(row['search']['cpu_ms_p50'], base['search']['cpu_ms_p50'])} "
                f"| {_ratio(row['peak_rss_mb'], base['peak_rss_mb'])} "
                f"| {_ratio(row['quality']['all']['R@10'], base['quality']['all']['R@10'])} |"
            )
    return "\n".join(out)


#: An estimate, not a reading: this machine exposes no RAPL counters. A server core of
#: this class draws about 6 W under load (a 350 W part of 56 cores is 6.25 W a core).
WATTS_PER_CORE = 6.0


def cost(result: dict[str, Any]) -> str:
    """Per 1,000 memories written and per 1,000 searches: CPU-seconds, an energy estimate
    (CPU-seconds x ``WATTS_PER_CORE``), and LLM calls (none of these systems makes one:
    mem0 runs raw)."""
    out = [
        "| system | write: CPU-s / 1,000 | write: J / 1,000 (est.) | search: CPU-s / 1,000 "
        "| search: J / 1,000 (est.) | LLM calls | R@10 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in result["systems"].items():
        write_s = row["add"]["cpu_ms_per_item"]  # ms per item = s per 1,000 items
        search_s = row["search"]["cpu_ms_per_item"]
        out.append(
            f"| {name} | {write_s:.1f} | {write_s * WATTS_PER_CORE:.0f} | {search_s:.1f} "
            f"| {search_s * WATTS_PER_CORE:.0f} | 0 | {row['quality']['all']['R@10']:.3f} |"
        )
    return "\n".join(out)


def plot(result: dict[str, Any], path: Path) -> None:
    """Recall@10 against the CPU-seconds of writing and searching 1,000 memories."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, row in result["systems"].items():
        spent = row["add"]["cpu_ms_per_item"] + row["search"]["cpu_ms_per_item"]
        recall = row["quality"]["all"]["R@10"]
        ax.scatter([spent], [recall], s=60)
        ax.annotate(name, (spent, recall), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("CPU-seconds per 1,000 memories written and 1,000 searches")
    ax.set_ylabel("LoCoMo dev Recall@10")
    ax.set_ylim(0, 1)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.set_title("Cost against recall, one run (bench/peers.py)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _ratio(peer: float, ours: float) -> str:
    return f"{peer / ours:.2f}x" if ours else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("child", help="run one system (what the parent starts)")
    child.add_argument("system", choices=SYSTEMS)
    child.add_argument("--data", type=Path, default=DEFAULT_DATA)
    child.add_argument("--work", type=Path, required=True)
    child.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    default_peers = REPO / ".venv-peers/bin/python"
    parser.add_argument(
        "--peers-python",
        type=Path,
        default=default_peers if default_peers.exists() else None,
        help="the python of the peers' virtualenv (make bench-peers makes .venv-peers)",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plot", type=Path, help="write the cost-against-recall PNG here")
    drawn = sub.add_parser("plot", help="the tables and the PNG of an earlier run's --out")
    drawn.add_argument("result", type=Path)
    drawn.add_argument("--plot", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "child":
        args.work.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(run_child(args.system, args.data, args.work)))
        return 0
    result = json.loads(args.result.read_text()) if args.command == "plot" else run(args)
    print(table(result))
    print()
    print(cost(result))
    if args.plot:
        plot(result, args.plot)
    if args.command == "plot":
        return 0
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
