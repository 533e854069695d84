"""An in-process LRU in front of any embedder: the same text is embedded once.

It owns the cache: keys (a 16-byte BLAKE2b digest of model id and text), the
vectors (float32 rows of blocks allocated as they fill, reused on eviction),
the bound in bytes and entries, eviction, the hit and miss counters. It does
not persist anything (vectors are stored by the store) and knows nothing about
the model it wraps beyond the ``Embedder`` protocol.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from engramdb.embed.base import Embedder, Vectors
from engramdb.errors import EmbeddingError, InvalidInputError

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "CachedEmbedder"]

# The default bound (docs/limits.md, "Caches"): 16 MiB, about 9,200 vectors of the
# packaged model's 384 dimensions. A soak's texts are nearly all new, so a larger
# cache only grows a server's memory (BENCHMARKS.md, "Soak").
MAX_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 50_000
# What an entry costs beside its vector, at most (measured with tracemalloc by
# bench/embed_cache.py): the 16-byte key (49 bytes as a Python object), its row
# number (28), the ordered dict's link (56) and its share of the dict's tables,
# up to about 140 just after they double.
ENTRY_OVERHEAD = 288
# Rows are allocated this many at a time, as the cache fills.
BLOCK_ROWS = 1_024


class CachedEmbedder:
    """Wraps ``inner``; re-embedding a text it has seen costs a dict lookup.

    Misses of one call are embedded together in one ``inner.embed`` call
    (each distinct text once). ``hits + misses`` counts every text asked for.
    A hit returns the very float32 values ``inner`` gave. The cache holds at
    most ``max_entries`` vectors and at most ``max_bytes`` (vectors and their
    keys), least recently used out first. Safe to share between threads;
    ``inner`` runs outside the lock, so two threads missing the same text at
    once may both embed it (same result).
    """

    def __init__(
        self, inner: Embedder, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES
    ) -> None:
        if max_entries < 1:
            raise InvalidInputError(f"max_entries must be at least 1, got {max_entries}")
        entry_bytes = inner.dims * 4 + ENTRY_OVERHEAD
        if max_bytes < entry_bytes:
            raise InvalidInputError(
                f"max_bytes must hold one vector of {inner.dims} dims "
                f"({entry_bytes} bytes), got {max_bytes}"
            )
        self.inner = inner
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        # the most vectors the cache holds: the smaller of the two bounds
        self.capacity = min(max_entries, max_bytes // entry_bytes)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._rows: OrderedDict[bytes, int] = OrderedDict()  # key -> row, oldest first
        self._blocks: list[np.ndarray] = []
        # Keys include the model id, so a cache can never hand out another model's vector.
        self._key_prefix = inner.model_id.encode("utf-8") + b"\x00"

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dims(self) -> int:
        return self.inner.dims

    @property
    def nbytes(self) -> int:
        """The bytes the cache holds now: its allocated rows, and each entry's key and slot."""
        with self._lock:
            rows = sum(block.nbytes for block in self._blocks)
            return rows + len(self._rows) * ENTRY_OVERHEAD

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def clear(self) -> None:
        """Drop every cached vector and free their memory; the counters are kept."""
        with self._lock:
            self._rows.clear()
            self._blocks.clear()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return self.inner.embed(texts)
        keys = [self._key(text) for text in texts]
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}  # insertion-ordered: one entry per distinct text
        with self._lock:
            for at, key in enumerate(keys):
                row = self._rows.get(key)
                if row is not None:
                    self._rows.move_to_end(key)
                    # copied under the lock: an eviction may reuse the row afterwards
                    out[at] = self._row(row)
                    self.hits += 1
                else:
                    missing.setdefault(key, []).append(at)
                    self.misses += 1
        if missing:
            fresh = self.inner.embed([texts[places[0]] for places in missing.values()])
            if fresh.shape != (len(missing), self.dims):
                raise EmbeddingError(
                    f"{self.model_id} returned shape {fresh.shape} "
                    f"for {len(missing)} texts of {self.dims} dims"
                )
            for places, vector in zip(missing.values(), fresh, strict=True):
                out[places] = vector
            with self._lock:
                for key, places in missing.items():
                    self._store(key, out[places[0]])
        return out

    def _store(self, key: bytes, vector: np.ndarray) -> None:
        """Keep ``vector`` under ``key`` (the lock is held): its own row if it has one,
        else a new row while there is room, else the least recently used entry's."""
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) < self.capacity:
                row = len(self._rows)
            else:
                _, row = self._rows.popitem(last=False)
            self._rows[key] = row
        else:
            self._rows.move_to_end(key)
        self._row(row, grow=True)[:] = vector

    def _row(self, row: int, grow: bool = False) -> np.ndarray:
        block, at = divmod(row, BLOCK_ROWS)
        if grow and block == len(self._blocks):
            rows = min(BLOCK_ROWS, self.capacity - block * BLOCK_ROWS)
            self._blocks.append(np.empty((rows, self.dims), dtype=np.float32))
        vector: np.ndarray = self._blocks[block][at]
        return vector

    def _key(self, text: str) -> bytes:
        data = self._key_prefix + text.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, digest_size=16).digest()

    def __repr__(self) -> str:
        return (
            f"CachedEmbedder({self.inner!r}, max_entries={self.max_entries}, "
            f"max_bytes={self.max_bytes})"
        )
