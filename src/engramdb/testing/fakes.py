"""Fakes for tests that do not need the real thing: a hashed bag-of-words embedder.

``HashEmbedder`` satisfies the ``Embedder`` protocol with deterministic unit
vectors: each word adds signed ones at four positions chosen by a hash, so
texts sharing words have a positive cosine and a text's nearest neighbour is
itself. It is a fast stand-in for store-level tests (conformance, SQLite
specifics). It knows nothing of meaning: tests of recall quality use the real
packaged model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from engramdb.embed.base import Vectors

__all__ = ["HashEmbedder"]

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Deterministic hashed bag-of-words vectors, L2-normalised, float32."""

    def __init__(self, dims: int = 384) -> None:
        if dims < 2:
            raise ValueError("dims must be at least 2")
        self._dims = dims

    @property
    def model_id(self) -> str:
        return f"hash-bow-{self._dims}"

    @property
    def dims(self) -> int:
        return self._dims

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dims), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = _WORD.findall(text.lower()) or [text]  # punctuation-only text still varies
            for token in tokens:
                # four signed positions per token, so two different words almost
                # never get the same vector (one position collides ~1 in 2 * dims)
                digest = hashlib.blake2b(token.encode("utf-8"), digest_size=16).digest()
                for start in range(0, 16, 4):
                    value = int.from_bytes(digest[start : start + 4], "little")
                    sign = 1.0 if value & 1 else -1.0
                    out[row, (value >> 1) % self._dims] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:  # every token cancelled out: fall back to a fixed unit vector
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out
