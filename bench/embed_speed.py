"""Embedding speed: int8 ONNX (MiniLMEmbedder) vs fp32 numpy (NumpyMiniLMEmbedder).

Measures, for each backend with 1 and 2 threads:

* throughput: texts/s embedding 1,000 LoCoMo turns in batches (best of --repeat),
  plus CPU-seconds per 1,000 texts (steadier than wall time on a shared machine);
* single-query latency p50/p95: 200 other turns, one text per call.

Each configuration runs in its own subprocess, because OpenBLAS reads its
thread count (OPENBLAS_NUM_THREADS) once, when numpy is imported.

    python bench/embed_speed.py [--data PATH] [--out bench/results/embed_speed.json]

``--sweep`` measures the int8 model's bulk rate instead (the background embedder's
ceiling, docs/write-path.md): ``--texts`` turns embedded by an onnxruntime session
built as ``MiniLMEmbedder`` builds it, for each batch size, intra-op thread count
and session variant (``default``: what ships; ``spinning``: idle threads spin;
``basic``: basic graph optimisations only; ``arena``: the CPU memory arena on),
each in its own process, with texts/s and CPU-s per 1,000 texts:

    python bench/embed_speed.py --sweep --texts 500 --out bench/results/embed_sweep.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The LoCoMo data is not in the repository: it sits beside it (README.md, "Benchmarks").
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"
DEFAULT_OUT = Path("bench/results/embed_speed.json")
BACKENDS = ("int8-onnx", "fp32-numpy")
THREADS = (1, 2)
N_THROUGHPUT = 1_000
N_LATENCY = 200


def load_turns(path: Path) -> list[str]:
    """Every turn's text, in file order, across all conversations and sessions."""
    samples = json.loads(path.read_text(encoding="utf-8"))
    texts: list[str] = []
    for sample in samples:
        conversation = sample["conversation"]
        sessions = sorted(
            (
                k
                for k, v in conversation.items()
                if k.startswith("session_") and isinstance(v, list)
            ),
            key=lambda k: int(k.split("_")[1]),
        )
        texts.extend(turn["text"] for key in sessions for turn in conversation[key])
    return texts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def worker(backend: str, threads: int, data: Path, repeat: int) -> dict[str, Any]:
    """Runs in the subprocess: load, warm up, measure one configuration."""
    from engramdb.embed import MiniLMEmbedder, NumpyMiniLMEmbedder

    texts = load_turns(data)
    if len(texts) < N_THROUGHPUT + N_LATENCY:
        raise SystemExit(f"{data} has {len(texts)} turns; need {N_THROUGHPUT + N_LATENCY}")
    bulk = texts[:N_THROUGHPUT]
    queries = texts[N_THROUGHPUT : N_THROUGHPUT + N_LATENCY]

    embedder: MiniLMEmbedder | NumpyMiniLMEmbedder = (
        MiniLMEmbedder(threads=threads) if backend == "int8-onnx" else NumpyMiniLMEmbedder()
    )
    started = time.perf_counter()
    embedder.load()  # includes the sha256 check of the model files
    load_s = time.perf_counter() - started
    embedder.embed(bulk[:64])  # warm-up: first-run allocations and graph setup

    best_wall = float("inf")
    best_cpu = float("inf")
    for _ in range(repeat):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        embedder.embed(bulk)
        best_wall = min(best_wall, time.perf_counter() - wall0)
        best_cpu = min(best_cpu, time.process_time() - cpu0)

    latencies_ms = []
    for text in queries:
        t0 = time.perf_counter()
        embedder.embed([text])
        latencies_ms.append((time.perf_counter() - t0) * 1000)

    return {
        "backend": backend,
        "model_id": embedder.model_id,
        "threads": threads,
        "load_s": round(load_s, 3),
        "texts": len(bulk),
        "batch_size": embedder.batch_size,
        "throughput_texts_per_s": round(len(bulk) / best_wall, 1),
        "cpu_s_per_1000": round(best_cpu * 1000 / len(bulk), 3),
        "latency_p50_ms": round(percentile(latencies_ms, 50), 2),
        "latency_p95_ms": round(percentile(latencies_ms, 95), 2),
        "queries": len(queries),
    }


VARIANTS = ("default", "spinning", "basic", "arena")
SWEEP_BATCHES = (1, 8, 16, 32, 64)


def sweep_worker(
    batch: int, threads: int, variant: str, data: Path, n: int, repeat: int
) -> dict[str, Any]:
    """Runs in the subprocess: one session configuration over ``n`` turns in batches."""
    import numpy as np
    import onnxruntime as ort

    from engramdb.embed.minilm import (
        ONNX_INT8,
        TOKENIZER,
        length_sorted_batches,
        load_tokenizer,
        mean_pool,
    )

    texts = load_turns(data)[:n]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    spin = "1" if variant == "spinning" else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        if variant == "basic"
        else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    )
    options.enable_cpu_mem_arena = variant == "arena"
    session = ort.InferenceSession(
        str(ONNX_INT8.resolve(None)), sess_options=options, providers=["CPUExecutionProvider"]
    )
    tokenizer = load_tokenizer(TOKENIZER.resolve(None))

    def embed(chunk: list[str]) -> None:
        for b in length_sorted_batches(tokenizer, chunk, batch):
            feeds = {
                "input_ids": b.input_ids,
                "attention_mask": b.attention_mask,
                "token_type_ids": np.zeros_like(b.input_ids),
            }
            (hidden,) = session.run(["last_hidden_state"], feeds)
            mean_pool(np.asarray(hidden), b.attention_mask)

    embed(texts[:32])  # warm-up
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        embed(texts)
        best_wall = min(best_wall, time.perf_counter() - wall0)
        best_cpu = min(best_cpu, time.process_time() - cpu0)
    return {
        "batch_size": batch,
        "threads": threads,
        "variant": variant,
        "texts": len(texts),
        "throughput_texts_per_s": round(len(texts) / best_wall, 1),
        "cpu_s_per_1000": round(best_cpu * 1000 / len(texts), 3),
        "loadavg": round(os.getloadavg()[0], 2),
    }


def sweep(data: Path, n: int, repeat: int) -> list[dict[str, Any]]:
    """Batch size x threads with the shipped session, then each variant at 16 x 2."""
    configs = [(b, t, "default") for t in THREADS for b in SWEEP_BATCHES]
    configs += [(16, 2, v) for v in VARIANTS if v != "default"]
    rows = []
    for batch, threads, variant in configs:
        argv = [sys.executable, __file__, "--sweep-worker", variant, "--threads", str(threads)]
        argv += ["--batch", str(batch), "--texts", str(n), "--repeat", str(repeat)]
        argv += ["--data", str(data)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{batch} x{threads} {variant} failed:\n{done.stderr}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    return rows


def run_config(backend: str, threads: int, data: Path, repeat: int) -> dict[str, Any]:
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    argv = [
        sys.executable,
        __file__,
        "--worker",
        backend,
        "--threads",
        str(threads),
        "--data",
        str(data),
        "--repeat",
        str(repeat),
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{backend} x{threads} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| backend | threads | texts/s (1,000 turns) | CPU-s / 1,000 | "
        "query p50 ms | query p95 ms | load s |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['threads']} | {r['throughput_texts_per_s']:.0f} | "
            f"{r['cpu_s_per_1000']:.2f} | {r['latency_p50_ms']:.1f} | "
            f"{r['latency_p95_ms']:.1f} | {r['load_s']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--repeat", type=int, default=2, help="throughput runs; best is kept")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--sweep", action="store_true", help="the int8 bulk-rate sweep")
    parser.add_argument("--texts", type=int, default=500, help="turns per sweep run")
    parser.add_argument("--sweep-worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=16, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.threads, args.data, args.repeat)))
        return
    if args.sweep_worker:
        found = sweep_worker(
            args.batch, args.threads, args.sweep_worker, args.data, args.texts, args.repeat
        )
        print(json.dumps(found))
        return
    if args.sweep:
        load_before = os.getloadavg()
        rows = sweep(args.data, args.texts, args.repeat)
        flags = sorted(
            {
                f
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("flags")
                for f in line.split()
                if f in {"avx2", "avx512f", "avx512_vnni"}
            }
        )
        report = {
            "machine": {"cpu_flags": flags, "cpu_count": os.cpu_count()},
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "results": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"cpu flags {flags}; wrote {args.out}")
        return

    load_before = os.getloadavg()
    rows = [run_config(b, t, args.data, args.repeat) for b in BACKENDS for t in THREADS]
    report = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            # A shared machine skews wall times; the load average says how busy it was.
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "data": str(args.data),
        "results": rows,
    }
    print(table(rows))
    print(f"load average before/after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
