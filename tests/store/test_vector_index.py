"""The vector index above ``ann_threshold`` (store/vectors.py, store/graph.py).

A graph over int8 codes answers with an exact part beside it; a graph opened as a
read-only view of a saved form hides what was removed and keeps what is added
apart until it is copied into memory; a saved form never holds a removed vector.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engramdb.store.vectors import VectorIndex, dequantize_many, quantize, quantize_many

DIMS = 32


def _stored(count: int, seed: int) -> np.ndarray:
    """Unit vectors as the store keeps them (dequantised int8 codes)."""
    raw = np.random.default_rng(seed).standard_normal((count, DIMS)).astype(np.float32)
    return dequantize_many(*quantize_many(raw / np.linalg.norm(raw, axis=1, keepdims=True)))


def _codes(vector: np.ndarray) -> bytes:
    return quantize(vector)[0]


def _top(index: VectorIndex, query: np.ndarray, limit: int = 10) -> list[int]:
    return [key for key, _ in index.search(query, limit)]


def _graph(count: int = 1_500, threshold: int = 200) -> tuple[VectorIndex, np.ndarray]:
    vectors = _stored(count, 1)
    index = VectorIndex(DIMS, ann_threshold=threshold)
    index.add(list(range(1, count + 1)), vectors)
    return index, vectors


def test_above_the_threshold_search_finds_what_exact_search_finds() -> None:
    index, vectors = _graph()
    exact = VectorIndex(DIMS, ann_threshold=10**6)
    exact.add(list(range(1, len(vectors) + 1)), vectors)
    assert index.graph_built
    assert not exact.graph_built
    assert not index.exact
    assert exact.exact
    overlaps = []
    for query in _stored(40, 2):
        found, expected = index.search(query, 10), exact.search(query, 10)
        overlaps.append(len({k for k, _ in found} & {k for k, _ in expected}) / 10)
        scores = dict(expected)
        for key, score in found:  # scored as exact search scores, within float32 rounding
            if key in scores:
                assert score == pytest.approx(scores[key], abs=1e-5)
    assert np.mean(overlaps) >= 0.95
    assert index.matrix([3, 10**9])[0] == pytest.approx(vectors[2], abs=1e-6)
    assert not index.matrix([3, 10**9])[1].any()


def test_removes_and_replacements_leave_the_graph() -> None:
    index, vectors = _graph()
    index.remove([5, 6, 10**9])
    assert 5 not in index
    assert 7 in index
    assert len(index) == len(vectors) - 2
    assert 5 not in _top(index, vectors[4])
    moved = _stored(1, 3)[0]
    index.add([7], moved[None])  # a new vector for a key the graph holds
    assert len(index) == len(vectors) - 2
    assert index.search(moved, 1)[0][0] == 7
    assert 7 not in _top(index, vectors[6], 3)
    queries = np.concatenate([vectors[:20], _stored(10, 4)])
    assert index.nearest(queries) == pytest.approx(
        [index.search(q, 1)[0][1] for q in queries], abs=1e-6
    )


def test_a_viewed_graph_hides_removals_and_keeps_adds_apart() -> None:
    index, vectors = _graph()
    form = index.serialized()
    viewed = VectorIndex.opened(DIMS, 200, memoryview(form), view=True)
    assert len(viewed) == len(vectors)
    added = _stored(5, 5)
    viewed.add([9001, 9002, 9003, 9004, 9005], added)
    viewed.remove([1, 2, 9005])
    moved = _stored(1, 6)[0]
    viewed.add([3], moved[None])
    assert viewed._graph is not None
    assert viewed._graph.frozen
    assert len(viewed) == len(vectors) + 4 - 2
    assert 1 not in viewed
    assert 9005 not in viewed
    assert 9001 in viewed
    assert 3 in viewed
    assert 1 not in _top(viewed, vectors[0])
    assert viewed.search(added[1], 1)[0][0] == 9002
    assert viewed.search(moved, 1)[0][0] == 3
    assert 3 not in _top(viewed, vectors[2], 3)
    # the rows of many keys at once: hidden and unknown ones zero, moved ones the new vector
    rows = viewed.matrix([1, 4, 9002, 3, 9005, 10**9, 1_500])
    assert not rows[0].any()
    assert rows[1] == pytest.approx(vectors[3], abs=1e-2)  # the graph's codes, as unit vectors
    assert rows[2] == pytest.approx(added[1], abs=1e-6)  # the exact part's own
    assert rows[3] == pytest.approx(moved, abs=1e-6)
    assert not rows[4].any()
    assert not rows[5].any()
    assert rows[6] == pytest.approx(vectors[1_499], abs=1e-2)
    queries = np.concatenate([vectors[:20], added, _stored(10, 7)])
    assert viewed.nearest(queries) == pytest.approx(
        [viewed.search(q, 1)[0][1] for q in queries], abs=1e-6
    )
    # saving takes it all into a graph in memory: the same answers from its form
    again = VectorIndex.opened(DIMS, 200, viewed.serialized(), view=False)
    assert len(again) == len(viewed)
    for query in queries[:10]:
        assert _top(again, query, 5) == _top(viewed, query, 5)


def test_a_graph_whose_every_vector_was_removed_answers_from_the_exact_part() -> None:
    index, vectors = _graph(count=300)
    index.remove(list(range(1, 301)))
    assert len(index) == 0
    assert index.search(vectors[0], 5) == []
    index.add([7_001], vectors[:1])
    assert index.search(vectors[0], 5)[0][0] == 7_001
    assert index.nearest(vectors[:2])[0] == pytest.approx(1.0, abs=1e-6)


def test_a_viewed_graph_is_copied_into_memory_past_many_removals() -> None:
    index, vectors = _graph(count=2_500)
    viewed = VectorIndex.opened(DIMS, 200, memoryview(index.serialized()), view=True)
    viewed.remove(list(range(1, 1_101)))
    assert viewed._graph is not None
    assert not viewed._graph.frozen
    assert len(viewed) == len(vectors) - 1_100
    assert 1_000 not in viewed
    assert viewed.search(vectors[2_000], 1)[0][0] == 2_001


def test_no_saved_form_holds_a_removed_vector(tmp_path: Path) -> None:
    index, vectors = _graph()
    gone, kept = _codes(vectors[40]), _codes(vectors[41])
    assert gone in bytes(index.serialized())
    index.remove([41])
    form = bytes(index.serialized())
    assert gone not in form
    assert kept in form
    index.save(path := tmp_path / "graph")
    assert gone not in path.read_bytes()
    assert kept in path.read_bytes()
    reopened = VectorIndex.opened(DIMS, 200, path.read_bytes(), view=False)
    assert 41 not in reopened
    assert len(reopened) == len(vectors) - 1
    assert reopened.search(vectors[41], 1)[0][0] == 42


@pytest.mark.parametrize("damage", ["cut", "dims", "garbage"])
def test_a_damaged_form_is_refused(damage: str) -> None:
    index, _ = _graph(count=300)
    form = bytes(index.serialized())
    if damage == "cut":
        with pytest.raises(ValueError, match="saved graph"):
            VectorIndex.opened(DIMS, 200, form[:-100], view=True)
    elif damage == "dims":
        with pytest.raises(ValueError, match="dimensions"):
            VectorIndex.opened(DIMS * 2, 200, form, view=True)
    else:
        with pytest.raises(ValueError):
            VectorIndex.opened(DIMS, 200, b"\x00" * 100 + form[100:], view=True)


def test_nothing_is_saved_below_the_threshold() -> None:
    index = VectorIndex(DIMS, ann_threshold=1_000)
    index.add([1, 2], _stored(2, 8))
    with pytest.raises(ValueError, match="below the threshold"):
        index.serialized()


def test_the_graph_library_and_the_embedding_runtime_load_in_either_order() -> None:
    # usearch 2.26.2 to 2.26.6 export a static libstdc++: loaded before onnxruntime,
    # they make its import crash (pyproject.toml keeps below them)
    for first, then in (("usearch.index", "onnxruntime"), ("onnxruntime", "usearch.index")):
        done = subprocess.run(
            [sys.executable, "-c", f"import {first}; import {then}"],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"import {first}, then {then}: {done.returncode}"
