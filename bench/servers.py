"""Several ``engram serve`` processes on one PostgreSQL database (docs/scaling.md).

It makes a fresh schema in the database ``--store`` names (default: the URL in
``ENGRAMDB_TEST_POSTGRES``), mints one write key in it, starts ``--servers``
real ``engram serve`` processes on it (the packaged model, background
consolidation every ``--consolidate-every`` seconds, so the servers' runners
meet at the advisory lock), and drives them with ``--clients`` threads per
server for ``--seconds`` of mixed HTTP traffic: each client adds notes to a
namespace of its own and searches it (``--add-share`` of the requests are adds).

Half-way through (``--kill-at``, a share of the run) the first server is killed
with SIGKILL; its clients go on against the others, as behind a load balancer.
A request in flight to the killed server when it died is counted apart
(``interrupted``): it was never acknowledged. Every other failure (a 5xx, a 4xx,
a connection error to a live server) is an error, and the acceptance is 0.

Afterwards: every acknowledged add is looked up in the database (lost must be
0), and the cache-invalidation delay is measured ``--probes`` times: a write
through one surviving server, then searches on another until a search returns
it (the delay includes that search's own time; ``found_by_the_first_search``
counts the probes whose first search after the write found it). The figures
are printed and written as JSON (``--out``).

    nice -n 19 python bench/servers.py --seconds 60 --out bench/results/servers.json
    nice -n 19 python bench/servers.py --seconds 10 --clients 2   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from engramdb.config import shown_location
from engramdb.security.keys import KeyRing, keys_path
from engramdb.store.postgres import PostgresStore
from engramdb.testing.serve import ServeProcess

_WORDS = [
    "garden",
    "piano",
    "harbour",
    "lantern",
    "violet",
    "marble",
    "orchard",
    "canyon",
    "falcon",
    "meadow",
    "compass",
    "ember",
    "glacier",
    "willow",
    "saffron",
    "quartz",
    "tundra",
    "velvet",
]


@dataclass
class Tally:
    """What the clients saw, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"add": [], "search": []})
    errors: list[str] = field(default_factory=list)
    interrupted: int = 0
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (namespace, id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=os.environ.get("ENGRAMDB_TEST_POSTGRES", ""))
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8, help="client threads per server")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--add-share", type=float, default=0.5)
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of the run; 0: none")
    parser.add_argument("--consolidate-every", type=float, default=20.0)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.store.startswith(("postgresql://", "postgres://")):
        parser.error("--store (or ENGRAMDB_TEST_POSTGRES) must be a postgresql:// URL")
    schema = f"bench_servers_{uuid.uuid4().hex[:8]}"
    location = f"{args.store}{'&' if '?' in args.store else '?'}schema={schema}"
    print(f"store {shown_location(location)}", file=sys.stderr)
    PostgresStore(args.store, schema=schema).close()  # made once, before the servers race
    with KeyRing(keys_path(location)) as ring:
        token = ring.create(name="bench", namespaces=["*"], access="write").token
    servers: list[ServeProcess] = []
    try:
        # all started at once: each loads the model, which takes a while on a busy machine
        servers += [_serve(location, args.consolidate_every) for _ in range(args.servers)]
        urls = [server.url(timeout_s=900) for server in servers]
        print(f"{len(urls)} servers up: {', '.join(urls)}", file=sys.stderr)
        result = _run(args, urls, token, servers)
        result["invalidation_s"] = _invalidation(urls[1:], token, args.probes)
        result["lost"] = _lost(args.store, schema, result.pop("acknowledged_ids"))
        result["store"] = "postgresql"
        result["machine"] = _machine()
    finally:
        for server in servers:  # all told at once, then each waited for
            if server.process.poll() is None:
                server.process.terminate()
        for server in servers:
            server.stop(timeout_s=60)
        if not args.keep:
            with psycopg.connect(args.store, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


def _serve(location: str, consolidate_every: float) -> ServeProcess:
    env = {**os.environ, "ENGRAMDB_STORE": location}
    env.pop("ENGRAMDB_PATH", None)
    return ServeProcess.start(
        ["serve", "--port", "0", "--rate-limit", "0", "--no-mcp",
         "--consolidate-every", f"{consolidate_every:g}"],
        env=env,
    )  # fmt: skip


def _run(
    args: argparse.Namespace,
    urls: list[str],
    token: str,
    servers: list[ServeProcess],
) -> dict[str, Any]:
    tally = Tally()
    dead: set[str] = set()
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {token}"}

    def client(number: int, home: str) -> None:
        rng = random.Random(number)
        namespace = f"client-{number}"
        http = {url: httpx.Client(base_url=url, headers=headers, timeout=120) for url in urls}
        notes = 0
        while not stop.is_set():
            url = home if home not in dead else rng.choice([u for u in urls if u not in dead])
            words = " ".join(rng.choice(_WORDS) for _ in range(6))
            if rng.random() < args.add_share or notes == 0:
                op, path = "add", f"/v1/namespaces/{namespace}/engrams"
                body: dict[str, Any] = {"text": f"note {notes} of client {number}: {words}"}
            else:
                op, path = "search", f"/v1/namespaces/{namespace}/search"
                body = {"query": words, "limit": 10}
            began = time.perf_counter()
            try:
                response = http[url].post(path, json=body)
            except httpx.TransportError as exc:
                with tally.lock:
                    if url in dead:
                        tally.interrupted += 1
                    else:
                        tally.errors.append(f"{op} {url}: {type(exc).__name__}: {exc}")
                continue
            spent = time.perf_counter() - began
            with tally.lock:
                if response.status_code in (200, 201):
                    tally.latencies[op].append(spent)
                    if op == "add":
                        tally.acknowledged.append((namespace, response.json()["id"]))
                        notes += 1
                else:
                    tally.errors.append(f"{op} {url}: {response.status_code} {response.text[:200]}")
        for one in http.values():
            one.close()

    threads = [
        threading.Thread(target=client, args=(s * args.clients + c, url), daemon=True)
        for s, url in enumerate(urls)
        for c in range(args.clients)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    killed_at = None
    if args.kill_at > 0:
        time.sleep(args.seconds * args.kill_at)
        dead.add(urls[0])  # first: a request failing from now on was in flight
        servers[0].process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic() - began
        print(f"killed the server at {urls[0]} after {killed_at:.1f} s", file=sys.stderr)
    time.sleep(max(0.0, args.seconds - (time.monotonic() - began)))
    stop.set()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.monotonic() - began
    done = sum(len(v) for v in tally.latencies.values())
    return {
        "servers": len(urls),
        "clients": len(threads),
        "seconds": round(elapsed, 1),
        "killed_at_s": None if killed_at is None else round(killed_at, 1),
        "operations": done,
        "throughput_per_s": round(done / elapsed, 1),
        "latency_ms": {op: _percentiles(v) for op, v in tally.latencies.items()},
        "all_latency_ms": _percentiles([x for v in tally.latencies.values() for x in v]),
        "errors": len(tally.errors),
        "first_errors": tally.errors[:5],
        "interrupted_by_the_kill": tally.interrupted,
        "acknowledged_adds": len(tally.acknowledged),
        "acknowledged_ids": tally.acknowledged,
    }


def _invalidation(urls: list[str], token: str, probes: int) -> dict[str, Any]:
    """A write through one server, then searches on another until one returns it."""
    if len(urls) < 2:
        return {"probes": 0}
    headers = {"Authorization": f"Bearer {token}"}
    delays = []
    first = 0  # probes whose first search after the write already found it
    with (
        httpx.Client(base_url=urls[0], headers=headers, timeout=120) as writer,
        httpx.Client(base_url=urls[1], headers=headers, timeout=120) as reader,
    ):
        for probe in range(probes):
            namespace = "probe"
            reader.post(f"/v1/namespaces/{namespace}/search", json={"query": "warm"})
            marker = f"probe {probe} {uuid.uuid4().hex[:8]} lighthouse"
            written = writer.post(f"/v1/namespaces/{namespace}/engrams", json={"text": marker})
            written.raise_for_status()
            wanted = written.json()["id"]
            acknowledged = time.perf_counter()
            polls = 0
            while True:
                polls += 1
                found = reader.post(
                    f"/v1/namespaces/{namespace}/search", json={"query": marker, "limit": 5}
                ).json()["hits"]
                if any(hit["engram"]["id"] == wanted for hit in found):
                    delays.append(time.perf_counter() - acknowledged)
                    first += polls == 1
                    break
                if time.perf_counter() - acknowledged > 30:
                    delays.append(float("inf"))
                    break
    finite = [d for d in delays if d != float("inf")]
    return {
        "probes": len(delays),
        "never_seen": len(delays) - len(finite),
        "found_by_the_first_search": first,
        "p50_ms": _percentiles(finite)["p50"],
        "max_ms": round(max(finite) * 1000, 1) if finite else None,
    }


def _lost(url: str, schema: str, acknowledged: list[tuple[str, str]]) -> int:
    """Acknowledged adds the database does not hold."""
    by_namespace: dict[str, list[str]] = {}
    for namespace, engram_id in acknowledged:
        by_namespace.setdefault(namespace, []).append(engram_id)
    store = PostgresStore(url, schema=schema, read_only=True)
    try:
        return sum(
            len(set(ids) - set(store.get_many(namespace, ids)))
            for namespace, ids in by_namespace.items()
        )
    finally:
        store.close()


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


def _machine() -> dict[str, Any]:
    flags = set()
    with open("/proc/cpuinfo", encoding="ascii") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("flags"):
                flags |= {f for f in line.split() if f in {"avx2", "avx512f", "avx512_vnni"}}
    return {"cpus": os.cpu_count(), "flags": sorted(flags), "load_average": os.getloadavg()}


if __name__ == "__main__":
    main()
