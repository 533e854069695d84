"""An in-process LRU in front of any embedder: the same text is embedded once.

It owns the cache: keys (sha256 of model id and text), eviction, the hit and
miss counters. It does not persist anything (vectors are stored by the store)
and knows nothing about the model it wraps beyond the ``Embedder`` protocol.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from engramdb.embed.base import Embedder, Vectors
from engramdb.errors import EmbeddingError, InvalidInputError

__all__ = ["CachedEmbedder"]


class CachedEmbedder:
    """Wraps ``inner``; re-embedding a text it has seen costs a dict lookup.

    Misses of one call are embedded together in one ``inner.embed`` call
    (each distinct text once). ``hits + misses`` counts every text asked for.
    Safe to share between threads; ``inner`` runs outside the lock, so two
    threads missing the same text at once may both embed it (same result).
    """

    def __init__(self, inner: Embedder, max_entries: int = 50_000) -> None:
        if max_entries < 1:
            raise InvalidInputError(f"max_entries must be at least 1, got {max_entries}")
        self.inner = inner
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, Vectors] = OrderedDict()
        # Keys include the model id, so a cache can never hand out another model's vector.
        self._key_prefix = inner.model_id.encode("utf-8") + b"\x00"

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dims(self) -> int:
        return self.inner.dims

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Drop every cached vector; the counters are kept."""
        with self._lock:
            self._entries.clear()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return self.inner.embed(texts)
        keys = [self._key(text) for text in texts]
        found: dict[bytes, Vectors] = {}
        missing: dict[bytes, str] = {}  # insertion-ordered: one entry per distinct text
        with self._lock:
            for key, text in zip(keys, texts, strict=True):
                vector = self._entries.get(key)
                if vector is not None:
                    self._entries.move_to_end(key)
                    found[key] = vector
                    self.hits += 1
                else:
                    missing.setdefault(key, text)
                    self.misses += 1
        if missing:
            fresh = self.inner.embed(list(missing.values()))
            if fresh.shape != (len(missing), self.dims):
                raise EmbeddingError(
                    f"{self.model_id} returned shape {fresh.shape} "
                    f"for {len(missing)} texts of {self.dims} dims"
                )
            with self._lock:
                for key, vector in zip(missing, fresh, strict=True):
                    # Copy so a cached row does not keep the whole batch array alive.
                    row = np.array(vector, dtype=np.float32)
                    row.flags.writeable = False
                    found[key] = row
                    self._entries[key] = row
                    self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(self._key_prefix + text.encode("utf-8", "surrogatepass")).digest()

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r}, max_entries={self.max_entries})"
