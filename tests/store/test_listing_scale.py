"""Listing at scale (docs/scopes.md, "Listing"): 100,000 memories read page by page while
another thread writes into the same namespace come back each exactly once, in order.

The rows go in through the store's own write path (``Store.insert``, as the facade
hands it records) with one precomputed vector, not one embedding each: what is tested
is the pagination, not the model. PostgreSQL holds 20,000: a row costs it about three
times what it costs SQLite here (measured with ``--durations``, 2 shared cores: 20,000
in 19.7 s against 100,000 in 29.0 s, writes and listing included), and its keyset
query reads one index range whatever the size.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest

from engramdb import Engram, Memory, Settings
from engramdb.store.base import EngramRecord
from engramdb.testing import HashEmbedder
from engramdb.testing.conformance import EMBEDDER, T0, make_record

F32 = npt.NDArray[np.float32]
BATCH = 2_000
PAGE = 1_000


def _records(
    start: int, stop: int, vector: F32, at: Callable[[int], datetime]
) -> list[EngramRecord]:
    return [
        make_record(
            "big",
            f"memory {i}",
            occurred_at=at(i),
            recorded_at=T0,
            vector=vector,
            speaker="Maya" if i % 2 else "Tom",
        )
        for i in range(start, stop)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "size"),
    [("sqlite", 100_000), pytest.param("postgres", 20_000, marks=pytest.mark.postgres)],
)
def test_a_listing_returns_each_memory_once_in_order_while_others_write(
    place: Callable[[str], str], kind: str, size: int
) -> None:
    settings = Settings(background_embedder=False)
    with Memory(place(kind), settings=settings, embedder=HashEmbedder()) as mem:
        vector = EMBEDDER.embed(["a memory"])[0]
        # three memories a second: many share their event time, so ties are tested too
        for start in range(0, size, BATCH):
            mem.store.insert(
                _records(
                    start,
                    min(size, start + BATCH),
                    vector,
                    lambda i: T0 + timedelta(seconds=i // 3),
                )
            )
        first = {e.id for e in mem.store.iter_engrams("big")}
        assert len(first) == size

        stop = threading.Event()
        written: list[str] = []

        def anywhere(i: int) -> datetime:
            """Behind the listing, at its cursor or ahead of it: anywhere in the span."""
            return T0 + timedelta(seconds=random.Random(i).uniform(-10, size / 3 + 10))

        def writer() -> None:
            n = size
            while not stop.is_set():
                batch = _records(n, n + 5, vector, anywhere)
                written.extend(e.id for e in mem.store.insert(batch))
                n += 5

        thread = threading.Thread(target=writer)
        thread.start()
        seen: list[Engram] = []
        cursor = None
        try:
            while True:
                page = mem.list(namespace="big", limit=PAGE, cursor=cursor)
                seen += page.engrams
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        finally:
            stop.set()
            thread.join()

        ids = [e.id for e in seen]
        assert len(ids) == len(set(ids)), "a memory came twice"
        assert first <= set(ids), f"{len(first - set(ids))} memories held all along were skipped"
        assert set(ids) - first <= set(written)
        times = [e.occurred_at for e in seen]
        assert times == sorted(times)
        assert written, "the writer wrote nothing while the listing ran"
