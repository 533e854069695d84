"""The int8 quantisation of a batch is that of each vector, to the bit, and the index's
batched nearest score is its one-query search's score."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engramdb.store.vectors import (
    VectorIndex,
    dequantize,
    dequantize_many,
    quantize,
    quantize_many,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(0, 12), st.integers(1, 40)), elements=finite))
def test_a_batch_quantises_as_each_vector_does(batch: np.ndarray) -> None:
    codes, scales = quantize_many(batch)
    assert codes.dtype == np.int8
    assert codes.shape == batch.shape
    for row, vector in enumerate(batch):
        data, scale = quantize(vector)
        assert codes[row].tobytes() == data
        assert scales[row] == scale
    restored = dequantize_many(codes, scales)
    assert restored.dtype == np.float32
    for row in range(len(batch)):
        assert np.array_equal(restored[row], dequantize(codes[row].tobytes(), float(scales[row])))


def test_unit_vectors_survive_quantisation() -> None:
    rng = np.random.default_rng(5)
    unit = rng.standard_normal((200, 384)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    unit[0] = 0.0
    restored = dequantize_many(*quantize_many(unit))
    assert not restored[0].any()  # a zero vector stays zero
    cosines = np.sum(restored[1:] * unit[1:], axis=1)
    assert float(cosines.min()) > 0.999


@pytest.mark.parametrize("ann_threshold", [10_000, 100])
def test_nearest_is_the_best_score_of_a_search(ann_threshold: int) -> None:
    rng = np.random.default_rng(9)
    stored = rng.standard_normal((300, 64)).astype(np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    index = VectorIndex(64, ann_threshold)
    assert index.nearest(stored[:3]).tolist() == [0.0, 0.0, 0.0]  # empty
    index.add(list(range(1, 301)), stored)
    assert index.graph_built == (ann_threshold <= 300)
    queries = np.concatenate([stored[:20], rng.standard_normal((30, 64)).astype(np.float32)])
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    got = index.nearest(queries)
    expected = [index.search(q, 1)[0][1] for q in queries]
    assert got == pytest.approx(expected, abs=1e-6)
    assert float(got[:20].min()) > 0.999
    assert index.nearest(queries[:0]).shape == (0,)
