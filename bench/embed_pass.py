"""How many tokens one forward pass of the packaged model should hold: CPU and peak memory.

The packaged model embeds in passes of at most ``embed.minilm.MAX_BATCH_TOKENS``
tokens (texts x the longest, padding included). This embeds the same texts (6 to
60 words, seeded) in calls of 100, as a server's large batch does, with each cap
in turn, twice over, and reports per cap the process CPU time of the calls and the
peak resident memory above the memory before them (``VmHWM`` after resetting it
through ``/proc/self/clear_refs``; Linux only).

    python bench/embed_pass.py [--texts 400] [--caps 2048 1024 512]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tokenizers import Tokenizer

import engramdb.embed.local as local
from engramdb.bounded import release_free_memory
from engramdb.embed.local import MiniLMEmbedder
from engramdb.embed.minilm import Batch, length_sorted_batches

WORDS = "river lantern orchard violin harbour meadow copper saffron glacier ember compass "
WORDS += "willow falcon marble thistle canyon velvet beacon juniper quartz Lisbon cello"


def status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {key} in /proc/self/status")


def capped(cap: int) -> Callable[[Tokenizer, Sequence[str], int, int], Iterator[Batch]]:
    """``length_sorted_batches`` with ``cap`` in place of its default cap."""

    def batches(
        tokenizer: Tokenizer, texts: Sequence[str], batch_size: int, max_tokens: int = cap
    ) -> Iterator[Batch]:
        return length_sorted_batches(tokenizer, texts, batch_size, cap)

    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--caps", type=int, nargs="+", default=[2048, 1024, 512])
    args = parser.parse_args()
    rng = random.Random(1)
    words = WORDS.split()
    texts = [
        " ".join(rng.choice(words) for _ in range(rng.randint(6, 60))) for _ in range(args.texts)
    ]
    embedder = MiniLMEmbedder()
    embedder.embed(texts[:50])  # load and warm the model
    print("cap (tokens a pass)   CPU-s   peak above start (MiB)")
    for cap in [*args.caps, *args.caps]:
        local.length_sorted_batches = capped(cap)  # type: ignore[attr-defined,assignment]
        release_free_memory()
        start = status_mib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM
        cpu = time.process_time()
        for i in range(0, len(texts), 100):
            embedder.embed(texts[i : i + 100])
        cpu = time.process_time() - cpu
        print(f"{cap:>19}   {cpu:5.2f}   {status_mib('VmHWM') - start:6.0f}", flush=True)


if __name__ == "__main__":
    main()
