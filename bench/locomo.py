"""LoCoMo retrieval benchmark: engramdb against BM25, dense and RRF, in one run.

Protocol: every turn of a conversation is added to
its own namespace with the session date as ``occurred_at`` and ``dia_id`` in
metadata; each question of categories 1-4 searches that namespace with
``now`` = the last session's date; Recall@1/5/10/20 and NDCG@10 of the
evidence dia_ids, overall and per category. Baselines see the same texts.

    python bench/locomo.py --out bench/results/locomo.json

``--encryption`` runs engramdb a second time on an encrypted store of the same kind
(docs/security.md: a fresh random master key, vectors sealed too; with ``--store
postgresql://...`` a new schema of that database, its vectors never given to
pgvector) in the same run, embedding as ``--embed`` says, and reports
both: Recall@10 with the shipped weights, add_many throughput, search latency,
and the first search after each conversation's writes (the catalog is opened
from ciphertext then).

``--store`` runs engramdb on another store than a new SQLite directory: a
``postgresql://`` URL (docs/postgres.md) runs it in a new schema of that database,
dropped afterwards (or in the schema the URL's ``schema`` parameter names, kept),
so that the same command measures both stores:

    python bench/locomo.py --no-baselines --store postgresql://user:pw@host/db

``--pool-fraction 0.05 0.1 0.2 0.5`` also runs the two-stage path
(docs/recall.md) with the candidate pool capped at that share of each
conversation: the candidate recall (share of evidence turns among the
candidates), Recall@10 with the shipped weights and cross-validated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import BM25, rank, rrf
from engramdb import EncryptionKey, Memory, Settings
from engramdb.embed import make_embedder
from engramdb.formats import locomo
from engramdb.recall.engine import SearchRequest
from engramdb.recall.features import SIGNALS
from engramdb.security.crypto import generate_key
from metrics import percentile, score_run
from ranker_fit import HAND_SET, collect, cross_validated

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"
DEPTH = 20


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def is_postgres(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


@contextlib.contextmanager
def store_at(given: str | None) -> Iterator[str]:
    """Where engramdb's run keeps its memories: a new temporary SQLite directory without
    ``--store``; a new schema of a ``postgresql://`` URL's database, dropped afterwards,
    unless the URL names one (``schema=``: used and kept); else the directory given."""
    if given is None:
        with tempfile.TemporaryDirectory(prefix="engram-locomo-") as tmp:
            yield str(Path(tmp) / "store")
        return
    if not is_postgres(given) or "schema" in parse_qs(urlsplit(given).query):
        yield given
        return
    import psycopg
    from psycopg import sql

    schema = f"locomo_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{given}{'&' if '?' in given else '?'}schema={schema}"
    finally:
        with psycopg.connect(given, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def redacted(location: str) -> str:
    """A store location as a report shows it: a URL without its password."""
    if not is_postgres(location):
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def described(location: str) -> str:
    """The store a run used, without the URL's password: "sqlite", or "postgresql" with
    its schema."""
    if not is_postgres(location):
        return "sqlite"
    schema = parse_qs(urlsplit(location).query).get("schema", ["engramdb"])[0]
    return f"postgresql (schema {schema})"


def run_engramdb(
    conversations: list[locomo.Conversation],
    location: str,
    weights: Path | None,
    *,
    encryption: EncryptionKey | None = None,
    cross_validate: bool = True,
    fractions: tuple[float, ...] = (),
    embed: str = "now",
) -> dict[str, Any]:
    settings = Settings(path=location, encryption=encryption)
    rankings: list[list[str]] = []
    latencies: list[float] = []
    first_search: list[float] = []
    add_seconds = 0.0
    turns = 0
    with Memory(settings=settings) as mem:
        if weights is not None:
            from engramdb.recall.ranker import AttentionRanker, RankerWeights

            mem._recall().ranker = AttentionRanker(  # benchmark hook: fitted weights
                RankerWeights.from_json(json.loads(weights.read_text()))
            )
        mem.embedder.embed(["warm up the model"])
        for conv in conversations:
            start = time.perf_counter()
            mem.add_many(list(conv.turns), namespace=conv.sample_id, embed=embed)
            add_seconds += time.perf_counter() - start
            turns += len(conv.turns)
        start = time.perf_counter()
        mem.flush()  # --embed later: every vector is present before the questions
        catch_up_s = time.perf_counter() - start
        # reinforce=False: a recall strengthens its hits at once (docs/dynamics.md), so with
        # it each question would be ranked on a store the earlier questions had changed
        mem.search(
            "warm up",
            namespace=conversations[0].sample_id,
            now=conversations[0].last_session_at,
            reinforce=False,
        )
        for conv in conversations:
            for i, q in enumerate(questions(conv)):
                start = time.perf_counter()
                hits = mem.search(
                    q.question,
                    namespace=conv.sample_id,
                    limit=DEPTH,
                    now=conv.last_session_at,
                    reinforce=False,
                )
                # the first search of a namespace builds its catalog from the store
                (first_search if i == 0 else latencies).append(time.perf_counter() - start)
                rankings.append([str(h.engram.metadata.get("dia_id")) for h in hits])
        cv_rankings: list[list[str]] = []
        if cross_validate:  # weights refitted without each question's conversation
            names = [n for n in SIGNALS if n not in HAND_SET]
            cv_rankings, _ = cross_validated(
                collect(mem, conversations, names), names, len(conversations)
            )
        pooled = {f: run_pooled(mem, conversations, f) for f in fractions}
    return {
        "pooled": pooled,
        "rankings": rankings,
        "cv_rankings": cv_rankings,
        "first_search_ms": 1000 * float(np.mean(first_search)),
        "add_turns_per_s": turns / add_seconds if add_seconds else 0.0,
        "catch_up_s": catch_up_s,
        "search_ms": {
            "p50": 1000 * percentile(latencies, 50),
            "p95": 1000 * percentile(latencies, 95),
            "p99": 1000 * percentile(latencies, 99),
            "mean": 1000 * float(np.mean(latencies)),
        },
    }


def run_pooled(
    mem: Memory, conversations: list[locomo.Conversation], fraction: float
) -> dict[str, Any]:
    """The two-stage path with the pool capped at ``fraction`` of each conversation:
    candidate recall per question, rankings with the shipped weights, CV rankings."""
    recaller = mem._recall()
    default, exhaustive = recaller.pool, recaller.exhaustive_up_to
    recaller.exhaustive_up_to = 0  # the two-stage path even when the pool holds it all
    covered: list[float] = []
    rankings: list[list[str]] = []
    cv_rankings: list[list[str]] = []
    pools: list[int] = []
    try:
        for conv in conversations:
            recaller.pool = max(1, math.ceil(fraction * len(conv.turns)))
            pools.append(recaller.pool)
            dia = {
                e.id: str(e.metadata.get("dia_id")) for e in mem.store.iter_engrams(conv.sample_id)
            }
            for q in questions(conv):
                request = SearchRequest(q.question, conv.sample_id, DEPTH, conv.last_session_at)
                view, _ = recaller.score(request)
                found = {dia[i] for i in view.catalog.ids}
                covered.append(sum(e in found for e in q.evidence) / len(q.evidence))
                hits = mem.search(
                    q.question,
                    namespace=conv.sample_id,
                    limit=DEPTH,
                    now=conv.last_session_at,
                    reinforce=False,
                )
                rankings.append([str(h.engram.metadata.get("dia_id")) for h in hits])
        names = [n for n in SIGNALS if n not in HAND_SET]
        samples = []
        for ci, conv in enumerate(conversations):
            recaller.pool = max(1, math.ceil(fraction * len(conv.turns)))
            for s in collect(mem, [conv], names, pooled=True):
                s.conversation = ci
                samples.append(s)
        cv_rankings, _ = cross_validated(samples, names, len(conversations))
    finally:
        recaller.pool, recaller.exhaustive_up_to = default, exhaustive
    return {
        "candidate_recall": float(np.mean(covered)),
        "pool_sizes": pools,
        "rankings": rankings,
        "cv_rankings": cv_rankings,
    }


def run_baselines(conversations: list[locomo.Conversation]) -> dict[str, list[list[str]]]:
    embedder = make_embedder(Settings())
    out: dict[str, list[list[str]]] = {"bm25": [], "dense": [], "rrf": []}
    for conv in conversations:
        ids = [t["metadata"]["dia_id"] for t in conv.turns]
        # Baselines index "Speaker: text", the form that reproduces the published
        # baseline figures (shared/data/locomo/README.md) and the strongest we found.
        texts = [f"{t['speaker']}: {t['text']}" for t in conv.turns]
        bm25 = BM25(texts)
        vectors = embedder.embed(texts)
        qs = questions(conv)
        qvectors = embedder.embed([q.question for q in qs])
        for q, qv in zip(qs, qvectors, strict=True):
            lexical = rank(bm25.scores(q.question), ids, 100)
            dense = rank((vectors @ qv).astype(np.float64), ids, 100)
            out["bm25"].append(lexical[:DEPTH])
            out["dense"].append(dense[:DEPTH])
            out["rrf"].append(rrf([lexical, dense], DEPTH))
    return out


def questions(conv: locomo.Conversation) -> list[locomo.Question]:
    return [q for q in conv.questions if q.category != 5 and q.evidence]


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["system       group   n    R@1   R@5  R@10  R@20 NDCG@10"]
    for system, groups in results.items():
        for group, m in groups.items():
            lines.append(
                f"{system:<12} {group:<5} {int(m['n']):>4} {m['R@1']:.3f} {m['R@5']:.3f} "
                f"{m['R@10']:.3f} {m['R@20']:.3f} {m['NDCG@10']:.3f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("bench/results/locomo.json"))
    parser.add_argument(
        "--weights", type=Path, help="ranker weights JSON to use instead of the shipped ones"
    )
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--store",
        help="run engramdb on this store: a postgresql:// URL (a new schema of its database, "
        "dropped afterwards, unless the URL names one) or a new directory; default: a new "
        "SQLite store in a temporary directory",
    )
    parser.add_argument(
        "--encryption", action="store_true", help="also run on an encrypted store and compare"
    )
    parser.add_argument(
        "--pool-fraction",
        type=float,
        nargs="*",
        default=[],
        help="also run two-stage recall with the pool capped at these shares of each conversation",
    )
    parser.add_argument(
        "--embed",
        choices=("now", "later"),
        default="now",
        help="later: write every turn without its vector, then wait for the background "
        "embedder (docs/write-path.md) before the questions",
    )
    args = parser.parse_args(argv)
    given_argv = list(argv or sys.argv[1:])

    conversations = locomo.load(args.data)
    evidence = [list(q.evidence) for c in conversations for q in questions(c)]
    categories = [q.category for c in conversations for q in questions(c)]

    with store_at(args.store) as location:
        store = described(location)
        ours = run_engramdb(
            conversations,
            location,
            args.weights,
            fractions=tuple(args.pool_fraction),
            embed=args.embed,
        )
    results = {
        "engramdb-cv": score_run(ours["cv_rankings"], evidence, categories),
        "engramdb": score_run(ours["rankings"], evidence, categories),
    }
    candidate_recall = {}
    for fraction, run in ours["pooled"].items():
        results[f"pool{fraction:g}-cv"] = score_run(run["cv_rankings"], evidence, categories)
        results[f"pool{fraction:g}"] = score_run(run["rankings"], evidence, categories)
        candidate_recall[f"{fraction:g}"] = {
            "candidate_recall": run["candidate_recall"],
            "pool_sizes": run["pool_sizes"],
        }
    sealed: dict[str, Any] | None = None
    if args.encryption:
        # on the same kind of store: a new schema of a postgresql:// URL's database that
        # names none, else a new SQLite directory
        fresh = args.store if args.store and is_postgres(args.store) else None
        if fresh is not None and "schema" in parse_qs(urlsplit(fresh).query):
            fresh = None
        with store_at(fresh) as location:
            key = EncryptionKey.from_text(generate_key())
            sealed = run_engramdb(
                conversations,
                location,
                args.weights,
                encryption=key,
                cross_validate=False,
                embed=args.embed,
            )
        results["engramdb-encrypted"] = score_run(sealed["rankings"], evidence, categories)
    if not args.no_baselines:
        for name, rankings in run_baselines(conversations).items():
            results[name] = score_run(rankings, evidence, categories)

    print(f"engramdb on {store}")
    print(table(results))
    for fraction, found in candidate_recall.items():
        print(
            f"pool {fraction} of each conversation ({found['pool_sizes']} memories): "
            f"candidate recall {found['candidate_recall']:.3f}"
        )
    ms = ours["search_ms"]
    print(
        f"\nsearch latency ms: p50 {ms['p50']:.1f}  p95 {ms['p95']:.1f}  p99 {ms['p99']:.1f}"
        f"   add_many: {ours['add_turns_per_s']:.0f} turns/s"
        f"   first search after writes: {ours['first_search_ms']:.1f} ms"
        f"   catch-up after the writes: {ours['catch_up_s']:.1f} s"
    )
    if sealed is not None:
        ms = sealed["search_ms"]
        print(
            f"encrypted: p50 {ms['p50']:.1f}  p95 {ms['p95']:.1f}  p99 {ms['p99']:.1f}"
            f"   add_many: {sealed['add_turns_per_s']:.0f} turns/s"
            f"   first search after writes: {sealed['first_search_ms']:.1f} ms"
        )
    report = {
        "command": " ".join(["python", "bench/locomo.py", *map(redacted, given_argv)]),
        "store": store,
        "data": str(args.data),
        "machine": machine(),
        "questions": len(evidence),
        "results": results,
        "search_ms": ours["search_ms"],
        "add_turns_per_s": ours["add_turns_per_s"],
        "embed": args.embed,
        "catch_up_s": ours["catch_up_s"],
        "first_search_ms": ours["first_search_ms"],
        "candidate_recall": candidate_recall,
    }
    if sealed is not None:
        report["encrypted"] = {
            key: sealed[key] for key in ("search_ms", "add_turns_per_s", "first_search_ms")
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
