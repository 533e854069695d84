"""Where a batch of 100 memories' transient memory goes: RSS around one ``add_many``.

The server soak (bench/soak.py) peaks during its batches of 100. This runs one
such batch at a time, several rounds after a warm-up, and reports per stage the
resident memory before it, its peak during it and after it (MiB): the peak is
``VmHWM`` after resetting it through ``/proc/<pid>/clear_refs`` (Linux), and the
largest ``VmRSS`` a thread read every 50 ms. The stages, each alone:

- ``tokenize``: the packaged tokenizer's ``encode_batch`` of the batch's texts;
- ``embed``: the packaged model (``MiniLMEmbedder``, no cache) embedding them;
- ``store``: ``Memory.add_many`` with ``HashEmbedder`` (validation, SQLite, indexes);
- ``library``: ``Memory.add_many`` with the packaged model, as an agent calls it;
- ``http``: ``Client.add_many`` against ``engram serve`` (``ServeProcess``), the
  server's RSS sampled from this process.

Texts are the soak's (4 to 30 words of a small vocabulary) or, with ``--locomo``,
LoCoMo dialogue turns with their speakers (10 to 60 words, as an agent stores).

    nice -n 19 python bench/batch_peak.py [--stages embed library http] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engramdb import Client, Memory
from engramdb.embed.local import MiniLMEmbedder
from engramdb.embed.minilm import TOKENIZER, load_tokenizer
from engramdb.testing.fakes import HashEmbedder
from engramdb.testing.serve import ServeProcess
from locomo import machine
from soak import NAMESPACES, SPEAKERS, WORDS, status

STAGES = ("tokenize", "embed", "store", "library", "http")


class Peak(threading.Thread):
    """The largest VmRSS of a process read every ``every_s`` seconds until stopped."""

    def __init__(self, pid: int | str, every_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.most = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.most = max(self.most, status(self.pid)["VmRSS"])
            self.stop.wait(self.every_s)


@contextmanager
def measured(pid: int | str, into: list[dict[str, float]]) -> Iterator[None]:
    """RSS before, peak during (VmHWM and sampled) and after the block, in MiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again at VmRSS
    before = status(pid)["VmRSS"]
    sampler = Peak(pid)
    sampler.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        found = status(pid)
        into.append(
            {
                "before": round(before / 1024, 1),
                "hwm": round(found["VmHWM"] / 1024, 1),
                "sampled": round(max(sampler.most, found["VmRSS"]) / 1024, 1),
                "after": round(found["VmRSS"] / 1024, 1),
                "s": round(seconds, 2),
            }
        )


def soak_items(rng: random.Random, n: int) -> list[dict[str, Any]]:
    return [
        {
            "text": " ".join(rng.choices(WORDS, k=rng.randint(4, 30))),
            "session": f"s{rng.randrange(50)}",
            "speaker": rng.choice(SPEAKERS),
        }
        for _ in range(n)
    ]


def locomo_items(path: Path) -> Callable[[random.Random, int], list[dict[str, Any]]]:
    turns: list[dict[str, Any]] = []
    for sample in json.loads(path.read_text()):
        conversation = sample["conversation"]
        for key, value in conversation.items():
            if key.startswith("session_") and isinstance(value, list):
                turns.extend(
                    {"text": t["text"], "session": key, "speaker": t["speaker"]}
                    for t in value
                    if t.get("text")
                )

    def items(rng: random.Random, n: int) -> list[dict[str, Any]]:
        return [dict(t) for t in rng.sample(turns, n)]

    return items


def summary(rounds: list[dict[str, float]]) -> dict[str, Any]:
    """Per round: the peak above the RSS before it; and the rounds' medians."""
    rises = sorted(r["hwm"] - r["before"] for r in rounds)
    stays = sorted(r["after"] - r["before"] for r in rounds)
    return {
        "peak_above_before_mib_median": round(rises[len(rises) // 2], 1),
        "peak_above_before_mib_max": round(rises[-1], 1),
        "after_minus_before_mib_median": round(stays[len(stays) // 2], 1),
        "rss_before_first_mib": rounds[0]["before"],
        "rss_after_last_mib": rounds[-1]["after"],
        "rounds": rounds,
    }


def run_stage(
    stage: str,
    make: Callable[[random.Random, int], list[dict[str, Any]]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    rounds: list[dict[str, float]] = []
    total = args.warm_up + args.rounds
    with tempfile.TemporaryDirectory(prefix="engram-peak-") as workdir:
        if stage in ("tokenize", "embed"):
            tokenizer = load_tokenizer(TOKENIZER.resolve(None))
            embedder = MiniLMEmbedder()
            for i in range(total):
                texts = [item["text"] for item in make(rng, args.batch)]
                with measured("self", rounds if i >= args.warm_up else []):
                    if stage == "tokenize":
                        tokenizer.encode_batch(texts, add_special_tokens=True)
                    else:
                        embedder.embed(texts)
        elif stage in ("store", "library"):
            embedder_arg = {"embedder": HashEmbedder()} if stage == "store" else {}
            with Memory(str(Path(workdir) / "store"), **embedder_arg) as mem:
                for i in range(total):
                    items = make(rng, args.batch)
                    ns = NAMESPACES[i % len(NAMESPACES)]
                    with measured("self", rounds if i >= args.warm_up else []):
                        mem.add_many(items, namespace=ns)
        else:
            with ServeProcess.start(
                ["--store", str(Path(workdir) / "store"), "serve", "--no-auth", "--port", "0"]
            ) as server:
                client = Client(server.url(timeout_s=600), timeout_s=300.0)
                pid = server.process.pid
                for i in range(total):
                    items = make(rng, args.batch)
                    ns = NAMESPACES[i % len(NAMESPACES)]
                    with measured(pid, rounds if i >= args.warm_up else []):
                        client.add_many(items, namespace=ns)
    return summary(rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--rounds", type=int, default=5, help="measured batches per stage")
    parser.add_argument("--warm-up", type=int, default=3, help="batches before the measured")
    parser.add_argument("--batch", type=int, default=100, help="memories a batch")
    parser.add_argument("--locomo", type=Path, default=None, help="LoCoMo JSON: its turns")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    make = soak_items if args.locomo is None else locomo_items(args.locomo)
    result: dict[str, Any] = {
        "benchmark": "batch_peak",
        "command": "python bench/batch_peak.py " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "stages": {},
    }
    for stage in args.stages:
        found = run_stage(stage, make, args)
        result["stages"][stage] = found
        shown = {k: v for k, v in found.items() if k != "rounds"}
        print(f"{stage:>9}: {json.dumps(shown)}", flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
