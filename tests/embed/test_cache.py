"""CachedEmbedder: each distinct text reaches the inner embedder once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engramdb.embed import CachedEmbedder, Embedder, MiniLMEmbedder
from engramdb.embed.base import Vectors
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
    np.testing.assert_array_equal(again, first[::-1])
