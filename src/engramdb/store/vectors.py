"""An in-memory vector index over one namespace: exact below a size, HNSW above.

Stores own their vectors durably; this index is derived from them (built from
the table, or restored from a state a store saved) and never the only copy.
Exact search (one matrix product) is fast enough for tens of thousands of
vectors; above ``ann_threshold`` an hnswlib graph answers instead (see
BENCHMARKS.md, "Vector index"). It also owns the int8 quantisation used to
store vectors compactly, and the index's state as plain arrays (``state``,
``restored``), so that a store can save a built graph and load it instead of
building it again; where and how it is saved is the store's
(``store/sqlite/annfile.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "IndexState",
    "VectorIndex",
    "dequantize",
    "dequantize_many",
    "quantize",
    "quantize_many",
]

F32 = npt.NDArray[np.float32]

# Scores one exact ``nearest`` pass holds at once (16 MB of float32)
_SCORES_PER_BLOCK = 4_000_000

# The live keys and hnswlib's own state (scalars and numpy arrays: its pickle form)
IndexState = tuple[npt.NDArray[np.int64], dict[str, object]]


def quantize(vector: F32) -> tuple[bytes, float]:
    """int8 codes and the scale that maps them back (``code * scale``)."""
    peak = float(np.max(np.abs(vector))) if vector.size else 0.0
    scale = peak / 127.0 if peak > 0 else 1.0
    codes = np.clip(np.rint(vector / scale), -127, 127).astype(np.int8)
    return codes.tobytes(), scale


def quantize_many(vectors: F32) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """``quantize`` of each row at once (a batch written in one transaction), to the
    bit: int8 codes row for row, and each row's scale."""
    rows = np.asarray(vectors, dtype=np.float32)
    peaks = np.abs(rows).max(axis=1, initial=0.0).astype(np.float64)
    scales = np.where(peaks > 0, peaks / 127.0, 1.0)
    # divided in float32, as ``vector / scale`` divides a float32 vector
    codes = np.clip(np.rint(rows / scales.astype(np.float32)[:, None]), -127, 127)
    return codes.astype(np.int8), scales


def dequantize(data: bytes, scale: float) -> F32:
    """The unit vector closest to what ``quantize`` stored."""
    vector = np.frombuffer(data, dtype=np.int8).astype(np.float32) * np.float32(scale)
    norm = float(np.linalg.norm(vector))
    return np.asarray(vector / norm if norm > 0 else vector, dtype=np.float32)


def dequantize_many(codes: npt.NDArray[np.int8], scales: npt.NDArray[np.float64]) -> F32:
    """``dequantize`` of each row of codes at once, with each row's scale, to the bit
    (an index kept up to date must hold what one built from the table holds)."""
    rows = codes.astype(np.float32) * scales.astype(np.float32)[:, None]
    # each row's norm as ``np.linalg.norm`` takes it (a dot product): summed in
    # another order, by a vectorised reduction, it can differ in the last bit
    norms = np.sqrt(np.array([row.dot(row) for row in rows], dtype=np.float32))
    return np.asarray(rows / np.where(norms > 0, norms, 1)[:, None], dtype=np.float32)


class VectorIndex:
    """Cosine search over unit vectors keyed by integer row ids."""

    def __init__(self, dims: int, ann_threshold: int = 20_000) -> None:
        self.dims = dims
        self.ann_threshold = ann_threshold
        self._matrix: F32 = np.zeros((0, dims), dtype=np.float32)
        self._keys: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._position: dict[int, int] = {}
        self._size = 0
        self._hnsw: object | None = None

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: int) -> bool:
        return key in self._position

    def add(self, keys: Sequence[int], vectors: F32) -> None:
        """Add or replace vectors."""
        for key, vector in zip(keys, vectors, strict=True):
            pos = self._position.get(int(key))
            if pos is None:
                self._grow(self._size + 1)
                pos = self._size
                self._size += 1
                self._position[int(key)] = pos
                self._keys[pos] = key
            self._matrix[pos] = vector
        if self._hnsw is not None:
            self._hnsw_add(keys, vectors)
        elif self._size >= self.ann_threshold:
            self._build_hnsw()

    def remove(self, keys: Sequence[int]) -> None:
        for key in keys:
            pos = self._position.pop(int(key), None)
            if pos is None:
                continue
            last = self._size - 1
            if pos != last:  # move the last row into the hole
                moved = int(self._keys[last])
                self._matrix[pos] = self._matrix[last]
                self._keys[pos] = moved
                self._position[moved] = pos
            self._size = last
            if self._hnsw is not None:
                self._hnsw.mark_deleted(int(key))  # type: ignore[attr-defined]

    def vector(self, key: int) -> F32 | None:
        pos = self._position.get(key)
        return None if pos is None else self._matrix[pos]

    def matrix(self, keys: Sequence[int]) -> F32:
        """The vectors of ``keys`` as rows (zeros for unknown keys)."""
        out = np.zeros((len(keys), self.dims), dtype=np.float32)
        positions = [self._position.get(int(k), -1) for k in keys]
        found = [i for i, p in enumerate(positions) if p >= 0]
        if found:
            out[found] = self._matrix[[positions[i] for i in found]]
        return out

    def search(self, query: F32, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` nearest keys with their cosine similarity, best first."""
        if self._size == 0 or limit <= 0:
            return []
        if self._hnsw is not None and self._size >= self.ann_threshold:
            return self._hnsw_search(query, limit)
        scores = self._matrix[: self._size] @ query.astype(np.float32)
        if limit < self._size:
            top = np.argpartition(-scores, limit - 1)[:limit]
        else:
            top = np.arange(self._size)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self._keys[i]), float(scores[i])) for i in top]

    def nearest(self, queries: F32) -> npt.NDArray[np.float64]:
        """Each query's similarity to its nearest vector, as ``search(query, 1)`` scores
        it, for a batch of queries in one pass; 0 when the index is empty."""
        scores = np.zeros(len(queries), dtype=np.float64)
        if self._size == 0 or not len(queries):
            return scores
        batch = np.ascontiguousarray(queries, dtype=np.float32)
        if self._hnsw is not None and self._size >= self.ann_threshold:
            _, distances = self._hnsw_knn(batch, 1)
            return 1.0 - distances[:, 0].astype(np.float64)
        # exact: one matrix product per block of queries, its scores bounded in size
        matrix = self._matrix[: self._size]
        step = max(1, _SCORES_PER_BLOCK // self._size)
        for start in range(0, len(batch), step):
            block = batch[start : start + step] @ matrix.T
            scores[start : start + step] = block.max(axis=1)
        return scores

    @property
    def graph_built(self) -> bool:
        """Whether an HNSW graph is built (the part worth saving)."""
        return self._hnsw is not None

    def state(self) -> IndexState | None:
        """The live keys and the HNSW graph's state, or None when no graph is built."""
        if self._hnsw is None:
            return None
        (params,) = self._hnsw.__getstate__()  # type: ignore[attr-defined]
        return self._keys[: self._size].copy(), dict(params)

    @classmethod
    def restored(cls, dims: int, ann_threshold: int, state: IndexState) -> VectorIndex:
        """The index whose ``state()`` was ``state``: the graph as it was, and the
        vectors read back out of it (no rebuild). Raises ``ValueError`` when the
        state does not describe such an index."""
        import hnswlib

        keys, params = state
        if params.get("dim") != dims or params.get("space") != "ip":
            raise ValueError("the saved graph has other dimensions or another metric")
        vectors = _stored_vectors(keys, params, dims)
        graph = hnswlib.Index.__new__(hnswlib.Index)
        try:
            graph.__setstate__((params,))
        except (RuntimeError, TypeError, KeyError) as exc:
            raise ValueError(f"the saved graph does not load: {exc}") from exc
        index = cls(dims, ann_threshold)
        index._grow(len(keys))
        index._size = len(keys)
        index._keys[: len(keys)] = keys
        index._matrix[: len(keys)] = vectors
        index._position = {int(key): pos for pos, key in enumerate(keys)}
        index._hnsw = graph
        return index

    def _grow(self, needed: int) -> None:
        if needed <= len(self._matrix):
            return
        capacity = max(needed, 2 * len(self._matrix), 64)
        matrix = np.zeros((capacity, self.dims), dtype=np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        keys = np.zeros(capacity, dtype=np.int64)
        keys[: self._size] = self._keys[: self._size]
        self._matrix, self._keys = matrix, keys

    # -- HNSW (hnswlib), used only above the threshold -----------------------

    def _build_hnsw(self) -> None:
        import hnswlib  # imported lazily: small stores never need it

        index = hnswlib.Index(space="ip", dim=self.dims)
        index.init_index(max_elements=max(2 * self._size, 1024), ef_construction=100, M=16)
        index.set_ef(128)
        index.add_items(self._matrix[: self._size], self._keys[: self._size])
        self._hnsw = index

    def _hnsw_add(self, keys: Sequence[int], vectors: F32) -> None:
        index = self._hnsw
        assert index is not None
        needed = index.get_current_count() + len(keys)  # type: ignore[attr-defined]
        if needed > index.get_max_elements():  # type: ignore[attr-defined]
            index.resize_index(2 * needed)  # type: ignore[attr-defined]
        index.add_items(np.asarray(vectors, dtype=np.float32), np.asarray(keys))  # type: ignore[attr-defined]
        for key in keys:
            with contextlib.suppress(RuntimeError):  # raised when it was not marked deleted
                index.unmark_deleted(int(key))  # type: ignore[attr-defined]

    def _hnsw_search(self, query: F32, limit: int) -> list[tuple[int, float]]:
        k = min(limit, self._size)
        labels, distances = self._hnsw_knn(query.astype(np.float32), k)
        pairs = zip(labels[0], distances[0], strict=True)
        return [(int(label), 1.0 - float(dist)) for label, dist in pairs]

    def _hnsw_knn(
        self, queries: F32, k: int
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
        """hnswlib's ``k`` nearest labels and distances of each query (one row each)."""
        index = self._hnsw
        assert index is not None
        index.set_ef(max(128, 2 * k))  # type: ignore[attr-defined]
        return index.knn_query(queries, k=k)  # type: ignore[attr-defined,no-any-return]


def _stored_vectors(keys: npt.NDArray[np.int64], params: dict[str, object], dims: int) -> F32:
    """The vectors of ``keys`` read out of hnswlib's level-0 array, where each element
    keeps its vector and its label (``get_items`` does the same one key at a time
    through Python lists: seconds for 30k keys)."""
    try:
        size = int(params["size_data_per_element"])  # type: ignore[call-overload]
        at_data = int(params["offset_data"])  # type: ignore[call-overload]
        at_label = int(params["label_offset"])  # type: ignore[call-overload]
        count = int(params["cur_element_count"])  # type: ignore[call-overload]
        level0 = np.asarray(params["data_level0"], dtype=np.int8)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the saved graph lacks its level-0 layout: {exc}") from exc
    if size <= 0 or count < len(keys) or len(level0) < count * size:
        raise ValueError("the saved graph's level-0 array is too short")
    if at_data + 4 * dims > size or at_label + 8 > size:
        raise ValueError("the saved graph's element layout does not fit its size")
    elements = level0[: count * size].reshape(count, size)
    stored = np.ascontiguousarray(elements[:, at_data : at_data + 4 * dims]).view(np.float32)
    labels = np.ascontiguousarray(elements[:, at_label : at_label + 8]).view(np.uint64).ravel()
    order = np.argsort(labels, kind="stable")
    wanted = np.asarray(keys, dtype=np.uint64)
    found = np.searchsorted(labels[order], wanted)
    if len(wanted) and (found.max() >= count or not np.array_equal(labels[order[found]], wanted)):
        raise ValueError("the saved graph does not hold every key it lists")
    return np.asarray(stored[order[found]], dtype=np.float32)
