"""CachedEmbedder: each distinct text reaches the inner embedder once."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engramdb.embed import CachedEmbedder, Embedder, MiniLMEmbedder
from engramdb.embed.base import Vectors
from engramdb.embed.cache import ENTRY_OVERHEAD, MAX_BYTES
from engramdb.errors import EmbeddingError, InvalidInputError


class CountingEmbedder:
    """A deterministic stand-in that records every batch it is asked to embed."""

    def __init__(self, model_id: str = "counting", dims: int = 4) -> None:
        self._model_id = model_id
        self._dims = dims
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dims(self) -> int:
        return self._dims

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            self.calls.append(list(texts))
        out = np.zeros((len(texts), self._dims), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, len(text) % self._dims] = 1.0
            out[i] += np.float32(0.01 * (len(text) + 1))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def texts_embedded(self) -> list[str]:
        return [text for call in self.calls for text in call]


def test_satisfies_embedder_protocol_and_forwards_identity() -> None:
    cached = CachedEmbedder(CountingEmbedder("m1", dims=4))
    assert isinstance(cached, Embedder)
    assert cached.model_id == "m1"
    assert cached.dims == 4


def test_repeated_texts_are_hits_and_not_re_embedded() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    first = cached.embed(["a", "bb", "ccc"])
    assert (cached.hits, cached.misses) == (0, 3)
    second = cached.embed(["bb", "dddd", "a"])
    assert (cached.hits, cached.misses) == (2, 4)
    assert inner.calls == [["a", "bb", "ccc"], ["dddd"]]  # misses go in one batch
    np.testing.assert_array_equal(second[0], first[1])
    np.testing.assert_array_equal(second[2], first[0])
    np.testing.assert_array_equal(second, inner.embed(["bb", "dddd", "a"]))


def test_duplicates_within_a_call_are_embedded_once() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    vectors = cached.embed(["x", "y", "x", "x"])
    assert inner.calls == [["x", "y"]]
    assert cached.misses == 4  # every text asked for is counted
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert vectors.shape == (4, 4)
    assert vectors.dtype == np.float32


def test_least_recently_used_entry_is_evicted() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, max_entries=2)
    cached.embed(["a"])
    cached.embed(["b"])
    cached.embed(["a"])  # a is now the most recent
    cached.embed(["c"])  # evicts b
    assert len(cached) == 2
    cached.embed(["a", "b"])
    assert inner.texts_embedded() == ["a", "b", "c", "b"]


class RandomEmbedder(CountingEmbedder):
    """Vectors of the packaged model's size whose every bit depends on the text."""

    def __init__(self) -> None:
        super().__init__("random", dims=384)

    def embed(self, texts: Sequence[str]) -> Vectors:
        super().embed(texts)
        return np.stack(
            [
                np.random.default_rng(list(text.encode())).standard_normal(
                    self.dims, dtype=np.float32
                )
                for text in texts
            ]
        ).reshape(len(texts), self.dims)


@pytest.mark.parametrize("max_bytes", [100_000, 1_000_000, 3_000_000])
def test_filling_past_the_bound_keeps_the_cache_within_its_bytes(max_bytes: int) -> None:
    inner = RandomEmbedder()
    cached = CachedEmbedder(inner, max_bytes=max_bytes)
    assert cached.capacity == max_bytes // (384 * 4 + ENTRY_OVERHEAD)
    texts = [f"text {i}" for i in range(3 * cached.capacity)]
    inner.embed(texts[:1])  # the stand-in's own first-use allocations, outside the count
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for start in range(0, len(texts), 16):
            cached.embed(texts[start : start + 16])
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cached) == cached.capacity
    assert held - before <= max_bytes  # measured, not the cache's own estimate
    assert cached.nbytes <= max_bytes
    # the newest entries are the ones kept, and each is still the vector the model gave
    kept = texts[-cached.capacity :]
    asked = len(inner.texts_embedded())
    again = cached.embed(kept)
    assert len(inner.texts_embedded()) == asked
    assert again.tobytes() == inner.embed(kept).tobytes()
    assert cached.embed(texts[:1]).tobytes() == inner.embed(texts[:1]).tobytes()  # evicted


def test_default_bound_is_bytes_for_the_packaged_model_size() -> None:
    cached = CachedEmbedder(RandomEmbedder())
    assert cached.max_bytes == MAX_BYTES == 16 * 1024 * 1024
    assert cached.capacity == MAX_BYTES // (384 * 4 + ENTRY_OVERHEAD)
    assert cached.nbytes == 0  # nothing is allocated before the first vector


def test_clear_frees_the_rows() -> None:
    cached = CachedEmbedder(RandomEmbedder())
    cached.embed(["a", "b"])
    assert cached.nbytes > 0
    cached.clear()
    assert (len(cached), cached.nbytes) == (0, 0)
    assert cached.embed(["b"]).tobytes() == RandomEmbedder().embed(["b"]).tobytes()


def test_max_bytes_must_hold_one_vector() -> None:
    with pytest.raises(InvalidInputError, match="max_bytes"):
        CachedEmbedder(RandomEmbedder(), max_bytes=384 * 4)
    assert CachedEmbedder(RandomEmbedder(), max_bytes=384 * 4 + ENTRY_OVERHEAD).capacity == 1


def test_returned_arrays_do_not_alias_the_cache() -> None:
    cached = CachedEmbedder(CountingEmbedder())
    first = cached.embed(["a"])
    first[:] = 0.0
    assert np.linalg.norm(cached.embed(["a"])[0]) == pytest.approx(1.0)


def test_keys_depend_on_model_id() -> None:
    a = CachedEmbedder(CountingEmbedder("model-a"))
    b = CachedEmbedder(CountingEmbedder("model-b"))
    assert a._key("same text") != b._key("same text")
    assert a._key("same text") == CachedEmbedder(CountingEmbedder("model-a"))._key("same text")


def test_empty_input_goes_to_inner() -> None:
    inner = CountingEmbedder(dims=4)
    cached = CachedEmbedder(inner)
    assert cached.embed([]).shape == (0, 4)
    assert (cached.hits, cached.misses) == (0, 0)


def test_clear_drops_entries() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    cached.embed(["a"])
    cached.clear()
    cached.embed(["a"])
    assert inner.texts_embedded() == ["a", "a"]


def test_wrong_shape_from_inner_raises() -> None:
    class Broken(CountingEmbedder):
        def embed(self, texts: Sequence[str]) -> Vectors:
            return np.zeros((1, 4), dtype=np.float32)

    with pytest.raises(EmbeddingError, match="shape"):
        CachedEmbedder(Broken()).embed(["a", "b"])


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(InvalidInputError):
        CachedEmbedder(CountingEmbedder(), max_entries=0)


def test_counters_are_exact_under_threads() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, max_entries=100)
    texts = [f"t{i}" for i in range(50)]

    def work() -> None:
        for _ in range(20):
            cached.embed(texts)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cached.hits + cached.misses == 4 * 20 * 50
    assert len(cached) == 50
    np.testing.assert_array_equal(cached.embed(texts), inner.embed(texts))


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(st.lists(st.text(alphabet="abcde", max_size=4), max_size=8), max_size=6),
    max_entries=st.integers(min_value=1, max_value=5),
)
def test_cache_is_transparent_and_counts_every_text(
    calls: list[list[str]], max_entries: int
) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, max_entries=max_entries)
    for texts in calls:
        np.testing.assert_array_equal(cached.embed(texts), CountingEmbedder().embed(texts))
        assert len(cached) <= max_entries
    assert cached.hits + cached.misses == sum(len(texts) for texts in calls)
    assert len(inner.texts_embedded()) <= cached.misses


def test_real_model_second_call_is_all_hits(minilm: MiniLMEmbedder) -> None:
    cached = CachedEmbedder(minilm)
    texts = ["I adopted a rescue cat.", "The meeting moved to Thursday."]
    first = cached.embed(texts)
    again = cached.embed(texts[::-1])
    assert (cached.hits, cached.misses) == (2, 2)
    # a hit is the very float32 the model gave, bit for bit
    assert again.dtype == np.float32
    assert again.tobytes() == first[::-1].tobytes() == minilm.embed(texts[::-1]).tobytes()
