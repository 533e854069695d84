"""all-MiniLM-L6-v2 in full precision, as a plain numpy BERT forward pass.

It owns the fp32 forward: weights from the official safetensors (pinned by
sha256), six post-LayerNorm encoder layers, masked mean pooling. It is a
second torch-free backend (``Settings(embedder="local-fp32")``) and the
reference the int8 model is tested against. Tokenizing, batching and pooling
come from ``minilm.py``.

The one deliberate difference from sentence-transformers: GELU uses the tanh
form, not erf (numpy has no erf); against sentence-transformers the vectors
measured cosine >= 0.99999 when this backend was chosen.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engramdb.embed.base import Vectors
from engramdb.embed.minilm import (
    DIMS,
    SAFETENSORS_FP32,
    TOKENIZER,
    length_sorted_batches,
    load_tokenizer,
    mean_pool,
)
from engramdb.errors import EmbeddingError, InvalidInputError
from engramdb.extras import needs_extra

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["NumpyMiniLMEmbedder"]

F32 = npt.NDArray[np.float32]

_HEADS = 12
_LAYERS = 6
_LN_EPS = np.float32(1e-12)
_GELU_C = np.float32(math.sqrt(2.0 / math.pi))


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: F32  # (384, 1152): query, key, value fused, pre-transposed
    qkv_b: F32
    out_w: F32
    out_b: F32
    ln1_g: F32
    ln1_b: F32
    up_w: F32
    up_b: F32
    down_w: F32
    down_b: F32
    ln2_g: F32
    ln2_b: F32


@dataclass(frozen=True, slots=True)
class _Weights:
    word: F32
    position: F32
    token_type: F32
    ln_g: F32
    ln_b: F32
    layers: tuple[_Layer, ...]


def _layer_norm(x: F32, gamma: F32, beta: F32) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out: F32 = centred / np.sqrt(var + _LN_EPS) * gamma + beta
    return out


def _gelu(h: F32) -> F32:
    # h*h*h, not h**3: the power ufunc is ~15x slower on float32 (measured).
    out: F32 = np.float32(0.5) * h * (1.0 + np.tanh(_GELU_C * (h + 0.044715 * h * h * h)))
    return out


def _softmax(x: F32) -> F32:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    out: F32 = e / e.sum(axis=-1, keepdims=True)
    return out


def _encoder_layer(x: F32, bias: F32, w: _Layer) -> F32:
    # x is (batch * tokens, dims): one large GEMM per dense layer. A 3-D @ 2-D
    # matmul makes one small GEMM per text, and with OpenBLAS threads on a busy
    # 2-core machine that measured ~80x slower (1 s vs 12 ms for 64 texts).
    b, t = bias.shape[0], bias.shape[-1]
    d = x.shape[1]
    head = d // _HEADS
    qkv = (x @ w.qkv_w + w.qkv_b).reshape(b, t, 3, _HEADS, head).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]  # each (batch, heads, tokens, head)
    scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(head)) + bias
    context = (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(b * t, d)
    x = _layer_norm(context @ w.out_w + w.out_b + x, w.ln1_g, w.ln1_b)
    h = _gelu(x @ w.up_w + w.up_b)
    return _layer_norm(h @ w.down_w + w.down_b + x, w.ln2_g, w.ln2_b)


def _forward(
    weights: _Weights, input_ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]
) -> F32:
    b, t = input_ids.shape
    x = weights.word[input_ids] + weights.position[:t] + weights.token_type[0]
    x = _layer_norm(x.reshape(b * t, -1), weights.ln_g, weights.ln_b)
    # Padding keys get a large negative score so softmax gives them no weight.
    bias = ((1.0 - mask.astype(np.float32)) * np.float32(-1e9))[:, None, None, :]
    for layer in weights.layers:
        x = _encoder_layer(x, bias, layer)
    return x.reshape(b, t, -1)


def _load_weights(given: Path | str | None) -> _Weights:
    # The extra first: without safetensors, the weights package alone would not help.
    with needs_extra("fp32", "the fp32 embedder (embedder 'local-fp32')"):
        from safetensors.numpy import load_file
    path = SAFETENSORS_FP32.resolve(given)
    try:
        raw = load_file(str(path))
    except Exception as exc:  # safetensors raises its own untyped errors
        raise EmbeddingError(f"cannot read {path}: {exc}") from exc

    def get(name: str) -> F32:
        try:
            return np.ascontiguousarray(raw[name], dtype=np.float32)
        except KeyError as exc:
            raise EmbeddingError(f"{path} has no tensor {name!r}") from exc

    def dense(prefix: str) -> tuple[F32, F32]:
        # torch Linear stores (out, in); x @ W.T is the forward, so transpose once here.
        return np.ascontiguousarray(get(f"{prefix}.weight").T), get(f"{prefix}.bias")

    layers = []
    for i in range(_LAYERS):
        p = f"encoder.layer.{i}"
        q_w, q_b = dense(f"{p}.attention.self.query")
        k_w, k_b = dense(f"{p}.attention.self.key")
        v_w, v_b = dense(f"{p}.attention.self.value")
        out_w, out_b = dense(f"{p}.attention.output.dense")
        up_w, up_b = dense(f"{p}.intermediate.dense")
        down_w, down_b = dense(f"{p}.output.dense")
        layers.append(
            _Layer(
                qkv_w=np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1)),
                qkv_b=np.concatenate([q_b, k_b, v_b]),
                out_w=out_w,
                out_b=out_b,
                ln1_g=get(f"{p}.attention.output.LayerNorm.weight"),
                ln1_b=get(f"{p}.attention.output.LayerNorm.bias"),
                up_w=up_w,
                up_b=up_b,
                down_w=down_w,
                down_b=down_b,
                ln2_g=get(f"{p}.output.LayerNorm.weight"),
                ln2_b=get(f"{p}.output.LayerNorm.bias"),
            )
        )
    return _Weights(
        word=get("embeddings.word_embeddings.weight"),
        position=get("embeddings.position_embeddings.weight"),
        token_type=get("embeddings.token_type_embeddings.weight"),
        ln_g=get("embeddings.LayerNorm.weight"),
        ln_b=get("embeddings.LayerNorm.bias"),
        layers=tuple(layers),
    )


class NumpyMiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dims) in fp32 with numpy only; slower, exact.

    ``weights_path`` and ``tokenizer_path`` default to the packaged files; any
    file given is still checked against the pinned sha256, once, at load.
    Threads come from numpy's BLAS, set by ``OPENBLAS_NUM_THREADS`` before
    numpy is imported. On a machine whose cores are busy, set it to 1: with
    two OpenBLAS threads one query took p50 315 ms instead of 17 ms on a loaded
    2-core machine (bench/embed_speed.py). Safe to share between threads: the
    weights are read-only after load.
    """

    def __init__(
        self,
        *,
        batch_size: int = 64,
        weights_path: Path | str | None = None,
        tokenizer_path: Path | str | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self._weights_path = weights_path
        self._tokenizer_path = tokenizer_path
        self._lock = threading.Lock()
        self._loaded: tuple[_Weights, Tokenizer] | None = None

    @property
    def model_id(self) -> str:
        return "all-MiniLM-L6-v2/fp32-numpy"

    @property
    def dims(self) -> int:
        return DIMS

    def load(self) -> None:
        """Verify and load the weights now instead of on the first ``embed``."""
        self._model()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMS), dtype=np.float32)
        weights, tokenizer = self._model()
        out = np.empty((len(texts), DIMS), dtype=np.float32)
        for batch in length_sorted_batches(tokenizer, texts, self.batch_size):
            hidden = _forward(weights, batch.input_ids, batch.attention_mask)
            out[batch.rows] = mean_pool(hidden, batch.attention_mask)
        return out

    def _model(self) -> tuple[_Weights, Tokenizer]:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                weights = _load_weights(self._weights_path)
                tokenizer = load_tokenizer(TOKENIZER.resolve(self._tokenizer_path))
                self._loaded = (weights, tokenizer)
            return self._loaded

    def __repr__(self) -> str:
        return f"NumpyMiniLMEmbedder(batch_size={self.batch_size})"
