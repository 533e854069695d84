"""Soak benchmark: the resident memory of a real ``engram serve`` under mixed traffic.

It starts ``engram serve --no-auth`` on a free loopback port over a new store,
with the packaged model (what a user runs), and drives it through
``engramdb.Client`` for ``--minutes`` (30 by default) with a mix of writes and
reads over four namespaces, the store filled to ``--size`` memories first (not
timed) and held near it (deletes balance adds): single adds with sessions and
speakers, batches of 10 and, one time in a hundred, of 100 (large batches once
grew a server without bound), updates, deletes, searches, context bundles,
gets and histories. Another
thread samples the server process's RSS (VmRSS in /proc/<pid>/status) every
``--sample-s`` seconds.

The acceptance (BENCHMARKS.md, "Memory use"): after a warm-up (the first tenth
of the run: the model loads, caches and SQLite's page cache fill), RSS stays
within 10% of its value at the end of the warm-up. It writes the samples and
figures as JSON and, with ``--plot``, the curve as a PNG (matplotlib, the
``plot`` extra).

    nice -n 19 python bench/soak.py --minutes 30 --out bench/results/soak-server.json \\
        --plot docs/soak.png

``--library`` runs the older measurement instead: one ``Memory`` in this
process, ``--operations`` mixed operations with ``HashEmbedder``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Client, EngramError, Memory
from engramdb.testing.fakes import HashEmbedder
from locomo import machine

NAMESPACES = ("soak-0", "soak-1", "soak-2", "soak-3")
SPEAKERS = ("Maya", "Tom", "Priya", "Jonas")
WORDS = [
    "river", "lantern", "orchard", "violin", "harbour", "meadow", "copper", "saffron", "glacier",
    "ember", "compass", "willow", "falcon", "marble", "thistle", "canyon", "velvet", "beacon",
    "juniper", "quartz", "Lisbon", "cello", "terrier", "job", "trip", "doctor", "flat", "balcony",
    "painting", "translation", "university", "birthday", "garden", "recipe", "marathon",
]  # fmt: skip
WARM_UP = 0.10  # share of the run before RSS is held to its value
TOLERANCE = 0.10  # RSS must stay within this share of its value after the warm-up


def rss_mib(pid: int | str = "self") -> float:
    return status(pid)["VmRSS"] / 1024


def status(pid: int | str = "self") -> dict[str, int]:
    """The numeric fields of /proc/<pid>/status (sizes in kB)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        first = value.split()[:1]
        if first and first[0].isdigit():
            out[name] = int(first[0])
    return out


# -- the server soak ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(store: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "engramdb", "--store", str(store),
        "serve", "--no-auth", "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:  # a server that never answers, or a client that cannot start, is not left behind
        client = Client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 600  # minutes on a loaded machine
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"engram serve exited: {log.read_text()[-2000:]}")
            try:
                client.namespaces()
                return server
            except (EngramError, OSError):
                time.sleep(0.5)
        raise RuntimeError("engram serve did not answer within 600 s")
    except BaseException:
        server.kill()
        raise


class Sampler(threading.Thread):
    """RSS of a process every ``every_s`` seconds, with the operations done so far."""

    def __init__(self, pid: int, every_s: float, done: list[int]) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s, self.done = pid, every_s, done
        self.samples: list[tuple[float, int, float]] = []  # (seconds, operations, MiB)
        self.detail: list[dict[str, int]] = []  # threads, anonymous and file-backed RSS (kB)
        self.stop = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.stop.is_set():
            found = status(self.pid)
            self.samples.append(
                (time.monotonic() - self.started, self.done[0], found["VmRSS"] / 1024)
            )
            self.detail.append(
                {k: found.get(k, 0) for k in ("Threads", "RssAnon", "RssFile", "VmData")}
            )
            self.stop.wait(self.every_s)


def fill(client: Client, size: int, seed: int) -> dict[str, list[str]]:
    """Bring the store to ``size`` memories before the clock starts (batches of 100)."""
    rng = random.Random(seed)
    live: dict[str, list[str]] = {ns: [] for ns in NAMESPACES}
    for start in range(0, size, 100):
        ns = NAMESPACES[(start // 100) % len(NAMESPACES)]
        items = [
            {
                "text": " ".join(rng.choices(WORDS, k=rng.randint(4, 30))),
                "session": f"fill-{start // 100}",
                "speaker": rng.choice(SPEAKERS),
            }
            for _ in range(min(100, size - start))
        ]
        live[ns].extend(e.id for e in client.add_many(items, namespace=ns))
    return live


def drive(
    client: Client,
    live: dict[str, list[str]],
    seconds: float,
    size: int,
    seed: int,
    done: list[int],
) -> dict[str, Any]:
    """Mixed traffic until ``seconds`` have passed; counts per operation and errors."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    errors: list[str] = []

    def text() -> str:
        return " ".join(rng.choices(WORDS, k=rng.randint(4, 30)))

    def item(op: int) -> dict[str, Any]:
        return {"text": text(), "session": f"s{op // 200}", "speaker": rng.choice(SPEAKERS)}

    deadline = time.monotonic() + seconds
    op = 0
    while time.monotonic() < deadline:
        op += 1
        ns = rng.choice(NAMESPACES)
        total = sum(len(ids) for ids in live.values())
        roll = rng.random()
        try:
            if roll < 0.25:
                name = "search"
                client.search(text(), namespace=ns, limit=10)
            elif roll < 0.30:
                name = "context"
                client.context(text(), namespace=ns, session=f"s{op // 200}", budget_tokens=500)
            elif roll < 0.35 and live[ns]:
                name = "get+history"
                target = rng.choice(live[ns])
                client.get(target, namespace=ns)
                client.history(target, namespace=ns)
            elif roll < 0.50 and live[ns]:
                name = "update"
                client.update(rng.choice(live[ns]), namespace=ns, text=text())
            elif (total > size or roll < 0.60) and live[ns]:
                name = "delete"
                client.delete(live[ns].pop(rng.randrange(len(live[ns]))), namespace=ns)
            elif roll < 0.94:
                name = "add"
                live[ns].append(client.add(namespace=ns, **item(op)).id)
            else:
                big = rng.random() < 1 / 6  # one operation in a hundred
                name = "add_many(100)" if big else "add_many(10)"
                batch = client.add_many([item(op) for _ in range(100 if big else 10)], namespace=ns)
                live[ns].extend(e.id for e in batch)
        except EngramError as exc:
            name = "error"
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
        counts[name] = counts.get(name, 0) + 1
        done[0] = op
    return {
        "operations": op,
        "counts": counts,
        "errors": errors[:20],
        "error_count": len(errors),
        "memories_at_end": sum(len(ids) for ids in live.values()),
    }


def verdict(samples: list[tuple[float, int, float]], seconds: float) -> dict[str, Any]:
    """RSS at the end of the warm-up, after it, and whether it stayed within TOLERANCE."""
    warm = [s for s in samples if s[0] <= seconds * WARM_UP]
    after = [s for s in samples if s[0] > seconds * WARM_UP]
    base = warm[-1][2] if warm else samples[0][2]
    rss_after = [s[2] for s in after] or [base]
    low, high = min(rss_after), max(rss_after)
    return {
        "warm_up_s": round(seconds * WARM_UP),
        "rss_mib_at_warm_up_end": round(base, 1),
        "rss_mib_min_after": round(low, 1),
        "rss_mib_max_after": round(high, 1),
        "rss_mib_at_end": round(samples[-1][2], 1),
        "rss_mib_peak": round(max(s[2] for s in samples), 1),
        "growth_after_warm_up": round(high / base - 1, 4),
        "flat_within_10pct": high <= base * (1 + TOLERANCE) and low >= base * (1 - TOLERANCE),
    }


def plot(samples: list[tuple[float, int, float]], result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s[0] / 60 for s in samples]
    base = result["rss_mib_at_warm_up_end"]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    ax.plot(minutes, [s[2] for s in samples], color="tab:blue", label="server RSS (MiB)")
    ax.axhspan(base * (1 - TOLERANCE), base * (1 + TOLERANCE), color="tab:green", alpha=0.12,
               label="±10% of RSS after warm-up")  # fmt: skip
    ax.axvline(result["warm_up_s"] / 60, color="grey", linestyle=":", label="end of warm-up")
    ax.set_xlabel("minutes of mixed traffic")
    ax.set_ylabel("RSS (MiB)")
    ax.set_ylim(0, max(s[2] for s in samples) * 1.25)
    ops = ax.twinx()
    ops.plot(minutes, [s[1] for s in samples], color="tab:orange", alpha=0.6, label="operations")
    ops.set_ylabel("operations done")
    ax.set_title(f"engram serve soak: {result['operations']:,} operations in "
                 f"{result['seconds'] / 60:.0f} min")  # fmt: skip
    lines = ax.get_legend_handles_labels()[0] + ops.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ops.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def soak_server(args: argparse.Namespace) -> dict[str, Any]:
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="engram-soak-") as workdir:
        port = free_port()
        log = Path(workdir) / "serve.log"
        server = start_server(Path(workdir) / "store", port, log)
        done = [0]
        sampler = Sampler(server.pid, args.sample_s, done)
        client = Client(f"http://127.0.0.1:{port}", timeout_s=300.0)
        try:
            filled = time.monotonic()
            live = fill(client, args.size, args.seed)
            filled = time.monotonic() - filled
            sampler.started = time.monotonic()
            sampler.start()
            started = time.monotonic()
            traffic = drive(client, live, seconds, args.size, args.seed, done)
            elapsed = time.monotonic() - started
            sampler.stop.set()
            sampler.join()
            sampler.samples.append((elapsed, done[0], rss_mib(server.pid)))
        finally:
            server.terminate()
            server.wait(timeout=60)
    result = {
        "measured": "engram serve (uvicorn, one process) with the packaged model, driven "
        "over HTTP by engramdb.Client from another process",
        "size": args.size,
        "fill_s": round(filled, 1),
        **traffic,
        "seconds": round(elapsed, 1),
        "ops_per_s": round(traffic["operations"] / elapsed, 1),
        **verdict(sampler.samples, elapsed),
        "samples": [(round(t, 1), n, round(r, 1)) for t, n, r in sampler.samples],
        "detail": sampler.detail,
    }
    if args.plot:
        plot(sampler.samples, result, args.plot)
    return result


# -- the library soak (one process, HashEmbedder) ------------------------------------


def soak_library(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    live: dict[str, list[str]] = {ns: [] for ns in NAMESPACES}
    samples: list[tuple[int, float]] = [(0, rss_mib())]
    step = max(args.operations // 100, 1)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="engram-soak-") as workdir,
        Memory(str(Path(workdir) / "store"), embedder=HashEmbedder()) as mem,
    ):
        for op in range(1, args.operations + 1):
            ns = rng.choice(NAMESPACES)
            text = " ".join(rng.choices(WORDS, k=rng.randint(4, 30)))
            roll = rng.random()
            if roll < 0.10:
                mem.search(text, namespace=ns, limit=10)
            elif roll < 0.35 and live[ns]:
                mem.update(rng.choice(live[ns]), namespace=ns, text=text)
            elif (sum(map(len, live.values())) > args.size or roll < 0.50) and live[ns]:
                mem.delete(live[ns].pop(rng.randrange(len(live[ns]))), namespace=ns)
            else:
                live[ns].append(mem.add(text, namespace=ns, session=f"s{op // 500}").id)
            if op % step == 0:
                samples.append((op, rss_mib()))
    return {
        "measured": "the library in one process (HashEmbedder)",
        "operations": args.operations,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_mib_at_25pct": samples[len(samples) // 4][1],
        "rss_mib_at_end": samples[-1][1],
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--size", type=int, default=2_000, help="memories the store hovers at")
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", type=Path, default=None, help="write the RSS curve as a PNG")
    parser.add_argument("--library", action="store_true", help="the one-process library soak")
    parser.add_argument("--operations", type=int, default=100_000, help="with --library")
    parser.add_argument("--out", type=Path, default=Path("bench/results/soak-server.json"))
    args = parser.parse_args(argv)
    result = soak_library(args) if args.library else soak_server(args)
    result = {
        "benchmark": "soak",
        "command": "python bench/soak.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "nice": os.nice(0),
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    shown = {k: v for k, v in result.items() if k not in ("samples", "machine", "errors")}
    print(json.dumps(shown, indent=2))
    return 0 if args.library or result.get("flat_within_10pct") else 1


if __name__ == "__main__":
    raise SystemExit(main())
