"""HTTP search benchmark: latency p50/p95/p99 and throughput at 1, 8 and 32 clients.

A real ``engram serve`` process on 127.0.0.1 serves a store holding the LoCoMo
dev conversations (every turn, one namespace per conversation, added in
process before the server starts). Each client is an asyncio task with its own
keep-alive connection that sends LoCoMo questions (categories 1-4, ``now`` =
the conversation's last session) to ``POST /v1/namespaces/{ns}/search``
(limit 10) back to back for ``--seconds`` per level. The server runs with its
per-key rate limit off (``--rate-limit 0``): this measures the server, not the
limiter. Client and server share the machine's cores.

    python bench/http_search.py --out bench/results/http.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from engramdb import Memory, Settings
from engramdb.formats import locomo
from engramdb.security.keys import KeyRing, keys_path
from engramdb.testing.serve import ServeProcess
from locomo import DEFAULT_DATA, machine
from metrics import percentile

LEVELS = (1, 8, 32)


def load_store(store: Path, data: Path) -> tuple[list[dict[str, Any]], int]:
    """Add every turn; return the search bodies (with their namespace) and the turn count."""
    conversations = locomo.load(data)
    requests: list[dict[str, Any]] = []
    turns = 0
    with Memory(settings=Settings(path=str(store))) as mem:
        for conv in conversations:
            mem.add_many(conv.turns, namespace=conv.sample_id)
            turns += len(conv.turns)
            now = conv.last_session_at.isoformat()
            requests += [
                {"namespace": conv.sample_id, "query": q.question, "now": now}
                for q in conv.questions
                if q.category != 5
            ]
    return requests, turns


async def run_level(
    url: str, token: str, requests: list[dict[str, Any]], clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def client(offset: int) -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as http:
            i = offset
            while time.perf_counter() < deadline:
                body = requests[i % len(requests)]
                i += clients
                start = time.perf_counter()
                response = await http.post(
                    f"/v1/namespaces/{body['namespace']}/search",
                    json={"query": body["query"], "now": body["now"], "limit": 10},
                    timeout=60,
                )
                elapsed = time.perf_counter() - start
                if response.status_code == 200:
                    latencies.append(elapsed * 1000)
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(wall, 2),
        "requests": len(latencies),
        "errors": errors,
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "mean_ms": round(sum(latencies) / max(1, len(latencies)), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("bench/results/http.json"))
    parser.add_argument("--seconds", type=float, default=20.0, help="per concurrency level")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    args = parser.parse_args(argv)

    load_average = [round(x, 2) for x in os.getloadavg()]  # other work on the machine
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        started = time.perf_counter()
        requests, turns = load_store(store, args.data)
        load_s = time.perf_counter() - started
        with KeyRing(keys_path(str(store))) as ring:
            token = ring.create(name="bench", namespaces=[], access="admin").token
        # no background consolidation: the benchmark measures search alone
        serve = ["serve", "--port", "0", "--rate-limit", "0", "--consolidate-every", "0"]
        with ServeProcess.start(["--store", str(store), *serve]) as server:
            url = server.url(timeout_s=900)  # the model loads: slow on a busy machine
            asyncio.run(run_level(url, token, requests, 4, 2.0))  # warm up
            levels = []
            for clients in args.levels:
                result = asyncio.run(run_level(url, token, requests, clients, args.seconds))
                levels.append(result)
                print(
                    f"{clients:>3} clients: {result['throughput_rps']:7.1f} req/s  "
                    f"p50 {result['p50_ms']:6.1f} ms  p95 {result['p95_ms']:6.1f} ms  "
                    f"p99 {result['p99_ms']:6.1f} ms  ({result['requests']} requests, "
                    f"{result['errors']} errors)",
                    flush=True,
                )

    report = {
        "benchmark": "http search",
        "command": "python bench/http_search.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {**machine(), "load_average_at_start": load_average},
        "data": {"file": args.data.name, "turns": turns, "questions": len(requests)},
        "load_s": round(load_s, 1),
        "server": "engram serve, one uvicorn process, rate limit off, 127.0.0.1",
        "search": {"limit": 10, "neighbours": 0},
        "levels": levels,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
